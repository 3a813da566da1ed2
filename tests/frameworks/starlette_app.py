"""Starlette: connmw first in the app's ``middleware`` list (the outermost of the user's)."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from connmw.asgi import ConnectionMiddleware
from tests.frameworks.routes import BODY, CLOSING, LEAK, LEAKY, echo, facts_text


async def home(request: Request) -> Response:
    return PlainTextResponse(BODY)


async def close(request: Request) -> Response:
    return PlainTextResponse(CLOSING, headers={"Connection": "close"})


async def leak(request: Request) -> Response:
    response = PlainTextResponse(LEAKY)
    for name, value in LEAK:
        response.headers.append(name, value)
    return response


async def empty(request: Request) -> Response:
    return Response(status_code=204)


async def facts(request: Request) -> Response:
    return PlainTextResponse(facts_text(getattr(request.state, "connmw", None)))


async def ws(websocket: WebSocket) -> None:
    await websocket.accept()
    try:
        await websocket.send_text(echo(await websocket.receive_text()))
    except WebSocketDisconnect:
        return
    await websocket.close()


ROUTES = [
    Route("/", home, methods=["GET", "POST"]),
    Route("/close", close),
    Route("/leak", leak),
    Route("/empty", empty),
    Route("/facts", facts),
    WebSocketRoute("/ws", ws),
]

app = Starlette(routes=ROUTES, middleware=[Middleware(ConnectionMiddleware)])
bare = Starlette(routes=ROUTES)
