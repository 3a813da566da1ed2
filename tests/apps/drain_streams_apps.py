"""A WebSocket and event-stream application behind connmw, for the drain tests on the wire.

``app`` is built with no keyword options, so every setting comes from the server's
``CONNMW_*`` variables (``CONNMW_DRAIN_WINDOW``, ``CONNMW_DRAIN_FILE``, ``CONNMW_READY_PATH``).
``bare_app`` is the same application without connmw (the baseline). Routes:

* WebSocket ``/ws``: every text message ``<n>`` is answered ``ack:<n>`` (a client that
  keeps numbered messages until they are acknowledged loses none); the disconnect the
  application gets is recorded;
* ``GET /events``: an event stream, one event a tenth of a second, ``id: <n>`` and
  ``data: <n>`` sent in two halves (so that an event may be cut, if anything cut it), from
  the one after ``Last-Event-ID`` (0 without it) up to ``LAST_EVENT``, then it ends; it
  stops when ``receive`` says ``http.disconnect``, which is recorded;
* ``GET /admin/drain``: :func:`connmw.drain` in this process;
* ``GET /seen``: JSON of the disconnects the application got (``websocket`` codes,
  ``http`` count) and this process's id.
"""

from __future__ import annotations

import asyncio
import json
import os
from typing import Any

import connmw
from connmw.asgi import ConnectionMiddleware
from tests.apps import bare_asgi

LAST_EVENT = 600
INTERVAL = 0.1

SEEN: dict[str, Any] = {"websocket": [], "http": 0}


async def _websocket(receive: Any, send: Any) -> None:
    if (await receive())["type"] != "websocket.connect":
        return
    await send({"type": "websocket.accept"})
    while True:
        message = await receive()
        if message["type"] == "websocket.disconnect":
            SEEN["websocket"].append(message.get("code"))
            return
        text = message.get("text") or ""
        await send({"type": "websocket.send", "text": "ack:" + text})


async def _events(scope: dict[str, Any], receive: Any, send: Any) -> None:
    last = 0
    for name, value in scope["headers"]:
        if name.lower() == b"last-event-id" and value.strip().isdigit():
            last = int(value)
    headers = [(b"content-type", b"text/event-stream"), (b"cache-control", b"no-cache")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": b": stream\n\n", "more_body": True})
    gone = asyncio.Event()

    async def listen() -> None:
        while (await receive())["type"] != "http.disconnect":
            pass
        SEEN["http"] += 1
        gone.set()

    listener = asyncio.ensure_future(listen())
    try:
        for number in range(last + 1, LAST_EVENT + 1):
            if gone.is_set():
                return
            await send({"type": "http.response.body", "body": b"id: %d\ndata: " % number, "more_body": True})
            await asyncio.sleep(INTERVAL / 4)
            await send({"type": "http.response.body", "body": b"%d\n\n" % number, "more_body": True})
            await asyncio.sleep(INTERVAL * 3 / 4)
        await send({"type": "http.response.body", "body": b"", "more_body": False})
    finally:
        listener.cancel()


async def _plain(scope: dict[str, Any], receive: Any, send: Any) -> None:
    path = scope.get("path")
    if path == "/admin/drain":
        connmw.drain()
    body = json.dumps({**SEEN, "pid": os.getpid()}).encode() if path == "/seen" else b"ok"
    headers = [(b"content-type", b"text/plain"), (b"content-length", b"%d" % len(body))]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def bare_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """The application itself, without connmw."""
    if scope["type"] == "lifespan":
        await bare_asgi.lifespan(receive, send)
    elif scope["type"] == "websocket":
        await _websocket(receive, send)
    elif scope.get("path") == "/events":
        await _events(scope, receive, send)
    else:
        await _plain(scope, receive, send)


app = ConnectionMiddleware(bare_app)
