"""Response field names that are not tokens: removed, never read as end-to-end names.

A field name is a token (RFC 9110 §5.1, §5.6.2). White space between a name and its
colon is invalid, and a recipient must reject the message or remove that white space
(RFC 9112 §5.1): hypercorn trims every ASCII white space byte from an application's
names (``bytes.strip()``) after the middleware ran, so ``connection `` with
``close, x-secret`` went out as a second Connection field and the nominated ``x-secret``
leaked; uvicorn fails the response instead. The rules classify such a name as
``INVALID``: it is removed (and reported under its name trimmed of space and tab), and a
name that trims to ``connection`` still counts as the application's Connection field, so
what it nominates is removed too and its ``close`` is honoured. The same classification
serves ``forwardable_headers``, WebSocket ``accept`` headers and WSGI's str names.
"""

from __future__ import annotations

import pytest

from connmw.rules import (
    CONNECTION,
    HOP,
    INVALID,
    ORDINARY,
    Header,
    Policy,
    forwardable_headers,
)

LENGTH: Header = (b"content-length", b"2")
SECRET: Header = (b"x-secret", b"s3cret")


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        pytest.param(b"connection ", INVALID, id="trailing-space"),
        pytest.param(b" Connection", INVALID, id="leading-space"),
        pytest.param(b"transfer-encoding\t", INVALID, id="trailing-tab"),
        pytest.param(b"keep-alive ", INVALID, id="keep-alive-with-a-space"),
        pytest.param(b"connection\x0b", INVALID, id="vertical-tab-which-hypercorn-trims"),
        pytest.param(b"x-ok\x85", INVALID, id="a-latin-1-control-byte"),
        pytest.param(b"x ok", INVALID, id="white-space-inside"),
        pytest.param(b"x-ok:", INVALID, id="a-colon"),
        pytest.param(b"", INVALID, id="empty"),
        pytest.param(b"X-Caf\xe9", INVALID, id="a-latin-1-letter-is-no-tchar"),
        pytest.param("Connection ", INVALID, id="wsgi-str-trailing-space"),
        pytest.param("\tKeep-Alive", INVALID, id="wsgi-str-leading-tab"),
        pytest.param("caf\u00e9", INVALID, id="wsgi-str-latin-1-letter"),
        pytest.param("\u2603", INVALID, id="wsgi-str-outside-latin-1"),
        pytest.param(b"x-ok", ORDINARY, id="a-token-is-ordinary"),
        pytest.param(b"X-Odd!#$%&'*+.^_`|~", ORDINARY, id="every-tchar-is-allowed"),
        pytest.param(b"CONNECTION", CONNECTION, id="a-valid-connection-in-any-case"),
        pytest.param("Keep-Alive", HOP, id="a-valid-hop-by-hop-str-name"),
    ],
)
def test_kind_of_a_name_that_is_not_a_token_is_invalid(name: bytes | str, kind: int) -> None:
    policy = Policy()
    assert policy.kind_of(name) == kind
    assert policy.kind_of(name) == kind  # the second answer comes from the cache
    assert policy.needs_cleaning([(name, name)]) is (kind != ORDINARY)


DISGUISED = [
    pytest.param(
        [LENGTH, (b"connection ", b"close, x-secret"), SECRET],
        "1.1",
        [LENGTH, (b"connection", b"close")],
        True,
        (b"connection ", b"x-secret"),
        id="connection-with-a-trailing-space-nominates-and-closes",
    ),
    pytest.param(
        [LENGTH, (b" Connection", b"close, x-secret"), SECRET],
        "1.1",
        [LENGTH, (b"connection", b"close")],
        True,
        (b" connection", b"x-secret"),
        id="connection-with-a-leading-space-nominates-and-closes",
    ),
    pytest.param(
        [LENGTH, (b"Connection\t", b"x-secret"), SECRET],
        "1.1",
        [LENGTH, (b"connection", b"keep-alive")],
        False,
        (b"connection\t", b"x-secret"),
        id="connection-with-a-tab-nominates",
    ),
    pytest.param(
        [LENGTH, (b"connection\x0b", b"close, x-secret"), SECRET],
        "1.1",
        [LENGTH, (b"connection", b"close")],
        True,
        (b"connection\x0b", b"x-secret"),
        id="connection-with-a-vertical-tab-hypercorn-trims-still-nominates",
    ),
    pytest.param(
        [LENGTH, (b"transfer-encoding\t", b"chunked")],
        "1.1",
        [LENGTH, (b"connection", b"keep-alive")],
        False,
        (b"transfer-encoding\t",),
        id="transfer-encoding-with-a-tab-is-removed-and-the-length-stays",
    ),
    pytest.param(
        [LENGTH, (b"keep-alive ", b"timeout=5")],
        "1.1",
        [LENGTH, (b"connection", b"keep-alive")],
        False,
        (b"keep-alive ",),
        id="keep-alive-with-a-space-is-removed",
    ),
    pytest.param(
        [LENGTH, (b"connection", b"x-secret"), (b"x-secret ", b"s3cret")],
        "1.1",
        [LENGTH, (b"connection", b"keep-alive")],
        False,
        (b"connection", b"x-secret "),
        id="a-nominated-name-in-disguise-is-removed",
    ),
    pytest.param(
        [LENGTH, (b"connection ", b"content-length, x-secret"), SECRET],
        "1.1",
        [LENGTH, (b"connection", b"keep-alive")],
        False,
        (b"connection ", b"x-secret"),
        id="a-disguised-connection-never-nominates-a-protected-name",
    ),
    pytest.param(
        [LENGTH, (b"x-ok\x85", b"1"), (b"", b"1"), (b"X-Caf\xe9", b"1"), (b"x-ok", b"1")],
        "1.1",
        [LENGTH, (b"x-ok", b"1"), (b"connection", b"keep-alive")],
        False,
        (b"x-ok\x85", b"", b"x-caf\xe9"),
        id="names-that-are-not-tokens-are-removed-tokens-stay",
    ),
    pytest.param(
        [LENGTH, (b"connection ", b"x-secret"), SECRET, (b"keep-alive ", b"timeout=5")],
        "2",
        [LENGTH],
        False,
        (b"connection ", b"x-secret", b"keep-alive "),
        id="http2-nothing-connection-specific-under-any-name",
    ),
]


@pytest.mark.parametrize(("app", "version", "out", "close", "removed"), DISGUISED)
def test_finish_response_removes_names_that_are_not_tokens(
    app: list[Header], version: str, out: list[Header], close: bool, removed: tuple[bytes, ...]
) -> None:
    policy = Policy()
    facts = policy.read_request(version, [])
    assert policy.quick_finish(facts, 200, app) is None  # never the quick path
    headers, closes, gone = policy.finish_response(facts, 200, app)
    assert (list(headers), closes, gone) == (out, close, removed)


@pytest.mark.parametrize(
    ("name", "why"),
    [
        pytest.param(b"connection ", "invalid", id="a-disguised-connection"),
        pytest.param(b"x-ok\x85", "invalid", id="not-a-token"),
        pytest.param(b"", "invalid", id="empty"),
        pytest.param(b"keep-alive", "hop-by-hop", id="a-valid-hop-by-hop-name"),
    ],
)
def test_strict_mode_s_word_for_an_invalid_name(name: bytes, why: str) -> None:
    assert Policy().why_removed(name) == why


def test_a_clean_response_is_still_the_app_s_own_list_and_quick() -> None:
    policy = Policy()
    facts = policy.read_request("1.1", [])
    app = [LENGTH, (b"x-ok", b"1")]
    policy.finish_response(facts, 200, app)  # learns the names
    assert policy.quick_finish(facts, 200, app) == [*app, (b"connection", b"keep-alive")]
    facts2 = policy.read_request("2", [])
    assert policy.finish_response(facts2, 200, app)[0] is app


@pytest.mark.parametrize(
    ("headers", "response", "expected"),
    [
        pytest.param(
            [(b"Connection ", b"x-secret"), SECRET, (b"content-type", b"text/plain")],
            True,
            [(b"content-type", b"text/plain")],
            id="an-upstream-s-disguised-connection-nominates",
        ),
        pytest.param(
            [(b"Transfer-Encoding\t", b"chunked"), (b" keep-alive", b"timeout=5"), LENGTH],
            True,
            [LENGTH],
            id="an-upstream-s-disguised-framing-is-removed",
        ),
        pytest.param(
            [(b"te ", b"trailers"), (b"accept", b"*/*")],
            False,
            [(b"accept", b"*/*")],
            id="a-disguised-te-is-no-te",
        ),
    ],
)
@pytest.mark.parametrize("kind", ["bytes", "str"])
def test_forwardable_headers_classify_names_alike(
    headers: list[Header], response: bool, expected: list[Header], kind: str
) -> None:
    if kind == "bytes":
        assert forwardable_headers(headers, response=response) == expected
    else:  # WSGI's and http.client's str pairs
        text = [(n.decode("latin-1"), v.decode("latin-1")) for n, v in headers]
        out = [
            (n.encode("latin-1"), v.encode("latin-1"))
            for n, v in forwardable_headers(text, response=response)
        ]
        assert out == expected


def test_websocket_accept_headers_classify_names_alike() -> None:
    headers = [(b"Connection ", b"x-secret"), SECRET, (b"x-app", b"1"), (b"keep-alive\t", b"timeout=5")]
    kept, removed = Policy().clean_accept_headers(headers)
    assert list(kept) == [(b"x-app", b"1")]
    assert removed == (b"connection ", b"x-secret", b"keep-alive\t")
