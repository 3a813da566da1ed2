"""BlackSheep: its middlewares are ``(request, handler)`` coroutines, so connmw wraps the application."""

from __future__ import annotations

from blacksheep import Application, Content, Request, Response, Router, WebSocket
from blacksheep.server.websocket import WebSocketDisconnectError

from connmw.asgi import ConnectionMiddleware, request_facts
from tests.frameworks.routes import BODY, CLOSING, LEAK, LEAKY, echo, facts_text


def _text(body: str, headers: tuple[tuple[str, str], ...] = ()) -> Response:
    fields = [(name.encode(), value.encode()) for name, value in headers]
    return Response(200, fields, Content(b"text/plain", body.encode()))


def build() -> Application:
    sheep = Application(router=Router())  # its own: BlackSheep shares a default router
    get, head, post, ws = sheep.router.get, sheep.router.head, sheep.router.post, sheep.router.ws

    @get("/")
    @head("/")  # BlackSheep routes HEAD only where asked to (404 otherwise)
    @post("/")
    async def home() -> Response:
        return _text(BODY)

    @get("/close")
    async def close() -> Response:
        return _text(CLOSING, (("Connection", "close"),))

    @get("/leak")
    async def leak() -> Response:
        return _text(LEAKY, LEAK)

    @get("/empty")
    async def empty() -> Response:
        return Response(204)

    @get("/facts")
    async def facts(request: Request) -> Response:
        return _text(facts_text(request_facts(request.scope)))

    @ws("/ws")
    async def echo_socket(websocket: WebSocket) -> None:
        await websocket.accept()
        try:
            await websocket.send_text(echo(await websocket.receive_text()))
        except WebSocketDisconnectError:  # a handshake test hangs up after the 101
            return
        await websocket.close()

    return sheep


bare = build()
app = ConnectionMiddleware(build())
