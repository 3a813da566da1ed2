"""Properties of the rules core, checked with hypothesis on arbitrary and adversarial input.

* No public function raises, whatever bytes (or latin-1 text, for WSGI) it is given.
* ``finish_response`` never lets out a hop-by-hop or nominated field (a legitimate 101's
  Upgrade and connmw's own fields aside), emits at most one Connection field, keeps
  every protected and every other end-to-end field in order, and is idempotent.
* ``strip_request`` and ``forwardable_headers`` are idempotent and keep protected names.
* Reading Connection across lines, in any case, as bytes or as str, gives one answer.

Each property runs a few hundred examples in the default run (the file stays well under
30 s) and many more under ``-m slow``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connmw.rules import (
    CONNECTION,
    HOP,
    ORDINARY,
    TE,
    UPGRADE,
    Header,
    OriginPolicy,
    Policy,
    check_switching_protocols,
    forwardable_headers,
    is_token,
    normalize_http_version,
    parse_connection,
    websocket_accept,
)

FAST = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SLOW = settings(max_examples=10_000, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# --------------------------------------------------------------------------------------
# Strategies
# --------------------------------------------------------------------------------------

POLICY_OPTIONS: list[dict[str, Any]] = [
    {},
    {"explicit_keep_alive": False},
    {"http10_keep_alive": True, "keep_alive_timeout": 5},
    {"explicit_keep_alive": False, "keep_alive_timeout": 7, "max_connection_tokens": 2},
    {
        "strip_headers": ["server", "x-a"],
        "protected_headers": ["x-tenant", "x-acme-*"],
        "allowed_origins": ["https://*.example.com", "http://localhost:3000", "null"],
    },
]
POLICIES = [Policy(**options) for options in POLICY_OPTIONS]

NAMES = [
    b"connection",
    b"keep-alive",
    b"proxy-connection",
    b"te",
    b"transfer-encoding",
    b"upgrade",
    b"proxy-authenticate",
    b"proxy-authorization",
    b"trailers",
    b"trailer",
    b"host",
    b"content-length",
    b"content-type",
    b"authorization",
    b"cookie",
    b"set-cookie",
    b"forwarded",
    b"x-forwarded-for",
    b"x-real-ip",
    b"origin",
    b"sec-websocket-key",
    b"sec-websocket-version",
    b"sec-websocket-accept",
    b"x-hop",
    b"x-a",
    b"server",
    b"x-tenant",
    b"x-acme-id",
]
WORDS = [
    *NAMES,
    b"close",
    b"keep-alive",
    b"upgrade",
    b"Close",
    b"UPGRADE",
    b"Keep-Alive",
    b"websocket",
    b"WebSocket/13",
    b"h2c",
    b"trailers",
    b"chunked",
    b"13",
    b"dGhlIHNhbXBsZSBub25jZQ==",
    b"s3pPLMBiTxaQ9kYGzzhZRbK+xOo=",
    b"https://app.example.com",
    b"null",
    b"",
    b" ",
    b"???",
    b"a b",
    b"x;q=0.5",
    b"\xff",
    b"\x00",
]
CASES: list[Callable[[bytes], bytes]] = [bytes, bytes.upper, bytes.title, bytes.swapcase]

lower_names = st.one_of(st.sampled_from(NAMES), st.binary(max_size=12).map(bytes.lower))
any_case_names = st.one_of(
    st.tuples(st.sampled_from(NAMES), st.sampled_from(CASES)).map(lambda pair: pair[1](pair[0])),
    st.binary(max_size=12),
)
token_lists = st.builds(
    lambda words, separator: separator.join(words),
    st.lists(st.one_of(st.sampled_from(WORDS), st.binary(max_size=8)), max_size=6),
    st.sampled_from([b",", b", ", b" ,\t", b",,"]),
)
values = st.one_of(token_lists, st.sampled_from(WORDS), st.binary(max_size=40))

REALISTIC: list[Header] = [
    (b"connection", b"keep-alive"),
    (b"connection", b"close"),
    (b"connection", b"Upgrade"),
    (b"connection", b"keep-alive, x-hop"),
    (b"connection", b"close, x-forwarded-for"),
    (b"upgrade", b"websocket"),
    (b"keep-alive", b"timeout=5, max=1000"),
    (b"x-hop", b"secret"),
    (b"te", b"trailers"),
    (b"te", b"deflate;q=0.5, trailers"),
    (b"te", b"gzip"),
    (b"transfer-encoding", b"chunked"),
    (b"trailer", b"x-checksum"),
    (b"trailers", b"x-checksum"),
    (b"content-length", b"2"),
    (b"content-type", b"text/plain"),
    (b"x-forwarded-for", b"203.0.113.7"),
    (b"host", b"example.com"),
    (b"server", b"uvicorn"),
    (b"x-tenant", b"a"),
]
"""Header pairs from the test apps (tests/apps/bare_*.py) and the RFCs, so that random lists often hold
the combinations the rules care about (a nominated header that is present, TE: trailers,
an HTTP/1.0 keep-alive request, a response without Content-Length)."""


def _with_nominations(
    names: st.SearchStrategy[bytes],
) -> st.SearchStrategy[list[Header]]:
    """Header lists, some with a Connection line nominating names present in the list."""
    pairs = st.one_of(st.tuples(names, values), st.sampled_from(REALISTIC))
    plain = st.lists(pairs, max_size=10)

    @st.composite
    def nominating(draw: st.DrawFn) -> list[Header]:
        headers = draw(plain)
        present = sorted({name for name, _ in headers})
        chosen = draw(st.lists(st.sampled_from(present), max_size=4)) if present else []
        extra = draw(st.lists(st.sampled_from([b"close", b"keep-alive", b"upgrade", b"x-hop"]), max_size=2))
        line = (draw(st.sampled_from([b"connection", b"Connection"])), b", ".join(chosen + extra))
        headers.insert(draw(st.integers(0, len(headers))), line)
        return headers

    return st.one_of(plain, nominating())


request_headers = _with_nominations(lower_names).map(lambda hs: [(n.lower(), v) for n, v in hs])
response_headers = _with_nominations(any_case_names)
versions = st.one_of(
    st.sampled_from(["1.0", "1.1", "2", "3", "HTTP/1.0", "HTTP/1.1", "HTTP/2", "HTTP/3"]),
    st.text(max_size=10),
)
statuses = st.one_of(st.sampled_from([101, 200, 204, 304, 400, 426, 500]), st.integers(100, 999))
policies = st.sampled_from(POLICIES)
left = st.one_of(st.none(), st.integers(0, 1000))


def _latin1(value: bytes | None) -> str | None:
    return None if value is None else value.decode("latin-1")


def _joined(headers: list[Header], name: bytes) -> bytes | None:
    lines = [value for key, value in headers if key == name]
    return b", ".join(lines) if lines else None


# --------------------------------------------------------------------------------------
# Properties (plain functions; the tests below run each with FAST and SLOW settings)
# --------------------------------------------------------------------------------------


def never_raises_on_arbitrary_bytes(
    *, policy: Policy, version: str, method: str, headers: list[Header], blob: bytes, text: str
) -> None:
    normalize_http_version(version)
    is_token(blob)
    parse_connection([blob, *(value for _, value in headers)], max_tokens=1 + len(blob) % 20)
    websocket_accept(blob)
    facts = policy.read_request(version, headers)
    policy.request_facts(version, blob, blob)
    policy.request_facts(version, text, text)  # WSGI's environ strings
    policy.kind_of(blob)
    policy.kind_of(text)
    policy.needs_cleaning([(text, text)])  # WSGI lists are all str
    policy.needs_cleaning([(blob, blob)])  # ASGI lists are all bytes
    policy.is_protected(blob)
    policy.tokens([blob])
    policy.strip_request(headers, facts)
    policy.finish_response(facts, 200, headers)
    policy.connection_fields(facts, 101)
    forwardable_headers(headers, policy=policy)
    check_switching_protocols(facts, headers, blob)
    assert isinstance(policy.judge_websocket(method, version, headers).status, int)
    assert isinstance(policy.origins.allows(blob), bool)
    for origins in (OriginPolicy(), OriginPolicy(["null"]), OriginPolicy(["https://*.example.com"])):
        assert isinstance(origins.allows(blob), bool)


def finish_response_never_leaks(
    *,
    policy: Policy,
    version: str,
    request: list[Header],
    status: int,
    app: list[Header],
    server_close: bool,
    requests_left: int | None,
) -> None:
    facts = policy.read_request(version, request)
    out, close, removed = policy.finish_response(
        facts, status, app, server_close=server_close, requests_left=requests_left
    )
    out = list(out)
    nominated = policy.tokens([v for n, v in app if policy.kind_of(n) == CONNECTION]).nominated
    connection = [value for name, value in out if name.lower() == b"connection"]
    legit_101 = status == 101 and facts.upgrade_requested and not facts.multiplexed

    assert len(connection) <= 1
    if facts.multiplexed:
        assert not [name for name, _ in out if policy.kind_of(name)]
        assert close is False
    else:
        assert connection in ([b"close"], [b"keep-alive"], [b"upgrade"], [])
        assert (connection == [b"close"]) is close
        assert (connection == [b"upgrade"]) is legit_101
    for name, value in out:
        lower = name.lower()
        kind = policy.kind_of(name)
        if kind == ORDINARY:
            assert lower not in nominated
        elif lower == b"keep-alive":
            assert connection == [b"keep-alive"]
            assert value.startswith(b"timeout=")
        elif lower == b"upgrade":
            assert legit_101
        else:
            assert lower == b"connection", name
    # Nothing end-to-end is lost, protected names least of all, but for a 1xx or 204's
    # Content-Length (RFC 9110 §8.6: such a response has no content to measure).
    lengthless = status < 200 or status in (204, 304)
    dropped = {b"content-length"} if lengthless else set()
    assert [h for h in app if policy.is_protected(h[0].lower()) and h[0].lower() not in dropped] == [
        h for h in out if policy.is_protected(h[0].lower())
    ]
    assert [
        h for h in app if policy.kind_of(h[0]) == ORDINARY and h[0].lower() not in nominated | dropped
    ] == [h for h in out if policy.kind_of(h[0]) == ORDINARY]
    if lengthless:
        assert not [name for name, _ in out if name.lower() == b"content-length"]
        if any(name.lower() == b"content-length" for name, _ in app):
            assert b"content-length" in removed
    # Every removal is reported once, in lower case.
    assert len(set(removed)) == len(removed)
    assert all(name == name.lower() for name in removed)
    for name, _ in app:
        kind = policy.kind_of(name)
        if (
            (kind == ORDINARY and name.lower() in nominated)
            or kind in (HOP, TE)
            or (kind == UPGRADE and not legit_101)
        ):
            assert name.lower() in removed
    # Replacing the app's Connection is a correction unless it was a mere wish.
    app_tokens = policy.tokens([v for n, v in app if policy.kind_of(n) == CONNECTION])
    wish = (
        not app_tokens.invalid
        and not app_tokens.refused
        and not app_tokens.too_many
        and app_tokens.nominated <= ({b"keep-alive", b"upgrade"} if legit_101 else {b"keep-alive"})
    )
    has_connection = any(policy.kind_of(n) == CONNECTION for n, _ in app)
    assert (b"connection" in removed) is (has_connection and not wish)
    # An HTTP/1.0 connection stays open only for a self-delimited response.
    if facts.http_version == "1.0" and not close and status >= 200 and status not in (204, 304):
        assert any(name.lower() == b"content-length" for name, _ in out)


def finish_response_is_idempotent(
    *,
    policy: Policy,
    version: str,
    request: list[Header],
    status: int,
    app: list[Header],
    requests_left: int | None,
) -> None:
    facts = policy.read_request(version, request)
    once, close, _ = policy.finish_response(facts, status, app, requests_left=requests_left)
    twice, close_again, _ = policy.finish_response(facts, status, once, requests_left=requests_left)
    assert (list(twice), close_again) == (list(once), close)


def quick_finish_agrees_with_finish_response(
    *, policy: Policy, version: str, request: list[Header], status: int, app: list[Header]
) -> None:
    facts = policy.read_request(version, request)
    expected, close, removed = policy.finish_response(facts, status, app)  # learns the names
    quick = policy.quick_finish(facts, status, app)
    read = policy.quick_finish_reading(policy.read(version, request), status, app)
    assert read == quick  # the adapters' hot path answers as the public function
    ordinary = (
        not close
        and not removed
        and not facts.upgrade
        and policy.ordinary_answer(facts) is not None
        and status >= 200
        and status not in (204, 304)  # no content: the adapters drop body bytes (slow path)
    )
    if ordinary and all(policy.kind_of(name) == ORDINARY for name, _ in app):
        assert quick is not None  # the common response is answered in one step
    if quick is not None:
        assert (list(quick), close, removed) == (list(expected), False, ())
        assert (quick is app) is (expected is app)


def strip_request_is_idempotent_and_keeps_protected(
    *, policy: Policy, version: str, headers: list[Header]
) -> None:
    facts = policy.read_request(version, headers)
    once = list(policy.strip_request(headers, facts))
    assert list(policy.strip_request(once, facts)) == once
    nominated = facts.tokens.nominated
    assert [value for name, value in once if name == b"te"] in ([], [b"trailers"])
    for name, _ in once:
        kind = policy.kind_of(name)
        if kind == ORDINARY:
            assert name not in nominated
        elif kind != TE:
            assert facts.upgrade_requested
            assert kind in (CONNECTION, UPGRADE)
    assert [h for h in headers if policy.is_protected(h[0])] == [h for h in once if policy.is_protected(h[0])]


def forwardable_headers_is_idempotent_and_keeps_protected(*, policy: Policy, headers: list[Header]) -> None:
    once = forwardable_headers(headers, policy=policy)
    assert forwardable_headers(once, policy=policy) == once
    nominated = policy.tokens([v for n, v in headers if n.lower() == b"connection"]).nominated
    for name, value in once:
        if policy.kind_of(name) == ORDINARY:
            assert name.lower() not in nominated
        else:
            assert (name, value) == (b"te", b"trailers")
    assert len([name for name, _ in once if name == b"te"]) <= 1
    assert [h for h in headers if policy.is_protected(h[0].lower())] == [
        h for h in once if policy.is_protected(h[0].lower())
    ]


def parse_connection_is_one_list_in_any_case(*, lines: list[bytes], max_tokens: int) -> None:
    parsed = parse_connection(lines, max_tokens=max_tokens)
    policy = Policy(max_connection_tokens=max_tokens)
    assert parse_connection([b", ".join(lines)], max_tokens=max_tokens) == parsed
    assert parse_connection([line.upper() for line in lines], max_tokens=max_tokens) == parsed
    assert policy.tokens(lines) == parsed
    assert not parsed.nominated & parsed.refused
    assert all(policy.is_protected(name) for name in parsed.refused)
    assert not [name for name in parsed.nominated if policy.is_protected(name)]
    assert b"close" not in parsed.nominated
    assert all(is_token(name) and name == name.lower() for name in parsed.nominated | parsed.refused)
    assert not (parsed.too_many and parsed.nominated)
    elements = [element.strip(b" \t").lower() for line in lines for element in line.split(b",")]
    counted = [element for element in elements if is_token(element)]
    assert parsed.too_many is (len(counted) > max_tokens)
    assert parsed.close is (b"close" in counted)
    assert parsed.keep_alive is (b"keep-alive" in counted)
    assert parsed.upgrade is (b"upgrade" in counted)
    if not parsed.too_many:
        assert parsed.nominated | parsed.refused == set(counted) - {b"close"}
    assert all(not is_token(element) for element in parsed.invalid)


def request_facts_agree_however_they_are_read(*, policy: Policy, version: str, headers: list[Header]) -> None:
    facts = policy.read_request(version, headers)
    connection, upgrade = _joined(headers, b"connection"), _joined(headers, b"upgrade")
    assert policy.request_facts(version, connection, upgrade) == facts
    assert policy.request_facts(version, _latin1(connection), _latin1(upgrade)) == facts
    assert (
        Policy(**POLICY_OPTIONS[POLICIES.index(policy)]).request_facts(version, connection, upgrade) == facts
    )
    # RFC 9112 §9.3, stated once more independently of rules.py.
    normal = normalize_http_version(version)
    if normal in ("2", "3"):
        expected = True
    elif facts.tokens.close:
        expected = False
    else:
        expected = normal == "1.1" or (policy.http10_keep_alive and facts.tokens.keep_alive)
    assert facts.persistent is expected
    if facts.upgrade:
        assert normal == "1.1" and facts.tokens.upgrade


def websocket_verdicts_are_well_formed(
    *, policy: Policy, method: str, version: str, headers: list[Header]
) -> None:
    verdict = policy.judge_websocket(method, version, headers)
    assert verdict.status in (101, 200, 400, 403, 426)
    assert verdict.accepted is (verdict.status in (101, 200))
    assert (verdict.accept_key is not None) is (verdict.status == 101)
    if verdict.status == 426:
        assert (b"sec-websocket-version", b"13") in verdict.headers
    if not verdict.accepted:
        assert dict(verdict.headers)[b"content-length"] == str(len(verdict.body)).encode()


hosts = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?(\.[a-z0-9]{1,8}){0,3}", fullmatch=True)
schemes = st.sampled_from(["http", "https", "ws", "wss"])
ports = st.one_of(st.none(), st.integers(1, 65535))


def origins_match_however_they_are_spelled(*, scheme: str, host: str, port: int | None, upper: bool) -> None:
    default = {"http": 80, "ws": 80, "https": 443, "wss": 443}[scheme]
    origin = f"{scheme}://{host}" + ("" if port is None else f":{port}")
    spelled = f"{scheme.upper() if upper else scheme}://{host.upper() if upper else host}"
    if port is None:
        spelled += f":{default}" if upper else ""
    elif port != default or not upper:
        spelled += f":{port}"
    assert OriginPolicy([spelled]).allows(origin.encode())
    assert OriginPolicy([origin]).allows(spelled.encode())
    assert OriginPolicy([f"{scheme}://*.{host}" + ("" if port is None else f":{port}")]).allows(
        f"{scheme}://sub.{host}".encode() + (b"" if port is None else b":%d" % port)
    )
    assert not OriginPolicy([f"{scheme}://*.{host}"]).allows(origin.encode())
    assert not OriginPolicy([origin]).allows(f"{scheme}://{host}.evil".encode())


PROPERTIES = [
    pytest.param(
        never_raises_on_arbitrary_bytes,
        {
            "policy": policies,
            "version": versions,
            "method": st.text(max_size=8),
            "headers": request_headers,
            "blob": st.binary(max_size=64),
            "text": st.text(),
        },
        id="no-public-function-raises-on-arbitrary-bytes",
    ),
    pytest.param(
        finish_response_never_leaks,
        {
            "policy": policies,
            "version": versions,
            "request": request_headers,
            "status": statuses,
            "app": response_headers,
            "server_close": st.booleans(),
            "requests_left": left,
        },
        id="finish-response-never-leaks-a-hop-by-hop-or-nominated-field",
    ),
    pytest.param(
        quick_finish_agrees_with_finish_response,
        {
            "policy": policies,
            "version": versions,
            "request": request_headers,
            "status": statuses,
            "app": response_headers,
        },
        id="quick-finish-is-finish-response-for-the-common-response",
    ),
    pytest.param(
        finish_response_never_leaks,
        {
            "policy": policies,
            "version": st.sampled_from(["1.0", "1.1"]),
            "request": st.just([(b"host", b"h"), (b"connection", b"Upgrade"), (b"upgrade", b"websocket")]),
            "status": st.just(101),
            "app": response_headers,
            "server_close": st.booleans(),
            "requests_left": left,
        },
        id="finish-response-on-upgrades-keeps-upgrade-only-on-a-legitimate-101",
    ),
    pytest.param(
        finish_response_never_leaks,
        {
            "policy": st.sampled_from([POLICIES[2]]),
            "version": st.sampled_from(["1.0", "HTTP/1.0"]),
            "request": st.sampled_from(
                [[(b"connection", b"keep-alive")], [(b"connection", b"Keep-Alive, x-a")]]
            ),
            "status": statuses,
            "app": response_headers,
            "server_close": st.booleans(),
            "requests_left": left,
        },
        id="finish-response-keeps-http10-open-only-for-a-self-delimited-response",
    ),
    pytest.param(
        finish_response_is_idempotent,
        {
            "policy": policies,
            "version": versions,
            "request": request_headers,
            "status": statuses,
            "app": response_headers,
            "requests_left": left,
        },
        id="finishing-a-finished-response-changes-nothing",
    ),
    pytest.param(
        strip_request_is_idempotent_and_keeps_protected,
        {"policy": policies, "version": versions, "headers": request_headers},
        id="strip-request-is-idempotent-and-keeps-protected-names",
    ),
    pytest.param(
        forwardable_headers_is_idempotent_and_keeps_protected,
        {"policy": policies, "headers": response_headers},
        id="forwardable-headers-is-idempotent-and-keeps-protected-names",
    ),
    pytest.param(
        parse_connection_is_one_list_in_any_case,
        {"lines": st.lists(values, max_size=5), "max_tokens": st.integers(1, 20)},
        id="connection-lines-read-as-one-case-insensitive-list",
    ),
    pytest.param(
        request_facts_agree_however_they_are_read,
        {"policy": policies, "version": versions, "headers": request_headers},
        id="request-facts-agree-from-bytes-str-lines-and-cache",
    ),
    pytest.param(
        websocket_verdicts_are_well_formed,
        {
            "policy": policies,
            "method": st.sampled_from(["GET", "POST", "CONNECT", "get"]),
            "version": versions,
            "headers": response_headers,
        },
        id="websocket-verdicts-are-well-formed-responses",
    ),
    pytest.param(
        origins_match_however_they_are_spelled,
        {"scheme": schemes, "host": hosts, "port": ports, "upper": st.booleans()},
        id="origins-match-across-case-and-default-ports",
    ),
]

Strategies = dict[str, st.SearchStrategy[Any]]


def _run(check: Callable[..., None], arguments: Strategies, profile: settings) -> None:
    @profile
    @given(st.fixed_dictionaries(arguments))
    def run(case: dict[str, Any]) -> None:
        check(**case)

    run()


@pytest.mark.parametrize(("check", "arguments"), PROPERTIES)
def test_property(check: Callable[..., None], arguments: Strategies) -> None:
    _run(check, arguments, FAST)


@pytest.mark.slow
@pytest.mark.parametrize(("check", "arguments"), PROPERTIES)
def test_property_at_length(check: Callable[..., None], arguments: Strategies) -> None:
    _run(check, arguments, SLOW)


class _Broken:
    """A real Policy with one method replaced (by delegation: the accelerated build's
    compiled Policy cannot be subclassed from Python)."""

    def __init__(self) -> None:
        self._real = Policy()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)


class _Leaky(_Broken):
    """Forgets to strip: answers the app's headers plus its own Connection field."""

    def finish_response(self, request: Any, status: int, headers: Any, **_: Any) -> Any:
        return [*headers, (b"connection", b"keep-alive")], False, ()


class _Forgetful(_Broken):
    """Strips nothing from requests and forwards everything."""

    def strip_request(self, headers: Any, facts: Any) -> Any:
        return headers


HOPPY_REQUEST = [(b"host", b"h"), (b"connection", b"close, x-hop"), (b"x-hop", b"1")]


@pytest.mark.parametrize(
    ("check", "arguments"),
    [
        pytest.param(
            finish_response_never_leaks,
            {
                "policy": _Leaky(),
                "version": "1.1",
                "request": [],
                "status": 200,
                "app": [(b"Transfer-Encoding", b"chunked")],
                "server_close": False,
                "requests_left": None,
            },
            id="a-core-that-lets-transfer-encoding-out-fails-the-leak-property",
        ),
        pytest.param(
            finish_response_never_leaks,
            {
                "policy": _Leaky(),
                "version": "2",
                "request": [],
                "status": 200,
                "app": [],
                "server_close": False,
                "requests_left": None,
            },
            id="a-core-that-sends-connection-on-http2-fails-the-leak-property",
        ),
        pytest.param(
            strip_request_is_idempotent_and_keeps_protected,
            {"policy": _Forgetful(), "version": "1.1", "headers": HOPPY_REQUEST},
            id="a-core-that-keeps-nominated-request-headers-fails-the-strip-property",
        ),
    ],
)
def test_the_properties_can_fail(check: Callable[..., None], arguments: dict[str, Any]) -> None:
    with pytest.raises(AssertionError):
        check(**arguments)
    sound = {**arguments, "policy": Policy()}
    check(**sound)  # the same case passes with the real core
