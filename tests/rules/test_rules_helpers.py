"""Rules the adapters share: framing, close reasons, accept headers, name kinds."""

from __future__ import annotations

import warnings

import pytest

from connmw.rules import (
    CONNECTION,
    HOP,
    ORDINARY,
    Policy,
    body_needs_framing,
    close_reason,
    drops_content_length,
    forwardable_headers,
    no_content_reason,
)

policy = Policy()


@pytest.mark.parametrize(
    ("status", "method", "headers", "expected"),
    [
        pytest.param(200, "GET", [], True, id="a-200-without-length-needs-framing"),
        pytest.param(
            200, "GET", [(b"Content-Length", b"2")], False, id="content-length-in-any-case-frames-it"
        ),
        pytest.param(200, "HEAD", [], False, id="head-responses-have-no-body"),
        pytest.param(204, "GET", [], False, id="204-has-no-body"),
        pytest.param(304, "GET", [], False, id="304-has-no-body"),
        pytest.param(101, "GET", [], False, id="1xx-has-no-body"),
        pytest.param(
            500, None, [(b"content-type", b"text/plain")], True, id="unknown-method-still-needs-framing"
        ),
    ],
)
def test_body_needs_framing(
    status: int, method: str | None, headers: list[tuple[bytes, bytes]], expected: bool
) -> None:
    assert body_needs_framing(status, method, headers) is expected


@pytest.mark.parametrize(
    ("method", "status", "expected"),
    [
        pytest.param("HEAD", 200, "head", id="head-rfc9110-9.3.2"),
        pytest.param("HEAD", 404, "head", id="head-of-an-error-too"),
        pytest.param("HEAD", 204, "head", id="head-first-whatever-the-status"),
        pytest.param("GET", 100, "1xx", id="100-rfc9110-15.2"),
        pytest.param("GET", 103, "1xx", id="103-early-hints"),
        pytest.param("GET", 101, "1xx", id="101"),
        pytest.param("GET", 204, "204", id="204-rfc9110-15.3.5"),
        pytest.param("POST", 304, "304", id="304-rfc9110-15.4.5"),
        pytest.param("GET", 200, None, id="200-has-content"),
        pytest.param("GET", 205, None, id="205-is-not-a-framing-rule-here"),
        pytest.param(None, 404, None, id="unknown-method"),
        pytest.param("CONNECT", 200, None, id="connect-2xx-is-a-tunnel-not-a-body"),
        pytest.param("head", 200, None, id="methods-are-case-sensitive-rfc9110-9.1"),
    ],
)
def test_no_content_reason(method: str | None, status: int, expected: str | None) -> None:
    assert no_content_reason(method, status) == expected


@pytest.mark.parametrize(
    ("status", "headers", "kept", "removed"),
    [
        pytest.param(
            204,
            [(b"Content-Length", b"5"), (b"x-a", b"1")],
            [(b"x-a", b"1")],
            (b"content-length",),
            id="204-loses-content-length-rfc9110-8.6",
        ),
        pytest.param(
            103,
            [(b"link", b"</a>"), (b"content-length", b"0")],
            [(b"link", b"</a>")],
            (b"content-length",),
            id="1xx-loses-content-length",
        ),
        pytest.param(
            304, [(b"content-length", b"5")], [], (b"content-length",), id="304-loses-the-200s-length-too"
        ),
        pytest.param(
            200, [(b"content-length", b"5")], [(b"content-length", b"5")], (), id="200-keeps-its-length"
        ),
        pytest.param(
            204,
            [(b"content-length", b"5"), (b"transfer-encoding", b"chunked")],
            [],
            (b"content-length", b"transfer-encoding"),
            id="204-loses-both-framing-fields",
        ),
    ],
)
def test_finish_response_framing_fields_of_responses_without_content(
    status: int,
    headers: list[tuple[bytes, bytes]],
    kept: list[tuple[bytes, bytes]],
    removed: tuple[bytes, ...],
) -> None:
    facts = Policy(explicit_keep_alive=False).request_facts("1.1", None)
    out, close, gone = Policy(explicit_keep_alive=False).finish_response(facts, status, headers)
    assert (list(out), close, gone) == (kept, False, removed)
    assert policy.why_removed(b"content-length") == "framing"


@pytest.mark.parametrize(
    ("version", "connection", "server_reason", "framing", "expected"),
    [
        pytest.param("1.1", None, "drain", False, "drain", id="a-server-reason-comes-first"),
        pytest.param("1.0", None, None, False, "client", id="http10-without-keep-alive-is-the-clients-close"),
        pytest.param("1.1", b"close", None, False, "client", id="client-connection-close"),
        pytest.param("1.1", None, None, True, "framing", id="unframed-body-on-a-persistent-request"),
        pytest.param("1.1", None, None, False, "app", id="otherwise-the-app-asked"),
    ],
)
def test_close_reason(
    version: str, connection: bytes | None, server_reason: str | None, framing: bool, expected: str
) -> None:
    facts = policy.request_facts(version, connection)
    assert close_reason(facts, server_reason, framing=framing) == expected


def test_forwardable_response_headers_drop_te_entirely() -> None:
    headers = [(b"te", b"trailers"), (b"content-type", b"text/plain"), (b"transfer-encoding", b"chunked")]
    assert forwardable_headers(headers, response=True) == [(b"content-type", b"text/plain")]
    assert forwardable_headers(headers) == [(b"content-type", b"text/plain"), (b"te", b"trailers")]


@pytest.mark.parametrize(
    ("headers", "kept", "removed"),
    [
        pytest.param(
            [(b"sec-websocket-protocol", b"chat")],
            [(b"sec-websocket-protocol", b"chat")],
            (),
            id="clean-list-is-kept",
        ),
        pytest.param(
            [
                (b"Connection", b"x-trace"),
                (b"X-Trace", b"1"),
                (b"set-cookie", b"a=1"),
                (b"Keep-Alive", b"timeout=5"),
            ],
            [(b"set-cookie", b"a=1")],
            (b"connection", b"x-trace", b"keep-alive"),
            id="hop-by-hop-and-nominated-are-removed",
        ),
        pytest.param(
            [(b"connection", b"set-cookie"), (b"set-cookie", b"a=1")],
            [(b"set-cookie", b"a=1")],
            (b"connection",),
            id="protected-nomination-is-ignored",
        ),
    ],
)
def test_clean_accept_headers(
    headers: list[tuple[bytes, bytes]], kept: list[tuple[bytes, bytes]], removed: tuple[bytes, ...]
) -> None:
    out, gone = policy.clean_accept_headers(headers)
    assert (list(out), gone) == (kept, removed)
    if not removed:
        assert out is headers


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        pytest.param("Connection", CONNECTION, id="str-title-case"),
        pytest.param(b"CONNECTION", CONNECTION, id="bytes-upper-case"),
        pytest.param("kEEp-AliVe", HOP, id="str-odd-case-is-lowered"),
        pytest.param(b"Content-Type", ORDINARY, id="ordinary-bytes"),
        pytest.param("content-type", ORDINARY, id="ordinary-str"),
    ],
)
def test_kind_of_accepts_str_and_bytes_without_mixing_them(name: str | bytes, kind: int) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error", BytesWarning)
        assert policy.kind_of(name) == kind
        assert policy.needs_cleaning([(name, "v")]) is (kind != ORDINARY)


@pytest.mark.parametrize(
    ("value", "complaint"),
    [
        pytest.param(b"keep-alive", None, id="an-ordinary-field-has-nothing-to-report"),
        pytest.param(b"close, x-forwarded-for", "nominated a protected header", id="protected-nomination"),
        pytest.param(b"close, ???", "held invalid tokens", id="invalid-token"),
        pytest.param(
            b", ".join(b"x-%d" % i for i in range(17)), "had more tokens than allowed", id="too-many-tokens"
        ),
    ],
)
def test_connection_complaint_is_worded_once_for_both_adapters(value: bytes, complaint: str | None) -> None:
    assert policy.tokens([value]).complaint == complaint


def test_why_removed_names_the_kind_of_removal() -> None:
    assert policy.why_removed(b"keep-alive") == "hop-by-hop"
    assert policy.why_removed(b"x-hop") == "Connection-nominated"


@pytest.mark.parametrize(
    ("status", "dropped"),
    [
        pytest.param(100, True, id="100"),
        pytest.param(103, True, id="103"),
        pytest.param(200, False, id="200"),
        pytest.param(204, True, id="204-rfc9110-8.6"),
        pytest.param(205, False, id="205"),
        pytest.param(304, True, id="304-may-carry-one-but-servers-miscount-it"),
        pytest.param(404, False, id="404"),
    ],
)
def test_drops_content_length(status: int, dropped: bool) -> None:
    assert drops_content_length(status) is dropped
