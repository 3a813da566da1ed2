"""Persistence (RFC 9112 §9.3) and the one decision of a response's connection fields.

The three curl requests of the Heroku question (README, "Why") and the servers' observed
behaviour (docs/servers.md, "What servers do without connmw") are the vectors: with connmw
every server must answer like Heroku's router, HTTP/1.1 → ``keep-alive``, HTTP/1.0 →
``close``, ``Connection: close`` → ``close`` (docs/policy.md, "Persistence").
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from connmw.rules import Header, Policy, RequestFacts

CLOSE: tuple[Header, ...] = ((b"connection", b"close"),)
KEEP: tuple[Header, ...] = ((b"connection", b"keep-alive"),)
UPGRADE: tuple[Header, ...] = ((b"connection", b"upgrade"),)
NONE: tuple[Header, ...] = ()

PLAIN: list[Header] = [(b"content-type", b"text/plain"), (b"content-length", b"2")]
"""The ``plain`` test app (tests/apps/bare_*.py)."""

HOPPY: list[Header] = [
    (b"Content-Type", b"text/plain"),
    (b"Connection", b"keep-alive, x-hop"),
    (b"Keep-Alive", b"timeout=5, max=1000"),
    (b"X-Hop", b"secret"),
    (b"Upgrade", b"foo"),
    (b"Proxy-Connection", b"keep-alive"),
    (b"Transfer-Encoding", b"chunked"),
]
"""The ``hoppy`` test app: every hop-by-hop header it could send."""


def facts(
    version: str = "1.1",
    *headers: Header,
    policy: Policy | None = None,
) -> RequestFacts:
    return (policy or Policy()).read_request(version, list(headers))


# --------------------------------------------------------------------------------------
# Persistence of the request (RFC 9112 §9.3)
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("version", "connection", "http10_keep_alive", "persistent"),
    [
        pytest.param("1.1", [], False, True, id="http11-is-persistent-by-default"),
        pytest.param("1.1", [b"close"], False, False, id="http11-close-is-not-persistent"),
        pytest.param("1.1", [b"Close"], False, False, id="http11-close-in-title-case-is-not-persistent"),
        pytest.param("1.1", [b"keep-alive"], False, True, id="http11-keep-alive-is-persistent"),
        pytest.param("1.1", [b"keep-alive, close"], False, False, id="http11-close-beats-keep-alive"),
        pytest.param(
            "1.1", [b"keep-alive", b"close"], False, False, id="http11-close-on-a-second-line-counts"
        ),
        pytest.param("1.1", [b"x-foo"], False, True, id="http11-a-nominated-header-changes-nothing"),
        pytest.param("1.1", [b"clos e"], False, True, id="http11-an-invalid-token-is-not-close"),
        pytest.param("1.0", [], False, False, id="http10-closes-by-default"),
        pytest.param("1.0", [], True, False, id="http10-without-keep-alive-closes-even-when-opt-in-is-on"),
        pytest.param(
            "1.0", [b"keep-alive"], False, False, id="http10-keep-alive-is-ignored-by-default-like-h11"
        ),
        pytest.param("1.0", [b"keep-alive"], True, True, id="http10-keep-alive-opt-in-like-gunicorn"),
        pytest.param("1.0", [b"Keep-Alive"], True, True, id="http10-keep-alive-opt-in-is-case-insensitive"),
        pytest.param(
            "1.0", [b"keep-alive, close"], True, False, id="http10-close-beats-keep-alive-with-opt-in"
        ),
        pytest.param("HTTP/1.1", [], False, True, id="wsgi-http11-is-persistent"),
        pytest.param("HTTP/1.0", [b"keep-alive"], True, True, id="wsgi-http10-keep-alive-opt-in"),
        pytest.param("HTTP/0.9", [b"keep-alive"], True, True, id="an-unknown-version-is-treated-as-http10"),
        pytest.param("2", [], False, True, id="http2-streams-never-close-the-connection"),
        pytest.param("2", [b"close"], False, True, id="http2-ignores-a-malformed-connection-close"),
        pytest.param("3", [], False, True, id="http3-streams-never-close-the-connection"),
    ],
)
def test_persistence(
    version: str, connection: list[bytes], http10_keep_alive: bool, persistent: bool
) -> None:
    policy = Policy(http10_keep_alive=http10_keep_alive)
    request = policy.read_request(version, [(b"host", b"h"), *((b"connection", v) for v in connection)])
    assert request.persistent is persistent
    joined = b", ".join(connection) if connection else None
    assert policy.request_facts(version, joined).persistent is persistent
    text = joined.decode("latin-1") if joined is not None else None
    assert policy.request_facts(version, text).persistent is persistent  # WSGI's str environ


@pytest.mark.parametrize(
    ("version", "headers", "offered"),
    [
        pytest.param(
            "1.1",
            [(b"connection", b"Upgrade"), (b"upgrade", b"websocket")],
            (b"websocket",),
            id="rfc-6455-handshake-offers-websocket",
        ),
        pytest.param(
            "1.1",
            [(b"connection", b"Upgrade"), (b"upgrade", b"WebSocket/13")],
            (b"websocket",),
            id="websocket-with-a-version-suffix-is-websocket",
        ),
        pytest.param(
            "1.1",
            [(b"connection", b"Upgrade, HTTP2-Settings"), (b"upgrade", b"h2c")],
            (b"h2c",),
            id="an-h2c-upgrade-offers-h2c",
        ),
        pytest.param(
            "1.1",
            [(b"connection", b"upgrade"), (b"upgrade", b"http/3.0"), (b"upgrade", b"websocket")],
            (b"http/3.0", b"websocket"),
            id="several-upgrade-lines-offer-every-protocol-in-order",
        ),
        pytest.param(
            "1.1",
            [(b"connection", b"keep-alive"), (b"upgrade", b"websocket")],
            (),
            id="upgrade-without-the-upgrade-connection-option-is-ignored-rfc-9110-7-8",
        ),
        pytest.param(
            "1.1", [(b"connection", b"upgrade")], (), id="the-upgrade-option-without-upgrade-offers-nothing"
        ),
        pytest.param(
            "1.0",
            [(b"connection", b"upgrade"), (b"upgrade", b"websocket")],
            (),
            id="an-http10-upgrade-is-ignored-rfc-9110-7-8",
        ),
        pytest.param(
            "2",
            [(b"connection", b"upgrade"), (b"upgrade", b"websocket")],
            (),
            id="http2-has-no-upgrade-rfc-9113-8-6",
        ),
    ],
)
def test_upgrade_offers(version: str, headers: list[Header], offered: tuple[bytes, ...]) -> None:
    request = Policy().read_request(version, headers)
    assert request.upgrade == offered
    assert request.upgrade_requested is bool(offered)
    assert request.websocket is (b"websocket" in offered)


@pytest.mark.parametrize(
    ("version", "multiplexed"),
    [
        pytest.param("1.0", False, id="http10-is-not-multiplexed"),
        pytest.param("HTTP/1.1", False, id="http11-is-not-multiplexed"),
        pytest.param("2", True, id="http2-is-multiplexed"),
        pytest.param("HTTP/3", True, id="http3-is-multiplexed"),
    ],
)
def test_multiplexed(version: str, multiplexed: bool) -> None:
    assert Policy().request_facts(version, None).multiplexed is multiplexed


@pytest.mark.parametrize(
    ("version", "connection"),
    [
        pytest.param("1.1", None, id="a-plain-http11-request"),
        pytest.param("1.1", b"keep-alive", id="an-http11-keep-alive-request"),
        pytest.param("1.0", b"close", id="an-http10-close-request"),
        pytest.param("HTTP/1.1", "keep-alive", id="a-wsgi-keep-alive-request"),
        pytest.param("2", None, id="an-http2-request"),
        pytest.param("1.1", b"x-custom", id="a-request-with-an-unusual-connection-value-once-seen"),
    ],
)
def test_common_requests_are_answered_from_the_cache(version: str, connection: bytes | str | None) -> None:
    policy = Policy()
    first = policy.request_facts(version, connection)
    assert policy.request_facts(version, connection) is first


def test_requests_with_upgrade_are_never_cached() -> None:
    policy = Policy()
    websocket = policy.request_facts("1.1", b"upgrade", b"websocket")
    assert websocket.websocket
    again = policy.request_facts("1.1", b"upgrade", b"websocket")
    assert again == websocket
    assert again is not websocket  # read afresh each time: no cache holds a request with Upgrade
    plain = policy.request_facts("1.1", b"upgrade")
    assert not plain.upgrade_requested  # nor is its answer stored under the Connection value alone
    assert policy.request_facts("1.1", b"upgrade") is plain  # which, without Upgrade, is cached
    assert policy.request_facts("1.1", b"upgrade", b"websocket").websocket  # and does not leak back


@pytest.mark.parametrize(
    ("headers", "persistent", "upgrade_requested"),
    [
        pytest.param(
            [(b"connection", b"close"), (b"host", b"a", b"extra")], False, False, id="a-three-item-pair"
        ),
        pytest.param([[b"connection", b"close"]], False, False, id="pairs-as-lists"),
        pytest.param(
            [(bytearray(b"host"), b"a"), (b"x", b"y", b"z"), (b"connection", b"close")],
            False,
            False,
            id="a-name-with-no-hash-beside-a-three-item-pair",
        ),
        pytest.param(
            [(bytearray(b"connection"), b"close"), (b"x", b"y", b"z")],
            False,
            False,
            id="a-bytearray-connection-name-is-read",
        ),
        pytest.param(
            [(b"connection", b"upgrade"), (b"upgrade", b"h2c"), (b"connection", b"close"), (b"x",)],
            False,
            True,
            id="repeated-lines-among-odd-pairs-are-joined",
        ),
    ],
)
def test_loose_pairs_are_read_item_by_item(
    headers: list[Any], persistent: bool, upgrade_requested: bool
) -> None:
    # Servers give (name, value) tuples; anything else a framework builds is read item by
    # item (rules.Pairs), and never raises: the request's answer or what a fresh read says.
    facts = Policy().read_request("1.1", headers)
    assert (facts.persistent, facts.upgrade_requested) == (persistent, upgrade_requested)


# --------------------------------------------------------------------------------------
# connection_fields: the one decision
# --------------------------------------------------------------------------------------

_WS_REQUEST = ((b"connection", b"Upgrade"), (b"upgrade", b"websocket"))


@pytest.mark.parametrize(
    ("options", "version", "request_headers", "status", "kwargs", "fields", "close"),
    [
        # The three curl requests, explicit_keep_alive on (the default).
        pytest.param({}, "1.1", (), 200, {}, KEEP, False, id="curl-http11-answers-keep-alive"),
        pytest.param({}, "1.0", (), 200, {}, CLOSE, True, id="curl-http10-answers-close"),
        pytest.param(
            {},
            "1.1",
            ((b"connection", b"close"),),
            200,
            {},
            CLOSE,
            True,
            id="curl-http11-close-answers-close",
        ),
        pytest.param(
            {},
            "1.0",
            ((b"connection", b"keep-alive"),),
            200,
            {},
            CLOSE,
            True,
            id="http10-keep-alive-is-refused-with-close-by-default",
        ),
        # explicit_keep_alive off: HTTP/1.1 persistence goes unsaid, as on uvicorn.
        pytest.param(
            {"explicit_keep_alive": False},
            "1.1",
            (),
            200,
            {},
            NONE,
            False,
            id="explicit-off-http11-says-nothing",
        ),
        pytest.param(
            {"explicit_keep_alive": False},
            "1.1",
            ((b"connection", b"close"),),
            200,
            {},
            CLOSE,
            True,
            id="explicit-off-still-says-close",
        ),
        pytest.param(
            {"explicit_keep_alive": False, "http10_keep_alive": True},
            "1.0",
            ((b"connection", b"keep-alive"),),
            200,
            {},
            KEEP,
            False,
            id="explicit-off-http10-keep-alive-must-still-be-said-to-an-http10-client",
        ),
        # HTTP/1.0 opt-in.
        pytest.param(
            {"http10_keep_alive": True},
            "1.0",
            ((b"connection", b"keep-alive"),),
            200,
            {},
            KEEP,
            False,
            id="http10-keep-alive-opt-in",
        ),
        pytest.param(
            {"http10_keep_alive": True},
            "1.0",
            ((b"connection", b"keep-alive"),),
            200,
            {"has_length": False},
            CLOSE,
            True,
            id="http10-keep-alive-response-without-content-length-must-close",
        ),
        pytest.param(
            {"http10_keep_alive": True},
            "1.0",
            ((b"connection", b"keep-alive"),),
            204,
            {"has_length": False},
            KEEP,
            False,
            id="http10-keep-alive-204-has-no-body-so-needs-no-length",
        ),
        pytest.param(
            {"http10_keep_alive": True},
            "1.0",
            ((b"connection", b"keep-alive"),),
            304,
            {"has_length": False},
            KEEP,
            False,
            id="http10-keep-alive-304-has-no-body-so-needs-no-length",
        ),
        pytest.param(
            {"http10_keep_alive": True},
            "1.0",
            (),
            200,
            {},
            CLOSE,
            True,
            id="http10-without-keep-alive-closes-with-the-opt-in-on",
        ),
        pytest.param(
            {},
            "1.1",
            (),
            200,
            {"has_length": False},
            CLOSE,
            True,
            id="http11-body-the-server-will-not-delimit-closes-rfc9112-6.3",
        ),
        # The app's wish and the server's reasons.
        pytest.param(
            {}, "1.1", (), 200, {"app_close": True}, CLOSE, True, id="the-apps-close-wish-is-honoured"
        ),
        pytest.param(
            {}, "1.1", (), 200, {"server_close": True}, CLOSE, True, id="a-server-reason-to-close-closes"
        ),
        pytest.param(
            {"http10_keep_alive": True},
            "1.0",
            ((b"connection", b"keep-alive"),),
            200,
            {"server_close": True},
            CLOSE,
            True,
            id="draining-closes-an-http10-keep-alive-connection-too",
        ),
        # 101.
        pytest.param(
            {}, "1.1", _WS_REQUEST, 101, {}, UPGRADE, False, id="a-101-to-an-upgrade-request-says-upgrade"
        ),
        pytest.param(
            {},
            "1.1",
            _WS_REQUEST,
            101,
            {"server_close": True},
            UPGRADE,
            False,
            id="a-101-switches-even-while-draining-the-socket-is-no-longer-http",
        ),
        pytest.param(
            {}, "1.1", (), 101, {}, (), False, id="a-101-to-a-plain-request-is-interim-and-decides-nothing"
        ),
        pytest.param(
            {}, "1.1", _WS_REQUEST, 400, {}, KEEP, False, id="a-refused-upgrade-stays-http-and-persistent"
        ),
        # HTTP/2 and HTTP/3: never a connection-specific field (RFC 9113 §8.2.2, RFC 9114 §4.2).
        pytest.param({}, "2", (), 200, {}, NONE, False, id="http2-never-gets-a-connection-field"),
        pytest.param(
            {},
            "2",
            (),
            200,
            {"app_close": True, "server_close": True},
            NONE,
            False,
            id="http2-ignores-close-wishes",
        ),
        pytest.param(
            {"keep_alive_timeout": 5},
            "3",
            (),
            200,
            {"requests_left": 3},
            NONE,
            False,
            id="http3-never-gets-a-keep-alive-hint",
        ),
        pytest.param({}, "2", _WS_REQUEST, 101, {}, NONE, False, id="http2-never-gets-connection-upgrade"),
        # Keep-Alive hint (issue 5): only on persistent HTTP/1.x responses.
        pytest.param(
            {"keep_alive_timeout": 5},
            "1.1",
            (),
            200,
            {},
            (*KEEP, (b"keep-alive", b"timeout=5")),
            False,
            id="keep-alive-timeout-adds-the-hint",
        ),
        pytest.param(
            {"keep_alive_timeout": 5},
            "1.1",
            (),
            200,
            {"requests_left": 7},
            (*KEEP, (b"keep-alive", b"timeout=5, max=7")),
            False,
            id="requests-left-adds-max-to-the-hint",
        ),
        pytest.param(
            {},
            "1.1",
            (),
            200,
            {"requests_left": 7},
            KEEP,
            False,
            id="requests-left-without-a-timeout-adds-no-hint",
        ),
        pytest.param(
            {"keep_alive_timeout": 5},
            "1.1",
            (),
            200,
            {"server_close": True, "requests_left": 0},
            CLOSE,
            True,
            id="no-hint-on-a-closing-response",
        ),
        pytest.param(
            {"keep_alive_timeout": 5},
            "1.0",
            (),
            200,
            {},
            CLOSE,
            True,
            id="no-hint-to-an-http10-client-that-did-not-ask-to-keep-alive",
        ),
        pytest.param(
            {"keep_alive_timeout": 5, "http10_keep_alive": True},
            "1.0",
            ((b"connection", b"keep-alive"),),
            200,
            {"requests_left": 2},
            (*KEEP, (b"keep-alive", b"timeout=5, max=2")),
            False,
            id="the-hint-on-a-persistent-http10-response",
        ),
        pytest.param(
            {"keep_alive_timeout": 5},
            "1.1",
            _WS_REQUEST,
            101,
            {},
            UPGRADE,
            False,
            id="no-hint-on-a-101",
        ),
        pytest.param(
            {"keep_alive_timeout": 5, "explicit_keep_alive": False},
            "1.1",
            (),
            200,
            {},
            (*KEEP, (b"keep-alive", b"timeout=5")),
            False,
            id="a-configured-hint-is-sent-with-explicit-off-and-carries-keep-alive-in-connection",
        ),
        pytest.param(
            {"keep_alive_timeout": 5, "explicit_keep_alive": False},
            "1.1",
            (),
            200,
            {"app_close": True},
            CLOSE,
            True,
            id="a-configured-hint-with-explicit-off-is-never-on-a-closing-response",
        ),
    ],
)
def test_connection_fields(
    *,
    options: dict[str, Any],
    version: str,
    request_headers: tuple[Header, ...],
    status: int,
    kwargs: dict[str, Any],
    fields: tuple[Header, ...],
    close: bool,
) -> None:
    policy = Policy(**options)
    request = policy.read_request(version, list(request_headers))
    assert policy.connection_fields(request, status, **kwargs) == (fields, close)


def test_close_is_sent_as_a_field_of_its_own() -> None:
    # uvicorn's httptools path notices only the exact value "close" (style.md, rule 10).
    policy = Policy(keep_alive_timeout=5)
    fields, close = policy.connection_fields(facts("1.1", (b"connection", b"close")), 200)
    assert close
    assert [value for name, value in fields if name == b"connection"] == [b"close"]


# --------------------------------------------------------------------------------------
# finish_response: the headers that go out
# --------------------------------------------------------------------------------------

_CT = (b"Content-Type", b"text/plain")


@pytest.mark.parametrize(
    (
        "options",
        "version",
        "request_headers",
        "status",
        "app_headers",
        "kwargs",
        "expected",
        "close",
        "removed",
    ),
    [
        pytest.param(
            {},
            "1.1",
            (),
            200,
            PLAIN,
            {},
            [*PLAIN, *KEEP],
            False,
            (),
            id="plain-app-on-http11-gets-keep-alive",
        ),
        pytest.param(
            {}, "1.0", (), 200, PLAIN, {}, [*PLAIN, *CLOSE], True, (), id="plain-app-on-http10-gets-close"
        ),
        pytest.param(
            {},
            "1.1",
            ((b"connection", b"close"),),
            200,
            PLAIN,
            {},
            [*PLAIN, *CLOSE],
            True,
            (),
            id="plain-app-on-http11-close-gets-close",
        ),
        pytest.param(
            {"http10_keep_alive": True},
            "1.0",
            ((b"connection", b"keep-alive"),),
            200,
            PLAIN,
            {},
            [*PLAIN, *KEEP],
            False,
            (),
            id="plain-app-on-http10-keep-alive-opt-in-gets-keep-alive",
        ),
        pytest.param(
            {"http10_keep_alive": True},
            "1.0",
            ((b"connection", b"keep-alive"),),
            200,
            [(b"content-type", b"text/plain")],
            {},
            [(b"content-type", b"text/plain"), *CLOSE],
            True,
            (),
            id="http10-keep-alive-response-without-content-length-closes",
        ),
        pytest.param(
            {"http10_keep_alive": True},
            "1.0",
            ((b"connection", b"keep-alive"),),
            200,
            [(b"Content-Length", b"2")],
            {},
            [(b"Content-Length", b"2"), *KEEP],
            False,
            (),
            id="http10-keep-alive-finds-content-length-in-any-case",
        ),
        pytest.param(
            {"http10_keep_alive": True},
            "1.0",
            ((b"connection", b"keep-alive"),),
            200,
            [(b"content-type", b"text/plain"), (b"transfer-encoding", b"chunked")],
            {},
            [(b"content-type", b"text/plain"), *CLOSE],
            True,
            (b"transfer-encoding",),
            id="never-chunked-framing-to-an-http10-client-it-closes-instead",
        ),
        pytest.param(
            {},
            "1.1",
            (),
            200,
            HOPPY,
            {},
            [_CT, *KEEP],
            False,
            (b"connection", b"keep-alive", b"x-hop", b"upgrade", b"proxy-connection", b"transfer-encoding"),
            id="hoppy-app-on-http11-loses-every-hop-by-hop-and-nominated-header",
        ),
        pytest.param(
            {},
            "1.0",
            (),
            200,
            HOPPY,
            {},
            [_CT, *CLOSE],
            True,
            (b"connection", b"keep-alive", b"x-hop", b"upgrade", b"proxy-connection", b"transfer-encoding"),
            id="hoppy-app-on-http10-gets-one-close-and-no-keep-alive-unlike-uvicorn",
        ),
        pytest.param(
            {},
            "2",
            (),
            200,
            HOPPY,
            {},
            [_CT],
            False,
            (b"connection", b"keep-alive", b"x-hop", b"upgrade", b"proxy-connection", b"transfer-encoding"),
            id="hoppy-app-on-http2-leaks-no-nominated-x-hop-unlike-hypercorn",
        ),
        pytest.param(
            {},
            "2",
            (),
            200,
            [(b"content-type", b"text/event-stream"), (b"Connection", b"keep-alive")],
            {},
            [(b"content-type", b"text/event-stream")],
            False,
            (),
            id="sse-starlette-keep-alive-is-dropped-on-http2",
        ),
        pytest.param(
            {},
            "2",
            (),
            200,
            [(b"te", b"trailers"), (b"trailer", b"x-checksum")],
            {},
            [(b"trailer", b"x-checksum")],
            False,
            (b"te",),
            id="te-trailers-is-not-allowed-in-an-http2-response-unlike-the-h2-library",
        ),
        pytest.param(
            {},
            "1.1",
            (),
            200,
            [(b"Connection", b"close"), *PLAIN],
            {},
            [*PLAIN, *CLOSE],
            True,
            (),
            id="the-apps-own-close-is-honoured-and-not-a-correction",
        ),
        pytest.param(
            {},
            "1.1",
            (),
            200,
            [(b"connection", b"keep-alive"), (b"connection", b"close"), *PLAIN],
            {},
            [*PLAIN, *CLOSE],
            True,
            (),
            id="the-apps-two-connection-lines-become-one-close",
        ),
        pytest.param(
            {},
            "1.0",
            (),
            200,
            [(b"Connection", b"keep-alive"), *PLAIN],
            {},
            [*PLAIN, *CLOSE],
            True,
            (),
            id="the-apps-keep-alive-wish-cannot-keep-an-http10-connection-open-unlike-granian",
        ),
        pytest.param(
            {},
            "1.1",
            (),
            200,
            [(b"Connection", b"close, Content-Length, Set-Cookie"), *PLAIN, (b"set-cookie", b"a=1")],
            {},
            [*PLAIN, (b"set-cookie", b"a=1"), *CLOSE],
            True,
            (b"connection",),
            id="the-apps-nomination-of-protected-names-is-ignored-and-reported",
        ),
        pytest.param(
            {},
            "1.1",
            (),
            200,
            [(b"connection", b", ".join(b"x-%d" % i for i in range(17))), (b"x-1", b"v")],
            {},
            [(b"x-1", b"v"), *KEEP],
            False,
            (b"connection",),
            id="an-app-connection-field-with-too-many-tokens-is-reported-and-nominates-nothing",
        ),
        pytest.param(
            {},
            "1.1",
            (),
            200,
            [(b"Connection", b"???"), *PLAIN],
            {},
            [*PLAIN, *KEEP],
            False,
            (b"connection",),
            id="an-app-connection-field-with-an-invalid-token-is-reported",
        ),
        pytest.param(
            {},
            "1.1",
            (),
            200,
            [(b"Proxy-Authenticate", b"Basic"), (b"Trailers", b"x"), (b"Trailer", b"y"), *PLAIN],
            {},
            [(b"Trailer", b"y"), *PLAIN, *KEEP],
            False,
            (b"proxy-authenticate", b"trailers"),
            id="trailer-survives-and-trailers-and-proxy-authenticate-go",
        ),
        pytest.param(
            {"strip_headers": ["server", "x-powered-by"]},
            "1.1",
            (),
            200,
            [(b"Server", b"uvicorn"), (b"X-Powered-By", b"php"), *PLAIN],
            {},
            [*PLAIN, *KEEP],
            False,
            (b"server", b"x-powered-by"),
            id="configured-strip-headers-are-removed-and-reported",
        ),
        pytest.param(
            {},
            "1.1",
            _WS_REQUEST,
            101,
            [(b"Upgrade", b"websocket"), (b"Connection", b"Upgrade"), (b"sec-websocket-accept", b"k")],
            {},
            [(b"Upgrade", b"websocket"), (b"sec-websocket-accept", b"k"), *UPGRADE],
            False,
            (),
            id="a-legitimate-101-keeps-upgrade-and-gets-one-connection-upgrade",
        ),
        pytest.param(
            {},
            "1.1",
            _WS_REQUEST,
            101,
            [(b"Upgrade", b"websocket"), (b"Connection", b"Upgrade, X-Debug"), (b"X-Debug", b"1")],
            {},
            [(b"Upgrade", b"websocket"), *UPGRADE],
            False,
            (b"connection", b"x-debug"),
            id="a-101-whose-connection-nominates-a-header-is-a-correction",
        ),
        pytest.param(
            {},
            "1.1",
            (),
            200,
            [(b"Connection", b"Upgrade"), *PLAIN],
            {},
            [*PLAIN, *KEEP],
            False,
            (b"connection",),
            id="connection-upgrade-on-a-200-is-a-correction",
        ),
        pytest.param(
            {},
            "1.1",
            (),
            200,
            [(b"Upgrade", b"websocket"), *PLAIN],
            {},
            [*PLAIN, *KEEP],
            False,
            (b"upgrade",),
            id="upgrade-on-a-200-is-stripped",
        ),
        pytest.param(
            {},
            "1.1",
            (),
            101,
            [(b"Upgrade", b"websocket")],
            {},
            [],
            False,
            (b"upgrade",),
            id="upgrade-on-a-101-to-a-plain-request-is-stripped",
        ),
        pytest.param(
            {"keep_alive_timeout": 5},
            "1.1",
            (),
            200,
            [(b"Keep-Alive", b"timeout=60"), *PLAIN],
            {"requests_left": 1},
            [*PLAIN, *KEEP, (b"keep-alive", b"timeout=5, max=1")],
            False,
            (b"keep-alive",),
            id="the-apps-keep-alive-hint-is-replaced-by-the-configured-one",
        ),
        pytest.param(
            {},
            "1.1",
            (),
            200,
            PLAIN,
            {"server_close": True},
            [*PLAIN, *CLOSE],
            True,
            (),
            id="draining-turns-a-plain-response-into-close",
        ),
    ],
)
def test_finish_response(
    *,
    options: dict[str, Any],
    version: str,
    request_headers: tuple[Header, ...],
    status: int,
    app_headers: list[Header],
    kwargs: dict[str, Any],
    expected: list[Header],
    close: bool,
    removed: tuple[bytes, ...],
) -> None:
    policy = Policy(**options)
    request = policy.read_request(version, list(request_headers))
    headers, must_close, corrections = policy.finish_response(request, status, app_headers, **kwargs)
    assert (list(headers), must_close, corrections) == (expected, close, removed)
    # The adapters' one-step path answers the same, or defers to finish_response.
    quick = policy.quick_finish(request, status, app_headers)
    clean = not policy.needs_cleaning(app_headers)
    if not kwargs and not close and clean and not request.upgrade and request.http_version != "1.0":
        assert quick is not None
        assert list(quick) == expected
    elif not kwargs:
        assert quick is None


@pytest.mark.parametrize(
    ("options", "version"),
    [
        pytest.param({}, "2", id="http2-response-with-nothing-to-change"),
        pytest.param({}, "3", id="http3-response-with-nothing-to-change"),
        pytest.param({"explicit_keep_alive": False}, "1.1", id="http11-response-with-explicit-off"),
    ],
)
def test_a_response_with_nothing_to_change_is_returned_as_is(options: dict[str, Any], version: str) -> None:
    policy = Policy(**options)
    app_headers = list(PLAIN)
    headers, close, removed = policy.finish_response(policy.read_request(version, []), 200, app_headers)
    assert headers is app_headers
    assert (close, removed) == (False, ())
    assert app_headers == PLAIN


@pytest.mark.parametrize(
    "app_headers",
    [pytest.param(PLAIN, id="plain"), pytest.param(HOPPY, id="hoppy")],
)
def test_finish_response_never_mutates_the_apps_list(app_headers: Sequence[Header]) -> None:
    copy = list(app_headers)
    policy = Policy()
    policy.finish_response(facts("1.1"), 200, copy)
    policy.finish_response(facts("1.0"), 200, copy)
    assert copy == list(app_headers)


def test_finish_response_and_connection_fields_agree() -> None:
    # One decision: finish_response appends exactly what connection_fields says.
    policy = Policy(keep_alive_timeout=9, http10_keep_alive=True)
    for version, request_headers in [
        ("1.1", []),
        ("1.1", [(b"connection", b"close")]),
        ("1.0", [(b"connection", b"keep-alive")]),
        ("1.0", []),
        ("2", []),
    ]:
        request = policy.read_request(version, request_headers)
        fields, close = policy.connection_fields(request, 200, requests_left=4)
        headers, must_close, _ = policy.finish_response(request, 200, PLAIN, requests_left=4)
        assert (list(headers)[len(PLAIN) :], must_close) == (list(fields), close)
