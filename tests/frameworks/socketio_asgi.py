"""python-socketio's ``socketio.ASGIApp``: no middleware of its own, so connmw wraps it.

The Socket.IO server answers ``/socket.io/``; every other path goes to a plain ASGI app
with the shared routes (``other_asgi_app``). On connect the server emits ``welcome``;
``ping`` is acknowledged with ``pong:<data>`` and answered with a ``reply`` event.
"""

from __future__ import annotations

from typing import Any

import socketio

from connmw.asgi import ConnectionMiddleware, request_facts
from tests.frameworks.routes import BODY, CLOSING, LEAK, LEAKY, facts_text

sio = socketio.AsyncServer(async_mode="asgi")


@sio.event
async def connect(sid: str, environ: dict[str, Any]) -> None:
    await sio.emit("welcome", "hi", to=sid)


@sio.on("ping")
async def ping(sid: str, data: str) -> str:
    await sio.emit("reply", data, to=sid)
    return "pong:" + data


ROUTES: dict[str, tuple[int, str, tuple[tuple[str, str], ...]]] = {
    "/": (200, BODY, ()),
    "/close": (200, CLOSING, (("Connection", "close"),)),
    "/leak": (200, LEAKY, LEAK),
    "/empty": (204, "", ()),
}


async def http(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """The shared routes as a plain ASGI app (HTTP only; lifespan is engineio's)."""
    if scope["type"] != "http":
        return
    path = scope["path"]
    status, body, fields = ROUTES.get(path, (404, "not found", ()))
    if path == "/facts":
        status, body = 200, facts_text(request_facts(scope))
    headers = [(b"content-type", b"text/plain")] + [(n.encode(), v.encode()) for n, v in fields]
    if status != 204:
        headers.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body.encode()})


bare = socketio.ASGIApp(sio, other_asgi_app=http)
app = ConnectionMiddleware(bare)
