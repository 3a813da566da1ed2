"""Falcon's ``falcon.asgi.App``: its middleware are Falcon components, so connmw wraps the app."""

from __future__ import annotations

import falcon
import falcon.asgi

from connmw.asgi import ConnectionMiddleware, request_facts
from tests.frameworks import falcon_wsgi
from tests.frameworks.falcon_wsgi import fill
from tests.frameworks.routes import BODY, CLOSING, LEAK, LEAKY, echo, facts_text


class Text(falcon_wsgi.Text):
    """The WSGI app's text resource, its responders coroutines."""

    async def on_get(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:  # type: ignore[override]
        fill(resp, self.body, self.headers)

    on_post = on_get
    on_head = on_get


class Empty:
    async def on_get(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        resp.status = falcon.HTTP_204


class Facts:
    async def on_get(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        fill(resp, facts_text(request_facts(req.scope)))


class Echo:
    async def on_websocket(self, req: falcon.asgi.Request, ws: falcon.asgi.WebSocket) -> None:
        await ws.accept()
        await ws.send_text(echo(await ws.receive_text()))
        await ws.close()


def build() -> falcon.asgi.App:
    falcon_app = falcon.asgi.App()
    falcon_app.add_route("/", Text(BODY))
    falcon_app.add_route("/close", Text(CLOSING, (("Connection", "close"),)))
    falcon_app.add_route("/leak", Text(LEAKY, LEAK))
    falcon_app.add_route("/empty", Empty())
    falcon_app.add_route("/facts", Facts())
    falcon_app.add_route("/ws", Echo())
    return falcon_app


bare = build()
app = ConnectionMiddleware(build())
