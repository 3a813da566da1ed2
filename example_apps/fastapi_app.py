"""A FastAPI application behind connmw: ``uvicorn example_apps.fastapi_app:app``.

The same routes as :mod:`example_apps.starlette_app`: ``/`` (GET and POST), ``/stream``,
``/sse`` (sse-starlette), ``/hoppy`` (hop-by-hop headers connmw removes), ``/stats``
(``connmw.stats()``: what connmw corrected in this process) and ``/ws`` (echo).

Try it::

    uvicorn example_apps.fastapi_app:app --port 8000
    curl -v -X POST http://127.0.0.1:8000/            # Connection: keep-alive
    curl -v -X POST --http1.0 http://127.0.0.1:8000/  # Connection: close, socket closed
    hypercorn example_apps.fastapi_app:app -b 127.0.0.1:8001
    curl -v --http2-prior-knowledge http://127.0.0.1:8001/sse   # no Connection over HTTP/2
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from fastapi import FastAPI, Request, WebSocket, WebSocketDisconnect
from fastapi.responses import PlainTextResponse, StreamingResponse
from sse_starlette import EventSourceResponse

import connmw
from connmw.asgi import ConnectionMiddleware

app = FastAPI(title="connmw example")
app.add_middleware(ConnectionMiddleware)


@app.api_route("/", methods=["GET", "POST"], response_class=PlainTextResponse)
async def home(request: Request) -> str:
    facts = request.state.connmw  # what connmw read from the request's Connection field
    return f"hello over HTTP/{facts.http_version}; persistent: {facts.persistent}\n"


@app.get("/stream")
async def stream() -> StreamingResponse:
    async def lines() -> AsyncIterator[str]:
        for i in range(5):
            yield f"line {i}\n"
            await asyncio.sleep(0.2)

    return StreamingResponse(lines(), media_type="text/plain")


@app.get("/sse")
async def sse() -> EventSourceResponse:
    async def events() -> AsyncIterator[dict[str, str]]:
        for i in range(10):
            yield {"event": "tick", "data": str(i)}
            await asyncio.sleep(1)

    return EventSourceResponse(events())


@app.get("/hoppy", response_class=PlainTextResponse)
async def hoppy() -> PlainTextResponse:
    # connmw removes every one of these (and X-Hop, nominated by Connection).
    return PlainTextResponse(
        "hop-by-hop headers removed\n",
        headers={
            "Connection": "keep-alive, X-Hop",
            "Keep-Alive": "timeout=5, max=1000",
            "X-Hop": "secret",
            "Proxy-Connection": "keep-alive",
        },
    )


@app.get("/stats")
async def stats() -> dict[str, object]:
    return connmw.stats()  # every connmw middleware of this process, however it was added


@app.websocket("/ws")
async def echo(websocket: WebSocket) -> None:
    await websocket.accept()
    try:
        while True:
            await websocket.send_text(await websocket.receive_text())
    except WebSocketDisconnect:
        pass
