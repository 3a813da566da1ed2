"""Each phase of a request's walk asks the rules once: adapter -> rules -> adapter.

The phases: the request before the application runs, and each response start. Every public
:class:`~connmw.rules.Policy` method and every :mod:`connmw.rules` function the adapters'
modules imported is wrapped with a counter that counts the outermost call only (the rules
calling themselves is one visit); the application notes the count when it is called and
when its start has been sent. In process, in the pure build (a compiled class's methods
cannot be replaced); the wire suites show the behaviour.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import os
from collections.abc import Callable, Iterator
from typing import Any

import pytest

import connmw._asgi_responders
import connmw._core
import connmw._streams
import connmw._wsgi_headers
import connmw._wsgi_responders
import connmw._wsgi_servers
import connmw.asgi
import connmw.wsgi
from connmw.config import load_config
from connmw.rules import Policy
from connmw.rules._plan import _REMEMBERS

from .test_asgi_unit import Recorder, body, http_scope, start
from .test_wsgi_unit import WS_REQUEST, make_environ, serve

ADAPTER_MODULES = (
    connmw.asgi,
    connmw.wsgi,
    connmw._asgi_responders,
    connmw._core,
    connmw._streams,
    connmw._wsgi_headers,
    connmw._wsgi_responders,
    connmw._wsgi_servers,
)
SETUP = {"for_server", "why_removed"}  # asked once per server or per name logged, not per request


class Visits:
    """The rules calls the adapters make, outermost only, by name."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.depth = 0

    def wrap(self, name: str, function: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(function)
        def counted(*args: Any, **kwargs: Any) -> Any:
            if self.depth == 0:
                self.calls.append(name)
            self.depth += 1
            try:
                return function(*args, **kwargs)
            finally:
                self.depth -= 1

        return counted

    def since(self, mark: int) -> list[str]:
        return self.calls[mark:]


@pytest.fixture
def visits(monkeypatch: pytest.MonkeyPatch) -> Iterator[Visits]:
    if not _REMEMBERS:
        pytest.skip("compiled: a native class's methods cannot be wrapped")
    counter = Visits()
    for klass in Policy.__mro__[:-1]:
        for name, attribute in vars(klass).items():
            if name.startswith("_") or name in SETUP or not inspect.isfunction(attribute):
                continue
            monkeypatch.setattr(Policy, name, counter.wrap(name, getattr(Policy, name)))
    for module in ADAPTER_MODULES:
        for name, value in vars(module).items():
            if inspect.isfunction(value) and value.__module__.startswith("connmw.rules"):
                monkeypatch.setattr(module, name, counter.wrap(name, value))
    yield counter


# -- WSGI --------------------------------------------------------------------------------------


def _wsgi_phases(
    visits: Visits, environ: dict[str, Any], headers: list[tuple[str, str]], **options: Any
) -> Any:
    """Run one request twice (the first warms what is learnt once per server); the second's
    rules calls before the app runs and while its start goes out."""
    phases: dict[str, list[str]] = {}

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        phases["request"] = visits.since(mark)
        before = len(visits.calls)
        start_response("200 OK", list(headers))
        phases["start"] = visits.since(before)
        return [b"ok"]

    middleware = connmw.wsgi.ConnectionMiddleware(app, config=load_config(environ={}, **options))
    mark = len(visits.calls)
    serve(middleware, dict(environ), validate=False)
    mark = len(visits.calls)
    exchange = serve(middleware, dict(environ), validate=False)
    return phases, exchange


def test_wsgi_http10_on_granian_with_a_dirty_header_asks_once_per_phase(visits: Visits) -> None:
    environ = make_environ(protocol="HTTP/1.0", software="Granian")
    headers = [("Content-Type", "text/plain"), ("Content-Length", "2"), ("Keep-Alive", "timeout=5")]
    phases, exchange = _wsgi_phases(visits, environ, headers, server="granian")
    assert phases == {"request": ["plan_request"], "start": ["plan_response"]}
    assert ("Keep-Alive", "timeout=5") not in exchange.headers  # cleaned: the plan was applied
    assert ("Connection", "close") in exchange.headers


def test_wsgi_start_on_gunicorn_learns_its_names_in_its_one_visit(visits: Visits) -> None:
    """Where connmw sends no field (gunicorn), a start with names not seen yet is planned once;
    its names, read as they are, are remembered from that plan (no rules call of their own), so
    the next start with them passes unchanged without the rules."""
    headers = [("Content-Type", "text/plain"), ("Content-Length", "2"), ("X-Not-Seen-Yet", "1")]
    starts: list[list[str]] = []

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        before = len(visits.calls)
        start_response("200 OK", list(headers))
        starts.append(visits.since(before))
        return [b"ok"]

    middleware = connmw.wsgi.ConnectionMiddleware(app, config=load_config(environ={}, server="gunicorn"))
    for _ in range(2):
        exchange = serve(middleware, make_environ(software="gunicorn/23.0.0"), validate=False)
        assert exchange.headers == headers
    assert starts == [["plan_response"], []]


def test_wsgi_strip_request_headers_asks_once_per_phase(visits: Visits) -> None:
    environ = make_environ(("Connection", "x-a"), ("X-A", "1"), software="Granian")
    phases, exchange = _wsgi_phases(
        visits, environ, [("Content-Length", "2")], server="granian", strip_request_headers=True
    )
    assert phases == {"request": ["plan_request"], "start": ["plan_response"]}
    assert "HTTP_X_A" not in exchange.environ and "HTTP_CONNECTION" not in exchange.environ


@pytest.mark.parametrize(
    ("origin", "status"),
    [pytest.param(None, "200", id="accepted"), pytest.param("http://evil.example", "403", id="refused")],
)
def test_wsgi_websocket_offer_is_judged_in_the_request_visit(
    visits: Visits, origin: str | None, status: str
) -> None:
    """The handshake's verdict comes with the request's plan: no second visit to judge it."""
    fields = [*WS_REQUEST, *([("Origin", origin)] if origin else [])]
    environ = make_environ(*fields, software="Werkzeug/3.1.8")
    phases: list[str] = []

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        phases.append("app")
        start_response("200 OK", [("Content-Length", "2")])
        return [b"ok"]

    middleware = connmw.wsgi.ConnectionMiddleware(app, config=load_config(environ={}, server="werkzeug"))
    serve(middleware, dict(environ), validate=False)
    mark = len(visits.calls)
    exchange = serve(middleware, dict(environ), validate=False)
    assert exchange.status[:3] == status
    assert visits.since(mark)[:1] == ["plan_request"]
    assert "plan_request" not in visits.since(mark)[1:] and "judge_websocket" not in visits.since(mark)
    assert bool(phases) is (status == "200")


def test_wsgi_held_http10_response_asks_once_per_start(visits: Visits) -> None:
    """Held: the start asks the plan, which says hold and decides nothing; the start that goes
    out, with the body's length, is planned when the body is complete."""
    environ = make_environ(protocol="HTTP/1.0", software="Granian")
    phases, exchange = _wsgi_phases(visits, environ, [("Content-Type", "text/plain")], server="granian")
    assert phases == {"request": ["plan_request"], "start": ["plan_response"]}  # hold
    assert visits.calls[-1:] == ["plan_response"]  # the start that went out, once
    assert exchange.values("content-length") == ["2"]
    assert visits.calls.count("plan_response") == 4  # two requests, two asks each


# -- ASGI --------------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _granian(monkeypatch: pytest.MonkeyPatch) -> None:
    """No CONNMW_* variable of the shell; the fake ASGI server stands for granian (as in
    test_asgi_unit.py)."""
    for variable in [v for v in os.environ if v.startswith("CONNMW_")]:
        monkeypatch.delenv(variable)
    monkeypatch.setenv("CONNMW_SERVER", "granian")


class PhaseRecorder(Recorder):
    """The recording app, noting the rules calls made before it runs and while each of its
    messages is sent."""

    def __init__(self, visits: Visits, *messages: Any) -> None:
        super().__init__(*messages)
        self.visits = visits
        self.mark = 0
        self.phases: list[tuple[str, list[str]]] = []

    async def app(self, scope: Any, receive: Any, send: Any) -> None:
        self.phases = [("request", self.visits.since(self.mark))]

        async def noted(message: Any) -> None:
            before = len(self.visits.calls)
            await send(message)
            self.phases.append((message["type"].rpartition(".")[2], self.visits.since(before)))

        await super().app(scope, receive, noted)


def _asgi_phases(visits: Visits, scope: dict[str, Any], *messages: Any, **options: Any) -> PhaseRecorder:
    """Run one request twice (the first recognises the server, once); the second's phases."""
    recorder = PhaseRecorder(visits, *messages)
    middleware = connmw.asgi.ConnectionMiddleware(recorder.app, **options)
    for _ in range(2):
        recorder.mark = len(visits.calls)
        recorder.sent.clear()
        asyncio.run(middleware(dict(scope, headers=list(scope["headers"])), recorder.receive, recorder.send))
    return recorder


LIFECYCLE: dict[str, Any] = {"max_requests_per_connection": 100}  # the full path from the start
ONE_EACH = [("request", ["plan_request"]), ("start", ["plan_response"]), ("body", [])]


@pytest.mark.parametrize(
    ("scope", "messages", "options", "bodiless"),
    [
        pytest.param(
            http_scope(method="HEAD"), (start(200, (b"content-length", b"2")), body()), LIFECYCLE, True,
            id="head",
        ),
        pytest.param(http_scope(), (start(204), body(b"")), LIFECYCLE, True, id="204"),
        pytest.param(
            http_scope("1.1", (b"connection", b"x-a"), (b"x-a", b"1")),
            (start(200, (b"content-length", b"2")), body()), {"strip_request_headers": True}, False,
            id="strip-request-headers",
        ),
    ],
)
def test_asgi_asks_once_per_phase(
    visits: Visits, scope: dict[str, Any], messages: tuple[Any, ...], options: dict[str, Any], bodiless: bool
) -> None:
    recorder = _asgi_phases(visits, scope, *messages, **options)
    assert recorder.phases == ONE_EACH
    assert (recorder.sent[-1]["body"] == b"") is bodiless


@pytest.mark.parametrize(
    ("scope", "messages", "start_visit", "bodiless"),
    [
        pytest.param(
            http_scope(), (start(200, (b"content-length", b"2")), body()), "quick_finish_reading", False,
            id="plain",
        ),
        pytest.param(http_scope(), (start(204), body(b"")), "quick_finish_reading", True, id="204-declined"),
        pytest.param(
            http_scope(), (start(200, (b"proxy-connection", b"x")), body()), "quick_finish_reading", False,
            id="hop-by-hop-declined",
        ),
        pytest.param(
            http_scope(method="HEAD"), (start(200, (b"content-length", b"2")), body()), "plan_response", True,
            id="head-from-the-hot-path",
        ),
        pytest.param(
            http_scope("1.0"), (start(200, (b"content-length", b"2")), body()), "plan_response", False,
            id="http10-from-the-hot-path",
        ),
    ],
)
def test_asgi_hot_path_asks_once_per_phase(
    visits: Visits, scope: dict[str, Any], messages: tuple[Any, ...], start_visit: str, bodiless: bool
) -> None:
    """The hot path's reading plans a request it sends to the full path (the policy knows the
    server), and its quick answer plans a start it declines: one visit each way."""
    recorder = _asgi_phases(visits, scope, *messages)
    assert recorder.phases == [("request", ["read"]), ("start", [start_visit]), ("body", [])]
    assert (recorder.sent[-1]["body"] == b"") is bodiless


def test_asgi_held_http10_response_asks_once_per_start_and_counts_once(visits: Visits) -> None:
    """Held: the start asks the plan, which says hold and decides nothing; the start that goes
    out, with its length, is planned then. The lifecycle counts the response once: the first of
    two allowed requests keeps the connection, the second closes it."""
    scope = http_scope("1.0", (b"connection", b"keep-alive"))
    messages = (start(200, (b"content-type", b"text/plain")), body(b"a", more=True), body(b"b"))
    recorder = _asgi_phases(
        visits, scope, *messages, max_requests_per_connection=2, http10_keep_alive=True
    )
    assert recorder.phases == [
        ("request", ["plan_request"]),
        ("start", ["plan_response"]),  # hold: nothing else decided
        ("body", []),
        ("body", ["plan_response"]),  # the start that goes out
    ]
    sent = recorder.sent[0]["headers"]
    assert sent[-2:] == [(b"content-length", b"2"), (b"connection", b"close")]  # the second of two


def test_asgi_held_first_of_two_requests_keeps_the_connection() -> None:
    scope = http_scope("1.0", (b"connection", b"keep-alive"))
    messages = (start(200, (b"content-type", b"text/plain")), body(b"ab"))
    recorder = Recorder(*messages)
    middleware = connmw.asgi.ConnectionMiddleware(
        recorder.app, max_requests_per_connection=2, http10_keep_alive=True
    )
    asyncio.run(middleware(scope, recorder.receive, recorder.send))
    assert (b"connection", b"keep-alive") in recorder.sent[0]["headers"]
