"""Connection lifecycle controls in process: drain switch, per-connection table, hint, visibility.

A fake clock drives :class:`connmw.lifecycle.DrainSwitch` and :class:`connmw.lifecycle.Lifecycle`,
so time-based rules (the once-a-second look at the drain file, connection age, the idle
horizon) are tested without sleeping. The adapters' lifecycle paths run with fake
ASGI messages and fake WSGI servers. What the bytes look like on real servers is in
test_lifecycle_servers.py.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest

import connmw
from connmw import _counters, lifecycle
from connmw.asgi import ConnectionMiddleware, Message, Receive, Scope, Send
from connmw.config import load_config
from connmw.lifecycle import IDLE_FORGET, DrainSwitch, Lifecycle
from connmw.rules import Header, Policy
from connmw.wsgi import ConnectionMiddleware as WSGIMiddleware


class Clock:
    """A monotonic clock that moves only when told."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No CONNMW_* from the caller's shell, no drain left on, fresh once-per-process log memory.

    The fake ASGI ``send`` stands for granian (a server that passes an application's fields
    and needs no hook, ``CONNMW_SERVER``); each WSGI test names the server it fakes.
    """
    for variable in [v for v in os.environ if v.startswith("CONNMW_")]:
        monkeypatch.delenv(variable)
    monkeypatch.setenv("CONNMW_SERVER", "granian")
    monkeypatch.setattr(_counters, "_already_warned", set())
    monkeypatch.setattr(lifecycle, "_unidentified_warned", [])
    connmw.undrain()
    yield
    connmw.undrain()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def stat_calls(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> list[str]:
    """Every ``os.path.exists`` call lifecycle makes for a path under ``tmp_path``."""
    calls: list[str] = []
    real = os.path.exists

    def counting(path: Any) -> bool:
        if str(path).startswith(str(tmp_path)):
            calls.append(str(path))
        return real(path)

    monkeypatch.setattr(os.path, "exists", counting)  # the os.path lifecycle uses
    return calls


def lifecycle_for(clock: Clock, **options: Any) -> Lifecycle:
    return Lifecycle(load_config({}, **options), clock=clock)


# --------------------------------------------------------------------------------------
# DrainSwitch
# --------------------------------------------------------------------------------------


def test_drain_file_is_stat_at_most_once_per_interval(
    tmp_path: Path, clock: Clock, stat_calls: list[str]
) -> None:
    switch = DrainSwitch(str(tmp_path / "drain"), clock=clock)
    for _ in range(1000):  # a busy second: one look at the file
        assert not switch.active()
        clock.advance(0.000999)
    assert len(stat_calls) == 1
    clock.advance(0.01)
    for _ in range(10):
        switch.active()
    assert len(stat_calls) == 2


def test_drain_file_appears_then_disappears(tmp_path: Path, clock: Clock, stat_calls: list[str]) -> None:
    path = tmp_path / "drain"
    switch = DrainSwitch(str(path), clock=clock)
    assert not switch.active()
    path.touch()
    clock.advance(0.5)
    assert not switch.active(), "seen before the interval passed: a stat per request"
    clock.advance(0.5)
    assert switch.active()
    path.unlink()
    clock.advance(0.99)
    assert switch.active()
    clock.advance(0.01)
    assert not switch.active()
    assert len(stat_calls) == 3


def test_drain_file_interval_is_configurable(tmp_path: Path, clock: Clock, stat_calls: list[str]) -> None:
    switch = DrainSwitch(str(tmp_path / "drain"), interval=5.0, clock=clock)
    for _ in range(10):
        switch.active()
        clock.advance(1.0)
    assert len(stat_calls) == 2  # at 0 s and at 5 s


def test_no_drain_file_never_stats(tmp_path: Path, clock: Clock, stat_calls: list[str]) -> None:
    switch = DrainSwitch(None, clock=clock)
    assert not switch.active()
    connmw.drain()
    assert switch.active()
    assert stat_calls == []


def test_drain_from_code_wins_over_an_absent_file(tmp_path: Path, clock: Clock) -> None:
    switch = DrainSwitch(str(tmp_path / "drain"), clock=clock)
    assert not switch.active()
    connmw.drain()
    assert connmw.draining()
    assert switch.active()
    connmw.undrain()
    assert not connmw.draining()
    assert not switch.active()


def test_undrain_does_not_override_the_file(tmp_path: Path, clock: Clock) -> None:
    path = tmp_path / "drain"
    path.touch()
    switch = DrainSwitch(str(path), clock=clock)
    connmw.undrain()
    assert switch.active()


@pytest.mark.parametrize("text", ["", "  ", "none", "off", "OFF"])
def test_drain_file_variable_may_say_none(text: str) -> None:
    assert load_config({"CONNMW_DRAIN_FILE": text}).drain_file is None


def test_drain_file_keyword_takes_paths_only(tmp_path: Path) -> None:
    assert load_config({}, drain_file=tmp_path / "drain").drain_file == str(tmp_path / "drain")
    with pytest.raises(connmw.ConfigError, match=r"drain_file=42: expected a file path"):
        load_config({}, drain_file=42)


# --------------------------------------------------------------------------------------
# Lifecycle: the per-connection table
# --------------------------------------------------------------------------------------

KEY = (("127.0.0.1", 50000), ("127.0.0.1", 8000))


def test_max_requests_closes_the_nth_and_forgets(clock: Clock) -> None:
    table = lifecycle_for(clock, max_requests_per_connection=3)
    assert table.decide(KEY) == (None, 2)
    assert table.decide(KEY) == (None, 1)
    assert table.decide(KEY) == ("max-requests", 0)
    assert len(table) == 0
    assert table.decide(KEY) == (None, 2), "a reused address pair is a new connection"


def test_max_requests_one_closes_every_response(clock: Clock) -> None:
    table = lifecycle_for(clock, max_requests_per_connection=1)
    for _ in range(3):
        assert table.decide(KEY) == ("max-requests", 0)
    assert len(table) == 0


def test_connections_are_counted_apart(clock: Clock) -> None:
    table = lifecycle_for(clock, max_requests_per_connection=2)
    other = (("127.0.0.1", 50001), ("127.0.0.1", 8000))
    assert table.decide(KEY) == (None, 1)
    assert table.decide(other) == (None, 1)
    assert table.decide(KEY) == ("max-requests", 0)
    assert table.decide(other) == ("max-requests", 0)


def test_max_age_closes_the_first_response_after_it(clock: Clock) -> None:
    table = lifecycle_for(clock, max_connection_age=10)
    assert table.decide(KEY) == (None, None)
    clock.advance(9.9)
    assert table.decide(KEY) == (None, None)
    clock.advance(0.1)
    assert table.decide(KEY) == ("max-age", None)
    assert len(table) == 0
    assert table.decide(KEY) == (None, None)


def test_age_and_requests_together(clock: Clock) -> None:
    table = lifecycle_for(clock, max_connection_age=5, max_requests_per_connection=10)
    assert table.decide(KEY) == (None, 9)
    clock.advance(6)
    assert table.decide(KEY) == ("max-age", None)
    assert table.decide(KEY) == (None, 9)


def test_idle_entry_is_a_new_connection(clock: Clock) -> None:
    table = lifecycle_for(clock, max_requests_per_connection=3, max_connection_age=100_000)
    assert table.decide(KEY) == (None, 2)
    clock.advance(IDLE_FORGET)
    assert table.decide(KEY) == (None, 1), "idle exactly IDLE_FORGET: still the same connection"
    clock.advance(IDLE_FORGET + 0.001)
    assert table.decide(KEY) == (None, 2), "idle longer: the address pair was reused"


def test_idle_entry_restarts_its_age(clock: Clock) -> None:
    table = lifecycle_for(clock, max_connection_age=int(IDLE_FORGET) + 10)
    assert table.decide(KEY) == (None, None)
    clock.advance(IDLE_FORGET + 20)
    assert table.decide(KEY) == (None, None)


def test_unknown_connection_is_never_limited(clock: Clock) -> None:
    table = lifecycle_for(clock, max_requests_per_connection=1)
    assert table.decide(None) == (None, None)
    assert len(table) == 0


def test_drain_closes_and_forgets(tmp_path: Path, clock: Clock) -> None:
    path = tmp_path / "drain"
    table = lifecycle_for(clock, drain_file=str(path), max_requests_per_connection=5)
    assert table.decide(KEY) == (None, 4)
    path.touch()
    clock.advance(1.0)
    assert table.decide(KEY) == ("drain", None)
    assert table.decide(None) == ("drain", None)
    assert len(table) == 0
    path.unlink()
    clock.advance(1.0)
    assert table.decide(KEY) == (None, 4)


def test_drain_from_code_without_any_option(clock: Clock) -> None:
    table = lifecycle_for(clock)
    assert not table.limited
    assert table.decide(KEY) == (None, None)
    connmw.drain()
    assert table.decide(KEY) == ("drain", None)
    assert len(table) == 0


def test_drain_file_alone_keeps_no_table(tmp_path: Path, clock: Clock) -> None:
    table = lifecycle_for(clock, drain_file=str(tmp_path / "drain"))
    for port in range(100):
        assert table.decide((("127.0.0.1", port), None)) == (None, None)
    assert len(table) == 0


def test_forget(clock: Clock) -> None:
    table = lifecycle_for(clock, max_requests_per_connection=3)
    table.decide(KEY)
    table.forget(KEY)
    table.forget(None)
    table.forget(("never", "seen"))
    assert len(table) == 0
    assert table.decide(KEY) == (None, 2)


def test_table_never_exceeds_its_limit(monkeypatch: pytest.MonkeyPatch, clock: Clock) -> None:
    monkeypatch.setattr(lifecycle, "TABLE_LIMIT", 50)
    table = lifecycle_for(clock, max_requests_per_connection=1000)
    for port in range(1000):
        table.decide((("10.0.0.1", port), None))
        clock.advance(0.001)
        assert len(table) <= 50
    assert len(table) == 50


def test_eviction_drops_the_least_recently_used(monkeypatch: pytest.MonkeyPatch, clock: Clock) -> None:
    """A busy long-lived connection (the one limits are for) outlives a churn of short ones."""
    monkeypatch.setattr(lifecycle, "TABLE_LIMIT", 3)
    table = lifecycle_for(clock, max_requests_per_connection=100)
    busy = ("busy", 1)
    assert table.decide(busy) == (None, 99)
    for port in range(50):
        table.decide(("short", port))
        assert table.decide(busy)[1] == 98 - port, "the busy connection lost its count"
    assert len(table) == 3


def test_hundreds_of_thousands_of_connections_stay_bounded_and_fast(clock: Clock) -> None:
    """300 000 connections: the table stays at TABLE_LIMIT, and a new connection costs the
    same when the table is full (evicting) as while it fills."""
    table = lifecycle_for(clock, max_requests_per_connection=10, max_connection_age=60)
    limit = lifecycle.TABLE_LIMIT
    keys = [(f"10.{n >> 16}.{(n >> 8) & 255}.{n & 255}", n & 65535) for n in range(300_000)]
    timings: list[float] = []
    for part in (keys[:limit], keys[limit : 2 * limit], keys[2 * limit :]):
        started = time.perf_counter()
        for key in part:
            table.decide(key)
        timings.append(time.perf_counter() - started)
        assert len(table) == limit
    filling, evicting, rest = timings
    assert sum(timings) < 5.0, f"300 000 connections took {sum(timings):.2f} s"
    assert evicting < 4 * filling + 0.2, f"eviction is slow: {evicting:.2f} s against {filling:.2f} s to fill"
    assert rest < 4 * filling * (len(keys) - 2 * limit) / limit + 0.2


# --------------------------------------------------------------------------------------
# The Keep-Alive hint: only on persistent HTTP/1.x responses
# --------------------------------------------------------------------------------------

LENGTH: Header = (b"content-length", b"2")


@pytest.mark.parametrize(
    ("version", "request_headers", "response_headers", "extra", "expected"),
    [
        pytest.param("1.1", [], [LENGTH], {}, ([b"keep-alive"], [b"timeout=5"]), id="http11-persistent"),
        pytest.param(
            "1.1", [], [LENGTH], {"requests_left": 2}, ([b"keep-alive"], [b"timeout=5, max=2"]), id="with-max"
        ),
        pytest.param(
            "1.1",
            [],
            [],
            {"requests_left": 1},
            ([b"keep-alive"], [b"timeout=5, max=1"]),
            id="chunked-persists",
        ),
        pytest.param("1.1", [(b"connection", b"close")], [LENGTH], {}, ([b"close"], []), id="client-close"),
        pytest.param("1.1", [], [LENGTH, (b"connection", b"close")], {}, ([b"close"], []), id="app-close"),
        pytest.param("1.1", [], [LENGTH], {"server_close": True}, ([b"close"], []), id="drain-or-limit"),
        pytest.param("1.0", [], [LENGTH], {}, ([b"close"], []), id="http10"),
        pytest.param(
            "1.0",
            [(b"connection", b"keep-alive")],
            [LENGTH],
            {},
            ([b"close"], []),
            id="http10-ka-not-honoured",
        ),
        pytest.param(
            "1.1",
            [],
            [LENGTH, (b"keep-alive", b"timeout=99, max=1000")],
            {},
            ([b"keep-alive"], [b"timeout=5"]),
            id="apps-own-hint-replaced",
        ),
        pytest.param("2", [], [LENGTH], {"requests_left": 2}, ([], []), id="http2"),
        pytest.param("3", [], [LENGTH], {}, ([], []), id="http3"),
    ],
)
def test_keep_alive_hint_only_on_persistent_responses(
    version: str,
    request_headers: list[Header],
    response_headers: list[Header],
    extra: dict[str, Any],
    expected: tuple[list[bytes], list[bytes]],
) -> None:
    connection, keep_alive = expected
    policy = Policy(keep_alive_timeout=5)
    facts = policy.read_request(version, [(b"host", b"x"), *request_headers])
    headers, close, _ = policy.finish_response(facts, 200, response_headers, **extra)
    assert [v for n, v in headers if n == b"connection"] == connection
    assert [v for n, v in headers if n == b"keep-alive"] == keep_alive
    assert close == (connection == [b"close"])


@pytest.mark.parametrize(
    ("request_headers", "response_headers", "keep_alive"),
    [
        pytest.param([(b"connection", b"keep-alive")], [LENGTH], [b"timeout=5"], id="with-length"),
        pytest.param([(b"connection", b"keep-alive")], [], [], id="no-length-closes"),
        pytest.param([], [LENGTH], [], id="no-opt-in"),
    ],
)
def test_keep_alive_hint_on_http10_opt_in(
    request_headers: list[Header], response_headers: list[Header], keep_alive: list[bytes]
) -> None:
    policy = Policy(keep_alive_timeout=5, http10_keep_alive=True)
    facts = policy.read_request("1.0", [(b"host", b"x"), *request_headers])
    headers, close, _ = policy.finish_response(facts, 200, response_headers)
    assert [v for n, v in headers if n == b"keep-alive"] == keep_alive
    assert close == (not keep_alive)


def test_keep_alive_hint_without_explicit_keep_alive() -> None:
    """Keep-Alive is connection-specific: it travels with ``Connection: keep-alive`` anyway."""
    policy = Policy(keep_alive_timeout=5, explicit_keep_alive=False)
    facts = policy.read_request("1.1", [(b"host", b"x")])
    headers, _, _ = policy.finish_response(facts, 200, [LENGTH])
    assert (b"connection", b"keep-alive") in headers
    assert (b"keep-alive", b"timeout=5") in headers


def test_no_hint_on_a_switch_to_websocket() -> None:
    policy = Policy(keep_alive_timeout=5)
    facts = policy.read_request(
        "1.1", [(b"host", b"x"), (b"connection", b"upgrade"), (b"upgrade", b"websocket")]
    )
    headers, close, _ = policy.finish_response(facts, 101, [(b"upgrade", b"websocket")])
    assert not close
    assert b"keep-alive" not in [n for n, _ in headers]


# --------------------------------------------------------------------------------------
# The ASGI adapter's lifecycle path
# --------------------------------------------------------------------------------------


def http_scope(
    version: str = "1.1", *headers: Header, client: tuple[str, int] | None = ("127.0.0.1", 5000)
) -> Scope:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": version,
        "method": "GET",
        "scheme": "http",
        "path": "/",
        "raw_path": b"/",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"example.com"), *headers],
        "client": client,
        "server": ("127.0.0.1", 8000),
    }


def asgi_app(*response_headers: Header, chunks: Iterable[bytes] = (b"ok",)) -> Callable[..., Any]:
    parts = list(chunks)

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": list(response_headers)})
        for index, part in enumerate(parts, start=1):
            await send({"type": "http.response.body", "body": part, "more_body": index < len(parts)})

    return app


def serve_asgi(middleware: ConnectionMiddleware, *scopes: Scope) -> list[Message]:
    """Run the scopes one after the other; return each response's start message."""
    starts: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        if message["type"] == "http.response.start":
            starts.append(message)

    async def main() -> None:
        for scope in scopes:
            await middleware(scope, receive, send)

    asyncio.run(main())
    return starts


def field(message: Message, name: bytes) -> list[bytes]:
    return [v for n, v in message["headers"] if n == name]


def with_clock(middleware: ConnectionMiddleware, clock: Clock) -> ConnectionMiddleware:
    """The middleware's table on a fake clock (age tests without sleeping)."""
    middleware._core.lifecycle = Lifecycle(middleware.config, clock=clock)
    return middleware


def test_asgi_hint_counts_down_then_closes() -> None:
    middleware = ConnectionMiddleware(asgi_app(LENGTH), max_requests_per_connection=3, keep_alive_timeout=7)
    starts = serve_asgi(middleware, *(http_scope() for _ in range(4)))
    assert [field(s, b"keep-alive") for s in starts] == [
        [b"timeout=7, max=2"],
        [b"timeout=7, max=1"],
        [],
        [b"timeout=7, max=2"],
    ]
    assert [field(s, b"connection") for s in starts] == [
        [b"keep-alive"],
        [b"keep-alive"],
        [b"close"],
        [b"keep-alive"],
    ]


def test_asgi_client_close_forgets_the_connection() -> None:
    middleware = ConnectionMiddleware(asgi_app(LENGTH), max_requests_per_connection=3)
    serve_asgi(middleware, http_scope(), http_scope("1.1", (b"connection", b"close")))
    assert len(middleware._core.lifecycle) == 0
    starts = serve_asgi(middleware, http_scope(), http_scope())
    assert [field(s, b"connection") for s in starts] == [[b"keep-alive"], [b"keep-alive"]]


def test_asgi_http10_buffered_response_is_limited_too() -> None:
    middleware = ConnectionMiddleware(
        asgi_app(chunks=(b"a", b"b")),
        max_requests_per_connection=3,
        http10_keep_alive=True,
        keep_alive_timeout=5,
    )
    starts = serve_asgi(middleware, *(http_scope("1.0", (b"connection", b"keep-alive")) for _ in range(3)))
    assert [field(s, b"keep-alive") for s in starts] == [[b"timeout=5, max=2"], [b"timeout=5, max=1"], []]
    assert field(starts[2], b"connection") == [b"close"]
    assert all(field(s, b"content-length") == [b"2"] for s in starts)


@pytest.mark.parametrize(
    "client",
    [
        pytest.param(None, id="no-client"),  # a Unix socket
        pytest.param(("10.1.1.1", 0), id="forwarded"),  # uvicorn --proxy-headers
    ],
)
def test_asgi_unnamed_connection_is_not_limited_and_warned_once(
    caplog: pytest.LogCaptureFixture, client: tuple[str, int] | None
) -> None:
    caplog.set_level(logging.DEBUG, logger="connmw")
    middleware = ConnectionMiddleware(asgi_app(LENGTH), max_requests_per_connection=1, keep_alive_timeout=5)
    starts = serve_asgi(middleware, *(http_scope(client=client) for _ in range(3)))
    assert [field(s, b"connection") for s in starts] == [[b"keep-alive"]] * 3
    assert [field(s, b"keep-alive") for s in starts] == [[b"timeout=5"]] * 3
    assert len(middleware._core.lifecycle) == 0
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert warnings[0].startswith("connection limits not applied")
    assert "10.1.1.1" not in caplog.text


def test_asgi_forwarded_clients_do_not_share_a_count() -> None:
    """Two connections from one forwarded client must not close each other."""
    middleware = ConnectionMiddleware(asgi_app(LENGTH), max_requests_per_connection=2)
    scopes = [http_scope(client=("10.1.1.1", 0)) for _ in range(4)]
    starts = serve_asgi(middleware, *scopes)
    assert middleware.stats.connections_closed == {}
    assert all(field(s, b"connection") == [b"keep-alive"] for s in starts)


def test_asgi_drain_needs_no_connection_name() -> None:
    middleware = ConnectionMiddleware(asgi_app(LENGTH), max_requests_per_connection=5)
    connmw.drain()
    starts = serve_asgi(middleware, http_scope(client=None), http_scope(client=("10.1.1.1", 0)))
    assert [field(s, b"connection") for s in starts] == [[b"close"], [b"close"]]


def test_asgi_limits_never_touch_http2() -> None:
    middleware = ConnectionMiddleware(asgi_app(LENGTH), max_requests_per_connection=1, keep_alive_timeout=5)
    starts = serve_asgi(middleware, *(http_scope("2") for _ in range(3)))
    assert all(s["headers"] == [LENGTH] for s in starts)
    assert len(middleware._core.lifecycle) == 0


def test_asgi_zero_config_never_consults_the_table(monkeypatch: pytest.MonkeyPatch) -> None:
    """The hot path: no lifecycle option and no drain means no lifecycle work per request."""

    def refuse(self: Lifecycle, key: object) -> tuple[str | None, int | None]:
        raise AssertionError("Lifecycle.decide called on the zero-config path")

    monkeypatch.setattr(Lifecycle, "decide", refuse)
    choices: list[dict[str, Any]] = [{}, {"keep_alive_timeout": 5}]
    for options in choices:
        middleware = ConnectionMiddleware(asgi_app(LENGTH), **options)
        starts = serve_asgi(middleware, http_scope(), http_scope("1.0"), http_scope("2"))
        assert field(starts[0], b"connection") == [b"keep-alive"]


def test_asgi_drain_from_code_without_options() -> None:
    middleware = ConnectionMiddleware(asgi_app(LENGTH), keep_alive_timeout=5)
    connmw.drain()
    start = serve_asgi(middleware, http_scope())[0]
    assert field(start, b"connection") == [b"close"]
    assert field(start, b"keep-alive") == []
    connmw.undrain()
    start = serve_asgi(middleware, http_scope())[0]
    assert field(start, b"keep-alive") == [b"timeout=5"]


@pytest.mark.parametrize(
    ("options", "scopes", "app_headers", "chunks", "expected"),
    [
        pytest.param({}, [http_scope("1.0")], [LENGTH], [b"ok"], {"client": 1}, id="http10"),
        pytest.param(
            {},
            [http_scope("1.1", (b"connection", b"close"))],
            [LENGTH],
            [b"ok"],
            {"client": 1},
            id="client-close",
        ),
        pytest.param({}, [http_scope()], [LENGTH, (b"connection", b"close")], [b"ok"], {"app": 1}, id="app"),
        pytest.param(
            {"http10_buffer_bytes": 1},
            [http_scope("1.0")],
            [],
            [b"ab", b"cd"],
            {"client": 1},
            id="http10-overflow",
        ),
        pytest.param(
            {"http10_buffer_bytes": 1, "http10_keep_alive": True},
            [http_scope("1.0", (b"connection", b"keep-alive"))],
            [],
            [b"ab", b"cd"],
            {"framing": 1},
            id="framing",
        ),
        pytest.param(
            {"max_requests_per_connection": 2},
            [http_scope()] * 5,
            [LENGTH],
            [b"ok"],
            {"max-requests": 2},
            id="max-requests",
        ),
    ],
)
def test_asgi_stats_count_closes_by_reason(
    options: dict[str, Any],
    scopes: list[Scope],
    app_headers: list[Header],
    chunks: list[bytes],
    expected: dict[str, int],
) -> None:
    middleware = ConnectionMiddleware(asgi_app(*app_headers, chunks=chunks), **options)
    serve_asgi(middleware, *scopes)
    assert middleware.stats.connections_closed == expected
    assert middleware.stats.as_dict()["connections_closed"] == expected


def test_asgi_stats_count_drain_and_age(tmp_path: Path, clock: Clock) -> None:
    path = tmp_path / "drain"
    middleware = with_clock(
        ConnectionMiddleware(asgi_app(LENGTH), drain_file=str(path), max_connection_age=10), clock
    )
    serve_asgi(middleware, http_scope())
    clock.advance(11)
    serve_asgi(middleware, http_scope(), http_scope())
    path.touch()
    clock.advance(1)
    serve_asgi(middleware, http_scope(), http_scope(), http_scope())
    assert middleware.stats.connections_closed == {"max-age": 1, "drain": 3}


# --------------------------------------------------------------------------------------
# The WSGI adapter's lifecycle path, per server kind
# --------------------------------------------------------------------------------------


class FakeResponse:
    """What gunicorn's start_response hands back: a bound ``write`` of its Response."""

    def __init__(self) -> None:
        self.closed = False

    def force_close(self) -> None:
        self.closed = True

    def write(self, data: bytes) -> None:
        """Unused: the apps here return their body."""


def serve_wsgi(
    middleware: WSGIMiddleware, software: str, count: int, *, port: str | None = "50000", **environ: str
) -> list[tuple[list[tuple[str, str]], bool]]:
    """``count`` requests on one connection; each response's headers and whether it was closed."""
    results: list[tuple[list[tuple[str, str]], bool]] = []
    for _ in range(count):
        response = FakeResponse()
        seen: list[tuple[str, str]] = []

        def start_response(
            status: str,
            headers: list[tuple[str, str]],
            exc_info: object = None,
            response: FakeResponse = response,
            seen: list[tuple[str, str]] = seen,
        ) -> Callable[[bytes], object]:
            seen.extend(headers)
            return response.write

        env = {
            "REQUEST_METHOD": "GET",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "SERVER_SOFTWARE": software,
            "REMOTE_ADDR": "127.0.0.1",
            "SERVER_PORT": "8000",
            "HTTP_HOST": "x",
            **environ,
        }
        if port is not None:
            env["REMOTE_PORT"] = port
        body = middleware(env, start_response)
        assert list(body) == [b"ok"]
        results.append((seen, response.closed))
    return results


def wsgi_plain(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "2")])
    return [b"ok"]


def test_wsgi_gunicorn_limit_asks_the_server_to_close() -> None:
    middleware = WSGIMiddleware(
        wsgi_plain, server="gunicorn", max_requests_per_connection=3, keep_alive_timeout=5
    )
    results = serve_wsgi(middleware, "gunicorn/23.0.0", 4)
    assert [closed for _, closed in results] == [False, False, True, False]
    assert all(not any(n.lower() in ("connection", "keep-alive") for n, _ in h) for h, _ in results)
    assert middleware.stats.connections_closed == {"max-requests": 1}


def test_wsgi_gunicorn_drain_asks_the_server_to_close() -> None:
    middleware = WSGIMiddleware(wsgi_plain, server="gunicorn")
    connmw.drain()
    results = serve_wsgi(middleware, "gunicorn/23.0.0", 2)
    assert [closed for _, closed in results] == [True, True]
    assert middleware.stats.connections_closed == {"drain": 2}


def test_wsgi_granian_drain_sends_close_and_hint_otherwise() -> None:
    middleware = WSGIMiddleware(wsgi_plain, server="granian", keep_alive_timeout=5)
    ((headers, _),) = serve_wsgi(middleware, "Granian", 1, port=None)
    assert ("Connection", "keep-alive") in headers
    assert ("Keep-Alive", "timeout=5") in headers
    connmw.drain()
    ((headers, _),) = serve_wsgi(middleware, "Granian", 1, port=None)
    assert [v for n, v in headers if n.lower() == "connection"] == ["close"]
    assert not any(n.lower() == "keep-alive" for n, _ in headers)
    assert middleware.stats.connections_closed == {"drain": 1}


def test_wsgi_without_remote_port_is_not_limited(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="connmw")
    middleware = WSGIMiddleware(wsgi_plain, server="granian", max_requests_per_connection=1)
    results = serve_wsgi(middleware, "Granian", 3, port=None)
    assert all(("Connection", "keep-alive") in h for h, _ in results)
    assert middleware.stats.connections_closed == {}
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "REMOTE_PORT" in warnings[0]


@pytest.mark.parametrize(
    ("software", "server"), [("WSGIServer/0.2 CPython/3.11", "wsgiref"), ("Werkzeug/3.1", "werkzeug")]
)
def test_wsgi_servers_that_own_the_connection_get_nothing(software: str, server: str) -> None:
    middleware = WSGIMiddleware(
        wsgi_plain, server=server, max_requests_per_connection=1, keep_alive_timeout=5
    )
    connmw.drain()
    results = serve_wsgi(middleware, software, 2)
    assert all(h == [("Content-Type", "text/plain"), ("Content-Length", "2")] for h, _ in results)
    assert middleware.stats.connections_closed == {}


# --------------------------------------------------------------------------------------
# Visibility: the connmw logger
# --------------------------------------------------------------------------------------

SECRET_HEADERS: list[Header] = [
    LENGTH,
    (b"connection", b"keep-alive, x-secret-hop"),
    (b"keep-alive", b"timeout=1234, max=5678"),
    (b"x-secret-hop", b"token-abcdef"),
    (b"proxy-connection", b"keep-alive-proxy-value"),
]
SECRET_VALUES = ("1234", "5678", "token-abcdef", "keep-alive-proxy-value", "x-secret-hop, ")


def test_one_warning_per_header_name_per_process_and_no_values(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="connmw")
    first = ConnectionMiddleware(asgi_app(*SECRET_HEADERS))
    second = ConnectionMiddleware(asgi_app(*SECRET_HEADERS))
    serve_asgi(first, *(http_scope() for _ in range(5)))
    serve_asgi(second, *(http_scope() for _ in range(5)))
    warnings = [r for r in caplog.records if r.name == "connmw" and r.levelno == logging.WARNING]
    messages = sorted(r.getMessage() for r in warnings)
    assert messages == [
        "app sent X-Secret-Hop, nominated by its Connection field; removed",
        "app sent hop-by-hop header Connection; removed",
        "app sent hop-by-hop header Keep-Alive; removed",
        "app sent hop-by-hop header Proxy-Connection; removed",
    ]
    text = caplog.text
    assert not any(value in text for value in SECRET_VALUES)
    # ... and every instance still counts every response
    assert first.stats.headers_stripped["keep-alive"] == 5
    assert second.stats.headers_stripped["x-secret-hop"] == 5


def test_wsgi_warnings_share_the_once_per_process_memory(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="connmw")

    def hoppy(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        start_response("200 OK", [(n.decode(), v.decode()) for n, v in SECRET_HEADERS])
        return [b"ok"]

    serve_asgi(ConnectionMiddleware(asgi_app(*SECRET_HEADERS)), http_scope())
    serve_wsgi(WSGIMiddleware(hoppy, server="gunicorn"), "gunicorn/23.0.0", 3)
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 4
    assert not any(value in caplog.text for value in SECRET_VALUES)


def test_client_abuse_warned_once_without_values(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="connmw")
    middleware = ConnectionMiddleware(asgi_app(LENGTH))
    serve_asgi(
        middleware,
        *(http_scope("1.1", (b"connection", b"close, authorization-secret, host")) for _ in range(3)),
    )
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings == ["client Connection field nominated a protected header; ignored"]
    assert "authorization-secret" not in caplog.text
    assert middleware.stats.request_abuse == 3


def test_rejections_logged_at_info_without_values(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="connmw")
    middleware = ConnectionMiddleware(asgi_app(LENGTH), ws_allowed_origins="https://good.example")
    scope = {
        "type": "websocket",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "scheme": "ws",
        "path": "/ws",
        "headers": [
            (b"host", b"x"),
            (b"upgrade", b"websocket"),
            (b"connection", b"upgrade"),
            (b"sec-websocket-key", b"dGhlIHNhbXBsZSBub25jZQ=="),
            (b"sec-websocket-version", b"13"),
            (b"origin", b"https://evil-secret.example"),
        ],
        "subprotocols": [],
        "extensions": {"websocket.http.response": {}},
    }
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "websocket.connect"}

    async def send(message: Message) -> None:
        sent.append(message)

    async def main() -> None:
        for _ in range(2):
            await middleware(scope, receive, send)

    asyncio.run(main())
    records = [r for r in caplog.records if r.name == "connmw"]
    assert [r.levelno for r in records] == [logging.INFO, logging.INFO]
    assert "Origin" in records[0].getMessage()
    assert "evil-secret" not in caplog.text
    assert middleware.stats.handshakes_rejected == {"forbidden-origin": 2}


def test_lifecycle_closes_log_nothing(caplog: pytest.LogCaptureFixture) -> None:
    """Closing for drain or limits is routine: counted, never logged per response."""
    caplog.set_level(logging.DEBUG, logger="connmw")
    connmw.drain()
    serve_asgi(
        ConnectionMiddleware(asgi_app(LENGTH), max_requests_per_connection=1), http_scope(), http_scope()
    )
    logged = [r for r in caplog.records if r.name == "connmw"]
    assert [r.getMessage() for r in logged] == ["server profile granian (CONNMW_SERVER)"]  # once a process


def test_the_logger_has_no_handlers() -> None:
    logger = logging.getLogger("connmw")
    assert logger.handlers == []
    assert _counters.logger is logger
