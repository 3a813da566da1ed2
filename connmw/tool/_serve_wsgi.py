"""Run a WSGI app on a server that has no command line: ``python -m connmw.tool._serve_wsgi``.

Usage: ``python -m connmw.tool._serve_wsgi KIND MODULE:APP HOST PORT``, KIND one of :data:`KINDS`.
Used by :mod:`connmw.tool._launchers`:

* ``werkzeug``: its development server, threaded and in HTTP/1.1 mode (as ``flask run``
  serves; its default speaks HTTP/1.0 and so closes every connection), ``werkzeug-http10``
  that default;
* ``django``: Django's development server as ``manage.py runserver`` serves (threaded,
  ``django.core.servers.basehttp.run``), without its autoreloader and system checks;
* ``wsgiref``: the standard library's reference server.

Each logs warnings and errors only.
"""

from __future__ import annotations

import contextlib
import logging
import sys
from typing import Any

__all__: list[str] = []  # a program (python -m), imported by nothing

KINDS = ("werkzeug", "werkzeug-http10", "django", "wsgiref")


def _werkzeug(app: Any, host: str, port: int, protocol: str = "HTTP/1.1") -> None:
    from werkzeug.serving import WSGIRequestHandler, make_server  # noqa: PLC0415 (optional dependency)

    class Handler(WSGIRequestHandler):
        protocol_version = protocol

        def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
            """Quiet: the probe's requests are not news."""

    make_server(host, port, app, threaded=True, request_handler=Handler).serve_forever()


def _werkzeug_http10(app: Any, host: str, port: int) -> None:
    _werkzeug(app, host, port, "HTTP/1.0")


def _django(app: Any, host: str, port: int) -> None:
    from django.core.servers.basehttp import run  # type: ignore[import-untyped]  # noqa: PLC0415

    logging.getLogger("django.server").setLevel(logging.WARNING)  # its access log
    run(host, port, app, threading=True)


def _wsgiref(app: Any, host: str, port: int) -> None:
    from wsgiref.simple_server import WSGIRequestHandler, make_server  # noqa: PLC0415

    class Handler(WSGIRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: the probe's requests are not news."""

    make_server(host, port, app, handler_class=Handler).serve_forever()


def main(argv: list[str]) -> int:
    """Serve until terminated. Exit 2 on bad arguments."""
    if len(argv) != 4 or argv[0] not in KINDS or not argv[3].isdigit():
        kinds = ",".join(KINDS)
        print(f"usage: python -m connmw.tool._serve_wsgi {{{kinds}}} MODULE:APP HOST PORT", file=sys.stderr)
        return 2
    from ._devservers import ServeError, load_app  # noqa: PLC0415 (keep the module import light)

    try:
        app = load_app(argv[1])
    except ServeError as error:
        print(error, file=sys.stderr)
        return 2
    server = {
        "werkzeug": _werkzeug,
        "werkzeug-http10": _werkzeug_http10,
        "django": _django,
        "wsgiref": _wsgiref,
    }[argv[0]]
    with contextlib.suppress(KeyboardInterrupt):
        server(app, argv[2], int(argv[3]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
