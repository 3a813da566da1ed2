"""connmw.asgi.ConnectionMiddleware in process: fake receive/send, every message recorded.

These pin the adapter's own duties (scope copy, pass-through, strict mode, buffering,
counters, handshake refusals). What the bytes look like on a real server is proven in
test_asgi_servers.py; the benchmark at the end measures the hot path.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.responses import PlainTextResponse
from starlette.routing import Route

import connmw._counters
from connmw import ConfigError, ForbiddenBodyError, ForbiddenHeaderError, RequestFacts, drain, undrain
from connmw.asgi import STATE_KEY, ConnectionMiddleware, Message, Receive, Scope, Send, request_facts
from connmw.rules import Header
from tests.helpers import FakeServer, handshake_headers

ACCEPT = b"s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
FORBIDDEN_ON_H2 = {b"connection", b"keep-alive", b"proxy-connection", b"transfer-encoding", b"upgrade"}

HOPPY: list[Header] = [
    (b"content-type", b"text/plain"),
    (b"connection", b"keep-alive, x-hop"),
    (b"keep-alive", b"timeout=5, max=1000"),
    (b"x-hop", b"secret"),
    (b"upgrade", b"foo"),
    (b"proxy-connection", b"keep-alive"),
    (b"transfer-encoding", b"chunked"),
]


def http_scope(version: str = "1.1", *headers: Header, method: str = "GET", **extra: Any) -> Scope:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": version,
        "method": method,
        "scheme": "http",
        "path": "/",
        "raw_path": b"/",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"example.com"), *headers],
        "client": ("127.0.0.1", 5000),
        "server": ("127.0.0.1", 8000),
        **extra,
    }


def ws_scope(*headers: Header, version: str = "1.1", extension: bool = True, **extra: Any) -> Scope:
    base: list[Header] = handshake_headers("example.com")
    names = {name for name, _ in headers}
    return {
        "type": "websocket",
        "asgi": {"version": "3.0"},
        "http_version": version,
        "scheme": "ws",
        "path": "/ws",
        "headers": [*((n, v) for n, v in base if n not in names), *headers],
        "subprotocols": [],
        "extensions": {"websocket.http.response": {}} if extension else {},
        **extra,
    }


def start(status: int = 200, *headers: Header, **extra: Any) -> Message:
    return {"type": "http.response.start", "status": status, "headers": list(headers), **extra}


def body(data: bytes = b"ok", more: bool = False) -> Message:
    return {"type": "http.response.body", "body": data, "more_body": more}


PLAIN = (start(200, (b"content-type", b"text/plain"), (b"content-length", b"2")), body())


class Recorder(FakeServer):
    """An ASGI app that records its scope and sends canned messages; and the fake server it runs on."""

    def __init__(self, *messages: Message, incoming: Iterable[Message] = ()) -> None:
        super().__init__(incoming)
        self.messages = messages
        self.scope: Scope = {}  # the scope the app was called with
        self.called = 0
        self.send_identity: Send | None = None

    async def app(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.called += 1
        self.scope = scope
        self.send_identity = send
        for message in self.messages:
            await send(message)


def run(
    scope: Scope, *messages: Message, incoming: Iterable[Message] = (), **options: Any
) -> tuple[Recorder, ConnectionMiddleware]:
    recorder = Recorder(*messages, incoming=incoming)
    middleware = ConnectionMiddleware(recorder.app, **options)
    asyncio.run(middleware(scope, recorder.receive, recorder.send))
    return recorder, middleware


def names(message: Message) -> list[bytes]:
    return [name.lower() for name, _ in message["headers"]]


def values(message: Message, name: bytes) -> list[bytes]:
    return [v for n, v in message["headers"] if n.lower() == name]


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> Iterable[None]:
    """No CONNMW_* variable of the shell; the fake server stands for a plain ASGI server.

    A fake ``send`` is no server connmw recognises: ``CONNMW_SERVER`` names the profile it
    stands for, granian's (it passes an application's fields, keeps HTTP/1.0 alive when
    told to, and needs no hook). The unknown profile has tests of its own.
    """
    for variable in [v for v in os.environ if v.startswith("CONNMW_")]:
        monkeypatch.delenv(variable)
    monkeypatch.setenv("CONNMW_SERVER", "granian")
    yield
    undrain()


# --------------------------------------------------------------------------------------
# Scopes: copy, publish, pass through
# --------------------------------------------------------------------------------------


def test_facts_are_published_in_the_requests_state_without_copying_the_scope() -> None:
    # Servers give each request a copy of the lifespan state (ASGI lifespan spec): the
    # request's own namespace, where Starlette's request.state reads.
    state = {"db": "pool"}
    scope = http_scope("1.1", (b"connection", b"keep-alive"), state=state)
    before = dict(scope)
    recorder, _ = run(scope, *PLAIN)
    assert recorder.scope is scope, "nothing in the scope itself changes: no copy needed"
    assert scope == before and scope["state"] is state
    assert state.keys() == {"db", STATE_KEY}
    facts = request_facts(recorder.scope)
    assert facts is state[STATE_KEY]
    assert isinstance(facts, RequestFacts)
    assert facts.persistent
    assert facts.http_version == "1.1"
    assert facts.tokens.keep_alive


def test_without_a_state_the_scope_is_copied_before_facts_are_added() -> None:
    scope = http_scope("1.1", (b"connection", b"keep-alive"))
    before = dict(scope)
    recorder, _ = run(scope, *PLAIN)
    assert scope == before and "state" not in scope, "the server's scope must not change"
    assert recorder.scope is not scope
    assert recorder.scope["state"].keys() == {STATE_KEY}
    facts = request_facts(recorder.scope)
    assert isinstance(facts, RequestFacts)
    assert facts.persistent
    assert facts.http_version == "1.1"
    assert facts.tokens.keep_alive


@pytest.mark.parametrize(
    "scope",
    [
        pytest.param({"type": "lifespan", "asgi": {"version": "3.0"}}, id="lifespan"),
        pytest.param({"type": "webtransport", "asgi": {"version": "3.0"}}, id="unknown-type"),
    ],
)
def test_other_scopes_pass_through_untouched(scope: Scope) -> None:
    recorder, _ = run(scope, {"type": "lifespan.startup.complete"})
    assert recorder.scope is scope
    assert recorder.send_identity == recorder.send
    assert recorder.sent == [{"type": "lifespan.startup.complete"}]


@pytest.mark.parametrize("scope", [http_scope("1.0"), ws_scope(version="1.0")], ids=["http", "websocket"])
def test_disabled_passes_everything_through(scope: Scope) -> None:
    hoppy = start(200, *HOPPY)
    recorder, _ = run(scope, hoppy, enabled=False)
    assert recorder.called == 1
    assert recorder.scope is scope
    assert recorder.sent[0] is hoppy


def test_enabled_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONNMW_ENABLED", "off")
    scope = http_scope()
    recorder, middleware = run(scope, *PLAIN)
    assert recorder.scope is scope
    assert middleware.config.enabled is False


def test_config_object_and_options_are_exclusive() -> None:
    with pytest.raises(ConfigError, match="either config or keyword options"):
        ConnectionMiddleware(Recorder().app, config=ConnectionMiddleware(Recorder().app).config, strict=True)


def test_bad_option_fails_when_built() -> None:
    with pytest.raises(ConfigError, match="http10_buffer_bytes"):
        ConnectionMiddleware(Recorder().app, http10_buffer_bytes=-1)


# --------------------------------------------------------------------------------------
# Responses
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("version", "request_headers", "app_headers", "connection"),
    [
        pytest.param("1.1", (), (), [b"keep-alive"], id="http11-keep-alive"),
        pytest.param("1.0", (), (), [b"close"], id="http10-close"),
        pytest.param("1.1", ((b"connection", b"close"),), (), [b"close"], id="http11-client-close"),
        pytest.param(
            "1.0", ((b"connection", b"keep-alive"),), (), [b"close"], id="http10-keep-alive-refused"
        ),
        pytest.param("1.1", (), ((b"connection", b"close"),), [b"close"], id="app-close-honoured"),
        pytest.param("1.1", (), ((b"Connection", b"Close"),), [b"close"], id="app-close-any-case"),
        pytest.param("1.1", (), tuple(HOPPY), [b"keep-alive"], id="hoppy-http11"),
        pytest.param("1.0", (), tuple(HOPPY), [b"close"], id="hoppy-http10"),
        pytest.param("2", (), tuple(HOPPY), [], id="hoppy-http2"),
        pytest.param("3", (), ((b"connection", b"close"),), [], id="app-close-http3"),
    ],
)
def test_exactly_one_connection_field(
    version: str,
    request_headers: tuple[Header, ...],
    app_headers: tuple[Header, ...],
    connection: list[bytes],
) -> None:
    response = start(200, (b"content-length", b"2"), *app_headers)
    recorder, _ = run(http_scope(version, *request_headers), response, body())
    sent = recorder.sent[0]
    assert values(sent, b"connection") == connection
    for name in (b"keep-alive", b"x-hop", b"upgrade", b"proxy-connection", b"transfer-encoding"):
        assert name not in names(sent)
    if version in ("2", "3"):
        assert not FORBIDDEN_ON_H2 & set(names(sent))


def test_app_messages_are_not_mutated() -> None:
    response = start(200, *HOPPY, (b"content-length", b"11"))
    headers_before = list(response["headers"])
    recorder, _ = run(http_scope("1.1"), response, body(b"hello world"))
    assert response["headers"] == headers_before
    assert recorder.sent[0] is not response


def test_clean_http2_response_is_the_apps_own_message() -> None:
    response, data = PLAIN
    recorder, _ = run(http_scope("2"), response, data)
    assert recorder.sent[0] is response
    assert recorder.sent[1] is data


def test_headers_may_be_any_iterable() -> None:
    response = {"type": "http.response.start", "status": 200, "headers": iter(HOPPY[:2])}
    recorder, _ = run(http_scope("1.1"), response, body(b""))
    assert names(recorder.sent[0]) == [b"content-type", b"connection"]


class _FrozenStart(Mapping[str, Any]):
    """A start message that is a mapping but no dict (ASGI says dict; connmw reads any)."""

    def __init__(self, message: Message) -> None:
        self._message = dict(message)

    def __getitem__(self, key: str) -> Any:
        return self._message[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._message)

    def __len__(self) -> int:
        return len(self._message)


def test_a_start_that_is_no_dict_is_copied_on_every_path() -> None:
    response = _FrozenStart(start(200, (b"content-type", b"text/plain"), (b"content-length", b"2")))
    recorder = Recorder(response, body())  # type: ignore[arg-type]
    middleware = ConnectionMiddleware(recorder.app)
    for _ in range(3):  # the first request recognises the server and learns the names: then the hot path
        recorder.sent.clear()
        asyncio.run(middleware(http_scope("1.1"), recorder.receive, recorder.send))
        assert type(recorder.sent[0]) is dict
        assert names(recorder.sent[0]) == [b"content-type", b"content-length", b"connection"]
    assert response["headers"] == [(b"content-type", b"text/plain"), (b"content-length", b"2")]


def test_body_messages_stream_one_by_one_untouched() -> None:
    parts = [body(b"data: %d\n\n" % i, more=True) for i in range(5)]
    messages = [start(200, (b"content-type", b"text/event-stream"), (b"connection", b"keep-alive")), *parts]
    recorder, _ = run(http_scope("1.1"), *messages, body(b""))
    assert len(recorder.sent) == 7
    assert all(sent is part for sent, part in zip(recorder.sent[1:6], parts, strict=True))


def test_trailers_pass_through() -> None:
    response = start(200, (b"content-type", b"text/plain"), (b"trailer", b"x-checksum"), trailers=True)
    data = body(b"ok")
    trailers = {
        "type": "http.response.trailers",
        "headers": [(b"x-checksum", b"abc")],
        "more_trailers": False,
    }
    recorder, _ = run(http_scope("1.1", (b"te", b"trailers")), response, data, trailers)
    assert recorder.sent[0]["trailers"] is True
    assert values(recorder.sent[0], b"trailer") == [b"x-checksum"]
    assert recorder.sent[1:] == [data, trailers]
    assert recorder.sent[2] is trailers


def test_strict_mode_names_the_header() -> None:
    with pytest.raises(ForbiddenHeaderError, match="'keep-alive'") as raised:
        run(http_scope("1.1"), start(200, (b"Keep-Alive", b"timeout=5")), body(), strict=True)
    assert raised.value.header == "keep-alive"
    assert "hop-by-hop" in str(raised.value)


def test_strict_mode_names_a_nominated_header() -> None:
    with pytest.raises(ForbiddenHeaderError, match="'x-hop'") as raised:
        run(http_scope("1.1"), start(200, (b"x-hop", b"1"), (b"connection", b"x-hop")), body(), strict=True)
    assert raised.value.header == "x-hop"
    assert "Connection-nominated" in str(raised.value)


def test_strict_mode_allows_the_apps_close() -> None:
    recorder, _ = run(http_scope("1.1"), start(200, (b"connection", b"close")), body(), strict=True)
    assert values(recorder.sent[0], b"connection") == [b"close"]


def test_request_headers_stripped_when_asked() -> None:
    scope = http_scope(
        "1.1",
        (b"connection", b"keep-alive, x-secret, authorization"),
        (b"keep-alive", b"300"),
        (b"x-secret", b"1"),
        (b"authorization", b"Bearer t"),
        (b"te", b"gzip, trailers"),
        state={},
    )
    server_headers = scope["headers"]
    copy = list(server_headers)
    recorder, middleware = run(scope, *PLAIN, strip_request_headers=True)
    assert recorder.scope is not scope, "changing the headers means copying the scope"
    assert scope["headers"] is server_headers and server_headers == copy
    seen = recorder.scope["headers"]
    assert (b"authorization", b"Bearer t") in seen
    assert (b"te", b"trailers") in seen
    assert not {b"connection", b"keep-alive", b"x-secret"} & {n for n, _ in seen}
    assert middleware.stats.request_abuse == 1  # authorization was nominated


def test_request_headers_kept_by_default() -> None:
    scope = http_scope("1.1", (b"connection", b"keep-alive"), (b"keep-alive", b"300"))
    recorder, _ = run(scope, *PLAIN)
    assert recorder.scope["headers"] is scope["headers"]


# --------------------------------------------------------------------------------------
# HTTP/1.0 framing: never chunked
# --------------------------------------------------------------------------------------


def test_http10_stream_is_held_and_given_a_length() -> None:
    parts = [body(b"abc", more=True), body(b"", more=True), body(b"de", more=True), body(b"f")]
    recorder, middleware = run(http_scope("1.0"), start(200, (b"content-type", b"text/plain")), *parts)
    assert len(recorder.sent) == 2
    assert values(recorder.sent[0], b"content-length") == [b"6"]
    assert values(recorder.sent[0], b"connection") == [b"close"]
    assert recorder.sent[1] == {"type": "http.response.body", "body": b"abcdef", "more_body": False}
    assert middleware.stats.connections_closed == {"client": 1}


def test_http10_keep_alive_opt_in_survives_with_the_added_length() -> None:
    scope = http_scope("1.0", (b"connection", b"keep-alive"))
    messages = (start(200), body(b"ab", more=True), body(b"c"))
    recorder, _ = run(scope, *messages, http10_keep_alive=True)
    assert values(recorder.sent[0], b"connection") == [b"keep-alive"]
    assert values(recorder.sent[0], b"content-length") == [b"3"]


def test_http10_overflow_streams_with_close() -> None:
    scope = http_scope("1.0", (b"connection", b"keep-alive"))
    parts = [body(b"x" * 4, more=True) for _ in range(4)]
    recorder, middleware = run(
        scope, start(200), *parts, body(b"end"), http10_buffer_bytes=10, http10_keep_alive=True
    )
    sent = recorder.sent
    assert sent[0]["type"] == "http.response.start"
    assert values(sent[0], b"connection") == [b"close"]
    assert b"content-length" not in names(sent[0])
    assert sent[1] == {"type": "http.response.body", "body": b"x" * 12, "more_body": True}
    assert sent[2:] == [parts[3], body(b"end")]
    assert middleware.stats.connections_closed == {"framing": 1}


@pytest.mark.parametrize(
    ("scope", "response", "options"),
    [
        pytest.param(http_scope("1.0"), start(200, (b"content-length", b"2")), {}, id="has-length"),
        pytest.param(http_scope("1.0"), start(200), {"http10_buffer_bytes": 0}, id="buffering-off"),
        pytest.param(http_scope("1.1"), start(200), {}, id="http11"),
    ],
)
def test_no_buffering_where_framing_is_not_at_stake(
    scope: Scope, response: Message, options: dict[str, Any]
) -> None:
    first = body(b"a", more=True)
    recorder, _ = run(scope, response, first, body(b"b"), **options)
    assert len(recorder.sent) == 3
    assert recorder.sent[1] is first


# --------------------------------------------------------------------------------------
# Responses without content (RFC 9110 §6.4.1): body bytes dropped, never written
# --------------------------------------------------------------------------------------

NO_CONTENT = [
    pytest.param("1.1", "HEAD", start(200, (b"content-length", b"5")), "head", id="head-http11"),
    pytest.param("1.0", "HEAD", start(200, (b"content-length", b"5")), "head", id="head-http10"),
    pytest.param("2", "HEAD", start(200), "head", id="head-http2"),
    pytest.param("1.1", "GET", start(204), "204", id="204"),
    pytest.param("1.0", "GET", start(204), "204", id="204-http10"),
    pytest.param("1.1", "GET", start(304, (b"content-length", b"5")), "304", id="304"),
    pytest.param("1.1", "GET", start(103, (b"link", b"</a>")), "1xx", id="103"),
]


@pytest.mark.parametrize(("version", "method", "response", "reason"), NO_CONTENT)
def test_no_content_body_bytes_are_dropped_and_counted_once(
    version: str, method: str, response: Message, reason: str
) -> None:
    recorder, middleware = run(
        http_scope(version, method=method),
        response,
        body(b"hello", more=True),
        body(b"", more=True),
        body(b"!"),
    )
    sent = recorder.sent
    assert [m["type"] for m in sent] == ["http.response.start", *["http.response.body"] * 3]
    assert [m["body"] for m in sent[1:]] == [b"", b"", b""]
    assert [m["more_body"] for m in sent[1:]] == [True, True, False], "the response still ends"
    kept = values(response, b"content-length") if method == "HEAD" else []  # 1xx/204/304: gone
    assert values(sent[0], b"content-length") == kept
    assert middleware.stats.bodies_dropped == {reason: 1}


def test_no_content_keeps_the_hot_path_for_empty_bodies() -> None:
    empty = body(b"")
    recorder, middleware = run(http_scope("1.1"), start(204), empty)
    assert recorder.sent[1] is empty, "nothing to drop: the app's own message"
    assert middleware.stats.bodies_dropped == {}


def test_204_loses_its_content_length() -> None:
    recorder, middleware = run(http_scope("1.1"), start(204, (b"content-length", b"5")), body(b"hello"))
    assert names(recorder.sent[0]) == [b"connection"]
    assert recorder.sent[1]["body"] == b""
    assert middleware.stats.headers_stripped == {"content-length": 1}


@pytest.mark.parametrize("kind", ["http.response.pathsend", "http.response.zerocopysend"])
def test_no_content_file_sends_become_an_empty_body(kind: str) -> None:
    recorder, middleware = run(
        http_scope("1.1", method="HEAD"), start(200, (b"content-length", b"9")), {"type": kind, "path": "/x"}
    )
    assert recorder.sent[1] == {"type": "http.response.body", "body": b"", "more_body": False}
    assert middleware.stats.bodies_dropped == {"head": 1}


def test_no_content_trailers_still_pass() -> None:
    trailers = {"type": "http.response.trailers", "headers": [], "more_trailers": False}
    recorder, _ = run(http_scope("1.1", method="HEAD"), start(200, trailers=True), body(b"x"), trailers)
    assert recorder.sent[2] is trailers


def test_head_with_content_is_still_cleaned() -> None:
    recorder, middleware = run(http_scope("1.1", method="HEAD"), start(200, *HOPPY), body(b"hello world"))
    assert names(recorder.sent[0]) == [b"content-type", b"connection"]
    assert recorder.sent[1]["body"] == b""
    assert middleware.stats.bodies_dropped == {"head": 1}


def test_no_content_strict_raises() -> None:
    with pytest.raises(ForbiddenBodyError, match="RFC 9110") as raised:
        run(http_scope("1.1"), start(304), body(b"stale"), strict=True)
    assert raised.value.reason == "304"


def test_no_content_logged_once(caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(connmw._counters, "_already_warned", set())  # as in a fresh process
    caplog.set_level(logging.WARNING, logger="connmw")
    for _ in range(3):
        run(http_scope("1.1"), start(204), body(b"x"))
    records = [r.getMessage() for r in caplog.records]
    assert records == ["app sent body bytes in a 204 response (RFC 9110 §6.4.1); dropped"]


def test_http10_held_start_flushed_before_another_message_type() -> None:
    other = {"type": "http.response.pathsend", "path": "/tmp/x"}  # noqa: S108 (never opened)
    recorder, _ = run(http_scope("1.0"), start(200), body(b"ab", more=True), other)
    assert [m["type"] for m in recorder.sent] == [
        "http.response.start",
        "http.response.body",
        "http.response.pathsend",
    ]
    assert values(recorder.sent[0], b"connection") == [b"close"]


def test_http10_app_failure_sends_no_start() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send(start(200))
        await send(body(b"partial", more=True))
        raise RuntimeError("boom")

    server = FakeServer()
    with pytest.raises(RuntimeError, match="boom"):
        asyncio.run(ConnectionMiddleware(app)(http_scope("1.0"), server.receive, server.send))
    assert server.sent == []  # the server answers 500 itself, with correct framing


# --------------------------------------------------------------------------------------
# Counters and lifecycle
# --------------------------------------------------------------------------------------


def test_stats_count_stripped_closed_and_abuse() -> None:
    middleware = ConnectionMiddleware(Recorder(start(200, *HOPPY), body()).app)

    async def exchange(scope: Scope) -> None:
        await middleware(scope, Recorder().receive, Recorder().send)

    async def main() -> None:
        await exchange(http_scope("1.1"))
        await exchange(http_scope("1.0"))
        await exchange(http_scope("1.1", (b"connection", b"close, host")))
        await exchange(http_scope("1.1", (b"connection", b",".join(b"t%d" % i for i in range(40)))))
        await exchange(http_scope("1.1", (b"connection", b"k\x01ep")))

    asyncio.run(main())
    stats = middleware.stats
    assert stats.headers_stripped["x-hop"] == 5
    assert stats.headers_stripped["transfer-encoding"] == 5
    assert stats.connections_closed == {"client": 2}
    assert stats.request_abuse == 3


def test_drain_closes_and_counts() -> None:
    drain()
    recorder, middleware = run(http_scope("1.1"), *PLAIN)
    assert values(recorder.sent[0], b"connection") == [b"close"]
    assert middleware.stats.connections_closed == {"drain": 1}
    undrain()
    recorder, middleware = run(http_scope("1.1"), *PLAIN)
    assert values(recorder.sent[0], b"connection") == [b"keep-alive"]


def test_drain_never_touches_http2() -> None:
    drain()
    recorder, _ = run(http_scope("2"), *PLAIN)
    assert recorder.sent[0] is PLAIN[0]


def test_max_requests_per_connection() -> None:
    middleware = ConnectionMiddleware(
        Recorder(*PLAIN).app, max_requests_per_connection=2, keep_alive_timeout=5
    )
    server = FakeServer()

    async def main() -> None:
        for _ in range(3):
            await middleware(http_scope("1.1"), server.receive, server.send)

    asyncio.run(main())
    starts = [m for m in server.sent if m["type"] == "http.response.start"]
    assert values(starts[0], b"keep-alive") == [b"timeout=5, max=1"]
    assert values(starts[1], b"connection") == [b"close"]
    assert values(starts[2], b"connection") == [b"keep-alive"]  # a new connection
    assert middleware.stats.connections_closed == {"max-requests": 1}


# --------------------------------------------------------------------------------------
# WebSocket handshakes
# --------------------------------------------------------------------------------------

CONNECT = {"type": "websocket.connect"}


@pytest.mark.parametrize(
    ("scope", "status", "extra", "options"),
    [
        pytest.param(
            ws_scope((b"sec-websocket-version", b"8")), 426, (b"sec-websocket-version", b"13"), {}, id="v8"
        ),
        pytest.param(ws_scope((b"sec-websocket-key", b"short")), 400, None, {}, id="short-key"),
        pytest.param(ws_scope(version="1.0"), 400, None, {}, id="http10"),
        pytest.param(ws_scope((b"connection", b"keep-alive")), 400, None, {}, id="no-connection-upgrade"),
        pytest.param(
            ws_scope((b"origin", b"http://evil.example")),
            403,
            None,
            {"ws_allowed_origins": "https://app.example"},
            id="foreign-origin",
        ),
    ],
)
def test_refused_handshake_with_the_http_response_extension(
    scope: Scope, status: int, extra: Header | None, options: dict[str, Any]
) -> None:
    recorder, middleware = run(scope, incoming=[CONNECT], **options)
    assert recorder.called == 0
    response_start, response_body = recorder.sent
    assert response_start["type"] == "websocket.http.response.start"
    assert response_start["status"] == status
    if extra is not None:
        assert extra in response_start["headers"]
    assert response_body["type"] == "websocket.http.response.body"
    assert response_body["body"].startswith(b"WebSocket handshake refused")
    assert values(response_start, b"content-length") == [str(len(response_body["body"])).encode()]
    assert sum(middleware.stats.handshakes_rejected.values()) == 1


def test_refused_handshake_without_the_extension_closes() -> None:
    scope = ws_scope((b"sec-websocket-key", b"short"), extension=False)
    recorder, middleware = run(scope, incoming=[CONNECT])
    assert recorder.called == 0
    assert [m["type"] for m in recorder.sent] == ["websocket.close"]
    assert middleware.stats.handshakes_rejected == {"bad-key": 1}


def test_refused_handshake_client_gone() -> None:
    scope = ws_scope((b"sec-websocket-key", b"short"), extension=False)
    recorder, _ = run(scope, incoming=[{"type": "websocket.disconnect", "code": 1006}])
    assert recorder.sent == []


@pytest.mark.parametrize(
    "scope",
    [
        pytest.param(ws_scope(), id="valid"),
        pytest.param(ws_scope((b"connection", b"keep-alive, Upgrade")), id="keep-alive-upgrade"),
        pytest.param(ws_scope((b"origin", b"https://app.example")), id="allowed-origin"),
        pytest.param(
            {**ws_scope(version="2"), "headers": [(b"sec-websocket-version", b"13")]}, id="rfc8441-http2"
        ),
    ],
)
def test_accepted_handshake_reaches_the_app(scope: Scope) -> None:
    accept: Message = {"type": "websocket.accept", "subprotocol": None, "headers": []}
    recorder, _ = run(scope, accept, incoming=[CONNECT], ws_allowed_origins="https://app.example")
    assert recorder.called == 1
    assert recorder.sent == [accept]


def test_ws_validate_off_calls_the_app() -> None:
    recorder, _ = run(ws_scope((b"sec-websocket-key", b"short")), incoming=[CONNECT], ws_validate=False)
    assert recorder.called == 1


def test_accept_headers_lose_hop_by_hop_names() -> None:
    accept = {
        "type": "websocket.accept",
        "subprotocol": "chat",
        "headers": [
            (b"x-app", b"1"),
            (b"connection", b"x-hop"),
            (b"x-hop", b"2"),
            (b"keep-alive", b"timeout=5"),
            (b"set-cookie", b"a=b"),
        ],
    }
    recorder, middleware = run(ws_scope(), accept, incoming=[CONNECT])
    sent = recorder.sent[0]
    assert sent["subprotocol"] == "chat"
    assert sent["headers"] == [(b"x-app", b"1"), (b"set-cookie", b"a=b")]
    assert set(middleware.stats.headers_stripped) == {"connection", "x-hop", "keep-alive"}


def test_clean_accept_is_the_apps_own_message() -> None:
    accept = {"type": "websocket.accept", "headers": [(b"x-app", b"1")]}
    recorder, _ = run(ws_scope(), accept, incoming=[CONNECT])
    assert recorder.sent[0] is accept


def test_accept_headers_may_be_an_iterator() -> None:
    accept = {"type": "websocket.accept", "headers": iter([(b"x-app", b"1")])}
    recorder, _ = run(ws_scope(), accept, incoming=[CONNECT])
    assert recorder.sent[0]["headers"] == [(b"x-app", b"1")]


# ASGI allows a header to be any two-item iterable; its own examples write [name, value]
# lists. The accelerated build must read them as the pure one does (CI runs this file
# against both).
def _lists(headers: Iterable[Header]) -> list[list[bytes]]:
    return [[name, value] for name, value in headers]


def _as_tuples(message: Message) -> list[Header]:
    return [(name, value) for name, value in message["headers"]]


@pytest.mark.parametrize("version", ["1.0", "1.1", "2"])
@pytest.mark.parametrize(
    "app_headers",
    [
        pytest.param([(b"content-type", b"text/plain"), (b"content-length", b"2")], id="plain"),
        pytest.param([(b"content-type", b"text/plain")], id="plain-without-length"),
        pytest.param(HOPPY, id="hoppy"),
    ],
)
def test_header_pairs_may_be_lists(version: str, app_headers: list[Header]) -> None:
    request = [(b"connection", b"keep-alive"), (b"te", b"trailers")]
    as_tuples, _ = run(http_scope(version, *request), start(200, *app_headers), body())
    listed = {"type": "http.response.start", "status": 200, "headers": _lists(app_headers)}
    scope = http_scope(version, *request)
    scope["headers"] = _lists(scope["headers"])  # a server may build them so too
    as_lists, _ = run(scope, listed, body(), strip_request_headers=True)
    assert _as_tuples(as_lists.sent[0]) == _as_tuples(as_tuples.sent[0])
    assert [m.get("body") for m in as_lists.sent[1:]] == [m.get("body") for m in as_tuples.sent[1:]]


def test_accept_header_pairs_may_be_lists() -> None:
    accept = {"type": "websocket.accept", "headers": [[b"x-app", b"1"], [b"keep-alive", b"5"]]}
    scope = ws_scope()
    scope["headers"] = _lists(scope["headers"])
    recorder, _ = run(scope, accept, incoming=[CONNECT])
    assert _as_tuples(recorder.sent[0]) == [(b"x-app", b"1")]


def test_strict_accept_headers() -> None:
    accept = {"type": "websocket.accept", "headers": [(b"upgrade", b"foo")]}
    with pytest.raises(ForbiddenHeaderError, match="'upgrade'"):
        run(ws_scope(), accept, incoming=[CONNECT], strict=True)


# --------------------------------------------------------------------------------------
# Bad input from clients: never an exception out of the middleware
# --------------------------------------------------------------------------------------

MALFORMED: list[Any] = [
    pytest.param((b"connection", "keep-alive, \u00e9t\u00e9".encode()), id="non-ascii-utf8"),
    pytest.param((b"connection", b"\xff\xfe\x00close"), id="raw-high-bytes-and-nul"),
    pytest.param((b"connection", b"keep-alive\r\nx-injected: 1"), id="crlf"),
    pytest.param((b"connection", b"\x01\x02\x7f"), id="control-bytes"),
    pytest.param((b"connection", b", , ,,"), id="empty-elements"),
    pytest.param((b"connection", b"keep-alive; Upgrade"), id="semicolon"),
    pytest.param((b"connection", b",".join([b"x-%d" % i for i in range(20000)])), id="huge-20000-tokens"),
    pytest.param((b"connection", b"a" * 100_000), id="huge-token"),
    pytest.param((b"upgrade", b"\x00websocket/\xff"), id="upgrade-garbage"),
    pytest.param((b"sec-websocket-key", b"\xff" * 24), id="key-high-bytes"),
    pytest.param((b"sec-websocket-version", b"13, 13, \x00"), id="version-list"),
    pytest.param((b"origin", b"http://\xff\xfe:99999999"), id="origin-garbage"),
    pytest.param((b"origin", b"null"), id="origin-null"),
]


@pytest.mark.parametrize("header", MALFORMED)
@pytest.mark.parametrize("version", ["1.0", "1.1", "2", "HTTP/9", ""])
def test_malformed_http_headers_never_raise(header: Header, version: str) -> None:
    recorder, _ = run(http_scope(version, header, header), *PLAIN, strip_request_headers=True)
    assert recorder.sent[0]["status"] == 200
    assert len(values(recorder.sent[0], b"connection")) <= 1


@pytest.mark.parametrize("header", MALFORMED)
def test_malformed_handshake_headers_never_raise(header: Header) -> None:
    recorder, _ = run(ws_scope(header), incoming=[CONNECT], ws_allowed_origins="https://a.example")
    if recorder.called:
        assert recorder.sent == []
    else:
        assert [m["type"] for m in recorder.sent] == [
            "websocket.http.response.start",
            "websocket.http.response.body",
        ]


# --------------------------------------------------------------------------------------
# Frameworks: add_middleware builds it
# --------------------------------------------------------------------------------------


def test_starlette_add_middleware() -> None:
    async def home(request: Any) -> PlainTextResponse:
        return PlainTextResponse("ok", headers={"x-hop": "1", "connection": "x-hop"})

    app = Starlette(routes=[Route("/", home)])
    app.add_middleware(ConnectionMiddleware, strict=False)
    server = FakeServer([body(b"")])
    asyncio.run(app(http_scope("1.1"), server.receive, server.send))
    assert values(server.sent[0], b"connection") == [b"keep-alive"]
    assert b"x-hop" not in names(server.sent[0])


# --------------------------------------------------------------------------------------
# Benchmark (not run by default): python -m pytest tests/middleware/test_asgi_unit.py -m benchmark -s
# --------------------------------------------------------------------------------------

App = Callable[[Scope, Receive, Send], Awaitable[None]]


async def _plain_app(scope: Scope, receive: Receive, send: Send) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"text/plain"), (b"content-length", b"2")],
        }
    )
    await send({"type": "http.response.body", "body": b"ok"})


class _PassThrough:
    def __init__(self, app: App) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)


class _SendWrapper:
    def __init__(self, app: App) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def wrapped(message: Message) -> None:
            await send(message)

        await self.app(scope, receive, wrapped)


class _HandMinimal:
    """The floor: scan the request's Connection lines, append one field to the start."""

    def __init__(self, app: App) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        close = False
        for name, value in scope["headers"]:
            if name == b"connection" and b"close" in value.lower():
                close = True
        field = ((b"connection", b"close" if close else b"keep-alive"),)

        async def wrapped(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = dict(message, headers=[*message["headers"], *field])
            await send(message)

        await self.app(scope, receive, wrapped)


_BROWSER: list[Header] = [
    (b"host", b"example.com"),
    (b"user-agent", b"Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"),
    (b"accept", b"text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"),
    (b"accept-language", b"en-US,en;q=0.5"),
    (b"accept-encoding", b"gzip, deflate, br, zstd"),
    (b"referer", b"https://example.com/"),
    (b"connection", b"keep-alive"),
    (b"cookie", b"session=abc; theme=dark"),
    (b"upgrade-insecure-requests", b"1"),
    (b"sec-fetch-dest", b"document"),
    (b"sec-fetch-mode", b"navigate"),
    (b"priority", b"u=0, i"),
]


@pytest.mark.benchmark
@pytest.mark.parametrize(
    "request_headers",
    [
        pytest.param(
            [
                (b"host", b"example.com"),
                (b"user-agent", b"curl/8"),
                (b"accept", b"*/*"),
                (b"connection", b"keep-alive"),
            ],
            id="baseline-lab-inproc-4-headers",
        ),
        pytest.param(_BROWSER, id="browser-12-headers"),
    ],
)
def test_benchmark_hot_path(request_headers: list[Header]) -> None:
    scope = {**http_scope("1.1"), "headers": request_headers}

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        return None

    apps: dict[str, App] = {
        "bare app": _plain_app,
        "do-nothing pass-through": _PassThrough(_plain_app),
        "do-nothing send wrapper": _SendWrapper(_plain_app),
        "hand-minimal Connection wrapper": _HandMinimal(_plain_app),
        "starlette TrustedHostMiddleware": TrustedHostMiddleware(_plain_app, allowed_hosts=["example.com"]),
        "connmw ConnectionMiddleware": ConnectionMiddleware(_plain_app),
    }

    async def bench(app: App, n: int) -> float:
        begin = time.perf_counter()
        for _ in range(n):
            await app(dict(scope), receive, send)
        return (time.perf_counter() - begin) / n * 1e6

    async def main() -> dict[str, float]:
        best: dict[str, float] = {}
        for app in apps.values():
            await bench(app, 2000)
        for _ in range(5):  # interleaved rounds, best of each
            for name, app in apps.items():
                best[name] = min(best.get(name, float("inf")), await bench(app, 40_000))
        return best

    best = asyncio.run(main())
    bare = best["bare app"]
    print()
    print(f"{'':34s} {'us/request':>10s} {'added':>7s}")
    for name, value in best.items():
        print(f"{name:34s} {value:10.2f} {value - bare:7.2f}")
    ratio = (best["connmw ConnectionMiddleware"] - bare) / (best["starlette TrustedHostMiddleware"] - bare)
    print(f"connmw added cost / TrustedHostMiddleware added cost: {ratio:.2f} (target <= 0.70)")


# --------------------------------------------------------------------------------------
# Same origin by default: the refusal, and a log line that says how to allow an origin
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("origin", "accepted"),
    [
        pytest.param(b"http://example.com", True, id="same-host"),
        pytest.param(b"https://example.com", True, id="https-page-same-host"),
        pytest.param(b"http://evil.example", False, id="foreign"),
        pytest.param(b"null", False, id="null"),
    ],
)
def test_websocket_same_origin_by_default(
    origin: bytes, accepted: bool, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="connmw")
    recorder, middleware = run(
        ws_scope((b"origin", origin)), {"type": "websocket.accept"}, incoming=[{"type": "websocket.connect"}]
    )
    assert recorder.called == (1 if accepted else 0)
    if not accepted:
        assert recorder.sent[0]["status"] == 403
        assert middleware.stats.handshakes_rejected == {"forbidden-origin": 1}
        assert "list it in CONNMW_WS_ALLOWED_ORIGINS or ws_allowed_origins" in caplog.text


# --------------------------------------------------------------------------------------
# The readiness path: answered by connmw, never by the application
# --------------------------------------------------------------------------------------

READY = [
    pytest.param("1.1", "GET", False, 200, [b"keep-alive"], b"ready\n", id="serving-http11"),
    pytest.param("1.1", "HEAD", False, 200, [b"keep-alive"], b"", id="serving-head"),
    pytest.param("1.1", "GET", True, 503, [b"close"], b"draining\n", id="draining-says-close"),
    pytest.param("2", "GET", True, 503, [], b"draining\n", id="draining-http2-no-connection-field"),
    pytest.param("1.0", "GET", False, 200, [b"close"], b"ready\n", id="serving-http10"),
]


@pytest.mark.parametrize(("version", "method", "draining", "status", "connection", "body"), READY)
def test_ready_path_answered_without_the_app(  # noqa: PLR0917 (one row of READY)
    version: str, method: str, draining: bool, status: int, connection: list[bytes], body: bytes
) -> None:
    if draining:
        drain()
    recorder, middleware = run(
        http_scope(version, method=method, path="/healthz"), *PLAIN, ready_path="/healthz"
    )
    assert recorder.called == 0
    start, sent_body = recorder.sent
    assert start["status"] == status
    assert values(start, b"connection") == connection
    assert values(start, b"content-length") == [b"9" if draining else b"6"]
    assert values(start, b"retry-after") == ([b"5"] if draining else [])
    assert values(start, b"cache-control") == [b"no-store"]
    assert sent_body["body"] == body
    assert middleware.stats.readiness == {"draining" if draining else "ready": 1}


@pytest.mark.parametrize(
    ("method", "path"),
    [
        pytest.param("POST", "/healthz", id="another-method"),
        pytest.param("GET", "/healthz/", id="another-path"),
        pytest.param("GET", "/", id="the-app"),
    ],
)
def test_other_requests_reach_the_app(method: str, path: str) -> None:
    recorder, middleware = run(http_scope("1.1", method=method, path=path), *PLAIN, ready_path="/healthz")
    assert recorder.called == 1
    assert middleware.stats.readiness == {}


def test_ready_path_with_the_lifecycle_on_and_a_drain_file(tmp_path: Any) -> None:
    flag = tmp_path / "drain"
    flag.touch()
    recorder, middleware = run(http_scope("1.1", path="/r"), *PLAIN, ready_path="/r", drain_file=str(flag))
    assert recorder.called == 0
    assert recorder.sent[0]["status"] == 503
    assert middleware.stats.connections_closed == {"drain": 1}
