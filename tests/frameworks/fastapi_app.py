"""FastAPI: ``app.add_middleware(ConnectionMiddleware)``, called last (it becomes the outermost)."""

from __future__ import annotations

from fastapi import FastAPI, Request, Response
from fastapi.responses import PlainTextResponse

from connmw.asgi import ConnectionMiddleware
from tests.frameworks import starlette_app
from tests.frameworks.routes import BODY, CLOSING, LEAK, LEAKY, facts_text


def build(connmw: bool) -> FastAPI:
    api = FastAPI()

    @api.api_route("/", methods=["GET", "HEAD", "POST"], response_class=PlainTextResponse)
    async def home() -> str:
        return BODY

    @api.get("/close", response_class=PlainTextResponse)
    async def close(response: Response) -> str:
        response.headers["Connection"] = "close"
        return CLOSING

    @api.get("/leak")
    async def leak() -> Response:
        response = PlainTextResponse(LEAKY)
        for name, value in LEAK:
            response.headers.append(name, value)
        return response

    @api.get("/empty", status_code=204)
    async def empty() -> Response:
        return Response(status_code=204)

    @api.get("/facts", response_class=PlainTextResponse)
    async def facts(request: Request) -> str:
        return facts_text(getattr(request.state, "connmw", None))

    api.add_api_websocket_route("/ws", starlette_app.ws)  # FastAPI's WebSocket is Starlette's

    if connmw:
        api.add_middleware(ConnectionMiddleware)
    return api


app = build(connmw=True)
bare = build(connmw=False)
