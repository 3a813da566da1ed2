"""A Starlette application behind connmw: ``uvicorn example_apps.starlette_app:app``.

Routes: ``/`` (plain text, GET and POST), ``/stream`` (a streaming body), ``/sse``
(Server-Sent Events from sse-starlette, which sets ``Connection: keep-alive`` itself:
connmw drops it on HTTP/2 and sends one ``Connection`` field on HTTP/1.1), ``/hoppy``
(sets hop-by-hop headers, to show connmw removing them), ``/stats`` (``connmw.stats()``)
and ``/ws`` (a WebSocket echo).

Try it::

    uvicorn example_apps.starlette_app:app --port 8000
    curl -v http://127.0.0.1:8000/hoppy            # Connection: keep-alive, no X-Hop
    curl -v --http1.0 http://127.0.0.1:8000/stream  # Content-Length, Connection: close
    curl -N http://127.0.0.1:8000/sse               # one event per second
    python -m websockets ws://127.0.0.1:8000/ws

Settings come from ``CONNMW_*`` variables or keywords to ``add_middleware``, e.g.
``CONNMW_WS_ALLOWED_ORIGINS=https://app.example uvicorn ...``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from sse_starlette import EventSourceResponse
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

import connmw
from connmw.asgi import ConnectionMiddleware


async def home(request: Request) -> Response:
    facts = request.state.connmw  # what connmw read from the request's Connection field
    return PlainTextResponse(f"hello over HTTP/{facts.http_version}; persistent: {facts.persistent}\n")


async def stream(request: Request) -> Response:
    async def lines() -> AsyncIterator[str]:
        for i in range(5):
            yield f"line {i}\n"
            await asyncio.sleep(0.2)

    return StreamingResponse(lines(), media_type="text/plain")


async def sse(request: Request) -> Response:
    async def events() -> AsyncIterator[dict[str, str]]:
        for i in range(10):
            yield {"event": "tick", "data": str(i)}
            await asyncio.sleep(1)

    return EventSourceResponse(events())


async def hoppy(request: Request) -> Response:
    # Every one of these is connection-specific; connmw removes them all (and X-Hop,
    # which the Connection field nominates) and sends its own single Connection field.
    return PlainTextResponse(
        "hop-by-hop headers removed\n",
        headers={
            "Connection": "keep-alive, X-Hop",
            "Keep-Alive": "timeout=5, max=1000",
            "X-Hop": "secret",
            "Proxy-Connection": "keep-alive",
        },
    )


async def stats(request: Request) -> Response:
    # add_middleware builds the middleware inside Starlette: connmw.stats() reaches it anyway.
    return JSONResponse(connmw.stats())


async def echo(websocket: WebSocket) -> None:
    await websocket.accept()
    try:
        while True:
            await websocket.send_text(await websocket.receive_text())
    except WebSocketDisconnect:
        pass


app = Starlette(
    routes=[
        Route("/", home, methods=["GET", "POST"]),  # POST: the README's curl requests
        Route("/stream", stream),
        Route("/sse", sse),
        Route("/hoppy", hoppy),
        Route("/stats", stats),
        WebSocketRoute("/ws", echo),
    ]
)
app.add_middleware(ConnectionMiddleware)
