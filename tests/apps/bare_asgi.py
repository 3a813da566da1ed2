"""Bare ASGI apps (no connmw) that reproduce the servers' connection faults for real.

The faults, server by server: docs/servers.md, "What servers do without connmw".

Each app handles the ``lifespan`` scope (so ``--lifespan on`` works everywhere), drains
the request body, and ignores scope types it does not serve. The apps are plain
module-level callables so they can be served by name (``tests.apps.bare_asgi:hoppy``)
and wrapped by another module without copying them::

    from connmw.asgi import ConnectionMiddleware
    from tests.apps import bare_asgi

    hoppy = ConnectionMiddleware(bare_asgi.hoppy)
    routed = bare_asgi.router({path: ConnectionMiddleware(app) for path, app in bare_asgi.ROUTES.items()})

Apps:

* ``plain``: ``Content-Type``, ``Content-Length: 2``, body ``ok``: the app of the Heroku
  question (README, "Why").
* ``hoppy``: sets every hop-by-hop field itself (``Connection: keep-alive, x-hop``,
  ``Keep-Alive``, ``X-Hop`` nominated by Connection, ``Upgrade``, ``Proxy-Connection``,
  ``Transfer-Encoding: chunked``), no Content-Length, body ``hello world``.
* ``streaming``: three body chunks, no Content-Length: the server must choose framing.
* ``app_close``: the application's own ``Connection: close`` with a Content-Length.
* ``no_content``: ``/nocontent?status=204`` (or ``304``, or ``200``, the default) answers
  that status with ``Content-Length: 8`` and the body ``unwanted`` in two messages,
  whatever the method: bytes no server may send after a HEAD, 204 or 304 head.
* ``routed``: all of the above on one server, chosen by path (``ROUTES``), so a single
  server process can answer every baseline request.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from typing import Any
from urllib.parse import parse_qs

import anyio  # not asyncio: the apps also run under hypercorn's trio worker

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

HOPPY_HEADERS: list[tuple[bytes, bytes]] = [
    (b"content-type", b"text/plain"),
    (b"connection", b"keep-alive, x-hop"),
    (b"keep-alive", b"timeout=5, max=1000"),
    (b"x-hop", b"secret"),
    (b"upgrade", b"foo"),
    (b"proxy-connection", b"keep-alive"),
    (b"transfer-encoding", b"chunked"),
]
HOPPY_BODY = b"hello world"
STREAM_CHUNKS = (b"one\n", b"two\n", b"three\n")


async def lifespan(receive: Receive, send: Send) -> None:
    """Answer startup and shutdown, so servers that require lifespan support start."""
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


async def drain(receive: Receive) -> bytes:
    """Read the whole request body (servers behave differently with unread bodies)."""
    body = b""
    while True:
        message = await receive()
        chunk: bytes = message.get("body", b"")
        body += chunk
        if not message.get("more_body"):
            return body


def _respond(headers: list[tuple[bytes, bytes]], *parts: bytes, pause: float = 0.0) -> ASGIApp:
    """An app that answers 200 with ``headers`` and the body ``parts``, one message each."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        await drain(receive)
        await send({"type": "http.response.start", "status": 200, "headers": list(headers)})
        for index, part in enumerate(parts, start=1):
            await send({"type": "http.response.body", "body": part, "more_body": index < len(parts)})
            if pause and index < len(parts):
                await anyio.sleep(pause)
        if not parts:
            await send({"type": "http.response.body", "body": b""})

    return app


plain = _respond([(b"content-type", b"text/plain"), (b"content-length", b"2")], b"ok")
hoppy = _respond(HOPPY_HEADERS, HOPPY_BODY)
streaming = _respond([(b"content-type", b"text/plain")], *STREAM_CHUNKS, pause=0.01)
app_close = _respond(
    [(b"content-type", b"text/plain"), (b"content-length", b"3"), (b"connection", b"close")], b"bye"
)

NO_CONTENT_PARTS = (b"unw", b"anted")


async def no_content(scope: Scope, receive: Receive, send: Send) -> None:
    """``/nocontent?status=N``: status N with a body in two messages, for every method."""
    if scope["type"] != "http":
        return
    await drain(receive)
    query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
    status = int(query.get("status", ["200"])[0])
    headers = [(b"content-type", b"text/plain"), (b"content-length", b"8"), (b"etag", b'"nc"')]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    for index, part in enumerate(NO_CONTENT_PARTS, start=1):
        await send({"type": "http.response.body", "body": part, "more_body": index < len(NO_CONTENT_PARTS)})


async def early_hint(scope: Scope, receive: Receive, send: Send) -> None:
    """``/early``: a 103 through ``http.response.start`` (ASGI has no 1xx over HTTP/1.x), then ``hello``."""
    if scope["type"] != "http":
        return
    await drain(receive)
    headers = [(b"link", b"</style.css>; rel=preload"), (b"content-type", b"text/plain")]
    await send({"type": "http.response.start", "status": 103, "headers": headers})
    await send({"type": "http.response.body", "body": b"hello", "more_body": False})


ROUTES: dict[str, ASGIApp] = {
    "/": plain,
    "/hoppy": hoppy,
    "/stream": streaming,
    "/close": app_close,
    "/nocontent": no_content,
    "/early": early_hint,
}


def router(routes: Mapping[str, ASGIApp]) -> ASGIApp:
    """One app serving ``routes`` by exact path (unknown paths get ``routes["/"]``).

    Lifespan is answered here once, so the routed apps never see it.
    """
    fallback = routes["/"]

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await lifespan(receive, send)
            return
        await routes.get(scope.get("path", "/"), fallback)(scope, receive, send)

    return app


routed = router(ROUTES)
