"""The shared routes (tests/frameworks/routes.py) as Django views, for WSGI and ASGI alike."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse

from connmw.asgi import request_facts as asgi_request_facts
from connmw.wsgi import request_facts as wsgi_request_facts
from tests.frameworks.routes import BODY, CLOSING, LEAK, LEAKY, facts_text


def home(request: HttpRequest) -> HttpResponse:
    return HttpResponse(BODY, content_type="text/plain")


def close(request: HttpRequest) -> HttpResponse:
    response = HttpResponse(CLOSING, content_type="text/plain")
    response["Connection"] = "close"
    return response


def leak(request: HttpRequest) -> HttpResponse:
    response = HttpResponse(LEAKY, content_type="text/plain")
    for name, value in LEAK:
        response[name] = value
    return response


def empty(request: HttpRequest) -> HttpResponse:
    return HttpResponse(status=204)


def facts(request: HttpRequest) -> HttpResponse:
    # ASGI: the request's scope (connmw's facts in its state); WSGI: the environ (request.META).
    scope = getattr(request, "scope", None)
    found = asgi_request_facts(scope) if scope is not None else wsgi_request_facts(request.META)
    return HttpResponse(facts_text(found), content_type="text/plain")
