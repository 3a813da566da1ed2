"""Run a WSGI app on a server that has no command line of its own.

Usage: ``python -m tests.apps.serve_wsgi KIND MODULE:ATTR PORT [HOST]`` where KIND is

* ``werkzeug``: werkzeug's development server, threaded, in HTTP/1.1 mode
  (``WSGIRequestHandler.protocol_version = "HTTP/1.1"``), the mode that can keep a
  connection open;
* ``werkzeug-http10``: the same server in its default HTTP/1.0 mode;
* ``wsgiref``: the standard library's ``wsgiref.simple_server`` (single-threaded).

Logs each request only at warning level and above, to keep the harness' logs small.
"""

from __future__ import annotations

import importlib
import logging
import sys
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler as RefHandler
from wsgiref.simple_server import make_server


def load(target: str) -> Any:
    """Import ``module:attr`` (attr may be dotted)."""
    module_name, _, attr_path = target.partition(":")
    obj: Any = importlib.import_module(module_name)
    for attr in (attr_path or "app").split("."):
        obj = getattr(obj, attr)
    return obj


def main(argv: list[str]) -> None:
    """Parse ``KIND MODULE:ATTR PORT [HOST]`` and serve forever."""
    if len(argv) not in (3, 4):
        raise SystemExit(__doc__)
    kind, target, port_text = argv[:3]
    host = argv[3] if len(argv) == 4 else "127.0.0.1"
    app, port = load(target), int(port_text)
    if kind in ("werkzeug", "werkzeug-http10"):
        from werkzeug.serving import WSGIRequestHandler, run_simple  # noqa: PLC0415 (only this kind needs werkzeug)

        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        if kind == "werkzeug":
            WSGIRequestHandler.protocol_version = "HTTP/1.1"
        run_simple(host, port, app, threaded=True)
    elif kind == "wsgiref":

        class QuietHandler(RefHandler):
            def log_message(self, format: str, *args: Any) -> None:
                """Silence the per-request access log."""

        make_server(host, port, app, handler_class=QuietHandler).serve_forever()
    else:
        raise SystemExit(f"unknown server kind {kind!r}; expected werkzeug, werkzeug-http10 or wsgiref")


if __name__ == "__main__":
    main(sys.argv[1:])
