"""Run a WSGI app on a server that has no command line: ``python -m connmw.tool._runner``.

Usage: ``python -m connmw.tool._runner {werkzeug,wsgiref} MODULE:APP HOST PORT``. Used by
:mod:`connmw.tool._devservers`. ``werkzeug`` is its development server, threaded and in HTTP/1.1
mode (its default speaks HTTP/1.0 and so closes every connection); ``wsgiref`` is the
standard library's reference server.
"""

from __future__ import annotations

import contextlib
import sys
from typing import Any

__all__: list[str] = []  # a program (python -m), imported by nothing


def _werkzeug(app: Any, host: str, port: int) -> None:
    from werkzeug.serving import WSGIRequestHandler, make_server  # noqa: PLC0415 (optional dependency)

    class Handler(WSGIRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
            """Quiet: the probe's requests are not news."""

    make_server(host, port, app, threaded=True, request_handler=Handler).serve_forever()


def _wsgiref(app: Any, host: str, port: int) -> None:
    from wsgiref.simple_server import WSGIRequestHandler, make_server  # noqa: PLC0415

    class Handler(WSGIRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: the probe's requests are not news."""

    make_server(host, port, app, handler_class=Handler).serve_forever()


def main(argv: list[str]) -> int:
    """Serve until terminated. Exit 2 on bad arguments."""
    if len(argv) != 4 or argv[0] not in ("werkzeug", "wsgiref") or not argv[3].isdigit():
        print("usage: python -m connmw.tool._runner {werkzeug,wsgiref} MODULE:APP HOST PORT", file=sys.stderr)
        return 2
    from ._devservers import ServeError, load_app  # noqa: PLC0415 (keep the module import light)

    try:
        app = load_app(argv[1])
    except ServeError as error:
        print(error, file=sys.stderr)
        return 2
    server = _werkzeug if argv[0] == "werkzeug" else _wsgiref
    with contextlib.suppress(KeyboardInterrupt):
        server(app, argv[2], int(argv[3]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
