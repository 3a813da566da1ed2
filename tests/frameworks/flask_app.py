"""Flask: ``app.wsgi_app = ConnectionMiddleware(app.wsgi_app)``, as Flask documents WSGI middleware.

The WebSocket echo is flask-sock's (Flask has no WebSocket API of its own).
"""

from __future__ import annotations

from typing import Any

from flask import Flask, Response, request
from flask_sock import Sock

from connmw.wsgi import ConnectionMiddleware, request_facts
from tests.frameworks.routes import BODY, CLOSING, LEAK, LEAKY, echo, facts_text


def build(connmw: bool) -> Flask:
    flask = Flask(__name__)
    sock = Sock(flask)

    @flask.route("/", methods=["GET", "POST"])
    def home() -> Response:
        return Response(BODY, content_type="text/plain")

    @flask.route("/close")
    def close() -> Response:
        response = Response(CLOSING, content_type="text/plain")
        response.headers["Connection"] = "close"
        return response

    @flask.route("/leak")
    def leak() -> Response:
        response = Response(LEAKY, content_type="text/plain")
        for name, value in LEAK:
            response.headers.add(name, value)
        return response

    @flask.route("/empty")
    def empty() -> Response:
        return Response(status=204)

    @flask.route("/facts")
    def facts() -> Response:
        return Response(facts_text(request_facts(request.environ)), content_type="text/plain")

    @sock.route("/ws")
    def ws(websocket: Any) -> None:
        websocket.send(echo(websocket.receive()))

    if connmw:
        flask.wsgi_app = ConnectionMiddleware(flask.wsgi_app)  # type: ignore[method-assign]
    return flask


app = build(connmw=True)
bare = build(connmw=False)
