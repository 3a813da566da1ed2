"""Headers that may cross a hop: forwardable_headers (apps that proxy) and strip_request.

Policy questions 1 (Trailer vs Trailers), 2 (Proxy-Connection), 3 (TE: trailers), 4
(nominated headers) and 7 (Proxy-Authenticate/-Authorization) are pinned here, and so is
the classic Flask-proxy bug: copying an upstream's ``Transfer-Encoding: chunked`` onto
the app's own response makes the server chunk the body a second time.
"""

from __future__ import annotations

import wsgiref.util
from collections.abc import Callable
from typing import Any

import pytest

from connmw.rules import Header, Policy, forwardable_headers

# --------------------------------------------------------------------------------------
# forwardable_headers
# --------------------------------------------------------------------------------------

UPSTREAM_RESPONSE: list[Header] = [
    (b"Content-Type", b"application/json"),
    (b"Transfer-Encoding", b"chunked"),
    (b"Connection", b"keep-alive"),
    (b"Keep-Alive", b"timeout=5"),
    (b"Date", b"Mon, 23 Nov 2026 09:00:00 GMT"),
]
"""What ``requests.get(upstream, stream=True).raw.headers`` hands a Flask proxy."""


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        pytest.param(
            UPSTREAM_RESPONSE,
            [(b"Content-Type", b"application/json"), (b"Date", b"Mon, 23 Nov 2026 09:00:00 GMT")],
            id="flask-proxy-drops-the-upstreams-chunked-framing-and-keep-alive",
        ),
        pytest.param(
            [(b"content-length", b"2"), (b"content-type", b"text/plain")],
            [(b"content-length", b"2"), (b"content-type", b"text/plain")],
            id="end-to-end-headers-pass-in-order",
        ),
        pytest.param(
            [(b"set-cookie", b"a=1"), (b"set-cookie", b"b=2")],
            [(b"set-cookie", b"a=1"), (b"set-cookie", b"b=2")],
            id="repeated-fields-are-all-kept",
        ),
        pytest.param(
            [
                (b"Connection", b"close, X-Hop"),
                (b"X-Hop", b"secret"),
                (b"x-hop", b"again"),
                (b"X-Other", b"ok"),
            ],
            [(b"X-Other", b"ok")],
            id="a-nominated-header-is-removed-in-every-case-and-copy",
        ),
        pytest.param(
            [(b"Connection", b"x-a"), (b"Connection", b"x-b"), (b"x-a", b"1"), (b"x-b", b"2")],
            [],
            id="nominations-on-several-connection-lines-all-count",
        ),
        pytest.param(
            [
                (b"Connection", b"close, X-Forwarded-For, Authorization, Host"),
                (b"X-Forwarded-For", b"203.0.113.7"),
                (b"Authorization", b"Bearer t"),
                (b"Host", b"api.internal"),
            ],
            [
                (b"X-Forwarded-For", b"203.0.113.7"),
                (b"Authorization", b"Bearer t"),
                (b"Host", b"api.internal"),
            ],
            id="hop-by-hop-abuse-cannot-remove-protected-headers",
        ),
        pytest.param(
            [(b"Connection", b", ".join(b"x-%d" % i for i in range(17))), (b"x-1", b"v")],
            [(b"x-1", b"v")],
            id="a-connection-field-with-too-many-tokens-nominates-nothing",
        ),
        pytest.param(
            [(b"Trailer", b"x-checksum"), (b"Trailers", b"x-checksum")],
            [(b"Trailer", b"x-checksum")],
            id="trailer-is-kept-and-trailers-is-stripped-question-1",
        ),
        pytest.param(
            [(b"Proxy-Connection", b"keep-alive"), (b"Via", b"1.1 edge")],
            [(b"Via", b"1.1 edge")],
            id="proxy-connection-is-stripped-question-2",
        ),
        pytest.param(
            [
                (b"Proxy-Authenticate", b"Basic"),
                (b"Proxy-Authorization", b"Basic eDp5"),
                (b"WWW-Authenticate", b"B"),
            ],
            [(b"WWW-Authenticate", b"B")],
            id="proxy-credentials-are-stripped-question-7",
        ),
        pytest.param(
            [
                (b"Upgrade", b"h2c"),
                (b"Connection", b"Upgrade, HTTP2-Settings"),
                (b"HTTP2-Settings", b"AAMAAABk"),
            ],
            [],
            id="an-h2c-upgrade-is-never-forwarded",
        ),
        pytest.param([(b"TE", b"trailers")], [(b"te", b"trailers")], id="te-trailers-is-kept-question-3"),
        pytest.param(
            [(b"TE", b"deflate;q=0.5, trailers")],
            [(b"te", b"trailers")],
            id="te-with-trailers-among-codings-keeps-only-trailers-like-current-go",
        ),
        pytest.param(
            [(b"te", b"gzip"), (b"te", b"Trailers")],
            [(b"te", b"trailers")],
            id="trailers-on-a-second-te-line-counts",
        ),
        pytest.param(
            [(b"te", b"trailers"), (b"te", b"trailers")],
            [(b"te", b"trailers")],
            id="two-te-trailers-lines-become-one",
        ),
        pytest.param(
            [(b"te", b"trailers;q=0.5")], [(b"te", b"trailers")], id="trailers-with-a-weight-counts"
        ),
        pytest.param([(b"te", b"gzip, deflate")], [], id="te-without-trailers-is-stripped"),
        pytest.param([(b"te", b"trailersx")], [], id="a-longer-token-is-not-trailers"),
        pytest.param([(b"te", b"")], [], id="an-empty-te-is-stripped"),
        pytest.param([], [], id="nothing-in-nothing-out"),
    ],
)
@pytest.mark.parametrize("kind", ["bytes", "str"])
def test_forwardable_headers(headers: list[Header], expected: list[Header], kind: str) -> None:
    """Every case with bytes pairs (ASGI) and with str pairs (WSGI, http.client): str in, str out."""
    if kind == "bytes":
        assert forwardable_headers(headers) == expected
    else:
        assert forwardable_headers(as_text(headers)) == as_text(expected)


def as_text(headers: list[Header]) -> list[tuple[str, str]]:
    return [(name.decode("latin-1"), value.decode("latin-1")) for name, value in headers]


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        pytest.param(
            [(b"TE", b"trailers"), (b"Content-Type", b"text/plain")],
            [(b"Content-Type", b"text/plain")],
            id="no-te-in-a-response-even-trailers",
        ),
        pytest.param(
            UPSTREAM_RESPONSE, [UPSTREAM_RESPONSE[0], UPSTREAM_RESPONSE[4]], id="an-upstream-response"
        ),
        pytest.param(  # a name is a token (RFC 9110 §5.1): latin-1 beyond ASCII is for values
            [(b"Connection", b"x-hop"), (b"X-Hop", b"1"), (b"X-Name", b"caf\xe9\xff")],
            [(b"X-Name", b"caf\xe9\xff")],
            id="latin-1-bytes-both-ways",
        ),
    ],
)
@pytest.mark.parametrize("kind", ["bytes", "str"])
def test_forwardable_headers_of_a_response(headers: list[Header], expected: list[Header], kind: str) -> None:
    if kind == "bytes":
        assert forwardable_headers(headers, response=True) == expected
    else:
        assert forwardable_headers(as_text(headers), response=True) == as_text(expected)


@pytest.mark.parametrize(
    ("headers", "error", "message"),
    [
        pytest.param(
            [("Host", "a"), (b"TE", b"trailers")],
            TypeError,
            r"all bytes or all str, got \(bytes, bytes\) for b'TE' after str pairs",
            id="bytes-after-str",
        ),
        pytest.param(
            [(b"Host", b"a"), ("TE", "trailers")],
            TypeError,
            r"got \(str, str\) for 'TE' after bytes pairs",
            id="str-after-bytes",
        ),
        pytest.param([("X-A", None)], TypeError, r"got \(str, NoneType\) for 'X-A'", id="not-a-value"),
        pytest.param([("X-A", "\u20ac")], ValueError, "'X-A' is not latin-1 text", id="not-latin-1"),
    ],
)
def test_forwardable_headers_refuses_mixed_or_foreign_pairs_by_name(
    headers: list[Any], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        forwardable_headers(headers)


def test_forwardable_headers_accepts_any_iterable_and_never_mutates_it() -> None:
    original = list(UPSTREAM_RESPONSE)
    assert forwardable_headers(iter(original)) == forwardable_headers(original)
    assert original == UPSTREAM_RESPONSE


def test_forwardable_headers_uses_the_given_policy() -> None:
    policy = Policy(strip_headers=["server"], protected_headers=["x-tenant"])
    headers = [
        (b"Server", b"gunicorn"),
        (b"Connection", b"x-tenant, x-debug"),
        (b"X-Tenant", b"a"),
        (b"x-debug", b"1"),
    ]
    assert forwardable_headers(headers, policy=policy) == [(b"X-Tenant", b"a")]
    assert forwardable_headers(headers) == [(b"Server", b"gunicorn")]


def test_the_flask_proxy_response_is_acceptable_to_wsgiref() -> None:
    # wsgiref's handler answers 500 to any hop-by-hop header from the app (docs/servers.md);
    # what forwardable_headers returns from an upstream response passes its check.
    hoppy_upstream = [
        *UPSTREAM_RESPONSE,
        (b"Upgrade", b"foo"),
        (b"Proxy-Authenticate", b"Basic"),
        (b"Trailers", b"x"),
        (b"Connection", b"x-hop"),
        (b"X-Hop", b"secret"),
    ]
    names = [name.decode("latin-1") for name, _ in forwardable_headers(hoppy_upstream)]
    assert names == ["Content-Type", "Date"]
    assert not [name for name in names if wsgiref.util.is_hop_by_hop(name)]


def _chunked(body: bytes) -> bytes:
    return b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body)


def _unchunked(data: bytes) -> bytes | None:
    """Undo one chunked coding (RFC 9112 §7.1), or ``None`` when ``data`` is not chunked."""
    out = b""
    while True:
        size_line, sep, rest = data.partition(b"\r\n")
        try:
            size = int(size_line.split(b";", 1)[0], 16)
        except ValueError:
            return None
        if not sep or size < 0:
            return None
        if size == 0:
            return out if rest == b"\r\n" else None
        if rest[size : size + 2] != b"\r\n":
            return None
        out, data = out + rest[:size], rest[size + 2 :]


def _werkzeug_like_server(app_headers: list[Header], body: bytes) -> tuple[list[Header], bytes]:
    """werkzeug's dev server on HTTP/1.1 (docs/servers.md): no Content-Length, so it adds its
    own ``Transfer-Encoding: chunked`` and chunks the body once, and it sends the app's
    fields as they are."""
    if any(name.lower() == b"content-length" for name, _ in app_headers):
        return app_headers, body
    return [*app_headers, (b"Transfer-Encoding", b"chunked")], _chunked(body)


@pytest.mark.parametrize(
    ("copy_headers", "announced", "client_reads_the_body"),
    [
        pytest.param(list, 2, False, id="copying-the-upstream-headers-announces-chunked-twice-the-bug"),
        pytest.param(forwardable_headers, 1, True, id="forwardable-headers-leaves-the-server-one-framing"),
    ],
)
def test_the_double_chunking_bug(
    copy_headers: Callable[[list[Header]], list[Header]], announced: int, client_reads_the_body: bool
) -> None:
    # requests/urllib3 already de-chunked the upstream body for the app, but the upstream's
    # Transfer-Encoding: chunked field is still in the header list the app copies.
    body = b'{"ok": true}'
    headers, framed = _werkzeug_like_server(copy_headers(UPSTREAM_RESPONSE), body)
    codings = [
        coding.strip().lower()
        for name, value in headers
        if name.lower() == b"transfer-encoding"
        for coding in value.split(b",")
    ]
    assert codings == [b"chunked"] * announced
    # A client undoes every announced coding in turn (RFC 9112 §6.1).
    decoded: bytes | None = framed
    for _ in codings:
        decoded = _unchunked(decoded) if decoded is not None else None
    assert (decoded == body) is client_reads_the_body


# --------------------------------------------------------------------------------------
# strip_request: what an app sees with strip_request_headers on
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("version", "headers", "expected"),
    [
        pytest.param(
            "1.1",
            [(b"host", b"h"), (b"accept", b"*/*")],
            [(b"host", b"h"), (b"accept", b"*/*")],
            id="a-clean-request-is-unchanged",
        ),
        pytest.param(
            "1.1",
            [(b"host", b"h"), (b"connection", b"keep-alive"), (b"keep-alive", b"300")],
            [(b"host", b"h")],
            id="connection-and-keep-alive-are-removed",
        ),
        pytest.param(
            "1.1",
            [(b"host", b"h"), (b"connection", b"close, x-hop"), (b"x-hop", b"1")],
            [(b"host", b"h")],
            id="a-nominated-request-header-is-removed",
        ),
        pytest.param(
            "1.1",
            [
                (b"host", b"h"),
                (b"connection", b"close, x-forwarded-for, cookie, host"),
                (b"x-forwarded-for", b"203.0.113.7"),
                (b"cookie", b"s=1"),
            ],
            [(b"host", b"h"), (b"x-forwarded-for", b"203.0.113.7"), (b"cookie", b"s=1")],
            id="hop-by-hop-abuse-cannot-hide-the-client-address-or-cookies",
        ),
        pytest.param(
            "1.1",
            [(b"host", b"h"), (b"te", b"trailers"), (b"connection", b"TE")],
            [(b"host", b"h"), (b"te", b"trailers")],
            id="te-trailers-is-kept-for-the-app-question-3",
        ),
        pytest.param(
            "1.1",
            [(b"te", b"deflate;q=0.5, trailers"), (b"host", b"h")],
            [(b"host", b"h"), (b"te", b"trailers")],
            id="te-is-reduced-to-trailers",
        ),
        pytest.param(
            "1.1",
            [(b"te", b"gzip"), (b"host", b"h")],
            [(b"host", b"h")],
            id="te-without-trailers-is-removed",
        ),
        pytest.param(
            "1.1",
            [(b"host", b"h"), (b"trailer", b"x-sum"), (b"trailers", b"x-sum")],
            [(b"host", b"h"), (b"trailer", b"x-sum")],
            id="trailer-kept-trailers-stripped-in-requests-too",
        ),
        pytest.param(
            "1.1",
            [
                (b"host", b"h"),
                (b"proxy-connection", b"keep-alive"),
                (b"proxy-authorization", b"Basic eDp5"),
                (b"transfer-encoding", b"chunked"),
            ],
            [(b"host", b"h")],
            id="proxy-fields-and-transfer-encoding-are-removed",
        ),
        pytest.param(
            "1.1",
            [
                (b"host", b"h"),
                (b"connection", b"Upgrade, x-hop"),
                (b"upgrade", b"websocket"),
                (b"x-hop", b"1"),
                (b"sec-websocket-key", b"k"),
            ],
            [
                (b"host", b"h"),
                (b"connection", b"Upgrade, x-hop"),
                (b"upgrade", b"websocket"),
                (b"sec-websocket-key", b"k"),
            ],
            id="an-upgrade-request-keeps-connection-and-upgrade-for-the-app",
        ),
        pytest.param(
            "1.0",
            [(b"host", b"h"), (b"connection", b"Upgrade"), (b"upgrade", b"websocket")],
            [(b"host", b"h")],
            id="an-http10-upgrade-is-no-upgrade-and-is-stripped",
        ),
        pytest.param(
            "2",
            [(b"host", b"h"), (b"connection", b"keep-alive"), (b"te", b"trailers")],
            [(b"host", b"h"), (b"te", b"trailers")],
            id="http2-keeps-only-te-trailers-rfc-9113-8-2-2",
        ),
    ],
)
def test_strip_request(version: str, headers: list[Header], expected: list[Header]) -> None:
    policy = Policy()
    request = policy.read_request(version, headers)
    assert list(policy.strip_request(headers, request)) == expected


def test_strip_request_returns_the_same_list_when_nothing_is_removed() -> None:
    policy = Policy()
    headers = [(b"host", b"h"), (b"accept", b"*/*")]
    assert policy.strip_request(headers, policy.read_request("1.1", headers)) is headers


def test_strip_request_never_mutates_the_scope_headers() -> None:
    policy = Policy()
    headers = [(b"host", b"h"), (b"connection", b"close, x-a"), (b"x-a", b"1")]
    copy = list(headers)
    policy.strip_request(headers, policy.read_request("1.1", headers))
    assert headers == copy
