"""Apps behind connmw for the connection-lifecycle tests (drain, limits, Keep-Alive hint).

Both middlewares are built with no keyword options when this module is imported, so
every setting comes from the ``CONNMW_*`` variables of the server's environment, and a
bad value stops the server at start-up, as it would in a deployment.

``app`` (ASGI) and ``wsgi_app`` (WSGI) serve the same routes:

* ``/``: ``ok`` with a Content-Length;
* ``/conn``: ``<pid> <client port>`` (which worker answered, on which connection; the
  client port is ``-`` where the server does not say);
* ``/admin/drain`` and ``/admin/undrain``: call :func:`connmw.drain` /
  :func:`connmw.undrain` in this process, then answer ``ok`` (the drain answer itself
  already closes);
* ``/stats``: the middleware's counters as JSON.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable
from typing import Any

import connmw
from connmw import asgi, wsgi
from tests.apps import bare_asgi

Environ = dict[str, Any]
StartResponse = Callable[..., Any]


def _route(path: str, client_port: object) -> bytes:
    """The body for ``path``, running the admin actions it names."""
    if path == "/admin/drain":
        connmw.drain()
    elif path == "/admin/undrain":
        connmw.undrain()
    elif path == "/conn":
        return f"{os.getpid()} {client_port}".encode()
    elif path == "/stats":
        return json.dumps(_stats()).encode()
    return b"ok"


async def _asgi_routes(scope: asgi.Scope, receive: asgi.Receive, send: asgi.Send) -> None:
    if scope["type"] == "lifespan":
        await bare_asgi.lifespan(receive, send)
        return
    if scope["type"] != "http":
        return
    await bare_asgi.drain(receive)
    client = scope.get("client")
    body = _route(scope.get("path", "/"), "-" if client is None else client[1])
    headers = [(b"content-type", b"text/plain"), (b"content-length", b"%d" % len(body))]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _wsgi_routes(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
    body = _route(environ.get("PATH_INFO") or "/", environ.get("REMOTE_PORT", "-"))
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]


app = asgi.ConnectionMiddleware(_asgi_routes)
wsgi_app = wsgi.ConnectionMiddleware(_wsgi_routes)


def _stats() -> dict[str, object]:
    return {"asgi": app.stats.as_dict(), "wsgi": wsgi_app.stats.as_dict()}
