"""Falcon's ``falcon.App`` (WSGI): its middleware are Falcon components, so connmw wraps the app."""

from __future__ import annotations

import falcon

from connmw.wsgi import ConnectionMiddleware, request_facts
from tests.frameworks.routes import BODY, CLOSING, LEAK, LEAKY, facts_text


def fill(resp: falcon.Response, body: str, headers: tuple[tuple[str, str], ...] = ()) -> None:
    """A text response, ``headers`` appended the framework's way (``falcon.asgi`` too)."""
    resp.content_type = falcon.MEDIA_TEXT
    resp.text = body
    for name, value in headers:
        resp.append_header(name, value)


class Text:
    """A text resource for GET, HEAD (Falcon routes it only where asked) and POST."""

    def __init__(self, body: str, headers: tuple[tuple[str, str], ...] = ()) -> None:
        self.body = body
        self.headers = headers

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        fill(resp, self.body, self.headers)

    on_post = on_get
    on_head = on_get


class Empty:
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.status = falcon.HTTP_204


class Facts:
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        fill(resp, facts_text(request_facts(req.env)))


def build() -> falcon.App:
    falcon_app = falcon.App()
    falcon_app.add_route("/", Text(BODY))
    falcon_app.add_route("/close", Text(CLOSING, (("Connection", "close"),)))
    falcon_app.add_route("/leak", Text(LEAKY, LEAK))
    falcon_app.add_route("/empty", Empty())
    falcon_app.add_route("/facts", Facts())
    return falcon_app


bare = build()
app = ConnectionMiddleware(build())
