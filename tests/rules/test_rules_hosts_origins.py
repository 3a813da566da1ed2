"""WebSocket handshakes: the Host they name, the Origin policy alone, HTTP white space, ports.

* Host (RFC 9112 §3.2, RFC 6455 §4.2.1): a server must answer 400 to more than one Host
  line or an invalid one; over HTTP/2 and HTTP/3 a ``host`` that differs from the
  authority makes the request malformed (RFC 9113 §8.3.1, RFC 9114 §4.3.1). WSGI servers
  join repeated lines with commas (werkzeug and granian ``a,b``, waitress ``a, b``), so a
  comma in a Host is refused too. Before, the first Host won: ``Host: evil`` +
  ``Host: victim`` + ``Origin: http://evil`` was the same origin.
* The Origin policy is asked alone (:meth:`Policy.origin_refusal`), so that turning RFC
  6455's structural checks off (``ws_validate=False``) keeps the same-origin default and
  a configured allow-list.
* Only space and tab surround a field value (RFC 9110 §5.5): any other byte around an
  Origin makes it no serialized origin (RFC 6454 §6.2), so it is refused; ``str.strip()``
  used to remove NEL, NBSP, VT and ``\\x1c``-``\\x1f`` too.
* Same origin compares ports, default ports made explicit on both sides: an Origin's
  port is its own or its scheme's default; a Host naming no port matches an Origin on its
  scheme's default port. Schemes are not compared (a proxy that ends TLS).
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connmw.rules import ACCEPT_H2, Header, OriginPolicy, Policy, same_origin

KEY = b"dGhlIHNhbXBsZSBub25jZQ=="
FAST = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SLOW = settings(max_examples=20_000, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def handshake(*hosts: bytes, origin: bytes | None = None, key: bytes = KEY) -> list[Header]:
    """An RFC 6455 §1.2 handshake with these Host lines (in order) and Origin."""
    headers: list[Header] = [(b"host", host) for host in hosts]
    headers += [(b"upgrade", b"websocket"), (b"connection", b"Upgrade"), (b"sec-websocket-key", key)]
    headers.append((b"sec-websocket-version", b"13"))
    if origin is not None:
        headers.append((b"origin", origin))
    return headers


# --------------------------------------------------------------------------------------
# Host
# --------------------------------------------------------------------------------------

HOSTS = [
    pytest.param(handshake(b"victim.example"), 101, "ok", id="one-host-is-accepted"),
    pytest.param(handshake(b" \tvictim.example:8000\t "), 101, "ok", id="space-and-tab-around-are-ows"),
    pytest.param(handshake(b"[::1]:8000"), 101, "ok", id="an-ipv6-literal-with-a-port"),
    pytest.param(handshake(), 400, "no-host", id="no-host-is-refused"),
    pytest.param(
        handshake(b"evil.example", b"victim.example", origin=b"http://evil.example"),
        400,
        "bad-host",
        id="two-host-lines-rfc-9112-3.2-even-where-the-origin-matches-the-first",
    ),
    pytest.param(handshake(b"victim.example", b"victim.example"), 400, "bad-host", id="two-equal-host-lines"),
    pytest.param(handshake(b""), 400, "bad-host", id="an-empty-host"),
    pytest.param(handshake(b" \t "), 400, "bad-host", id="a-host-of-white-space"),
    pytest.param(handshake(b"evil.example,victim.example"), 400, "bad-host", id="lines-joined-by-werkzeug"),
    pytest.param(handshake(b"evil.example, victim.example"), 400, "bad-host", id="lines-joined-by-waitress"),
    pytest.param(handshake(b"victim.example/chat"), 400, "bad-host", id="a-path"),
    pytest.param(handshake(b"user@victim.example"), 400, "bad-host", id="userinfo"),
    pytest.param(handshake(b"victim.example:99999"), 400, "bad-host", id="a-port-above-65535"),
    pytest.param(handshake(b"victim.example:"), 400, "bad-host", id="an-empty-port"),
    pytest.param(handshake(b"\x85victim.example"), 400, "bad-host", id="nel-is-no-http-white-space"),
    pytest.param(handshake(b"victim.example\xa0"), 400, "bad-host", id="nbsp-is-no-http-white-space"),
    pytest.param(handshake(b"victim.example\x0b"), 400, "bad-host", id="vt-is-no-http-white-space"),
    pytest.param(handshake(b"[::1"), 400, "bad-host", id="an-unclosed-ipv6-literal"),
]


@pytest.mark.parametrize(("headers", "status", "code"), HOSTS)
def test_a_handshake_names_exactly_one_valid_host(headers: list[Header], status: int, code: str) -> None:
    verdict = Policy(allowed_origins=["*"]).judge_websocket("GET", "1.1", headers)
    assert (verdict.status, verdict.code) == (status, code)
    if status == 400:
        assert verdict.body.startswith(b"WebSocket handshake refused: ")
        assert b"RFC" in verdict.body


H2 = [(b"sec-websocket-version", b"13"), (b"origin", b"http://victim.example")]


@pytest.mark.parametrize(
    ("headers", "status", "code"),
    [
        pytest.param([(b"host", b"victim.example"), *H2], 200, "ok", id="the-authority-copied-into-host"),
        pytest.param(
            [(b"host", b"victim.example"), (b"host", b"victim.example"), *H2],
            200,
            "ok",
            id="host-entries-equal-to-the-authority",
        ),
        pytest.param(
            [(b"host", b"evil.example"), (b"host", b"victim.example"), *H2],
            400,
            "bad-host",
            id="a-host-that-differs-rfc-9113-8.3.1",
        ),
        pytest.param(
            [(b"host", b"victim.example"), (b"host", b"evil.example"), *H2],
            400,
            "bad-host",
            id="a-later-host-that-differs",
        ),
        pytest.param([(b"host", b""), *H2], 400, "bad-host", id="an-empty-host"),
        pytest.param(
            [(b"host", b"victim.example/x"), *H2], 400, "bad-host", id="a-host-that-is-no-authority"
        ),
        pytest.param(H2, 403, "forbidden-origin", id="no-authority-is-not-the-same-origin"),
    ],
)
@pytest.mark.parametrize("version", ["2", "3"])
def test_over_http2_and_http3_every_host_equals_the_first(
    headers: list[Header], status: int, code: str, version: str
) -> None:
    verdict = Policy().judge_websocket("CONNECT", version, headers)
    assert (verdict.status, verdict.code) == (status, code)
    if status == 200:
        assert verdict is ACCEPT_H2


# --------------------------------------------------------------------------------------
# The Origin policy alone, and with RFC 6455's structure unchecked
# --------------------------------------------------------------------------------------

ORIGIN_ALONE = [
    pytest.param(
        [], handshake(b"victim.example", origin=b"http://evil.example"), 403, id="same-origin-foreign"
    ),
    pytest.param(
        [], handshake(b"victim.example", origin=b"http://victim.example"), None, id="same-origin-own"
    ),
    pytest.param([], handshake(b"victim.example"), None, id="same-origin-no-origin-field"),
    pytest.param(
        [],
        handshake(b"evil.example", b"victim.example", origin=b"http://evil.example"),
        403,
        id="same-origin-two-hosts-name-no-origin",
    ),
    pytest.param([], handshake(b"", origin=b"http://victim.example"), 403, id="same-origin-empty-host"),
    pytest.param(
        ["https://app.example"],
        handshake(b"victim.example", origin=b"https://app.example"),
        None,
        id="allow-list-listed",
    ),
    pytest.param(
        ["https://app.example"],
        handshake(b"victim.example", origin=b"http://victim.example"),
        403,
        id="allow-list-the-same-origin-unlisted",
    ),
    pytest.param(
        ["https://app.example"],
        [*handshake(b"victim.example", origin=b"https://app.example"), (b"origin", b"https://app.example")],
        403,
        id="allow-list-two-origin-fields",
    ),
    pytest.param(["*"], handshake(origin=b"http://evil.example"), None, id="star-admits-any"),
]


@pytest.mark.parametrize(("allowed", "headers", "status"), ORIGIN_ALONE)
def test_the_origin_policy_asked_alone(allowed: list[str], headers: list[Header], status: int | None) -> None:
    policy = Policy(allowed_origins=allowed)
    refusal = policy.origin_refusal("1.1", headers)
    assert (None if refusal is None else refusal.status) == status
    if refusal is not None:
        assert refusal.code == "forbidden-origin"


@pytest.mark.parametrize(("allowed", "headers", "status"), ORIGIN_ALONE)
@pytest.mark.parametrize(
    "broken",
    [
        pytest.param({"key": b"short"}, id="a-bad-key"),
        pytest.param({"method": "POST"}, id="post"),
        pytest.param({"version": "1.0"}, id="http10"),
    ],
)
def test_unvalidated_handshakes_still_meet_the_origin_policy(
    allowed: list[str], headers: list[Header], status: int | None, broken: dict[str, object]
) -> None:
    """``ws_validate=False`` leaves RFC 6455's structure to the server, never the Origin."""
    if "key" in broken:
        headers = [(n, b"short" if n == b"sec-websocket-key" else v) for n, v in headers]
    method = str(broken.get("method", "GET"))
    verdict = Policy(allowed_origins=allowed).judge_websocket(
        method, str(broken.get("version", "1.1")), headers, validate=False
    )
    assert verdict.accepted is (status is None)
    if status is not None:
        assert (verdict.status, verdict.code) == (403, "forbidden-origin")


def test_unvalidated_http2_handshakes_meet_the_origin_policy() -> None:
    headers = [(b"host", b"victim.example"), (b"origin", b"http://evil.example")]
    assert Policy().judge_websocket("CONNECT", "2", headers, validate=False).status == 403
    assert Policy().judge_websocket("CONNECT", "2", headers[:1], validate=False) is ACCEPT_H2


# --------------------------------------------------------------------------------------
# HTTP white space only (RFC 9110 §5.5)
# --------------------------------------------------------------------------------------

VICTIM = b"http://victim.example"


@pytest.mark.parametrize(
    ("origin", "admitted"),
    [
        pytest.param(b" \t" + VICTIM + b"\t ", True, id="space-and-tab-are-ows"),
        pytest.param(b"\x85" + VICTIM, False, id="nel-before"),
        pytest.param(VICTIM + b"\x85", False, id="nel-after"),
        pytest.param(b"\xa0" + VICTIM, False, id="nbsp-before"),
        pytest.param(VICTIM + b"\xa0", False, id="nbsp-after"),
        pytest.param(b"\x0b" + VICTIM, False, id="vertical-tab-before"),
        pytest.param(b"\x0c" + VICTIM, False, id="form-feed-before"),
        pytest.param(b"\x1c" + VICTIM, False, id="file-separator-before"),
        pytest.param(VICTIM + b"\x1f", False, id="unit-separator-after"),
        pytest.param(b"\r" + VICTIM, False, id="cr-before"),
        pytest.param(VICTIM + b"\n", False, id="lf-after"),
        pytest.param(b"\x00" + VICTIM, False, id="nul-before"),
    ],
)
@pytest.mark.parametrize(
    "patterns", [pytest.param([], id="same-origin"), pytest.param(["http://victim.example"], id="listed")]
)
def test_only_space_and_tab_surround_an_origin(origin: bytes, admitted: bool, patterns: list[str]) -> None:
    assert OriginPolicy(patterns).allows(origin, b"victim.example") is admitted
    verdict = Policy(allowed_origins=patterns).judge_websocket(
        "GET", "1.1", handshake(b"victim.example", origin=origin)
    )
    assert verdict.accepted is admitted


def test_only_space_and_tab_surround_a_host() -> None:
    assert same_origin(VICTIM, b" \tvictim.example\t ")
    for odd in (b"\x85", b"\xa0", b"\x0b", b"\x1c", b"\r"):
        assert not same_origin(VICTIM, odd + b"victim.example")
        assert not same_origin(VICTIM, b"victim.example" + odd)


# Bytes that make no other valid origin when put around one: not space or tab (white space
# HTTP allows), not letters, digits or "+-." (which spell another scheme, host or port).
_ODD = [b for b in range(256) if b not in b" \t" and not chr(b).isalnum() and chr(b) not in "+-."]
odd_bytes = st.lists(st.sampled_from(_ODD), max_size=3).map(bytes)
ows = st.lists(st.sampled_from([b" ", b"\t"]), max_size=2).map(b"".join)
VALID_ORIGINS = [
    b"http://victim.example",
    b"https://victim.example:8443",
    b"http://[::1]:8000",
    b"ws://victim.example",
]
HOST_OF = {
    b"http://victim.example": b"victim.example",
    b"https://victim.example:8443": b"victim.example:8443",
    b"http://[::1]:8000": b"[::1]:8000",
    b"ws://victim.example": b"victim.example:80",
}


def odd_bytes_around_an_origin_never_admit_it(
    *, origin: bytes, before: bytes, after: bytes, pad: tuple[bytes, bytes, bytes, bytes]
) -> None:
    host = HOST_OF[origin]
    spelled = pad[0] + before + pad[1] + origin + pad[2] + after + pad[3]
    listed = OriginPolicy([origin.decode()])
    assert listed.allows(origin, host) and OriginPolicy().allows(origin, host)
    odd = bool(before or after)
    assert listed.allows(spelled, host) is not odd
    assert OriginPolicy().allows(spelled, host) is not odd
    assert OriginPolicy(["*"]).allows(spelled, host)


_ARGUMENTS = {
    "origin": st.sampled_from(VALID_ORIGINS),
    "before": odd_bytes,
    "after": odd_bytes,
    "pad": st.tuples(ows, ows, ows, ows),
}


def _property(profile: settings) -> None:
    @profile
    @given(st.fixed_dictionaries(_ARGUMENTS))
    def run(case: dict[str, object]) -> None:
        odd_bytes_around_an_origin_never_admit_it(**case)  # type: ignore[arg-type]

    run()


def test_odd_bytes_around_an_origin_never_admit_it() -> None:
    _property(FAST)


@pytest.mark.slow
def test_odd_bytes_around_an_origin_never_admit_it_at_length() -> None:
    _property(SLOW)


# --------------------------------------------------------------------------------------
# Same origin compares ports, default ports made explicit
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("origin", "host", "same"),
    [
        pytest.param(
            b"https://victim.example", b"victim.example:8443", False, id="an-https-page-on-443-vs-8443"
        ),
        pytest.param(
            b"http://localhost", b"localhost:8000", False, id="a-page-on-port-80-vs-a-dev-tool-on-8000"
        ),
        pytest.param(b"http://localhost:8000", b"localhost:8000", True, id="the-same-port-named-both-sides"),
        pytest.param(b"https://a.example", b"a.example", True, id="no-port-either-side-https"),
        pytest.param(b"http://a.example", b"a.example", True, id="no-port-either-side-http"),
        pytest.param(b"https://a.example:443", b"a.example", True, id="443-spelled-out-in-the-origin"),
        pytest.param(b"http://a.example:80", b"a.example", True, id="80-spelled-out-in-the-origin"),
        pytest.param(b"https://a.example", b"a.example:443", True, id="443-spelled-out-in-the-host"),
        pytest.param(b"http://a.example", b"a.example:80", True, id="80-spelled-out-in-the-host"),
        pytest.param(b"wss://a.example", b"a.example", True, id="wss-defaults-to-443"),
        pytest.param(b"ws://a.example:80", b"a.example", True, id="ws-defaults-to-80"),
        pytest.param(b"http://a.example:443", b"a.example", False, id="443-is-not-http-s-default"),
        pytest.param(b"https://a.example:80", b"a.example", False, id="80-is-not-https-s-default"),
        pytest.param(b"https://a.example", b"a.example:80", False, id="an-https-origin-vs-a-host-on-80"),
        pytest.param(b"https://a.example:8443", b"a.example:8443", True, id="schemes-are-not-compared"),
        pytest.param(b"capacitor://a.example", b"a.example", False, id="a-scheme-without-a-default-port"),
        pytest.param(b"capacitor://a.example:8000", b"a.example:8000", True, id="such-a-scheme-with-a-port"),
        pytest.param(b"http://[::1]", b"[::1]", True, id="ipv6-no-ports"),
        pytest.param(b"http://[::1]", b"[::1]:8000", False, id="ipv6-a-port-on-one-side"),
    ],
)
def test_same_origin_compares_ports(origin: bytes, host: bytes, same: bool) -> None:
    assert same_origin(origin, host) is same
    assert OriginPolicy().allows(origin, host) is same
    verdict = Policy().judge_websocket("GET", "1.1", handshake(host, origin=origin))
    assert verdict.accepted is same
