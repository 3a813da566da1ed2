"""Views that work the same under WSGI and ASGI."""

from __future__ import annotations

import time
from collections.abc import Iterator

from django.http import HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse

import connmw
from connmw.asgi import request_facts as asgi_request_facts
from connmw.wsgi import request_facts as wsgi_request_facts


def home(request: HttpRequest) -> HttpResponse:
    # connmw's facts about the request: environ["connmw.request"] on WSGI, the scope's state on ASGI.
    scope = getattr(request, "scope", None)
    facts = asgi_request_facts(scope) if scope is not None else wsgi_request_facts(request.META)
    if facts is None:
        return HttpResponse("hello (connmw is not in front of this app)\n", content_type="text/plain")
    text = f"hello over HTTP/{facts.http_version}; persistent: {facts.persistent}\n"
    return HttpResponse(text, content_type="text/plain")


def stream(request: HttpRequest) -> StreamingHttpResponse:
    def lines() -> Iterator[str]:
        for i in range(5):
            yield f"line {i}\n"
            time.sleep(0.05)

    return StreamingHttpResponse(lines(), content_type="text/plain")


def hoppy(request: HttpRequest) -> HttpResponse:
    # Connection-specific fields an application has no business sending; connmw removes
    # them all, and X-Hop, which the Connection field nominates.
    response = HttpResponse("hop-by-hop headers removed\n", content_type="text/plain")
    response["Connection"] = "keep-alive, X-Hop"
    response["Keep-Alive"] = "timeout=5, max=1000"
    response["X-Hop"] = "secret"
    response["Proxy-Connection"] = "keep-alive"
    return response


def stats(request: HttpRequest) -> JsonResponse:
    return JsonResponse(connmw.stats())  # every connmw middleware of this process
