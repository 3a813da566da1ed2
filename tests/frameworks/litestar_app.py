"""Litestar: ``middleware=[DefineMiddleware(ConnectionMiddleware)]`` on the application.

Litestar builds its middleware stack around each route handler, after routing: what the
router answers itself (404, 405) never passes connmw. ``outer`` wraps the application
object instead, which sees everything (docs/frameworks.md).
"""

from __future__ import annotations

from litestar import Litestar, MediaType, Request, Response, WebSocket, get, route, websocket
from litestar.middleware import DefineMiddleware

from connmw.asgi import ConnectionMiddleware, request_facts
from tests.frameworks.routes import BODY, CLOSING, LEAK, LEAKY, echo, facts_text


@route("/", http_method=["GET", "HEAD", "POST"], media_type=MediaType.TEXT, status_code=200)
async def home() -> str:
    return BODY


@get("/close", media_type=MediaType.TEXT)
async def close() -> Response[str]:
    return Response(CLOSING, headers={"Connection": "close"})


@get("/leak", media_type=MediaType.TEXT)
async def leak() -> Response[str]:
    return Response(LEAKY, headers=dict(LEAK))


@get("/empty", status_code=204)
async def empty() -> None:
    return None


@get("/facts", media_type=MediaType.TEXT)
async def facts(request: Request[object, object, object]) -> str:
    return facts_text(request_facts(request.scope))


@websocket("/ws")
async def ws(socket: WebSocket[object, object, object]) -> None:
    await socket.accept()
    await socket.send_text(echo(await socket.receive_text()))
    await socket.close()


HANDLERS = [home, close, leak, empty, facts, ws]

app = Litestar(route_handlers=HANDLERS, middleware=[DefineMiddleware(ConnectionMiddleware)])
bare = Litestar(route_handlers=HANDLERS)
outer = ConnectionMiddleware(Litestar(route_handlers=HANDLERS))
