"""Bottle: its plugins wrap route callbacks, not the WSGI app, so connmw wraps the ``Bottle`` object."""

from __future__ import annotations

from bottle import Bottle, HTTPResponse, request, response

from connmw.wsgi import ConnectionMiddleware, request_facts
from tests.frameworks.routes import BODY, CLOSING, LEAK, LEAKY, facts_text


def build() -> Bottle:
    bottle = Bottle()

    @bottle.route("/", method=["GET", "POST"])
    def home() -> str:
        response.content_type = "text/plain"
        return BODY

    @bottle.route("/close")
    def close() -> str:
        response.content_type = "text/plain"
        response.set_header("Connection", "close")
        return CLOSING

    @bottle.route("/leak")
    def leak() -> str:
        response.content_type = "text/plain"
        for name, value in LEAK:
            response.add_header(name, value)
        return LEAKY

    @bottle.route("/empty")
    def empty() -> HTTPResponse:
        return HTTPResponse(status=204)

    @bottle.route("/facts")
    def facts() -> str:
        response.content_type = "text/plain"
        return facts_text(request_facts(request.environ))

    return bottle


bare = build()
app = ConnectionMiddleware(build())
