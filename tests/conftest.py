"""Shared pytest setup: fixtures that start real servers and always stop them.

Fixtures (the harness itself is ``tests/wire.py``):

* ``serve``: function-scoped ``ServerPool``; ``serve(lambda port: uvicorn_cmd(app, port))``
  starts a server on a free port and returns a ``Server``; all are stopped after the test.
* ``serve_module``: the same, module-scoped, with ``serve_module.shared(key, command)`` to
  start one server per key for the whole module (fast baseline and integration tests).
* ``tls_files``: session-scoped throw-away CA and server certificate (``TLSFiles``).

Markers (``slow``, ``load``, ``benchmark``, ``rollout``) are registered in pyproject.toml, whose
``addopts`` leaves them out of a run that selects nothing else with ``-m``.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

# Test modules import the harness as ``tests.wire`` and servers import ``tests.apps.*``: both
# need the repository root on sys.path even when pytest is run as ``pytest`` (not ``python -m``).
_ROOT = str(Path(__file__).resolve().parent.parent)
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

from tests.wire import ServerPool, TLSFiles, make_tls_files  # noqa: E402 (needs the path above)


@pytest.fixture
def serve() -> Iterator[ServerPool]:
    """Start servers for one test; every server it started is stopped afterwards."""
    pool = ServerPool()
    try:
        yield pool
    finally:
        pool.close()


@pytest.fixture(scope="module")
def serve_module() -> Iterator[ServerPool]:
    """Start servers shared by a test module (``serve_module.shared(key, command)``)."""
    pool = ServerPool()
    try:
        yield pool
    finally:
        pool.close()


@pytest.fixture(scope="session")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> TLSFiles:
    """A CA and a server certificate for 127.0.0.1/localhost, as PEM files."""
    return make_tls_files(tmp_path_factory.mktemp("tls"))
