"""WebSocket opening handshakes (RFC 6455 §4.2.1-§4.2.2, RFC 8441), origins, and 101s.

The accepted request is RFC 6455 §1.2's own example; each rejection changes one field of
it, so every verdict is reached from a request that is otherwise valid. What uvicorn's
and hypercorn's WebSocket stacks do (docs/servers.md, "What servers do without connmw")
shows the peers disagree on every row connmw decides here.
"""

from __future__ import annotations

import pytest

from connmw.rules import (
    ACCEPT_H2,
    WEBSOCKET_GUID,
    Header,
    OriginPolicy,
    Policy,
    check_switching_protocols,
    same_origin,
    websocket_accept,
)

RFC_KEY = b"dGhlIHNhbXBsZSBub25jZQ=="
RFC_ACCEPT = b"s3pPLMBiTxaQ9kYGzzhZRbK+xOo="

RFC_6455_REQUEST: list[Header] = [
    (b"host", b"server.example.com"),
    (b"upgrade", b"websocket"),
    (b"connection", b"Upgrade"),
    (b"sec-websocket-key", RFC_KEY),
    (b"origin", b"http://example.com"),
    (b"sec-websocket-protocol", b"chat, superchat"),
    (b"sec-websocket-version", b"13"),
]
"""RFC 6455 §1.2: the client's handshake."""


def without(name: bytes, headers: list[Header] = RFC_6455_REQUEST) -> list[Header]:
    return [(n, v) for n, v in headers if n != name]


def replaced(name: bytes, *values: bytes, headers: list[Header] = RFC_6455_REQUEST) -> list[Header]:
    return [*without(name, headers), *((name, value) for value in values)]


# --------------------------------------------------------------------------------------
# Sec-WebSocket-Accept
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "accept"),
    [
        pytest.param(RFC_KEY, RFC_ACCEPT, id="rfc-6455-section-1-3-vector"),
        pytest.param(
            b"x3JJHMbDL1EzLkh9GBhXDw==",
            b"HSmrc0sMlYUkAGmm5OPpG2HaGWk=",
            id="the-widely-published-chat-example",
        ),
        pytest.param(
            b"  " + RFC_KEY + b"\t", RFC_ACCEPT, id="optional-white-space-around-the-key-is-not-hashed"
        ),
    ],
)
def test_websocket_accept(key: bytes, accept: bytes) -> None:
    assert websocket_accept(key) == accept


def test_the_guid_is_rfc_6455s() -> None:
    assert WEBSOCKET_GUID == b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


# --------------------------------------------------------------------------------------
# HTTP/1.1 handshakes: every field wrong in turn
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "version", "headers"),
    [
        pytest.param("GET", "1.1", RFC_6455_REQUEST, id="rfc-6455-example-is-accepted"),
        pytest.param("GET", "HTTP/1.1", RFC_6455_REQUEST, id="wsgi-spelling-of-http11-is-accepted"),
        pytest.param(
            "GET",
            "1.1",
            replaced(b"connection", b"keep-alive, Upgrade"),
            id="firefoxs-connection-keep-alive-upgrade-is-accepted",
        ),
        pytest.param(
            "GET",
            "1.1",
            replaced(b"connection", b"Upgrade", b"keep-alive"),
            id="upgrade-then-keep-alive-on-two-lines-is-accepted-unlike-wsproto",
        ),
        pytest.param(
            "GET",
            "1.1",
            replaced(b"upgrade", b"http/3.0, websocket"),
            id="websocket-among-other-protocols-is-accepted-question-10",
        ),
        pytest.param("GET", "1.1", replaced(b"upgrade", b"WebSocket"), id="upgrade-websocket-in-any-case"),
        pytest.param("GET", "1.1", replaced(b"connection", b"UPGRADE"), id="connection-upgrade-in-any-case"),
        pytest.param(
            "GET",
            "1.1",
            replaced(b"sec-websocket-key", b" " + RFC_KEY + b" "),
            id="white-space-around-the-key-is-allowed",
        ),
        pytest.param("GET", "1.1", without(b"origin"), id="no-origin-is-a-non-browser-client-and-accepted"),
        pytest.param(
            "GET",
            "1.1",
            [(name.title(), value) for name, value in RFC_6455_REQUEST],
            id="title-case-names-from-a-wsgi-adapter-are-accepted",
        ),
    ],
)
def test_accepted_handshakes(method: str, version: str, headers: list[Header]) -> None:
    # The RFC's page is on example.com and its server on server.example.com: another origin,
    # which only an allow-list admits (same origin by default, below).
    verdict = Policy(allowed_origins=["http://example.com"]).judge_websocket(method, version, headers)
    assert (verdict.accepted, verdict.status, verdict.code) == (True, 101, "ok")
    assert verdict.accept_key == RFC_ACCEPT
    assert verdict.headers == ()


def test_the_rfc_example_is_cross_origin_and_refused_by_default() -> None:
    verdict = Policy().judge_websocket("GET", "1.1", RFC_6455_REQUEST)
    assert (verdict.status, verdict.code) == (403, "forbidden-origin")
    assert "no other origin is allowed" in verdict.reason


@pytest.mark.parametrize(
    ("method", "version", "headers", "status", "code"),
    [
        pytest.param("POST", "1.1", RFC_6455_REQUEST, 400, "not-get", id="post-is-refused-with-400"),
        pytest.param("HEAD", "1.1", RFC_6455_REQUEST, 400, "not-get", id="head-is-refused-with-400"),
        pytest.param(
            "get", "1.1", RFC_6455_REQUEST, 400, "not-get", id="lower-case-get-is-another-method-rfc-9110-9-1"
        ),
        pytest.param(
            "GET", "1.0", RFC_6455_REQUEST, 400, "http-version", id="http10-is-refused-unlike-uvicorn"
        ),
        pytest.param("GET", "HTTP/1.0", RFC_6455_REQUEST, 400, "http-version", id="wsgi-http10-is-refused"),
        pytest.param("GET", "HTTP/0.9", RFC_6455_REQUEST, 400, "http-version", id="http09-is-refused"),
        pytest.param(
            "GET", "banana", RFC_6455_REQUEST, 400, "http-version", id="a-garbage-version-is-refused"
        ),
        pytest.param(
            "GET", "1.1", without(b"upgrade"), 400, "no-upgrade-websocket", id="no-upgrade-field-is-refused"
        ),
        pytest.param(
            "GET",
            "1.1",
            replaced(b"upgrade", b"h2c"),
            400,
            "no-upgrade-websocket",
            id="upgrade-to-another-protocol-is-refused",
        ),
        pytest.param(
            "GET",
            "1.1",
            replaced(b"upgrade", b"websockets"),
            400,
            "no-upgrade-websocket",
            id="a-near-miss-protocol-name-is-refused",
        ),
        pytest.param(
            "GET",
            "1.1",
            without(b"connection"),
            400,
            "no-connection-upgrade",
            id="no-connection-field-is-refused",
        ),
        pytest.param(
            "GET",
            "1.1",
            replaced(b"connection", b"keep-alive"),
            400,
            "no-connection-upgrade",
            id="connection-without-upgrade-is-refused",
        ),
        pytest.param(
            "GET",
            "1.1",
            replaced(b"connection", b"keep-alive; Upgrade"),
            400,
            "no-connection-upgrade",
            id="a-semicolon-list-is-no-upgrade-token-question-11",
        ),
        pytest.param(
            "GET",
            "1.1",
            replaced(b"sec-websocket-key", b"short"),
            400,
            "bad-key",
            id="a-short-key-is-refused-unlike-wsproto-and-hypercorn",
        ),
        pytest.param("GET", "1.1", without(b"sec-websocket-key"), 400, "bad-key", id="no-key-is-refused"),
        pytest.param(
            "GET",
            "1.1",
            replaced(b"sec-websocket-key", RFC_KEY, RFC_KEY),
            400,
            "bad-key",
            id="a-repeated-key-is-refused-question-9",
        ),
        pytest.param(
            "GET",
            "1.1",
            replaced(b"sec-websocket-key", b"AAAAAAAAAAAAAAAAAAAAAAA="),
            400,
            "bad-key",
            id="the-base64-of-17-bytes-is-refused",
        ),
        pytest.param(
            "GET",
            "1.1",
            replaced(b"sec-websocket-key", b"AAAAAAAAAAAAAAAAAAAA"),
            400,
            "bad-key",
            id="the-base64-of-15-bytes-is-refused",
        ),
        pytest.param(
            "GET",
            "1.1",
            replaced(b"sec-websocket-key", b"dGhlIHNhbXBsZSBub25jZ!=="),
            400,
            "bad-key",
            id="a-key-outside-the-base64-alphabet-is-refused",
        ),
        pytest.param(
            "GET",
            "1.1",
            replaced(b"sec-websocket-key", b"dGhlIHNhbXBs ZSBub25jZ=="),
            400,
            "bad-key",
            id="a-key-with-inner-white-space-is-refused",
        ),
        pytest.param(
            "GET",
            "1.1",
            replaced(b"sec-websocket-key", RFC_KEY + b", " + RFC_KEY),
            400,
            "bad-key",
            id="two-keys-folded-into-one-line-are-refused",
        ),
        pytest.param("GET", "1.1", without(b"host"), 400, "no-host", id="no-host-is-refused"),
        pytest.param(
            "GET",
            "1.1",
            replaced(b"sec-websocket-version", b"8"),
            426,
            "bad-version",
            id="version-8-gets-426-with-version-13-like-wsproto",
        ),
        pytest.param(
            "GET", "1.1", without(b"sec-websocket-version"), 426, "bad-version", id="no-version-gets-426"
        ),
        pytest.param(
            "GET",
            "1.1",
            replaced(b"sec-websocket-version", b"13, 8"),
            426,
            "bad-version",
            id="a-list-of-versions-gets-426",
        ),
        pytest.param(
            "GET",
            "1.1",
            replaced(b"sec-websocket-version", b"13", b"13"),
            426,
            "bad-version",
            id="a-repeated-version-field-gets-426-question-9",
        ),
        pytest.param(
            "GET",
            "1.1",
            replaced(b"sec-websocket-version", b"013"),
            426,
            "bad-version",
            id="a-zero-padded-version-is-not-13",
        ),
    ],
)
def test_refused_handshakes(method: str, version: str, headers: list[Header], status: int, code: str) -> None:
    verdict = Policy().judge_websocket(method, version, headers)
    assert (verdict.accepted, verdict.status, verdict.code) == (False, status, code)
    assert verdict.accept_key is None


def test_a_426_names_the_version_the_server_speaks() -> None:
    verdict = Policy().judge_websocket("GET", "1.1", replaced(b"sec-websocket-version", b"8"))
    assert (b"sec-websocket-version", b"13") in verdict.headers


@pytest.mark.parametrize(
    ("headers", "code"),
    [
        pytest.param(replaced(b"sec-websocket-version", b"8"), "bad-version", id="a-426-carries-a-text-body"),
        pytest.param(without(b"host"), "no-host", id="a-400-carries-a-text-body"),
        pytest.param(
            replaced(b"origin", b"http://evil.example"), "forbidden-origin", id="a-403-carries-a-text-body"
        ),
    ],
)
def test_refusals_are_complete_responses(headers: list[Header], code: str) -> None:
    verdict = Policy(allowed_origins=["http://example.com"]).judge_websocket("GET", "1.1", headers)
    assert verdict.code == code
    fields = dict(verdict.headers)
    assert fields[b"content-type"] == b"text/plain; charset=utf-8"
    assert fields[b"content-length"] == str(len(verdict.body)).encode()
    assert verdict.body.startswith(b"WebSocket handshake refused: ")
    assert verdict.reason.encode() in verdict.body
    assert "RFC 6455" in verdict.reason


def test_a_wrong_version_is_judged_before_the_key() -> None:
    headers = replaced(b"sec-websocket-key", b"short", headers=replaced(b"sec-websocket-version", b"8"))
    assert Policy().judge_websocket("GET", "1.1", headers).status == 426


# --------------------------------------------------------------------------------------
# Origins in the handshake
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("allowed", "origins", "accepted"),
    [
        pytest.param([], [b"http://evil.example"], False, id="no-allow-list-refuses-another-origin"),
        pytest.param([], [b"http://server.example.com"], True, id="no-allow-list-admits-the-same-origin"),
        pytest.param([], [], True, id="no-allow-list-admits-no-origin"),
        pytest.param(["*"], [b"http://evil.example"], True, id="a-star-admits-any-origin"),
        pytest.param(
            ["http://example.com"], [b"http://example.com"], True, id="the-listed-origin-is-admitted"
        ),
        pytest.param(
            ["http://example.com"], [b"http://evil.example"], False, id="a-foreign-origin-is-refused-with-403"
        ),
        pytest.param(["http://example.com"], [], True, id="no-origin-field-is-admitted"),
        pytest.param(
            ["http://example.com"],
            [b"http://example.com", b"http://example.com"],
            False,
            id="two-origin-fields-are-refused",
        ),
        pytest.param(["http://example.com"], [b"null"], False, id="origin-null-is-refused-unless-listed"),
    ],
)
def test_origin_in_the_handshake(allowed: list[str], origins: list[bytes], accepted: bool) -> None:
    headers = replaced(b"origin", *origins)
    verdict = Policy(allowed_origins=allowed).judge_websocket("GET", "1.1", headers)
    assert verdict.accepted is accepted
    if not accepted:
        assert (verdict.status, verdict.code) == (403, "forbidden-origin")


# --------------------------------------------------------------------------------------
# RFC 8441 / RFC 9220: WebSocket over HTTP/2 and HTTP/3
# --------------------------------------------------------------------------------------

H2_REQUEST: list[Header] = [
    (b"sec-websocket-version", b"13"),
    (b"origin", b"http://example.com"),
    (b"sec-websocket-protocol", b"chat"),
]
"""RFC 8441 §5.1: an extended CONNECT has no Upgrade, Connection, key or Host."""


@pytest.mark.parametrize(
    ("version", "headers", "allowed", "status", "code"),
    [
        pytest.param(
            "2", H2_REQUEST, ["*"], 200, "ok", id="rfc-8441-request-without-upgrade-or-key-is-accepted"
        ),
        pytest.param("HTTP/2", H2_REQUEST, ["*"], 200, "ok", id="rfc-8441-with-the-wsgi-spelling"),
        pytest.param("3", H2_REQUEST, ["*"], 200, "ok", id="rfc-9220-http3-is-accepted-the-same-way"),
        pytest.param(
            "2",
            [(b"host", b"example.com"), *H2_REQUEST],
            [],
            200,
            "ok",
            id="rfc-8441-same-origin-by-authority",
        ),
        pytest.param(
            "2",
            [(b"host", b"other.example"), *H2_REQUEST],
            [],
            403,
            "forbidden-origin",
            id="rfc-8441-another-authority-is-refused",
        ),
        pytest.param("2", H2_REQUEST, [], 403, "forbidden-origin", id="rfc-8441-no-authority-no-same-origin"),
        pytest.param(
            "2",
            replaced(b"sec-websocket-version", b"8", headers=H2_REQUEST),
            [],
            426,
            "bad-version",
            id="rfc-8441-still-needs-version-13",
        ),
        pytest.param(
            "2",
            H2_REQUEST,
            ["https://app.example"],
            403,
            "forbidden-origin",
            id="rfc-8441-still-checks-the-origin",
        ),
        pytest.param(
            "2", H2_REQUEST, ["http://example.com"], 200, "ok", id="rfc-8441-with-an-allowed-origin"
        ),
    ],
)
def test_websocket_over_http2(
    version: str, headers: list[Header], allowed: list[str], status: int, code: str
) -> None:
    verdict = Policy(allowed_origins=allowed).judge_websocket("CONNECT", version, headers)
    assert (verdict.status, verdict.code) == (status, code)
    if status == 200:
        assert verdict is ACCEPT_H2
        assert verdict.accept_key is None


# --------------------------------------------------------------------------------------
# OriginPolicy
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("patterns", "origin", "allowed"),
    [
        pytest.param(["https://app.example.com"], b"https://app.example.com", True, id="exact-match"),
        pytest.param(
            ["https://app.example.com"], b"http://app.example.com", False, id="another-scheme-differs"
        ),
        pytest.param(
            ["https://app.example.com"], b"https://app.example.org", False, id="another-host-differs"
        ),
        pytest.param(
            ["https://app.example.com"], b"HTTPS://App.Example.COM", True, id="scheme-and-host-ignore-case"
        ),
        pytest.param(
            ["HTTPS://APP.example.com"], b"https://app.example.com", True, id="patterns-ignore-case-too"
        ),
        pytest.param(
            ["https://app.example.com"], b"https://app.example.com:443", True, id="default-https-port"
        ),
        pytest.param(
            ["https://app.example.com:443"], b"https://app.example.com", True, id="default-port-in-pattern"
        ),
        pytest.param(["http://app.example.com"], b"http://app.example.com:80", True, id="default-http-port"),
        pytest.param(
            ["https://app.example.com"], b"https://app.example.com:8443", False, id="another-port-differs"
        ),
        pytest.param(["http://localhost:3000"], b"http://localhost:3000", True, id="dev-server-with-a-port"),
        pytest.param(["http://localhost:3000"], b"http://localhost:3001", False, id="dev-server-other-port"),
        pytest.param(
            ["https://app.example.com"], b"  https://app.example.com ", True, id="white-space-trimmed"
        ),
        pytest.param(["https://*.example.com"], b"https://app.example.com", True, id="wildcard-one-label"),
        pytest.param(["https://*.example.com"], b"https://a.b.example.com", True, id="wildcard-any-depth"),
        pytest.param(
            ["https://*.example.com"], b"https://example.com", False, id="wildcard-not-the-bare-domain"
        ),
        pytest.param(["https://*.example.com"], b"https://evilexample.com", False, id="wildcard-needs-a-dot"),
        pytest.param(
            ["https://*.example.com"], b"https://example.com.evil.org", False, id="wildcard-is-a-suffix-only"
        ),
        pytest.param(
            ["https://*.example.com"], b"http://app.example.com", False, id="wildcard-keeps-the-scheme"
        ),
        pytest.param(
            ["https://*.example.com"], b"https://APP.Example.com:443", True, id="wildcard-ignores-case"
        ),
        pytest.param(
            ["https://*.example.com"], b"https://app.example.com:8443", False, id="wildcard-keeps-port"
        ),
        pytest.param(
            ["https://*.example.com:8443"], b"https://a.example.com:8443", True, id="wildcard-with-port"
        ),
        pytest.param(["http://[::1]:8000"], b"http://[::1]:8000", True, id="ipv6-literal-with-port"),
        pytest.param(["http://[::1]"], b"http://[::1]:80", True, id="ipv6-literal-default-port"),
        pytest.param(["http://[::1]"], b"http://[::2]", False, id="another-ipv6-literal-differs"),
        pytest.param(["http://127.0.0.1:8000"], b"http://127.0.0.1:8000", True, id="ipv4-literal"),
        pytest.param(
            ["capacitor://localhost"], b"capacitor://localhost", True, id="an-app-shell-scheme-matches"
        ),
        pytest.param(["capacitor://localhost"], b"ionic://localhost", False, id="another-app-shell-differs"),
        pytest.param(["null"], b"null", True, id="null-admitted-when-listed"),
        pytest.param(["NULL"], b"Null", True, id="null-in-any-case"),
        pytest.param(["https://app.example.com"], b"null", False, id="null-refused-unless-listed"),
        pytest.param(["null"], b"https://app.example.com", False, id="listing-null-admits-only-null"),
        pytest.param(["*"], b"null", True, id="star-admits-null"),
        pytest.param([], b"null", False, id="null-is-never-the-same-origin"),
        pytest.param([], None, True, id="no-patterns-admit-a-non-browser-client"),
        pytest.param(["https://app.example.com"], None, True, id="no-origin-field-is-a-non-browser-client"),
        pytest.param(
            ["https://a.example", "https://b.example"], b"https://b.example", True, id="second-pattern"
        ),
    ],
)
def test_origin_policy_matching(patterns: list[str], origin: bytes | None, allowed: bool) -> None:
    assert OriginPolicy(patterns).allows(origin) is allowed


@pytest.mark.parametrize(
    "origin",
    [
        pytest.param(b"", id="empty"),
        pytest.param(b"app.example.com", id="no-scheme"),
        pytest.param(b"https://", id="no-host"),
        pytest.param(b"https://app.example.com/", id="a-trailing-slash-is-a-path"),
        pytest.param(b"https://app.example.com/chat", id="a-path"),
        pytest.param(b"https://app.example.com?x=1", id="a-query"),
        pytest.param(b"https://app.example.com#top", id="a-fragment"),
        pytest.param(b"https://user@app.example.com", id="userinfo-hiding-the-real-host"),
        pytest.param(b"https://app.example.com@evil.org", id="userinfo-trick-with-a-listed-name"),
        pytest.param(b"https://app.example.com:", id="an-empty-port"),
        pytest.param(b"https://app.example.com:https", id="a-named-port"),
        pytest.param(b"https://app.example.com:99999", id="a-port-above-65535"),
        pytest.param(b"https://app.example.com:\xb2", id="a-latin-1-superscript-digit-port"),
        pytest.param(b"https://app.example.com:-1", id="a-negative-port"),
        pytest.param(b"https://app example.com", id="white-space-inside"),
        pytest.param(b"https://app.example.com\x00", id="a-nul-byte"),
        pytest.param(b"https://[::1", id="an-unclosed-ipv6-bracket"),
        pytest.param(b"https://[::1]x", id="junk-after-an-ipv6-literal"),
        pytest.param(b"https://::1", id="an-unbracketed-ipv6-literal"),
        pytest.param(b"1https://app.example.com", id="a-scheme-starting-with-a-digit"),
        pytest.param(b"ht tps://app.example.com", id="a-scheme-with-a-space"),
        pytest.param(b"\xff\xfe", id="binary-garbage"),
        pytest.param(b"https://app.example.com, https://app.example.com", id="two-origins-in-one-line"),
    ],
)
def test_malformed_origins_are_refused_by_any_list(origin: bytes) -> None:
    patterns = ["https://app.example.com", "https://*.example.com", "null"]
    assert OriginPolicy(patterns).allows(origin) is False
    assert OriginPolicy(["*"]).allows(origin) is True  # no restriction means no parsing
    # The same text is no origin to allow either, so no list can ever name it.
    with pytest.raises(ValueError, match="not an origin"):
        OriginPolicy([origin.decode("latin-1")])


@pytest.mark.parametrize(
    "pattern",
    [
        pytest.param("example.com", id="a-bare-host"),
        pytest.param("https://example.com/", id="a-pattern-with-a-path"),
        pytest.param("https://*", id="a-star-for-the-whole-host"),
        pytest.param("https://*.", id="a-wildcard-with-nothing-after-it"),
        pytest.param("https://*..example.com", id="a-wildcard-followed-by-an-empty-label"),
        pytest.param("https://app.*.com", id="a-star-in-the-middle"),
        pytest.param("https://*.*.example.com", id="two-stars"),
        pytest.param("https://example.com:*", id="a-star-port"),
        pytest.param("https://example.com:65536", id="a-port-too-large"),
        pytest.param("", id="an-empty-pattern"),
    ],
)
def test_bad_origin_patterns_are_refused(pattern: str) -> None:
    with pytest.raises(ValueError, match=r"origin|allowed only"):
        OriginPolicy([pattern])


def test_an_empty_pattern_list_means_same_origin_and_a_star_any() -> None:
    assert OriginPolicy().same_origin_only and not OriginPolicy().allows_any
    assert OriginPolicy([]).same_origin_only
    assert OriginPolicy(["*"]).allows_any and not OriginPolicy(["*"]).same_origin_only
    assert not OriginPolicy(["null"]).allows_any and not OriginPolicy(["null"]).same_origin_only


@pytest.mark.parametrize(
    ("origin", "host", "same"),
    [
        pytest.param(b"http://app.example:8000", b"app.example:8000", True, id="same-host-and-port"),
        pytest.param(b"https://app.example:8000", b"app.example:8000", True, id="schemes-are-not-compared"),
        pytest.param(b"https://app.example", b"app.example", True, id="no-ports-anywhere"),
        pytest.param(b"https://App.Example", b"APP.example", True, id="hosts-ignore-case"),
        pytest.param(b"https://app.example", b"app.example:8443", False, id="the-origin-is-on-443"),
        pytest.param(b"https://app.example", b"app.example:443", True, id="the-origin-s-default-port-named"),
        pytest.param(b"http://app.example:9999", b"app.example:8000", False, id="same-host-another-port"),
        pytest.param(b"http://app.example:8000", b"app.example", False, id="a-port-the-host-lacks"),
        pytest.param(b"http://evil.example", b"app.example", False, id="another-host"),
        pytest.param(b"http://app.example.evil", b"app.example", False, id="a-longer-host"),
        pytest.param(b"http://sub.app.example", b"app.example", False, id="a-subdomain-is-another-origin"),
        pytest.param(b"http://[::1]:8000", b"[::1]:8000", True, id="ipv6-literals"),
        pytest.param(b"http://[::1]:8000", b"[::2]:8000", False, id="another-ipv6-literal"),
        pytest.param(b"http://127.0.0.1:8000", b"127.0.0.1:8000", True, id="ipv4-literals"),
        pytest.param(b"null", b"app.example", False, id="null-is-opaque"),
        pytest.param(b"app.example", b"app.example", False, id="not-an-origin"),
        pytest.param(b"http://app.example/", b"app.example", False, id="an-origin-has-no-path"),
        pytest.param(b"http://user@app.example", b"app.example", False, id="userinfo"),
        pytest.param(b"http://app.example", None, False, id="no-host-field"),
        pytest.param(b"http://app.example", b"app.example/x", False, id="a-host-field-with-a-path"),
        pytest.param(b"http://app.example", b"", False, id="an-empty-host-field"),
        pytest.param(b"http://app.example", b" app.example ", True, id="white-space-around-the-host"),
        pytest.param(b"\xff\xfe", b"\xff\xfe", False, id="binary-garbage"),
    ],
)
def test_same_origin(origin: bytes, host: bytes | None, same: bool) -> None:
    assert same_origin(origin, host) is same
    assert OriginPolicy().allows(origin, host) is same


# --------------------------------------------------------------------------------------
# check_switching_protocols: may the app answer 101? (RFC 9110 §7.8, RFC 6455 §4.2.2)
# --------------------------------------------------------------------------------------

_WS = [(b"connection", b"Upgrade"), (b"upgrade", b"websocket")]


@pytest.mark.parametrize(
    ("request_headers", "response_headers", "key", "complaint"),
    [
        pytest.param(
            _WS,
            [(b"Upgrade", b"websocket"), (b"Sec-WebSocket-Accept", RFC_ACCEPT)],
            RFC_KEY,
            None,
            id="rfc-6455-101-is-allowed",
        ),
        pytest.param(
            _WS,
            [(b"upgrade", b"WebSocket"), (b"sec-websocket-accept", b" " + RFC_ACCEPT + b" ")],
            RFC_KEY,
            None,
            id="case-and-white-space-do-not-matter",
        ),
        pytest.param(
            _WS, [(b"upgrade", b"websocket")], None, None, id="without-a-key-the-accept-is-not-checked"
        ),
        pytest.param(
            [(b"connection", b"upgrade"), (b"upgrade", b"h2c, websocket")],
            [(b"upgrade", b"h2c")],
            None,
            None,
            id="switching-to-one-of-several-offered-protocols",
        ),
        pytest.param(
            [], [(b"upgrade", b"websocket")], None, "asked for no upgrade", id="a-101-to-a-plain-request"
        ),
        pytest.param(
            [(b"upgrade", b"websocket")],
            [(b"upgrade", b"websocket")],
            None,
            "asked for no upgrade",
            id="a-101-to-an-upgrade-without-connection-upgrade",
        ),
        pytest.param(_WS, [], None, "without an Upgrade field", id="a-101-without-upgrade"),
        pytest.param(
            _WS, [(b"upgrade", b"h2c")], None, "did not offer", id="a-101-to-a-protocol-not-offered"
        ),
        pytest.param(
            _WS,
            [(b"upgrade", b"websocket"), (b"sec-websocket-accept", b"wrong")],
            RFC_KEY,
            "does not match",
            id="a-wrong-accept-value",
        ),
        pytest.param(
            _WS, [(b"upgrade", b"websocket")], RFC_KEY, "does not match", id="a-missing-accept-value"
        ),
        pytest.param(
            _WS,
            [(b"upgrade", b"websocket"), (b"sec-websocket-accept", RFC_ACCEPT)] * 2,
            RFC_KEY,
            "does not match",
            id="two-accept-values",
        ),
    ],
)
def test_check_switching_protocols(
    request_headers: list[Header], response_headers: list[Header], key: bytes | None, complaint: str | None
) -> None:
    request = Policy().read_request("1.1", request_headers)
    answer = check_switching_protocols(request, response_headers, key)
    if complaint is None:
        assert answer is None
    else:
        assert answer is not None
        assert complaint in answer
        assert "RFC" in answer


def test_a_101_over_http2_is_refused_rfc_9113_8_6() -> None:
    request = Policy().read_request("2", _WS)
    assert check_switching_protocols(request, [(b"upgrade", b"websocket")], None) is not None
