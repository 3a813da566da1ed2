"""The bare WSGI apps of ``bare_wsgi`` behind connmw, plus apps that only make sense with it.

Each middleware is built with no keyword options, so its settings come from the
``CONNMW_*`` variables of the server process: the tests prove environment configuration
on real servers by starting the same module with different variables.

* ``routed``: every route of ``bare_wsgi.ROUTES`` behind one ConnectionMiddleware, plus
  ``/switch`` (below).
* ``/switch``: answers ``101 Switching Protocols`` through ``start_response`` and then
  takes nothing over, to show what connmw lets through: ``?accept=good`` (the default)
  computes Sec-WebSocket-Accept from the key, ``?accept=bad`` sends a wrong one,
  ``?protocol=NAME`` switches to another protocol than ``websocket``.
* ``flask_ws``: a Flask app with flask-sock: ``/ws`` echoes every message, ``/`` says ok.
* ``/file``: this module's source through ``wsgi.file_wrapper`` (sendfile on gunicorn),
  with a ``Keep-Alive`` header for connmw to remove.
* ``/environ``: answers what the app saw: the ``HTTP_*`` keys and connmw's facts, as JSON.
* ``app``: one server for everything: ``/bare/...`` reaches the bare app (no connmw) at
  ``/...``, ``/ws`` the flask-sock echo, anything else ``routed``, so each baseline fault
  is shown and fixed on the same server process.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from urllib.parse import parse_qs
from wsgiref.util import FileWrapper

from flask import Flask
from flask_sock import Sock
from simple_websocket import Server

from connmw.rules import websocket_accept
from connmw.wsgi import ENVIRON_KEY, ConnectionMiddleware
from tests.apps import bare_wsgi
from tests.apps.bare_wsgi import Environ, StartResponse


def switch(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
    """A 101 through start_response; see the module docstring for the query parameters."""
    query = parse_qs(environ.get("QUERY_STRING", ""))
    key = environ.get("HTTP_SEC_WEBSOCKET_KEY", "").encode("latin-1")
    accept = websocket_accept(key).decode() if query.get("accept", ["good"])[0] == "good" else "bm90IGl0"
    protocol = query.get("protocol", ["websocket"])[0]
    start_response(
        "101 Switching Protocols",
        [("Upgrade", protocol), ("Connection", "Upgrade"), ("Sec-WebSocket-Accept", accept)],
    )
    return []


def environ_echo(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
    """The request as the app saw it: HTTP_* keys, and connmw's facts."""
    facts = environ.get(ENVIRON_KEY)
    seen = {
        "headers": sorted(key for key in environ if key.startswith("HTTP_")),
        "http_version": getattr(facts, "http_version", None),
        "persistent": getattr(facts, "persistent", None),
    }
    body = json.dumps(seen).encode()
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]


def file(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
    """This file through the server's file_wrapper, which connmw must hand back untouched."""
    size = os.path.getsize(__file__)
    headers = [("Content-Type", "text/plain"), ("Content-Length", str(size)), ("Keep-Alive", "timeout=5")]
    start_response("200 OK", headers)
    wrap = environ.get("wsgi.file_wrapper", FileWrapper)  # optional in PEP 3333 (werkzeug, granian)
    wrapper: Iterable[bytes] = wrap(open(__file__, "rb"))  # noqa: SIM115 (the server closes it)
    return wrapper


routed = ConnectionMiddleware(
    bare_wsgi.router({**bare_wsgi.ROUTES, "/switch": switch, "/environ": environ_echo, "/file": file})
)

_flask = Flask(__name__)
_sock = Sock(_flask)


@_flask.route("/")
def _home() -> str:
    return "ok"


@_sock.route("/ws")
def _echo(ws: Server) -> None:
    while True:
        ws.send(ws.receive())


_flask.wsgi_app = ConnectionMiddleware(_flask.wsgi_app)  # type: ignore[method-assign]
flask_ws = _flask


def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
    """``/bare/...``: the bare app; ``/ws``: flask-sock; anything else: ``routed``."""
    path = environ.get("PATH_INFO") or "/"
    if path.startswith("/bare/"):
        environ["PATH_INFO"] = path[len("/bare") :]
        return bare_wsgi.routed(environ, start_response)
    if path == "/ws":
        return flask_ws(environ, start_response)
    return routed(environ, start_response)
