"""Apps wrapped as objects, positionally and by keyword, on both sides."""

from __future__ import annotations

from flask import Flask
from quart import Quart

from connmw import asgi, wsgi

flask = Flask(__name__)
flask.wsgi_app = wsgi.ConnectionMiddleware(flask.wsgi_app)  # type: ignore[method-assign]
wsgi_keyword = wsgi.ConnectionMiddleware(app=Flask(__name__), strict=True)

quart = Quart(__name__)
quart.asgi_app = asgi.ConnectionMiddleware(quart.asgi_app)  # type: ignore[method-assign]
asgi_keyword = asgi.ConnectionMiddleware(app=Quart(__name__), keep_alive_timeout=5)
