"""Both middlewares in process, fed arbitrary header lists by hypothesis from both sides.

Whatever the client sends and whatever the application answers:

* the middleware never raises (strict mode aside, whose whole point is to raise
  :class:`connmw.ForbiddenHeaderError`; and a WSGI 101 connmw finds wrong raises
  :class:`connmw.SwitchingProtocolsError` by design);
* the response carries no hop-by-hop field and no field the application's Connection
  nominated, except connmw's own single Connection field (``close``, ``keep-alive`` or
  ``upgrade``), its Keep-Alive hint beside ``keep-alive``, and the application's Upgrade
  on a legitimate 101; never a second Connection line, and nothing of the kind on
  HTTP/2 and HTTP/3;
* no field whose name is not a token reaches the client (white space around a name
  included, RFC 9110 §5.1), and one that reads ``connection`` once trimmed nominates as
  the Connection field does;
* protected fields (Host, Content-Length, Authorization, X-Forwarded-*, …) always reach
  the client, in order, and so does every other end-to-end field; the body is intact;
* with ``strip_request_headers`` the application sees the request without hop-by-hop
  and nominated fields, protected ones kept; without it, exactly what the client sent;
* a close the client, the application, HTTP/1.0 or a drain asks for is always announced.

The oracle below reads Connection with its own small parser and decides from the public
tables of :mod:`connmw.rules` (HOP_BY_HOP, PROTECTED, PROTECTED_PREFIXES), not from the
rules' functions. ASGI runs with fake receive/send, driven without an event loop (nothing
in the middleware waits on anything else); WSGI runs as
``validator(ConnectionMiddleware(validator(app)))``, so PEP 3333 is checked on both sides.

The default run does about 4 500 examples in total (about 25 s); ``-m slow`` runs
twenty times as many.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable, Coroutine, Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any
from wsgiref.util import is_hop_by_hop, setup_testing_defaults
from wsgiref.validate import validator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connmw import (
    ForbiddenBodyError,
    ForbiddenHeaderError,
    RequestFacts,
    SwitchingProtocolsError,
    drain,
    undrain,
)
from connmw import asgi as connmw_asgi
from connmw import wsgi as connmw_wsgi
from connmw.config import Config, load_config
from connmw.rules import HOP_BY_HOP, PROTECTED, PROTECTED_PREFIXES, Header
from tests import fuzz_rules
from tests.helpers import WS_KEY, FakeServer, handshake_headers

FAST_EXAMPLES = {"asgi_http": 2000, "asgi_ws": 600, "wsgi": 1600}
SLOW_FACTOR = 20


def _settings(examples: int) -> settings:
    return settings(
        max_examples=examples,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
    )


# --------------------------------------------------------------------------------------
# Configurations (built once: a middleware is built once per process in real life too)
# --------------------------------------------------------------------------------------

CONFIGS: dict[str, dict[str, Any]] = {
    "default": {},
    "strip-request": {"strip_request_headers": True},
    "quiet-keep-alive-with-hint-and-limit": {
        "explicit_keep_alive": False,
        "keep_alive_timeout": 5,
        "max_requests_per_connection": 3,
    },
    "http10-opt-in-custom-tables": {
        "http10_keep_alive": True,
        "strip_request_headers": True,
        "strip_headers": ("server", "x-a"),
        "protected_headers": ("x-tenant", "x-acme-*"),
        "max_connection_tokens": 3,
    },
    "no-http10-buffer-max-age": {"http10_buffer_bytes": 0, "max_connection_age": 1, "keep_alive_timeout": 9},
    "origins": {"ws_allowed_origins": ("https://*.example.com", "null"), "strip_request_headers": True},
    "strict": {"strict": True, "strip_request_headers": True},
}
LOADED: dict[str, Config] = {name: load_config(environ={}, **options) for name, options in CONFIGS.items()}
# A fake server is no server connmw recognises: each stands for a profile it names
# (CONNMW_SERVER). The fake ASGI server for granian's: fields pass, no hook.
ASGI_SERVER = "granian"


@dataclass(frozen=True)
class Oracle:
    """What a configuration means, decided from the public tables only."""

    config: Config

    @property
    def stripped(self) -> frozenset[bytes]:
        return HOP_BY_HOP | {name.encode() for name in self.config.strip_headers}

    def protected(self, name: bytes) -> bool:
        extra = self.config.protected_headers
        names = PROTECTED | {n.encode() for n in extra if not n.endswith("*")}
        prefixes = (*PROTECTED_PREFIXES, *(n[:-1].encode() for n in extra if n.endswith("*")))
        return name in names or name.startswith(prefixes)

    def nominated(self, values: Iterable[bytes]) -> frozenset[bytes]:
        """RFC 9110 §7.6.1: every token but close, protected names never, none past the limit."""
        found = tokens(values)
        if len(found) > self.config.max_connection_tokens:
            return frozenset()
        return frozenset(t for t in found if t != b"close" and not self.protected(t))


_TCHAR = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_KEEP_ALIVE_HINT = re.compile(rb"timeout=\d+(, max=\d+)?")


def valid_name(name: bytes) -> bool:
    """RFC 9110 §5.1: a field name is a token; anything else (white space around it too) is removed."""
    return _TCHAR.fullmatch(name) is not None


def reads_as_connection(name: bytes) -> bool:
    """A Connection field, or one disguised by white space a server would trim (RFC 9112 §5.1)."""
    return name.strip(b" \t\r\n\x0b\x0c").lower() == b"connection"


def tokens(values: Iterable[bytes]) -> list[bytes]:
    """The valid tokens of Connection lines, lower-case, duplicates kept."""
    found: list[bytes] = []
    for value in values:
        for element in value.split(b","):
            token = element.strip(b" \t").lower()
            if _TCHAR.fullmatch(token):
                found.append(token)
    return found


def normal_version(version: str) -> str:
    table = {"1.1": "1.1", "HTTP/1.1": "1.1", "2": "2", "2.0": "2", "HTTP/2": "2", "HTTP/2.0": "2"}
    table |= {"3": "3", "3.0": "3", "HTTP/3": "3", "HTTP/3.0": "3"}
    return table.get(version, "1.0")


def upgrade_requested(version: str, connection: list[bytes], upgrade: list[bytes]) -> bool:
    """RFC 9110 §7.8: an HTTP/1.1 request with the upgrade option and some protocol offered."""
    offered = [e for value in upgrade for e in value.split(b",") if e.strip(b" \t")]
    return normal_version(version) == "1.1" and b"upgrade" in tokens(connection) and bool(offered)


def must_close(oracle: Oracle, version: str, client: list[bytes], app: list[bytes], draining: bool) -> bool:
    """A close the client, the application, HTTP/1.0 or a drain asks for (RFC 9112 §9.3)."""
    client_tokens = tokens(client)
    if b"close" in client_tokens or b"close" in tokens(app) or draining:
        return True
    if normal_version(version) == "1.0":
        return not (oracle.config.http10_keep_alive and b"keep-alive" in client_tokens)
    return False


# --------------------------------------------------------------------------------------
# Strategies: names and values both ends really send, plus noise
# --------------------------------------------------------------------------------------

HOP_NAMES = sorted(HOP_BY_HOP)
PROTECTED_NAMES = [*sorted(PROTECTED), b"x-forwarded-for", b"x-forwarded-proto", b"sec-websocket-key"]
OTHER_NAMES = [b"x-hop", b"x-a", b"server", b"x-tenant", b"x-acme-id", b"http2-settings", b"accept", b"date"]
ALL_NAMES = HOP_NAMES + PROTECTED_NAMES + OTHER_NAMES
CONNECTION_WORDS = [
    b"close",
    b"keep-alive",
    b"upgrade",
    b"Close",
    b"UPGRADE",
    *ALL_NAMES,
    b"x y",
    b"\xff",
    b"",
]
VALUE_WORDS = [b"websocket", b"h2c", b"trailers", b"chunked", b"timeout=5", b"gzip;q=0.5", b"1", b"a b"]

# Random names and values come from fixed pools (one draw each, so thousands of examples
# stay fast) plus a little raw binary; the pools hold what matters: hop-by-hop and
# protected names in every case, names a Connection field nominates, odd bytes.
NAME_POOL = [*ALL_NAMES, *(b"x-%d" % i for i in range(12)), b"a", b"zz-top", b"x-forwarded-", b"sec-"]
connection_values = st.builds(
    lambda words, sep: sep.join(words),
    st.lists(st.sampled_from(CONNECTION_WORDS), max_size=5),
    st.sampled_from([b",", b", ", b" , \t", b",,"]),
)
byte_values = st.one_of(
    st.sampled_from(VALUE_WORDS), connection_values, st.binary(max_size=6).filter(lambda v: b"\n" not in v)
)
token_names = st.sampled_from(NAME_POOL)


def _cased(name: bytes, how: int) -> bytes:
    return (name, name.title(), name.upper())[how]


def header_lists(
    names: st.SearchStrategy[bytes], values: st.SearchStrategy[bytes]
) -> st.SearchStrategy[list[Header]]:
    """Header lists, often with a Connection line nominating names present in the list."""
    pairs = st.one_of(
        st.tuples(names, values),
        st.tuples(st.just(b"connection"), connection_values),
    )

    @st.composite
    def build(draw: st.DrawFn) -> list[Header]:
        headers = draw(st.lists(pairs, max_size=7))
        if headers and draw(st.booleans()):
            present = sorted({name.lower() for name, _ in headers})
            chosen = draw(st.lists(st.sampled_from(present), min_size=1, max_size=4))
            line = (b"connection", b", ".join(chosen))
            headers.insert(draw(st.integers(0, len(headers))), line)
        return headers

    return build()


client_names = token_names
# Names with white space around them, as an app copying an upstream's fields may send.
disguised_names = st.tuples(
    st.sampled_from(NAME_POOL), st.sampled_from([b" ", b"\t", b"\x0b"]), st.booleans()
).map(lambda p: p[1] + p[0] if p[2] else p[0] + p[1])
app_names = st.one_of(
    st.tuples(st.sampled_from(NAME_POOL), st.integers(0, 2)).map(lambda p: _cased(*p)),
    st.binary(min_size=1, max_size=4),
    disguised_names,
)
versions = st.one_of(
    st.sampled_from(["1.1", "1.1", "1.0", "2", "3"]), st.sampled_from(["0.9", "", "HTTP/1.1"])
)
statuses = st.sampled_from([200, 200, 101, 204, 304, 404, 500, 103])
bodies = st.lists(st.binary(max_size=16), min_size=1, max_size=3)


# --------------------------------------------------------------------------------------
# Response checks shared by both adapters (bytes view)
# --------------------------------------------------------------------------------------


def no_content_reason(method: str, status: int) -> str | None:
    """The oracle's RFC 9110 §6.4.1: HEAD, 1xx, 204 and 304 responses have no content."""
    if method == "HEAD":
        return "head"
    if status < 200:
        return "1xx"
    return str(status) if status in (204, 304) else None


def check_response(
    oracle: Oracle,
    *,
    version: str,
    client: list[Header],
    app: list[Header],
    out: list[Header],
    status: int,
    draining: bool,
    added_length: bool = False,
    fields_expected: bool = True,
    close_announced: bool = True,
    closes_only: bool = False,
) -> None:
    """The response properties, for one exchange. ``out`` is what reached the server.

    ``added_length``: connmw gave a held HTTP/1.0 body its Content-Length. With
    ``fields_expected`` off (WSGI servers that write their own Connection field) no
    Connection-related field may appear at all; with ``close_announced`` off a close need
    not be announced (the server decides, as granian does for HTTP/1.0 keep-alive). With
    ``closes_only`` (a WSGI server connmw does not recognise) only a ``close`` of the
    application's or connmw's own goes out, never for the request's own close or HTTP/1.0.
    """
    lower = [(name.lower(), value) for name, value in out]
    assert all(valid_name(name) for name, _ in out), out
    app_connection = [value for name, value in app if reads_as_connection(name)]
    nominated = oracle.nominated(app_connection)
    client_connection = [value for name, value in client if name == b"connection"]
    client_upgrade = [value for name, value in client if name == b"upgrade"]
    multiplexed = normal_version(version) in ("2", "3")
    legit_101 = (
        status == 101 and not multiplexed and upgrade_requested(version, client_connection, client_upgrade)
    )
    connection = [value for name, value in lower if name == b"connection"]

    assert len(connection) <= 1, out
    if multiplexed:
        assert not [name for name, _ in lower if name in oracle.stripped], out
    assert connection in ([], [b"close"], [b"keep-alive"], [b"upgrade"]), out
    if not fields_expected and not legit_101:
        assert not connection, out
    for name, value in lower:
        if name == b"keep-alive":
            assert connection == [b"keep-alive"], out
            assert _KEEP_ALIVE_HINT.fullmatch(value), out
        elif name == b"upgrade":
            assert legit_101, out
        elif name != b"connection":
            assert name not in oracle.stripped, out
            assert name not in nominated, out
    if legit_101:
        assert connection == [b"upgrade"], out
    elif status < 200:
        assert connection == [], out  # RFC 9110 §15.2: interim; the final response decides
    elif closes_only:
        assert connection in ([], [b"close"]), out
        if multiplexed or b"close" in tokens(client_connection) or normal_version(version) == "1.0":
            assert connection == [], out  # every server answers the request's own close itself
        elif b"close" in tokens(app_connection) or draining:
            assert connection == [b"close"], out
    elif (
        not multiplexed
        and fields_expected
        and close_announced
        and must_close(oracle, version, client_connection, app_connection, draining)
    ):
        assert connection == [b"close"], out

    # Everything end-to-end arrives, in order: protected fields always.
    def end_to_end(headers: list[Header]) -> list[Header]:
        return [
            (n, v)
            for n, v in headers
            if valid_name(n) and n.lower() not in oracle.stripped and n.lower() not in nominated
        ]

    sent = end_to_end(out)
    if status < 200 or status in (204, 304):  # RFC 9110 §8.6; a 304's would fail on httptools
        assert b"content-length" not in [n.lower() for n, _ in out], out
        app = [(n, v) for n, v in app if n.lower() != b"content-length"]
    if added_length:
        assert [n.lower() for n, _ in sent].count(b"content-length") == 1, out
        sent = [(n, v) for n, v in sent if n.lower() != b"content-length"]
    assert sent == end_to_end(app), (app, out)
    assert [h for h in app if valid_name(h[0]) and oracle.protected(h[0].lower())] == [
        h for h in sent if oracle.protected(h[0].lower())
    ]


def check_request(oracle: Oracle, version: str, client: list[Header], seen: Sequence[Header]) -> None:
    """What the application saw, with ``strip_request_headers`` on (lower-case bytes names)."""
    connection = [value for name, value in client if name == b"connection"]
    upgrade = [value for name, value in client if name == b"upgrade"]
    nominated = oracle.nominated([b", ".join(connection)] if connection else [])
    keep = {b"connection", b"upgrade"} if upgrade_requested(version, connection, upgrade) else set()
    te = [value for name, value in seen if name == b"te"]
    assert te in ([], [b"trailers"]), seen
    for name, _ in seen:
        if name in oracle.stripped:
            assert name in keep or name == b"te", seen
        else:
            assert name not in nominated, seen
    kept = [(n, v) for n, v in client if n not in oracle.stripped and n not in nominated]
    assert [h for h in seen if h[0] not in oracle.stripped] == kept, (client, seen)
    assert [h for h in client if oracle.protected(h[0])] == [h for h in seen if oracle.protected(h[0])]


# --------------------------------------------------------------------------------------
# ASGI
# --------------------------------------------------------------------------------------

ASGI = {
    name: connmw_asgi.ConnectionMiddleware(lambda s, r, t: None, config=replace(c, server=ASGI_SERVER))
    for name, c in LOADED.items()
}


def drive(coroutine: Coroutine[Any, Any, None]) -> None:
    """Run a coroutine that never waits on anything (fake receive/send) to its end."""
    try:
        coroutine.send(None)
    except StopIteration:
        return
    coroutine.close()
    raise AssertionError("the middleware waited on something the fake server never provides")


def asgi_http_property(
    *,
    config: str,
    version: str,
    method: str,
    client: list[Header],
    status: int,
    app_headers: list[Header],
    container: Callable[[list[Header]], Iterable[Header]],
    parts: list[bytes],
    draining: bool,
    port: int,
    state: bool,
) -> None:
    oracle = Oracle(LOADED[config])
    middleware = ASGI[config]
    seen: dict[str, Any] = {}

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        seen.update(scope)
        await receive()
        await send({"type": "http.response.start", "status": status, "headers": container(list(app_headers))})
        for index, part in enumerate(parts, start=1):
            await send({"type": "http.response.body", "body": part, "more_body": index < len(parts)})

    middleware.app = app
    original = list(client)
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": version,
        "method": method,
        "scheme": "http",
        "path": "/",
        "query_string": b"",
        "headers": client,
        "client": ("127.0.0.1", port),
        "server": ("127.0.0.1", 8000),
    }
    if state:
        scope["state"] = {"from-lifespan": 1}  # as uvicorn, hypercorn and granian give it
    before = dict(scope)
    server = FakeServer([{"type": "http.request", "body": b"", "more_body": False}])
    if draining:
        drain()
    no_content = no_content_reason(method, status)
    try:
        drive(middleware(scope, server.receive, server.send))
    except ForbiddenHeaderError:
        assert oracle.config.strict
        return
    except ForbiddenBodyError as error:
        assert oracle.config.strict and no_content == error.reason and any(parts)
        return
    finally:
        undrain()

    assert scope == before and scope.keys() == before.keys()  # the server's scope is untouched
    assert scope["headers"] is client and client == original
    assert isinstance(connmw_asgi.request_facts(seen), RequestFacts)
    assert seen["state"]["from-lifespan"] == 1 if state else seen["state"].keys() == {"connmw"}
    if oracle.config.strip_request_headers:
        check_request(oracle, version, client, seen["headers"])
    else:
        assert seen["headers"] == client
    starts = [m for m in server.sent if m["type"] == "http.response.start"]
    assert len(starts) == 1, server.sent
    out = list(starts[0]["headers"])
    body = b"".join(m.get("body", b"") for m in server.sent if m["type"] == "http.response.body")
    # RFC 9110 §6.4.1: HEAD, 1xx, 204 and 304 responses carry no content, whatever the app sends.
    assert body == (b"" if no_content else b"".join(parts))
    assert server.sent[-1].get("more_body", False) is False
    app_has_length = any(name.lower() == b"content-length" for name, _ in app_headers)
    added = not app_has_length and any(name == b"content-length" for name, _ in out)
    if added:  # only ever the held HTTP/1.0 body, with its true length
        assert normal_version(version) == "1.0", out
        assert (b"content-length", b"%d" % len(body)) in out
    check_response(
        oracle,
        version=version,
        client=client,
        app=app_headers,
        out=out,
        status=status,
        draining=draining,
        added_length=added,
    )


@pytest.mark.parametrize(
    ("version", "options"),
    [
        pytest.param("2", {}, id="http2-nothing-to-add"),
        pytest.param("1.1", {"explicit_keep_alive": False}, id="http11-quiet-keep-alive"),
        pytest.param(
            "1.1", {"explicit_keep_alive": False, "drain_file": "/nonexistent/drain"}, id="lifecycle-path"
        ),
    ],
)
def test_asgi_headers_given_as_an_iterator_survive(version: str, options: dict[str, Any]) -> None:
    """Found by the property above: an iterator of headers was read by connmw, then the
    app's own message (its iterator now empty) went out whenever nothing had to change."""
    headers = [(b"content-type", b"text/plain"), (b"content-length", b"2")]

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": iter(headers)})
        await send({"type": "http.response.body", "body": b"ok"})

    config = load_config(environ={}, server=ASGI_SERVER, **options)
    middleware = connmw_asgi.ConnectionMiddleware(app, config=config)
    server = FakeServer([])
    scope = {"type": "http", "http_version": version, "method": "GET", "headers": [], "client": ("a", 1)}
    drive(middleware(scope, server.receive, server.send))
    assert list(server.sent[0]["headers"]) == headers


asgi_http_args = {
    "config": st.sampled_from(sorted(CONFIGS)),
    "version": versions,
    "method": st.sampled_from(["GET", "HEAD", "POST"]),
    "client": header_lists(client_names, byte_values),
    "status": statuses,
    "app_headers": header_lists(app_names, byte_values),
    "container": st.sampled_from([list, tuple, iter]),
    "parts": bodies,
    "draining": st.booleans(),
    "state": st.booleans(),
    "port": st.integers(40000, 40003),
}


@given(**asgi_http_args)
@_settings(FAST_EXAMPLES["asgi_http"])
def test_asgi_http_never_leaks_and_keeps_protected(**kwargs: Any) -> None:
    asgi_http_property(**kwargs)


@pytest.mark.slow
@pytest.mark.timeout(1200)
@given(**asgi_http_args)
@_settings(FAST_EXAMPLES["asgi_http"] * SLOW_FACTOR)
def test_asgi_http_never_leaks_and_keeps_protected_long(**kwargs: Any) -> None:
    asgi_http_property(**kwargs)


KEY = WS_KEY.encode()
HANDSHAKE: list[Header] = handshake_headers("example.com", origin="https://app.example.com")
HANDSHAKE_WORDS = [KEY, b"13", b"8", b"websocket", b"Upgrade", b"keep-alive, Upgrade", b"short", b"null", b""]


@st.composite
def handshakes(draw: st.DrawFn) -> list[Header]:
    """A valid opening handshake with each field kept, dropped, doubled or replaced."""
    headers: list[Header] = []
    for name, value in HANDSHAKE:
        how = draw(st.sampled_from(["keep", "keep", "keep", "drop", "double", "replace"]))
        if how in ("keep", "double"):
            headers.append((name, value))
        if how == "double":
            headers.append((name, value))
        if how == "replace":
            headers.append((name, draw(st.one_of(st.sampled_from(HANDSHAKE_WORDS), byte_values))))
    extra = draw(header_lists(client_names, byte_values))
    return headers + [(n, v) for n, v in extra if n not in (b"host", b"origin")]


def asgi_websocket_property(
    *, config: str, client: list[Header], accept_headers: list[Header], extension: bool
) -> None:
    oracle = Oracle(LOADED[config])
    middleware = ASGI[config]
    called: list[bool] = []

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        called.append(True)
        assert (await receive())["type"] == "websocket.connect"
        await send({"type": "websocket.accept", "headers": list(accept_headers)})
        await send({"type": "websocket.close", "code": 1000})

    middleware.app = app
    scope = {
        "type": "websocket",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "scheme": "ws",
        "path": "/ws",
        "headers": client,
        "subprotocols": [],
        "extensions": {"websocket.http.response": {}} if extension else {},
    }
    server = FakeServer([{"type": "websocket.connect"}])
    try:
        drive(middleware(scope, server.receive, server.send))
    except ForbiddenHeaderError:
        assert oracle.config.strict
        return
    if not called:
        first = server.sent[0]
        if extension:
            assert first["type"] == "websocket.http.response.start"
            assert first["status"] in (400, 403, 426)
            if first["status"] == 426:  # RFC 6455 §4.4: the version the server speaks
                assert (b"sec-websocket-version", b"13") in list(first["headers"]), first
        else:
            assert first == {"type": "websocket.close", "code": 1008}
        return
    if all(h in client for h in HANDSHAKE) and len(client) == len(HANDSHAKE):
        assert called  # the untouched handshake is never refused
    accepts = [m for m in server.sent if m["type"] == "websocket.accept"]
    assert len(accepts) == 1
    out = list(accepts[0]["headers"])
    nominated = oracle.nominated([v for n, v in accept_headers if reads_as_connection(n)])
    for name, _ in out:
        assert name.lower() not in oracle.stripped, out  # the server writes Upgrade/Connection itself
        assert name.lower() not in nominated, out
        assert valid_name(name), out
    expected = [
        (n, v) for n, v in accept_headers if valid_name(n) and n.lower() not in oracle.stripped | nominated
    ]
    assert out == expected


asgi_ws_args = {
    "config": st.sampled_from(sorted(CONFIGS)),
    "client": st.one_of(handshakes(), st.just(list(HANDSHAKE))),
    "accept_headers": header_lists(app_names, byte_values),
    "extension": st.booleans(),
}


@given(**asgi_ws_args)
@_settings(FAST_EXAMPLES["asgi_ws"])
def test_asgi_websocket_handshakes_and_accept_headers(**kwargs: Any) -> None:
    asgi_websocket_property(**kwargs)


@pytest.mark.slow
@pytest.mark.timeout(1200)
@given(**asgi_ws_args)
@_settings(FAST_EXAMPLES["asgi_ws"] * SLOW_FACTOR)
def test_asgi_websocket_handshakes_and_accept_headers_long(**kwargs: Any) -> None:
    asgi_websocket_property(**kwargs)


# --------------------------------------------------------------------------------------
# WSGI
# --------------------------------------------------------------------------------------

SERVERS = {
    "WSGIServer/0.2 CPython/3.11": "quiet",  # wsgiref: asserts on any hop-by-hop field
    "Werkzeug/3.1.9": "quiet",
    "gunicorn/27.0.1": "closer",  # writes its own Connection field
    "Granian": "fields",  # sends connmw's Connection field
    "SomethingElse/1.0": "closes",  # not recognised: a close of the app's or connmw's only
}
PROFILES = {
    "WSGIServer/0.2 CPython/3.11": "wsgiref",
    "Werkzeug/3.1.9": "werkzeug",
    "gunicorn/27.0.1": "gunicorn",
    "Granian": "granian",
    "SomethingElse/1.0": "auto",
}
"""The profile each fake server stands for (its SERVER_SOFTWARE alone recognises nothing)."""
WSGI_METHODS = ["GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS"]

_WSGI_NAME = re.compile(r"[a-zA-Z][a-zA-Z0-9\-_]*")
text_values = byte_values.map(lambda v: v.decode("latin-1")).filter(
    lambda v: not re.search(r"[\x00-\x1f]", v)
)
wsgi_app_names = (
    st.tuples(st.sampled_from(NAME_POOL), st.integers(0, 2))
    .map(lambda p: _cased(*p).decode())
    .filter(lambda n: _WSGI_NAME.fullmatch(n) is not None and n[-1] not in "-_")
)
# Request header names that reach the environ as HTTP_* (Content-Type and Content-Length
# become CONTENT_TYPE and CONTENT_LENGTH, and wsgiref.validate warns about HTTP_ twins).
wsgi_client_names = client_names.filter(
    lambda n: n not in (b"content-type", b"content-length") and b"_" not in n
)


def _no_controls(value: str) -> str:
    """PEP 3333 (and wsgiref.validate): no control characters in response header values."""
    return re.sub(r"[\x00-\x1f]", " ", value)


wsgi_app_headers = header_lists(
    wsgi_app_names.map(str.encode), text_values.map(lambda v: v.encode("latin-1"))
).map(lambda hs: [(n.decode(), _no_controls(v.decode("latin-1"))) for n, v in hs])
wsgi_client_headers = header_lists(wsgi_client_names, text_values.map(lambda v: v.encode("latin-1")))


def environ_for(version: str, method: str, client: list[Header], software: str, port: int) -> dict[str, Any]:
    environ: dict[str, Any] = {
        "REQUEST_METHOD": method,
        "SERVER_PROTOCOL": {"1.0": "HTTP/1.0", "1.1": "HTTP/1.1", "2": "HTTP/2"}.get(version, version),
        "SERVER_SOFTWARE": software,
        "REMOTE_ADDR": "127.0.0.1",
        "REMOTE_PORT": str(port),
        "QUERY_STRING": "",
        "wsgi.input": io.BytesIO(b""),
    }
    for name, value in client:
        key = "HTTP_" + name.decode("latin-1").upper().replace("-", "_")
        text = value.decode("latin-1")
        environ[key] = f"{environ[key]}, {text}" if key in environ else text
    setup_testing_defaults(environ)
    return environ


def merged(client: list[Header]) -> list[Header]:
    """The client's headers as an environ holds them: one entry per name, lines joined."""
    joined: dict[bytes, list[bytes]] = {}
    for name, value in client:
        joined.setdefault(name, []).append(value)
    return [(name, b", ".join(values)) for name, values in joined.items()]


def wsgi_property(
    *,
    config: str,
    version: str,
    method: str,
    client: list[Header],
    software: str,
    status: int,
    app_headers: list[tuple[str, str]],
    parts: list[bytes],
    draining: bool,
    port: int,
) -> None:
    oracle = Oracle(LOADED[config])
    seen: dict[str, Any] = {}
    if status in (204, 304):
        app_headers = [(n, v) for n, v in app_headers if n.lower() != "content-type"]
    else:
        app_headers = [("Content-Type", "text/plain"), *app_headers]

    def app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        seen.update(environ)
        start_response(f"{status} Status", list(app_headers))
        return list(parts)

    middleware = connmw_wsgi.ConnectionMiddleware(
        validator(app), config=replace(LOADED[config], server=PROFILES[software])
    )
    outer = validator(middleware)
    environ = environ_for(version, method, client, software, port)
    original = dict(environ)
    given_to_server: list[list[tuple[str, str]]] = []

    def start_response(status_line: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        given_to_server.append(headers)
        return lambda data: None

    if draining:
        drain()
    try:
        result = outer(environ, start_response)
        try:
            body = b"".join(result)
        finally:
            result.close()  # type: ignore[attr-defined]
    except ForbiddenHeaderError:
        assert oracle.config.strict
        return
    except ForbiddenBodyError as error:
        assert oracle.config.strict and error.reason == no_content_reason(method, status) and any(parts)
        return
    except SwitchingProtocolsError:
        assert status == 101  # connmw refuses a 101 the request did not ask for, by design
        return
    finally:
        undrain()

    assert len(given_to_server) == 1
    out = [(n.encode("latin-1", "replace"), v.encode("latin-1", "replace")) for n, v in given_to_server[0]]
    if not seen:  # a WebSocket attempt connmw refused before the application
        assert "websocket" in original.get("HTTP_UPGRADE", "").lower()
        assert given_to_server[0][0] == ("Content-Type", "text/plain; charset=utf-8")
        return
    assert body == (b"" if no_content_reason(method, status) else b"".join(parts))
    kind = SERVERS[software]
    # granian answers an HTTP/1.0 keep-alive request with its own "keep-alive" and would
    # merge a "close" into it, so connmw sends no close there (connmw.wsgi, FIELDS).
    granian_http10_keep_alive = (
        kind == "fields"
        and normal_version(original["SERVER_PROTOCOL"]) == "1.0"
        and b"keep-alive" in tokens(v for n, v in client if n == b"connection")
    )
    if granian_http10_keep_alive:
        assert ("Connection", "close") not in given_to_server[0]
    if kind != "fields":
        for name, value in given_to_server[0]:  # what wsgiref would refuse with a 500
            allowed = status == 101 or (kind == "closes" and (name, value) == ("Connection", "close"))
            assert not is_hop_by_hop(name) or allowed, given_to_server[0]
    app_bytes = [(n.encode(), v.encode("latin-1")) for n, v in app_headers]
    app_has_length = any(name.lower() == b"content-length" for name, _ in app_bytes)
    added = not app_has_length and any(name.lower() == b"content-length" for name, _ in out)
    if added:  # only ever a held HTTP/1.0 body, with its true length
        assert normal_version(original["SERVER_PROTOCOL"]) == "1.0", out
        assert [v for n, v in out if n.lower() == b"content-length"] == [b"%d" % len(body)], out
    check_response(
        oracle,
        version=normal_version(original["SERVER_PROTOCOL"]),
        client=merged(client),
        app=app_bytes,
        out=out,
        status=status,
        draining=draining,
        added_length=added,
        fields_expected=kind in ("fields", "closes"),
        close_announced=not granian_http10_keep_alive,
        closes_only=kind == "closes",
    )
    http_seen = [
        (key[5:].lower().replace("_", "-").encode(), value.encode("latin-1"))
        for key, value in seen.items()
        if key.startswith("HTTP_")
    ]
    http_sent = [
        (key[5:].lower().replace("_", "-").encode(), value.encode("latin-1"))
        for key, value in original.items()
        if key.startswith("HTTP_")
    ]
    if oracle.config.strip_request_headers:
        check_request(oracle, normal_version(original["SERVER_PROTOCOL"]), http_sent, http_seen)
    else:
        assert http_seen == http_sent


wsgi_args = {
    "config": st.sampled_from(sorted(CONFIGS)),
    "version": st.sampled_from(["1.1", "1.1", "1.0", "2", "HTTP/0.9"]),
    "method": st.sampled_from(WSGI_METHODS),
    "client": st.one_of(wsgi_client_headers, handshakes().map(lambda hs: [h for h in hs if _wsgi_safe(h)])),
    "software": st.sampled_from(sorted(SERVERS)),
    "status": st.sampled_from([200, 200, 101, 204, 304, 404, 500]),
    "app_headers": wsgi_app_headers,
    "parts": bodies,
    "draining": st.booleans(),
    "port": st.integers(40000, 40003),
}


def _wsgi_safe(header: Header) -> bool:
    name, value = header
    return name not in (b"content-type", b"content-length") and b"_" not in name and b"\n" not in value


@given(**wsgi_args)
@_settings(FAST_EXAMPLES["wsgi"])
def test_wsgi_never_leaks_and_keeps_protected(**kwargs: Any) -> None:
    wsgi_property(**kwargs)


@pytest.mark.slow
@pytest.mark.timeout(1200)
@given(**wsgi_args)
@_settings(FAST_EXAMPLES["wsgi"] * SLOW_FACTOR)
def test_wsgi_never_leaks_and_keeps_protected_long(**kwargs: Any) -> None:
    wsgi_property(**kwargs)


@pytest.mark.parametrize(
    "pair",
    [
        pytest.param(("connection", "keep-alive"), id="connection-keep-alive"),
        pytest.param(("connection", "close"), id="connection-close"),
    ],
)
def test_wsgi_app_field_equal_to_connmws_own_is_not_sent(pair: tuple[str, str]) -> None:
    """Found by the WSGI property: an app pair byte-equal to the field connmw appends was
    taken for connmw's own and sent to wsgiref, which answers 500 to any Connection field."""

    def app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain"), pair])
        return [b"ok"]

    given: list[list[tuple[str, str]]] = []
    environ = environ_for("1.1", "GET", [], "WSGIServer/0.2 CPython/3.11", 40000)
    wsgiref = replace(LOADED["default"], server="wsgiref")
    result = validator(connmw_wsgi.ConnectionMiddleware(validator(app), config=wsgiref))(
        environ, lambda status, headers, exc_info=None: given.append(headers)
    )
    b"".join(result)
    result.close()  # type: ignore[attr-defined]
    assert given == [[("Content-Type", "text/plain")]]  # wsgiref answers 500 to a Connection field


# --------------------------------------------------------------------------------------
# The atheris target (tests/fuzz_rules.py) stays runnable: its checks on random bytes
# --------------------------------------------------------------------------------------


@given(st.binary(max_size=600))
@_settings(300)
def test_fuzz_target_accepts_any_input(data: bytes) -> None:
    fuzz_rules.one_input(data)
