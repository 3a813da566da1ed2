"""The applications ``connmw demo`` serves: raw ASGI and WSGI, no framework.

Both answer ``/hoppy`` the way the test suite's ``hoppy`` app does (docs/servers.md,
"What servers do without connmw") — setting hop-by-hop fields the application has no
business sending (Connection naming a custom field, Keep-Alive, that custom field,
Upgrade, Proxy-Connection, Transfer-Encoding) — and every other path with a plain
``ok``. The ASGI app also accepts WebSocket connections on any path and echoes
messages, so the handshake cases have something to judge.

:mod:`connmw.tool._demo_apps_wrapped` holds the same apps inside connmw's middlewares.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

__all__ = ["asgi_app", "wsgi_app"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

PLAIN_BODY = b"ok"
HOPPY_BODY = b"hello world"
# The same fields as the test suite's "hoppy" app (tests/apps/bare_asgi.py, docs/servers.md).
HOPPY_FIELDS: tuple[tuple[str, str], ...] = (
    ("Content-Type", "text/plain"),
    ("Connection", "keep-alive, X-Hop"),
    ("Keep-Alive", "timeout=5, max=1000"),
    ("X-Hop", "secret"),
    ("Upgrade", "foo"),
    ("Proxy-Connection", "keep-alive"),
    ("Transfer-Encoding", "chunked"),
)
PLAIN_FIELDS: tuple[tuple[str, str], ...] = (("Content-Type", "text/plain"), ("Content-Length", "2"))


def _fields(path: str) -> tuple[tuple[tuple[str, str], ...], bytes]:
    if path.rstrip("/") == "/hoppy":
        return HOPPY_FIELDS, HOPPY_BODY
    return PLAIN_FIELDS, PLAIN_BODY


async def asgi_app(scope: Scope, receive: Receive, send: Send) -> None:
    """``/hoppy`` sets hop-by-hop fields; anything else is plain; WebSocket echoes."""
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    if scope["type"] == "websocket":
        await _echo(receive, send)
        return
    if scope["type"] != "http":
        return
    while (await receive()).get("more_body"):
        pass
    fields, body = _fields(scope["path"])
    headers = [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in fields]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body if scope["method"] != "HEAD" else b""})


async def _echo(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "websocket.connect":
            await send({"type": "websocket.accept"})
        elif message["type"] == "websocket.receive":
            reply = {"type": "websocket.send", "bytes": message.get("bytes"), "text": message.get("text")}
            await send(reply)
        else:
            return


def wsgi_app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
    """``/hoppy`` sets hop-by-hop fields; anything else is plain."""
    fields, body = _fields(environ.get("PATH_INFO", "/"))
    start_response("200 OK", list(fields))
    return [body if environ.get("REQUEST_METHOD") != "HEAD" else b""]
