"""Quart: ``app.asgi_app = ConnectionMiddleware(app.asgi_app)``, as Quart documents ASGI middleware."""

from __future__ import annotations

from quart import Quart, Response, request, websocket

from connmw.asgi import ConnectionMiddleware, request_facts
from tests.frameworks.routes import BODY, CLOSING, LEAK, LEAKY, echo, facts_text


def build(connmw: bool) -> Quart:
    quart = Quart(__name__)

    @quart.route("/", methods=["GET", "POST"])
    async def home() -> Response:
        return Response(BODY, content_type="text/plain")

    @quart.route("/close")
    async def close() -> Response:
        return Response(CLOSING, content_type="text/plain", headers={"Connection": "close"})

    @quart.route("/leak")
    async def leak() -> Response:
        response = Response(LEAKY, content_type="text/plain")
        for name, value in LEAK:
            response.headers.add(name, value)
        return response

    @quart.route("/empty")
    async def empty() -> Response:
        return Response("", status=204)

    @quart.route("/facts")
    async def facts() -> Response:
        return Response(facts_text(request_facts(request.scope)), content_type="text/plain")

    @quart.websocket("/ws")
    async def ws() -> None:
        await websocket.accept()
        await websocket.send(echo(await websocket.receive()))

    if connmw:
        quart.asgi_app = ConnectionMiddleware(quart.asgi_app)  # type: ignore[method-assign]
    return quart


app = build(connmw=True)
bare = build(connmw=False)
