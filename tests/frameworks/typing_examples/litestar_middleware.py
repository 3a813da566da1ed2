"""Litestar: ``DefineMiddleware`` calls its factory with ``app=`` as a keyword; a bare class
in ``middleware=[...]`` is called the same way; or the application object is wrapped."""

from __future__ import annotations

from litestar import Litestar, get
from litestar.middleware import DefineMiddleware

from connmw.asgi import ConnectionMiddleware


@get("/")
async def home() -> str:
    return "ok"


app = Litestar(
    route_handlers=[home],
    middleware=[DefineMiddleware(ConnectionMiddleware, ws_allowed_origins=["https://app.example"])],
)
plain = Litestar(route_handlers=[home], middleware=[ConnectionMiddleware])
outer = ConnectionMiddleware(Litestar(route_handlers=[home]))
keyword = ConnectionMiddleware(app=Litestar(route_handlers=[home]), strict=True)
