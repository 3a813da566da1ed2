"""The bare ASGI apps of :mod:`tests.apps.bare_asgi` behind connmw, for the real-server tests.

``app`` serves the same routes twice in one server process: behind one
``ConnectionMiddleware`` (built with no keyword options, so every setting comes from
``CONNMW_*`` variables in the server's environment: the tests prove configuration by
environment on a real server too), and without it under the ``/bare`` prefix, so each
fault (docs/servers.md, "What servers do without connmw") is shown without connmw and fixed
with it on the same server.
Lifespan reaches the routes through the middleware, which must pass it untouched.

Routes (and the same under ``/bare``):

* ``/``, ``/hoppy``, ``/stream``, ``/close``, ``/nocontent``: :mod:`tests.apps.bare_asgi`'s
  ``plain``, ``hoppy`` (hop-by-hop headers set by the app, no Content-Length), ``streaming``
  (three parts, no Content-Length), ``app_close`` (the app's own ``Connection: close``) and
  ``no_content`` (``?status=204|304|200`` with a body of 8 bytes in two messages);
* ``/big``: 3 x 64 KiB in three parts, no Content-Length (past the HTTP/1.0 buffer the
  tests configure);
* ``/trailers``: an ``x-checksum`` trailer, where the server offers the extension;
* ``/sse``: sse-starlette (which sets ``Connection: keep-alive`` itself), four events
  0.25 s apart, each carrying the server's send time;
* ``/facts``: what connmw published in the request's state (``request.state.connmw``), as JSON;
* ``/ws``: WebSocket echo (``echo:<message>``, then close), accepting with one
  hop-by-hop header (``Keep-Alive``) and one end-to-end header (``X-App``).
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from typing import Any

import anyio
from sse_starlette import EventSourceResponse
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket

from connmw.asgi import ConnectionMiddleware, Receive, Scope, Send
from tests.apps import bare_asgi


class _Big:
    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await bare_asgi.drain(receive)
        await send(
            {"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]}
        )
        for letter in b"abc":
            await send(
                {"type": "http.response.body", "body": bytes([letter]) * 65536, "more_body": letter != 99}
            )


class _Trailers:
    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        offered = "http.response.trailers" in (scope.get("extensions") or {})
        headers = [(b"content-type", b"text/plain"), (b"trailer", b"x-checksum")]
        await send({"type": "http.response.start", "status": 200, "headers": headers, "trailers": offered})
        await send({"type": "http.response.body", "body": b"body", "more_body": False})
        if offered:
            trailer = [(b"x-checksum", b"abc")]
            await send({"type": "http.response.trailers", "headers": trailer, "more_trailers": False})


async def sse(request: Request) -> Response:
    async def events() -> AsyncIterator[dict[str, Any]]:
        for i in range(4):
            yield {"event": "tick", "id": str(i), "data": json.dumps({"i": i, "sent": time.time()})}
            await anyio.sleep(0.25)  # asyncio or trio, as the server runs

    return EventSourceResponse(events(), ping=0)


async def facts(request: Request) -> Response:
    seen = request.state.connmw
    published = {
        "http_version": seen.http_version,
        "persistent": seen.persistent,
        "close": seen.tokens.close,
        "keep_alive": seen.tokens.keep_alive,
    }
    return PlainTextResponse(json.dumps(published), media_type="application/json")


async def echo(websocket: WebSocket) -> None:
    await websocket.accept(headers=[(b"x-app", b"1"), (b"keep-alive", b"timeout=5")])
    message = await websocket.receive_text()
    await websocket.send_text("echo:" + message)
    await websocket.close()


extras = Starlette(
    routes=[
        Route("/big", _Big()),  # not a function: Starlette serves it as a plain ASGI app
        Route("/trailers", _Trailers()),
        Route("/sse", sse),
        Route("/facts", facts),
        WebSocketRoute("/ws", echo),
    ]
)
routes = bare_asgi.router(
    {**bare_asgi.ROUTES, **dict.fromkeys(("/big", "/trailers", "/sse", "/facts", "/ws"), extras)}
)
wrapped = ConnectionMiddleware(routes)


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    path = scope.get("path", "")
    if path.startswith("/bare/"):
        await routes({**scope, "path": path[len("/bare") :]}, receive, send)
    else:
        await wrapped(scope, receive, send)
