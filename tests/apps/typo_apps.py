"""FastAPI and Starlette applications whose ``add_middleware`` carries a keyword typo.

``keep_alive_timout`` for ``keep_alive_timeout``: a mistake only a running server meets,
since both frameworks build their middleware on the first ASGI call (the lifespan
startup, or the first request where a server sends no lifespan). Served by
``tests/middleware/test_startup.py``, which expects start-up to fail with connmw's message.
"""

from __future__ import annotations

from fastapi import FastAPI
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from connmw.asgi import ConnectionMiddleware

__all__ = ["fastapi_app", "starlette_app"]


async def _home(request: Request) -> Response:
    return PlainTextResponse("served without connmw's settings\n")


starlette_app = Starlette(routes=[Route("/", _home)])
starlette_app.add_middleware(ConnectionMiddleware, keep_alive_timout=5)  # type: ignore[call-arg]

fastapi_app = FastAPI()
fastapi_app.add_api_route("/", _home)
fastapi_app.add_middleware(ConnectionMiddleware, keep_alive_timout=5)  # type: ignore[call-arg]
