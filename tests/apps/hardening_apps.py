"""Apps behind connmw for the hardening, reverse-proxy and load tests.

Both middlewares are built with no keyword options, so every setting comes from the
``CONNMW_*`` variables of the server's environment.

``asgi_app`` (uvicorn), behind :class:`connmw.asgi.ConnectionMiddleware`:

* ``/`` (any other path too): ``ok`` with Content-Length, the cheapest answer, for load;
* ``/echo`` (and any path ending in ``/echo``): JSON of what the application saw: the
  request headers as a list of ``[name, value]`` (latin-1, order and duplicates kept),
  the body length, the client address (``scope["client"]``, so a test behind nginx can
  tell upstream connections apart) and what connmw published (``persistent``,
  ``http_version``);
* ``/nominate``: a response whose own Connection field nominates protected fields and
  ``X-Hop`` (``Connection: set-cookie, content-type, x-hop``), beside Set-Cookie and X-Hop;
* ``/disguise?n=NAME&v=VALUE`` (repeatable, URL-encoded, latin-1): ``ok`` with Content-Length,
  ``X-Secret: s3cret`` and each ``NAME: VALUE`` field exactly as given, so that a name with
  white space around it (``connection%20``) reaches the middleware as an application
  copying an upstream's fields would send it;
* ``/stats``: JSON ``{"table": N, "limit": TABLE_LIMIT, "stats": {...}}``, N being the
  number of connections the middleware's lifecycle table tracks right now;
* WebSocket on any path: accept, echo text messages as ``echo:<text>`` until the client
  closes.

``wsgi_app`` (gunicorn), behind :class:`connmw.wsgi.ConnectionMiddleware`: ``/echo`` as
above from the environ (``HTTP_*`` entries, ``CONTENT_LENGTH`` and ``CONTENT_TYPE`` given
back their header names), ``/disguise`` as above, anything else ``ok``.

``bare_asgi_app`` and ``bare_wsgi_app`` are the same applications without connmw.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any
from urllib.parse import parse_qs

from connmw import wsgi as connmw_wsgi
from connmw.asgi import ConnectionMiddleware, Receive, Scope, Send, request_facts
from connmw.lifecycle import TABLE_LIMIT

_OK_HEADERS = [(b"content-type", b"text/plain"), (b"content-length", b"2")]
_OK_START = {"type": "http.response.start", "status": 200, "headers": _OK_HEADERS}
_OK_BODY = {"type": "http.response.body", "body": b"ok", "more_body": False}


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


async def _read_body(receive: Receive) -> bytes:
    parts: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return b"".join(parts)
        parts.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(parts)


async def _json(send: Send, payload: object) -> None:
    body = json.dumps(payload).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body, "more_body": False})


async def _websocket(receive: Receive, send: Send) -> None:
    message = await receive()
    if message["type"] != "websocket.connect":
        return
    await send({"type": "websocket.accept"})
    while True:
        message = await receive()
        if message["type"] != "websocket.receive":
            return
        text = message.get("text")
        if text is None:
            text = (message.get("bytes") or b"").decode("latin-1")
        await send({"type": "websocket.send", "text": "echo:" + text})


def _disguised(query: str) -> list[tuple[str, str]]:
    """The fields ``/disguise`` answers with, names and values exactly as the query gives them."""
    asked = parse_qs(query, keep_blank_values=True, encoding="latin-1")
    named = list(zip(asked.get("n", []), asked.get("v", []), strict=False))
    return [("Content-Type", "text/plain"), ("Content-Length", "2"), ("X-Secret", "s3cret"), *named]


async def _inner(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] == "lifespan":
        await _lifespan(receive, send)
        return
    if scope["type"] == "websocket":
        await _websocket(receive, send)
        return
    if scope["type"] != "http":
        return
    path = scope.get("path", "/")
    if path.endswith("/echo"):
        body = await _read_body(receive)
        facts = request_facts(scope)
        await _json(
            send,
            {
                "headers": [[n.decode("latin-1"), v.decode("latin-1")] for n, v in scope["headers"]],
                "body_length": len(body),
                "client": list(scope["client"]) if scope.get("client") else None,
                "persistent": None if facts is None else facts.persistent,
                "http_version": None if facts is None else facts.http_version,
            },
        )
        return
    if path == "/nominate":
        await _read_body(receive)
        headers = [
            (b"content-type", b"text/plain"),
            (b"content-length", b"2"),
            (b"connection", b"set-cookie, content-type, x-hop"),
            (b"set-cookie", b"session=1; HttpOnly"),
            (b"x-hop", b"secret"),
        ]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send(_OK_BODY)
        return
    if path == "/disguise":
        await _read_body(receive)
        fields = _disguised(scope.get("query_string", b"").decode("latin-1"))
        headers = [(name.encode("latin-1"), value.encode("latin-1")) for name, value in fields]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send(_OK_BODY)
        return
    if path == "/stats":
        await _read_body(receive)
        # The lifecycle table is private to the middleware; its size is what is bounded.
        table = len(asgi_app._core.lifecycle)  # test instrumentation
        await _json(send, {"table": table, "limit": TABLE_LIMIT, "stats": asgi_app.stats.as_dict()})
        return
    if scope.get("method") == "POST":
        await _read_body(receive)
    await send(_OK_START)
    await send(_OK_BODY)


asgi_app = ConnectionMiddleware(_inner)
bare_asgi_app = _inner  # the same routes without connmw, to show what a server does alone


def _wsgi_inner(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
    length = int(environ.get("CONTENT_LENGTH") or 0)
    body = environ["wsgi.input"].read(length) if length > 0 else b""
    if environ.get("PATH_INFO") == "/disguise":
        start_response("200 OK", _disguised(environ.get("QUERY_STRING", "")))
        return [b"ok"]
    if environ.get("PATH_INFO") != "/echo":
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "2")])
        return [b"ok"]
    headers: list[list[str]] = []
    for key, value in environ.items():
        if key.startswith("HTTP_"):
            headers.append([key[5:].lower().replace("_", "-"), value])
        elif key in ("CONTENT_LENGTH", "CONTENT_TYPE") and value:
            headers.append([key.lower().replace("_", "-"), value])
    facts = environ.get(connmw_wsgi.ENVIRON_KEY)
    payload = {
        "headers": headers,
        "body_length": len(body),
        "client": [environ.get("REMOTE_ADDR"), environ.get("REMOTE_PORT")],
        "persistent": None if facts is None else facts.persistent,
        "http_version": None if facts is None else facts.http_version,
    }
    data = json.dumps(payload).encode()
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(data)))])
    return [data]


wsgi_app = connmw_wsgi.ConnectionMiddleware(_wsgi_inner)
bare_wsgi_app = _wsgi_inner
