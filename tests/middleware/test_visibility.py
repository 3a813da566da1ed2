"""What a user can see of connmw at work, in process: its counters, its log, its nesting.

* ``connmw.stats()`` sums every live middleware's counters, however it was added (Starlette's
  and FastAPI's ``add_middleware`` build the instance out of the user's reach); a middleware
  that was garbage-collected no longer counts. The examples' ``/stats`` routes prove it on
  real servers (test_asgi_servers.py, test_examples_wsgi.py).
* connmw wrapping connmw is logged once per process: when one instance is built around
  another, and, with other middleware in between, on the first request an instance sees
  that an outer connmw already read. After that first request, plain requests take the
  hot path as before.
* The one log line per removed header says which table removed it: hop-by-hop, the
  application's Connection field, or ``strip_headers``, which removes the application's
  own fields only: uvicorn's ``server: uvicorn`` never passes through connmw (on the wire).
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from flask import Flask
from starlette.applications import Starlette
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route
from werkzeug.middleware.proxy_fix import ProxyFix

import connmw
from connmw import ForbiddenHeaderError, _core, _counters
from connmw.asgi import ConnectionMiddleware as AsgiMiddleware
from connmw.wsgi import ConnectionMiddleware as WsgiMiddleware
from tests.wire import ServerPool, exchange, request_bytes, uvicorn_cmd


@pytest.fixture(autouse=True)
def _fresh_process(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No CONNMW_* from the shell; the once-per-process log memory as in a new process."""
    for variable in [v for v in os.environ if v.startswith("CONNMW_")]:
        monkeypatch.delenv(variable)
    monkeypatch.setattr(_counters, "_already_warned", set())
    monkeypatch.setattr(_core, "_warned_nested", [])
    yield


def nominating(name: str) -> list[tuple[str, str]]:
    """Response headers whose Connection field nominates ``name`` (removed, counted by name)."""
    return [("Content-Type", "text/plain"), ("Connection", f"keep-alive, {name}"), (name, "1")]


def starlette_app(name: str, framework: str = "starlette") -> Starlette:
    async def home(request: Request) -> Response:
        return PlainTextResponse("ok", headers=dict(nominating(name)[1:]))

    if framework == "fastapi":
        app: Starlette = FastAPI()
        app.add_api_route("/", home)
        return app
    return Starlette(routes=[Route("/", home)])


async def _get(app: Any, times: int = 1) -> list[httpx.Response]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://example.com") as client:
        return [await client.get("/") for _ in range(times)]


def get(app: Any, times: int = 1) -> list[httpx.Response]:
    return asyncio.run(_get(app, times))


def counted(name: str) -> int:
    stripped = connmw.stats()["headers_stripped"]
    assert isinstance(stripped, dict)
    return int(stripped.get(name, 0))


# --------------------------------------------------------------------------------------
# connmw.stats()
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("framework", ["starlette", "fastapi"])
def test_stats_reach_an_instance_add_middleware_built(framework: str) -> None:
    name = f"x-{framework}-hop"
    app = starlette_app(name, framework)
    app.add_middleware(AsgiMiddleware)
    responses = get(app, times=3)
    assert all(name not in response.headers for response in responses)
    assert counted(name) == 3


def test_stats_reach_flask_and_plain_wsgi_wrapping() -> None:
    flask = Flask(__name__)

    @flask.route("/")
    def home() -> Any:
        return "ok", 200, nominating("x-flask-hop")

    flask.wsgi_app = WsgiMiddleware(flask.wsgi_app)  # type: ignore[method-assign]
    client = flask.test_client()
    for _ in range(2):
        assert "x-flask-hop" not in client.get("/").headers
    assert counted("x-flask-hop") == 2


def test_stats_sum_instances_and_forget_collected_ones() -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        headers = [(n.lower().encode(), v.encode()) for n, v in nominating("x-summed-hop")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b"ok"})

    first, second = AsgiMiddleware(app), AsgiMiddleware(app)
    get(first, times=2)
    get(second)
    counts = [middleware.stats.headers_stripped["x-summed-hop"] for middleware in (first, second)]
    assert counts == [2, 1]
    assert counted("x-summed-hop") == 3
    del first
    gc.collect()
    assert counted("x-summed-hop") == 1
    snapshot = connmw.stats()
    assert list(snapshot) == list(second.stats.as_dict())  # the keys metrics exporters read
    snapshot["headers_stripped"] = {}  # a copy: changing it changes nothing
    assert counted("x-summed-hop") == 1


# --------------------------------------------------------------------------------------
# connmw around connmw: one warning per process
# --------------------------------------------------------------------------------------


def nested_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "connmw" and "wraps connmw" in r.getMessage()]


def test_asgi_built_around_itself_warns_at_construction(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="connmw")
    AsgiMiddleware(AsgiMiddleware(starlette_app("x-a")))
    AsgiMiddleware(AsgiMiddleware(starlette_app("x-a")))
    assert nested_warnings(caplog) == [
        "connmw wraps connmw (one ConnectionMiddleware built around another): each instance applies its "
        "own settings, and the inner one's defaults may refuse what the outer one allows; add "
        "ConnectionMiddleware once"
    ]


def test_add_middleware_twice_warns_when_starlette_builds_the_stack(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="connmw")
    app = starlette_app("x-b")
    app.add_middleware(AsgiMiddleware)
    app.add_middleware(AsgiMiddleware, ws_allowed_origins=["https://app.example.com"])
    assert nested_warnings(caplog) == []  # add_middleware only records the classes
    get(app)
    assert len(nested_warnings(caplog)) == 1


def test_nesting_with_a_middleware_between_warns_on_the_first_request(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="connmw")
    app = starlette_app("x-c")
    app.add_middleware(AsgiMiddleware)
    app.add_middleware(TrustedHostMiddleware, allowed_hosts=["example.com"])
    app.add_middleware(AsgiMiddleware)
    assert [r.status_code for r in get(app, times=3)] == [200, 200, 200]
    assert nested_warnings(caplog) == [
        "connmw wraps connmw (an outer connmw already read this request): each instance applies its own "
        "settings, and the inner one's defaults may refuse what the outer one allows; add "
        "ConnectionMiddleware once"
    ]


def test_one_connmw_never_warns_and_plain_requests_take_the_hot_path_after_the_first(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="connmw")

    async def plain(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]})
        await send({"type": "http.response.body", "body": b"ok"})

    # httpx's ASGI transport is no server connmw recognises, where every request is counted
    # off the hot path: it stands for uvicorn here (CONNMW_SERVER).
    middleware = AsgiMiddleware(plain, server="uvicorn")
    assert middleware._plain is False  # until the first request has been looked at
    responses = get(middleware, times=2)
    assert [r.headers.get_list("connection") for r in responses] == [["keep-alive"], ["keep-alive"]]
    assert middleware._plain is True
    assert nested_warnings(caplog) == []


def test_wsgi_nesting_warns_directly_and_through_other_middleware(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="connmw")

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]

    WsgiMiddleware(WsgiMiddleware(app))
    assert len(nested_warnings(caplog)) == 1
    assert "built around another" in nested_warnings(caplog)[0]

    _core._warned_nested.clear()
    outer = WsgiMiddleware(ProxyFix(WsgiMiddleware(app)))
    assert nested_warnings(caplog)[1:] == []
    client = Flask(__name__).test_client()
    client.application.wsgi_app = outer  # type: ignore[method-assign]
    for _ in range(2):
        assert client.get("/").status_code == 200
    assert len(nested_warnings(caplog)) == 2
    assert "an outer connmw already read this request" in nested_warnings(caplog)[1]


# --------------------------------------------------------------------------------------
# The log names the table that removed a header
# --------------------------------------------------------------------------------------


def test_strip_headers_removals_are_logged_as_what_they_are(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="connmw")

    async def app(scope: Any, receive: Any, send: Any) -> None:
        headers = [(b"server", b"app/1.0"), (b"x-powered-by", b"php"), (b"connection", b"x-n")]
        headers += [(b"x-n", b"1"), (b"keep-alive", b"5")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b"ok"})

    # server: httpx's transport stands for uvicorn (not recognised, it would be logged once too)
    (response,) = get(
        AsgiMiddleware(app, server="uvicorn", strip_headers=["server", "x-powered-by", "keep-alive"])
    )
    assert not {"server", "x-powered-by", "x-n", "keep-alive"} & set(response.headers)
    assert sorted(r.getMessage() for r in caplog.records if r.name == "connmw") == [
        "app sent Server; removed by strip_headers (CONNMW_STRIP_HEADERS)",
        "app sent X-N, nominated by its Connection field; removed",
        "app sent X-Powered-By; removed by strip_headers (CONNMW_STRIP_HEADERS)",
        "app sent hop-by-hop header Connection; removed",
        "app sent hop-by-hop header Keep-Alive; removed",  # hop-by-hop whatever the setting says
    ]


def test_strict_mode_names_strip_headers_too() -> None:
    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain"), ("Server", "app/1.0")])
        return [b"ok"]

    client = Flask(__name__).test_client()
    client.application.wsgi_app = WsgiMiddleware(app, strict=True, strip_headers=["server"])  # type: ignore[method-assign]
    with pytest.raises(ForbiddenHeaderError, match=r"'server', which strip_headers \(CONNMW_STRIP_HEADERS\)"):
        client.get("/", environ_base={"SERVER_SOFTWARE": "Granian"})


@pytest.mark.parametrize(
    ("extra", "server_lines"),
    [
        pytest.param((), ["uvicorn"], id="uvicorn-writes-its-own"),
        pytest.param(("--no-server-header",), [], id="its-own-option-removes-it"),
    ],
)
def test_strip_headers_removes_the_apps_server_field_not_the_servers(
    extra: tuple[str, ...], server_lines: list[str]
) -> None:
    env = {"CONNMW_STRIP_HEADERS": "server,x-powered-by"}
    pool = ServerPool()
    try:
        app = "tests.apps.server_header_app:app"
        server = pool(lambda port: uvicorn_cmd(app, port, extra=extra), env=env)
        response = exchange(server.port, request_bytes())
    finally:
        pool.close()
    assert response.header_values("server") == server_lines  # never "app/1.0"
    assert response.header_values("x-powered-by") == []
