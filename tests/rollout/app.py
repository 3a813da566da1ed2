"""The application of the rolling-restart tests (tests/test_rollout.py), ASGI and WSGI.

Configured only by the ``CONNMW_*`` variables of the server's environment (the
middlewares are built without keyword options), as in a deployment:
``CONNMW_READY_PATH=/healthz`` and ``CONNMW_DRAIN_FILE=<a file per instance>``.

Routes, identical in both interfaces:

* ``POST /echo``: the request body back (``text/plain``, with a Content-Length), and
  ``X-Served-By: <port>`` naming the instance that answered.
* ``GET /healthz``: the application's own plain health route, ``200 ok`` whatever
  happens: what a balancer sees when connmw's ready path is not configured. With
  ``CONNMW_READY_PATH=/healthz`` connmw answers this path before the application.

``asgi_app`` and ``wsgi_app`` are wrapped in connmw; ``bare_asgi_app`` and
``bare_wsgi_app`` are the same routes without it (the baselines).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from connmw import asgi, wsgi

Environ = dict[str, Any]
StartResponse = Callable[..., Any]
MAX_BODY = 64 * 1024


def _answer(method: str, path: str) -> tuple[int, bytes | None]:
    """Status, and the body to send (None: echo the request body)."""
    if path == "/healthz" and method in ("GET", "HEAD"):
        return 200, b"ok\n"
    if path == "/echo" and method == "POST":
        return 200, None
    return 404, b"not found\n"


async def bare_asgi_app(scope: asgi.Scope, receive: asgi.Receive, send: asgi.Send) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    if scope["type"] != "http":
        return
    parts: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return  # the client went away
        parts.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    status, body = _answer(scope["method"], scope["path"])
    if body is None:
        body = b"".join(parts)[:MAX_BODY]
    server = scope.get("server") or ("", 0)
    headers = [
        (b"content-type", b"text/plain"),
        (b"content-length", b"%d" % len(body)),
        (b"x-served-by", str(server[1]).encode()),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def bare_wsgi_app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
    status, body = _answer(environ.get("REQUEST_METHOD", ""), environ.get("PATH_INFO") or "/")
    if body is None:
        try:
            length = min(int(environ.get("CONTENT_LENGTH") or 0), MAX_BODY)
        except ValueError:
            length = 0
        body = environ["wsgi.input"].read(length) if length else b""
    start_response(
        f"{status} {'OK' if status == 200 else 'Not Found'}",
        [
            ("Content-Type", "text/plain"),
            ("Content-Length", str(len(body))),
            ("X-Served-By", str(environ.get("SERVER_PORT", ""))),
        ],
    )
    return [body]


asgi_app = asgi.ConnectionMiddleware(bare_asgi_app)
wsgi_app = wsgi.ConnectionMiddleware(bare_wsgi_app)
