"""Applications that the real-server tests run in subprocesses.

Every module here is importable as ``tests.apps.<module>`` by the servers, because the
harness (``tests/wire.py``) puts the repository root on ``PYTHONPATH``. Servers take
them as ``"module:attr"`` strings, e.g. ``"tests.apps.bare_asgi:hoppy"``.

* ``bare_asgi``, ``bare_wsgi``: small apps without connmw, reproducing the servers' faults
  (docs/servers.md, "What servers do without connmw");
  each module has a ``router(routes)`` function so a ``wrapped_*`` module can serve the
  same apps behind connmw with one line per app.
* ``ws_echo``: a Starlette WebSocket echo at ``/ws`` plus a plain HTTP route at ``/``.

WSGI servers without a command line of their own (werkzeug's and Django's development
servers, wsgiref) run through ``connmw.tool._serve_wsgi``, as ``connmw check`` runs them.
"""
