"""An installed connmw answers a request, compiled or not: the check every built wheel passes.

Installed alone (no extra), it also refuses a metrics backend whose package is missing.

Usage: ``python .ci/wheel_smoke.py [--pure]``. Without ``--pure`` the installation must be
the accelerated build (the cibuildwheel test command, CI); with it, the pure one. Run it
from a directory without a connmw checkout, so that the installed package is imported.
"""

from __future__ import annotations

import asyncio
import io
import sys

import connmw
import connmw.wsgi
from connmw.asgi import ConnectionMiddleware


def check(holds: bool, failure: object) -> None:
    """Fail the check with ``failure`` unless ``holds`` (an assert would vanish under -O)."""
    if not holds:
        raise SystemExit(f"wheel check failed: {failure}")


pure = "--pure" in sys.argv[1:]
check(connmw.accelerated is not pure, f"expected the {'pure' if pure else 'accelerated'} build")
check(not connmw.rules.__file__.startswith(sys.path[0] or "."), "imported a checkout, not the wheel")
sent: list[dict[str, object]] = []


async def app(scope: object, receive: object, send: object) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": [[b"keep-alive", b"x"]]})  # type: ignore[operator]
    await send({"type": "http.response.body", "body": b"ok"})  # type: ignore[operator]


async def record(message: dict[str, object]) -> None:
    sent.append(message)


async def receive() -> dict[str, object]:
    return {"type": "http.request"}


scope = {"type": "http", "http_version": "1.0", "method": "GET", "headers": [], "path": "/"}
# An in-process send is no server connmw recognises (its fallback says nothing): name one.
asyncio.run(ConnectionMiddleware(app, server="uvicorn")(scope, receive, record))
check(sent[0]["headers"] == [(b"content-length", b"2"), (b"connection", b"close")], sent)

started: list[object] = []


def wsgi_app(environ: object, start_response: object) -> list[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain"), ("Keep-Alive", "x")])  # type: ignore[operator]
    return [b"ok"]


environ = {"REQUEST_METHOD": "GET", "SERVER_PROTOCOL": "HTTP/1.1", "wsgi.input": io.BytesIO()}
body = connmw.wsgi.ConnectionMiddleware(wsgi_app)(environ, lambda s, h, e=None: started.append(h))
check(b"".join(body) == b"ok" and started == [[("Content-Type", "text/plain")]], started)
# Alone, connmw has no metrics backend: asking for one stops start-up with what to install.
for backend in ("prometheus", "otel"):
    try:
        connmw.load_config(environ={}, metrics=backend)
    except connmw.ConfigError as error:
        check(f"connmw[{backend}]" in str(error), error)
    else:
        check(False, f"metrics={backend!r} accepted without its package")
check(not {name.split(".")[0] for name in sys.modules} & {"prometheus_client", "opentelemetry"}, sys.modules)
build = "pure" if pure else "accelerated"
print(f"connmw {connmw.__version__} ({build}) from {connmw.__file__}: ASGI and WSGI answer")
