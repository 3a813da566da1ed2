"""python-socketio's ``socketio.WSGIApp`` (threading mode, simple-websocket): connmw wraps it.

The Socket.IO server answers ``/socket.io/``; every other path goes to a plain WSGI app
with the shared routes. On connect the server emits ``welcome``; ``ping`` is
acknowledged with ``pong:<data>`` and answered with a ``reply`` event.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import socketio

from connmw.wsgi import ConnectionMiddleware, request_facts
from tests.frameworks.routes import BODY, CLOSING, LEAK, LEAKY, facts_text

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

sio = socketio.Server(async_mode="threading")


@sio.event
def connect(sid: str, environ: dict[str, Any]) -> None:
    sio.emit("welcome", "hi", to=sid)


@sio.on("ping")
def ping(sid: str, data: str) -> str:
    sio.emit("reply", data, to=sid)
    return "pong:" + data


ROUTES: dict[str, tuple[str, str, tuple[tuple[str, str], ...]]] = {
    "/": ("200 OK", BODY, ()),
    "/close": ("200 OK", CLOSING, (("Connection", "close"),)),
    "/leak": ("200 OK", LEAKY, LEAK),
    "/empty": ("204 No Content", "", ()),
}


def http(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
    """The shared routes as a plain WSGI app."""
    path = environ.get("PATH_INFO", "/")
    status, body, fields = ROUTES.get(path, ("404 Not Found", "not found", ()))
    if path == "/facts":
        status, body = "200 OK", facts_text(request_facts(environ))
    headers = [("Content-Type", "text/plain"), *fields]
    if not status.startswith("204"):
        headers.append(("Content-Length", str(len(body))))
    start_response(status, headers)
    return [body.encode()]


bare = socketio.WSGIApp(sio, http)
app = ConnectionMiddleware(bare)
