"""The frameworks connmw is proven in, and how each app under tests/frameworks is served.

One row per framework: the module whose ``app`` adds connmw the framework's idiomatic
way (``bare``: the same app without it), the interface, the path of its WebSocket (the
framework's own WebSocket API; None where it has none) and what was measured to differ.
ASGI apps run on uvicorn (httptools, wsproto), WSGI apps on gunicorn's gthread worker;
both through tests/wire.py's launchers, as every other wire test.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from tests.wire import gunicorn_cmd, uvicorn_cmd

__all__ = ["BY_NAME", "FRAMEWORKS", "SOCKETIO_PATH", "Framework", "command"]

SOCKETIO_PATH = "/socket.io/?EIO=4&transport=websocket"
"""A Socket.IO client's WebSocket handshake (Engine.IO protocol 4), without a session."""


@dataclass(frozen=True)
class Framework:
    """One framework's test app, as the wire tests and ``connmw check`` serve it."""

    name: str
    module: str
    interface: str  # "asgi" or "wsgi"
    package: str  # the framework's import name: its tests are skipped where it is missing
    websocket: str | None = None  # the handshake path; None: no WebSocket API
    socketio: bool = False  # a Socket.IO server: its own client is the echo
    after_routing: bool = False  # the idiomatic mechanism runs after the router (Litestar)

    @property
    def target(self) -> str:
        """``MODULE:APP`` of the app behind connmw."""
        return f"{self.module}:app"

    @property
    def bare(self) -> str:
        """``MODULE:APP`` of the same app without connmw."""
        return f"{self.module}:bare"


def _app(module: str) -> str:
    return f"tests.frameworks.{module}"


FRAMEWORKS: tuple[Framework, ...] = (
    Framework("starlette", _app("starlette_app"), "asgi", "starlette", "/ws"),
    Framework("fastapi", _app("fastapi_app"), "asgi", "fastapi", "/ws"),
    Framework("django-asgi", _app("django_asgi"), "asgi", "django"),
    Framework("quart", _app("quart_app"), "asgi", "quart", "/ws"),
    Framework("litestar", _app("litestar_app"), "asgi", "litestar", "/ws", after_routing=True),
    Framework("falcon-asgi", _app("falcon_asgi"), "asgi", "falcon", "/ws"),
    Framework("blacksheep", _app("blacksheep_app"), "asgi", "blacksheep", "/ws"),
    Framework("channels", _app("channels_app"), "asgi", "channels", "/ws"),
    Framework("socketio-asgi", _app("socketio_asgi"), "asgi", "socketio", SOCKETIO_PATH, socketio=True),
    Framework("flask", _app("flask_app"), "wsgi", "flask_sock", "/ws"),
    Framework("django-wsgi", _app("django_wsgi"), "wsgi", "django"),
    Framework("falcon-wsgi", _app("falcon_wsgi"), "wsgi", "falcon"),
    Framework("pyramid", _app("pyramid_app"), "wsgi", "pyramid"),
    Framework("bottle", _app("bottle_app"), "wsgi", "bottle"),
    Framework("socketio-wsgi", _app("socketio_wsgi"), "wsgi", "socketio", SOCKETIO_PATH, socketio=True),
)
BY_NAME = {framework.name: framework for framework in FRAMEWORKS}


def command(target: str, interface: str) -> Callable[[int], list[str]]:
    """The server command for ``target``: uvicorn for ASGI, gunicorn gthread for WSGI.

    uvicorn runs wsproto, whose handshake check answers a wrong version with 426 and
    ``Sec-WebSocket-Version: 13`` itself (its websockets stack says 400). gunicorn gets
    8 threads: a Socket.IO client holds one with its long-poll while it upgrades.
    """
    if interface == "asgi":
        return lambda port: uvicorn_cmd(target, port, http="httptools", ws="wsproto")
    return lambda port: gunicorn_cmd(target, port, threads=8)
