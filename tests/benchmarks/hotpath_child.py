"""One callgrind run of :mod:`tests.benchmarks.bench_hotpath`: ``INTERFACE WRAPPER REQUESTS``.

``INTERFACE`` is ``asgi``, ``wsgi`` (gunicorn's profile) or ``granian`` (WSGI on granian's);
``WRAPPER`` is ``bare`` or ``connmw``. Serves ``REQUESTS`` sequential requests through a
server that does nothing with what it is given.

``asgi-inprocess`` and ``wsgi-inprocess`` serve the ``plain`` scenario of
:mod:`tests.benchmarks.bench_inprocess` exactly as its timed batches do (the same
application, scope or environ, wrappers and loop); ``WRAPPER`` is ``bare``, ``connmw`` or
``peer`` (Starlette's TrustedHost, werkzeug's ProxyFix): the timed ratios, counted.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Callable, Iterable
from typing import Any

RESPONSE = [(b"content-type", b"text/plain; charset=utf-8"), (b"content-length", b"2")]


def asgi(wrapped: bool, requests: int) -> None:
    os.environ["CONNMW_SERVER"] = "uvicorn"  # the plain request's hot path, as in uvicorn
    from connmw.asgi import ConnectionMiddleware  # noqa: PLC0415 (after the variable is set)

    async def app(scope: Any, receive: Any, send: Any) -> None:
        headers = [(name, value) for name, value in RESPONSE]  # a new list each time, as a framework's
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b"ok"})

    served = ConnectionMiddleware(app) if wrapped else app

    async def send(message: Any) -> None:
        pass

    async def receive() -> Any:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def serve() -> None:
        for _ in range(requests):
            # New name objects each time, as a server parses them: their hashes are not cached.
            headers = [
                (b"Host".lower(), b"example.com"),
                (b"User-Agent".lower(), b"bench"),
                (b"Accept".lower(), b"*/*"),
            ]
            scope = {
                "type": "http",
                "http_version": "1.1",
                "method": "GET",
                "path": "/",
                "headers": headers,
                "state": {},
                "client": ("127.0.0.1", 50000),
                "server": ("127.0.0.1", 8000),
            }
            await served(scope, receive, send)

    asyncio.run(serve())


def wsgi(wrapped: bool, requests: int, server: str = "gunicorn") -> None:
    os.environ["CONNMW_SERVER"] = server
    from connmw.wsgi import ConnectionMiddleware  # noqa: PLC0415 (after the variable is set)

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", "2")])
        return [b"ok"]

    served = ConnectionMiddleware(app) if wrapped else app

    def start_response(
        status: str, headers: list[tuple[str, str]], exc_info: Any = None
    ) -> Callable[[bytes], None]:
        return write

    def write(data: bytes) -> None:
        pass

    for _ in range(requests):
        environ = {
            "REQUEST_METHOD": "GET",
            "PATH_INFO": "/",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "SERVER_SOFTWARE": server,
            "HTTP_HOST": "example.com",
            "HTTP_USER_AGENT": "bench",
            "HTTP_ACCEPT": "*/*",
            "REMOTE_ADDR": "127.0.0.1",
            "REMOTE_PORT": "50000",
            "wsgi.url_scheme": "http",
        }
        for _chunk in served(environ, start_response):
            pass


PEERS = {"asgi-inprocess": "starlette TrustedHost", "wsgi-inprocess": "werkzeug ProxyFix"}
"""The peer each in-process ratio divides by (bench_inprocess.RATIOS' first two rows)."""


def inprocess(interface: str, wrapper: str, requests: int) -> None:
    """The timed in-process batch of the ``plain`` scenario, ``requests`` long."""
    from . import apps, bench_inprocess  # noqa: PLC0415 (only this mode needs them)

    name = PEERS[interface] if wrapper == "peer" else wrapper
    if interface == "asgi-inprocess":
        app, scope, receive = bench_inprocess.ASGI_SCENARIOS["plain"]
        asyncio.run(bench_inprocess._asgi_batch(apps.ASGI_WRAPPERS[name](app), scope, receive, requests))
    else:
        served = apps.WSGI_WRAPPERS[name](bench_inprocess.WSGI_SCENARIOS["plain"])
        bench_inprocess._wsgi_batch(served, apps.WSGI_ENVIRON, requests)


if __name__ == "__main__":
    interface, wrapper, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
    if interface in PEERS:
        inprocess(interface, wrapper, count)
    elif interface == "granian":  # WSGI on granian's profile: connmw's field goes in every response
        wsgi(wrapper == "connmw", count, "granian")
    else:
        {"asgi": asgi, "wsgi": wsgi}[interface](wrapper == "connmw", count)
