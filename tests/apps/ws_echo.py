"""A Starlette app with a WebSocket echo at ``/ws`` and a plain HTTP route at ``/``.

Used for the WebSocket handshake table of the bare servers (docs/servers.md, "What
servers do without connmw"): the servers' own WebSocket stacks
decide whether a handshake gets ``101``, the app accepts whatever reaches it. The echo
answers one text message with ``echo:<message>`` and closes, so a real client can prove
the socket works. ``make_app()`` builds a fresh instance for modules that wrap it.
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect


async def home(request: Request) -> Response:
    """Plain HTTP next to the WebSocket route, so one server answers both."""
    return PlainTextResponse("ok")


async def echo(websocket: WebSocket) -> None:
    """Accept, echo one text message with an ``echo:`` prefix, close.

    Raw-socket handshake tests hang up right after the 101: that is not an error here,
    and not logging it keeps the server logs readable.
    """
    await websocket.accept()
    try:
        message = await websocket.receive_text()
    except WebSocketDisconnect:
        return
    await websocket.send_text("echo:" + message)
    await websocket.close()


def make_app() -> Starlette:
    """A new Starlette instance with both routes."""
    return Starlette(routes=[Route("/", home, methods=["GET", "POST", "HEAD"]), WebSocketRoute("/ws", echo)])


app = make_app()
