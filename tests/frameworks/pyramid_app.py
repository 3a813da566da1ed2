"""Pyramid: tweens are Pyramid's own kind of middleware, so connmw wraps ``make_wsgi_app()``."""

from __future__ import annotations

from pyramid.config import Configurator
from pyramid.request import Request
from pyramid.response import Response
from pyramid.router import Router

from connmw.wsgi import ConnectionMiddleware, request_facts
from tests.frameworks.routes import BODY, CLOSING, LEAK, LEAKY, facts_text


def home(request: Request) -> Response:
    return Response(BODY, content_type="text/plain")


def close(request: Request) -> Response:
    response = Response(CLOSING, content_type="text/plain")
    response.headers["Connection"] = "close"
    return response


def leak(request: Request) -> Response:
    response = Response(LEAKY, content_type="text/plain")
    for name, value in LEAK:
        response.headers.add(name, value)
    return response


def empty(request: Request) -> Response:
    return Response(status=204)


def facts(request: Request) -> Response:
    return Response(facts_text(request_facts(request.environ)), content_type="text/plain")


VIEWS = {"/": home, "/close": close, "/leak": leak, "/empty": empty, "/facts": facts}


def build() -> Router:
    with Configurator() as config:
        for path, view in VIEWS.items():
            config.add_route(view.__name__, path)
            config.add_view(view, route_name=view.__name__)
        return config.make_wsgi_app()


bare = build()
app = ConnectionMiddleware(bare)
