"""The demo applications of :mod:`connmw.tool._demo_apps` inside connmw's middlewares.

Default settings, except a WebSocket origin allow-list, as an application whose pages are
served from another origin sets one. The foreign Origin ``connmw demo`` sends gets 403 with
or without it: without a list only an Origin on the request's own host and port is
admitted (docs/policy.md).
A separate module because servers import applications by name (hypercorn evaluates
the name in the module's namespace), and because importing it needs both adapters.
"""

from __future__ import annotations

from ..asgi import ConnectionMiddleware as AsgiMiddleware
from ..wsgi import ConnectionMiddleware as WsgiMiddleware
from ._demo_apps import asgi_app, wsgi_app

__all__ = ["ALLOWED_ORIGINS", "asgi_wrapped", "wsgi_wrapped"]

ALLOWED_ORIGINS = ("https://app.example",)

asgi_wrapped = AsgiMiddleware(asgi_app, ws_allowed_origins=ALLOWED_ORIGINS)
wsgi_wrapped = WsgiMiddleware(wsgi_app, ws_allowed_origins=ALLOWED_ORIGINS)
