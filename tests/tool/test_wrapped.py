"""``connmw check`` says whether connmw wraps the application it loaded, and with what.

``connmw.tool._wrapped.wrapping`` looks where each framework keeps its middleware; where it
cannot see, it says so ("could not tell", ``None``) rather than guess. Run in process on
real framework objects; ``test_cli_check_demo.py`` shows the lines on the command's output.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi import FastAPI
from flask import Flask
from starlette.applications import Starlette
from starlette.middleware.gzip import GZipMiddleware
from werkzeug.middleware.proxy_fix import ProxyFix

from connmw.asgi import ConnectionMiddleware as Asgi
from connmw.config import load_config
from connmw.tool._schema import WRAPPING_SCHEMA, validate
from connmw.tool._wrapped import wrapping
from tests.helpers import hide_connmw_variables


@pytest.fixture(autouse=True)
def _no_connmw_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    hide_connmw_variables(monkeypatch)


async def function_app(scope: Any, receive: Any, send: Any) -> None:
    """An ASGI function: it could call connmw inside, nobody can tell from outside."""


def starlette(*middleware: tuple[type, dict[str, Any]], fastapi: bool = False) -> Starlette:
    app = FastAPI() if fastapi else Starlette()
    for cls, options in middleware:
        app.add_middleware(cls, **options)
    return app


def flask(wrap: Callable[[Any], Any] | None = None) -> Flask:
    app = Flask(__name__)
    if wrap is not None:
        app.wsgi_app = wrap(app.wsgi_app)  # type: ignore[method-assign]
    return app


def quart(wrapped: bool) -> Any:
    from quart import Quart  # noqa: PLC0415 (a test extra, as the frameworks' tests import it)

    app = Quart(__name__)
    if wrapped:
        app.asgi_app = Asgi(app.asgi_app)  # type: ignore[method-assign]
    return app


def litestar(*middleware: Any) -> Any:
    from litestar import Litestar  # noqa: PLC0415

    return Litestar(route_handlers=[], middleware=list(middleware))


def define(**options: Any) -> Any:
    from litestar.middleware import DefineMiddleware  # noqa: PLC0415

    return DefineMiddleware(Asgi, **options)


def wsgi(app: Any, **options: Any) -> Any:
    from connmw.wsgi import ConnectionMiddleware  # noqa: PLC0415 (imported as a user would)

    return ConnectionMiddleware(app, **options)


AROUND = "ConnectionMiddleware is the application"
CASES = [
    pytest.param(lambda: starlette((Asgi, {})), True, "Starlette's add_middleware", {}, id="starlette"),
    pytest.param(
        lambda: starlette((Asgi, {"ws_allowed_origins": ["https://a.example"]}), fastapi=True),
        True,
        "FastAPI's add_middleware",
        {"ws_allowed_origins": ("https://a.example",)},
        id="fastapi-with-options",
    ),
    pytest.param(
        lambda: starlette((Asgi, {"config": load_config({}, strict=True)}), (GZipMiddleware, {})),
        True,
        "Starlette's add_middleware",
        {"strict": True},
        id="starlette-config-among-others",
    ),
    pytest.param(lambda: starlette((GZipMiddleware, {})), False, None, None, id="starlette-without"),
    pytest.param(lambda: Asgi(starlette()), True, AROUND, {}, id="asgi-around"),
    pytest.param(lambda: flask(wsgi), True, "Flask's wsgi_app", {}, id="flask"),
    pytest.param(
        lambda: flask(lambda inner: ProxyFix(wsgi(inner, keep_alive_timeout=4))),
        True,
        "inside ProxyFix",
        {"keep_alive_timeout": 4},
        id="flask-behind-proxyfix",
    ),
    pytest.param(lambda: flask(ProxyFix), False, None, None, id="flask-without"),
    pytest.param(lambda: flask().wsgi_app, False, None, None, id="flask-wsgi-app-method"),
    pytest.param(lambda: quart(True), True, "Quart's asgi_app", {}, id="quart"),
    pytest.param(lambda: quart(False), False, None, None, id="quart-without"),
    pytest.param(
        lambda: litestar(define(strict=True)),
        True,
        "Litestar's middleware=[...]",
        {"strict": True},
        id="litestar",
    ),
    pytest.param(lambda: litestar(Asgi), True, "Litestar's middleware=[...]", {}, id="litestar-class"),
    pytest.param(litestar, False, None, None, id="litestar-without"),
    pytest.param(lambda: function_app, None, None, None, id="a-function"),
    pytest.param(lambda: Asgi(function_app), True, AROUND, {}, id="asgi-around-a-function"),
]


@pytest.mark.parametrize(("build", "wrapped", "via", "options"), CASES)
def test_wrapping(build: Callable[[], Any], wrapped: bool | None, via: str | None, options: Any) -> None:
    found = wrapping(build())
    document = found.to_json()
    assert validate(document, WRAPPING_SCHEMA) == []
    assert (found.wrapped, document["via"]) == (wrapped, via)
    assert (found.found[0].options if found.found else None) == options


def test_django_handlers_end_the_chain(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DJANGO_SETTINGS_MODULE", "example_apps.django_app.settings")
    from django.core.handlers.asgi import ASGIHandler  # noqa: PLC0415 (settings first)

    assert wrapping(ASGIHandler()).wrapped is False
    assert wrapping(Asgi(ASGIHandler())).wrapped is True


def test_twice_and_a_keyword_typo_are_warned() -> None:
    app = starlette((Asgi, {}), (Asgi, {"keep_alive_timout": 5}))
    found = wrapping(app)
    assert len(found.found) == 2
    lines = found.lines()
    assert lines[0] == "connmw: wraps this app (Starlette's add_middleware); settings: defaults"
    assert "warning: connmw wraps this app 2 times" in lines[-1]
    typo = wrapping(starlette((Asgi, {"keep_alive_timout": 5})))
    assert typo.found[0].error is not None
    assert typo.lines()[1].startswith("warning: connmw's settings fail: unknown connmw option 'keep_alive_")
