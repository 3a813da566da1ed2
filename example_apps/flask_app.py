"""A Flask application behind connmw: ``gunicorn -k gthread --threads 8 example_apps.flask_app:app``.

Routes: ``/`` (plain text, with what connmw read from the request), ``/stream`` (a
streamed body), ``/hoppy`` (sets hop-by-hop headers itself, to show connmw removing them),
``/stats`` (``connmw.stats()``), ``/ws`` (a WebSocket echo with flask-sock) and
``/proxy/<path>`` (forwards the request to another local application, ``PROXY_UPSTREAM``,
default ``http://127.0.0.1:8001``, with ``connmw.forwardable_headers`` on the way there
and back).

Try it::

    gunicorn -k gthread --threads 8 -b 127.0.0.1:8000 example_apps.flask_app:app
    curl -v http://127.0.0.1:8000/hoppy             # no X-Hop, one Connection field
    curl -v --http1.0 http://127.0.0.1:8000/        # Connection: close, closed
    python -m websockets ws://127.0.0.1:8000/ws

WebSockets need a server that hands the socket over: gunicorn's ``gthread`` or ``sync``
worker, or werkzeug's development server (``flask --app example_apps.flask_app run``).
Settings come from ``CONNMW_*`` variables or keywords, e.g.
``CONNMW_WS_ALLOWED_ORIGINS=https://app.example gunicorn ...``.
"""

from __future__ import annotations

import http.client
import os
import time
from collections.abc import Iterator
from urllib.parse import urlsplit

from flask import Flask, Response, jsonify, request
from flask_sock import Sock
from simple_websocket import Server

import connmw
from connmw import forwardable_headers
from connmw.wsgi import ENVIRON_KEY, ConnectionMiddleware

app = Flask(__name__)
sock = Sock(app)


@app.route("/", methods=["GET", "POST", "HEAD"])
def home() -> Response:
    facts = request.environ[ENVIRON_KEY]  # what connmw read from the request's Connection field
    text = f"hello over HTTP/{facts.http_version}; persistent: {facts.persistent}\n"
    return Response(text, mimetype="text/plain")


@app.route("/stream")
def stream() -> Response:
    def lines() -> Iterator[str]:
        for i in range(5):
            yield f"line {i}\n"
            time.sleep(0.05)

    return Response(lines(), mimetype="text/plain")


@app.route("/hoppy")
def hoppy() -> Response:
    # PEP 3333 forbids every one of these in an application's response; connmw removes
    # them all, and X-Hop, which the Connection field nominates.
    return Response(
        "hop-by-hop headers removed\n",
        mimetype="text/plain",
        headers={
            "Connection": "keep-alive, X-Hop",
            "Keep-Alive": "timeout=5, max=1000",
            "X-Hop": "secret",
            "Proxy-Connection": "keep-alive",
        },
    )


@app.route("/stats")
def stats() -> Response:
    return jsonify(connmw.stats())  # every connmw middleware of this process


@sock.route("/ws")
def echo(ws: Server) -> None:
    while True:
        ws.send(ws.receive())


@app.route("/proxy/", defaults={"path": ""}, methods=["GET", "POST"])
@app.route("/proxy/<path:path>", methods=["GET", "POST"])
def proxy(path: str) -> Response:
    upstream = urlsplit(os.environ.get("PROXY_UPSTREAM", "http://127.0.0.1:8001"))
    # Hop-by-hop fields of the client's request are for this hop only (RFC 9110 §7.6.1).
    outgoing = {
        name: value
        for name, value in forwardable_headers(list(request.headers.items()))  # str pairs in, str out
        if name.lower() not in ("host", "content-length")
    }
    target = f"/{path}?{request.query_string.decode('latin-1')}" if request.query_string else f"/{path}"
    connection = http.client.HTTPConnection(upstream.hostname or "127.0.0.1", upstream.port or 80, timeout=10)
    try:
        connection.request(request.method, target, body=request.get_data() or None, headers=outgoing)
        answer = connection.getresponse()
        body = answer.read()  # http.client undoes the upstream's framing
    finally:
        connection.close()
    # Copying the upstream's Transfer-Encoding or Connection would frame the body twice or
    # leak its connection options: keep what may cross a hop; the server frames anew.
    incoming = forwardable_headers(answer.getheaders(), response=True)
    headers = [(name, value) for name, value in incoming if name.lower() not in _SERVER_OWNED]
    return Response(body, status=answer.status, headers=headers)


_SERVER_OWNED = ("content-length", "date", "server")  # this hop's server writes its own


app.wsgi_app = ConnectionMiddleware(app.wsgi_app)  # type: ignore[method-assign]
