"""The test suite. ``tests.middleware`` and ``tests.tool`` mirror the package (``connmw`` and
``connmw.tool``); the harness they share is ``tests.wire``, the applications servers load
are ``tests.apps``."""
