"""Parsing Connection, the hop-by-hop set, protected names and the token limit (rules.py).

Vectors come from RFC 9110 §5.6.1 / §7.6.1 and from the peers' observed behaviour
(docs/policy.md, docs/servers.md): several Connection lines, token syntax, hop-by-hop
header abuse.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import connmw
from connmw import rules
from connmw.rules import (
    HOP_BY_HOP,
    PROTECTED,
    PROTECTED_PREFIXES,
    ConnectionTokens,
    Policy,
    is_token,
    normalize_http_version,
    parse_connection,
)
from connmw.rules._headers import CACHE_LIMIT

# The module's text, read from its file: the accelerated build's compiled module has no
# source for inspect to find.
RULES_SOURCE = "\n".join(
    path.read_text(encoding="utf-8") for path in sorted((Path(connmw.__file__).parent / "rules").glob("*.py"))
)

# --------------------------------------------------------------------------------------
# parse_connection: one table, every column of ConnectionTokens checked on every row
# --------------------------------------------------------------------------------------

_E: frozenset[bytes] = frozenset()


def _tokens(
    *,
    close: bool = False,
    keep_alive: bool = False,
    upgrade: bool = False,
    nominated: set[bytes] | frozenset[bytes] = _E,
    refused: set[bytes] | frozenset[bytes] = _E,
    invalid: tuple[bytes, ...] = (),
    too_many: bool = False,
) -> ConnectionTokens:
    return ConnectionTokens(
        close=close,
        keep_alive=keep_alive,
        upgrade=upgrade,
        nominated=frozenset(nominated),
        refused=frozenset(refused),
        invalid=invalid,
        too_many=too_many,
    )


PARSE_CASES = [
    pytest.param([], _tokens(), id="no-connection-field-says-nothing"),
    pytest.param([b""], _tokens(), id="an-empty-field-says-nothing"),
    pytest.param([b"close"], _tokens(close=True), id="close-is-a-directive-and-nominates-nothing"),
    pytest.param([b"CLOSE"], _tokens(close=True), id="close-compares-case-insensitively"),
    pytest.param(
        [b"keep-alive"],
        _tokens(keep_alive=True, nominated={b"keep-alive"}),
        id="keep-alive-also-nominates-the-keep-alive-field",
    ),
    pytest.param(
        [b"Keep-Alive"],
        _tokens(keep_alive=True, nominated={b"keep-alive"}),
        id="keep-alive-in-title-case-is-the-same-token",
    ),
    pytest.param(
        [b"Upgrade"],
        _tokens(upgrade=True, nominated={b"upgrade"}),
        id="upgrade-as-in-the-rfc-6455-handshake",
    ),
    pytest.param(
        [b"keep-alive, Upgrade"],
        _tokens(keep_alive=True, upgrade=True, nominated={b"keep-alive", b"upgrade"}),
        id="firefox-sends-keep-alive-and-upgrade-in-one-line",
    ),
    pytest.param(
        [b"Upgrade", b"keep-alive"],
        _tokens(keep_alive=True, upgrade=True, nominated={b"keep-alive", b"upgrade"}),
        id="several-lines-are-one-list-unlike-wsproto-which-keeps-the-last",
    ),
    pytest.param(
        [b"keep-alive", b"close"],
        _tokens(close=True, keep_alive=True, nominated={b"keep-alive"}),
        id="close-on-a-second-line-is-not-lost-unlike-old-go",
    ),
    pytest.param(
        [b", , close ,,"],
        _tokens(close=True),
        id="empty-list-elements-are-ignored-rfc-9110-5-6-1",
    ),
    pytest.param(
        [b" \tclose\t "],
        _tokens(close=True),
        id="optional-white-space-around-a-token-is-ignored",
    ),
    pytest.param(
        [b"keep-alive, X-Hop"],
        _tokens(keep_alive=True, nominated={b"keep-alive", b"x-hop"}),
        id="the-baseline-hoppy-app-nominates-x-hop",
    ),
    pytest.param(
        [b"x-a, X-A, x-a"],
        _tokens(nominated={b"x-a"}),
        id="a-name-nominated-three-times-is-one-name",
    ),
    pytest.param(
        [b"close, X-Forwarded-For"],
        _tokens(close=True, refused={b"x-forwarded-for"}),
        id="hop-by-hop-abuse-of-x-forwarded-for-is-refused-cve-2021-33197",
    ),
    pytest.param(
        [b"close, Host, Content-Length, Authorization"],
        _tokens(close=True, refused={b"host", b"content-length", b"authorization"}),
        id="nominating-host-content-length-and-authorization-is-refused",
    ),
    pytest.param(
        [b"Sec-WebSocket-Key, x-ok"],
        _tokens(refused={b"sec-websocket-key"}, nominated={b"x-ok"}),
        id="a-refused-name-does-not-stop-the-others-from-being-nominated",
    ),
    pytest.param(
        [b"keep-alive; Upgrade"],
        _tokens(invalid=(b"keep-alive; upgrade",)),
        id="a-semicolon-list-is-not-a-token-and-means-nothing",
    ),
    pytest.param(
        [b"???, close"],
        _tokens(close=True, invalid=(b"???",)),
        id="question-marks-are-reported-as-invalid-and-the-rest-still-counts",
    ),
    pytest.param(
        [b"clo se"],
        _tokens(invalid=(b"clo se",)),
        id="a-space-inside-a-token-makes-it-invalid",
    ),
    pytest.param(
        [b"\xffclose, \x00, close\x7f"],
        _tokens(invalid=(b"\xffclose", b"\x00", b"close\x7f")),
        id="non-ascii-and-control-bytes-are-invalid-not-close",
    ),
    pytest.param(
        [b'"close"'],
        _tokens(invalid=(b'"close"',)),
        id="a-quoted-string-is-not-a-token",
    ),
]


@pytest.mark.parametrize(("values", "expected"), PARSE_CASES)
def test_parse_connection(values: list[bytes], expected: ConnectionTokens) -> None:
    assert parse_connection(values) == expected


def test_parse_connection_reads_any_iterable_once() -> None:
    lines = iter([b"close", b"x-a"])
    assert parse_connection(lines) == _tokens(close=True, nominated={b"x-a"})


# --------------------------------------------------------------------------------------
# The token limit
# --------------------------------------------------------------------------------------


def _many(count: int) -> bytes:
    return b", ".join(b"x-%d" % index for index in range(count))


@pytest.mark.parametrize(
    ("value", "max_tokens", "too_many", "nominated_count"),
    [
        pytest.param(_many(16), 16, False, 16, id="sixteen-tokens-are-within-the-default-limit"),
        pytest.param(_many(17), 16, True, 0, id="seventeen-tokens-nominate-nothing"),
        pytest.param(_many(10), 10, False, 10, id="envoy-style-limit-of-ten-admits-ten"),
        pytest.param(_many(11), 10, True, 0, id="envoy-style-limit-of-ten-refuses-eleven"),
        pytest.param(_many(16) + b", close", 16, True, 0, id="close-counts-toward-the-limit-like-any-token"),
        pytest.param(b"x, x, x", 2, True, 0, id="repeated-tokens-each-count-toward-the-limit"),
        pytest.param(b", ".join([b"?"] * 50) + b", x", 1, False, 1, id="invalid-elements-do-not-count"),
        pytest.param(b",,,,,,,,,, x", 1, False, 1, id="empty-elements-do-not-count"),
    ],
)
def test_token_limit(value: bytes, max_tokens: int, too_many: bool, nominated_count: int) -> None:
    parsed = parse_connection([value], max_tokens=max_tokens)
    assert parsed.too_many is too_many
    assert parsed.abusive is too_many
    assert len(parsed.nominated) == nominated_count


def test_too_many_tokens_still_honour_close_and_upgrade() -> None:
    parsed = parse_connection([_many(20) + b", close, upgrade"])
    assert (parsed.too_many, parsed.close, parsed.upgrade, parsed.nominated) == (True, True, True, _E)


def test_policy_tokens_use_the_configured_limit() -> None:
    assert Policy(max_connection_tokens=3).tokens([_many(4)]).too_many
    assert not Policy(max_connection_tokens=4).tokens([_many(4)]).too_many


def test_a_limit_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="max_connection_tokens"):
        Policy(max_connection_tokens=0)


def test_an_eight_kilobyte_field_of_thousands_of_tokens_is_bounded_abuse() -> None:
    value = b",".join(b"x%d" % index for index in range(2000))
    assert len(value) > 8192
    parsed = Policy().tokens([value])
    assert parsed.too_many and parsed.nominated == _E


# --------------------------------------------------------------------------------------
# ConnectionTokens' derived answers
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "abusive", "only_directives"),
    [
        pytest.param(b"close", False, True, id="close-alone-is-only-a-persistence-wish"),
        pytest.param(b"keep-alive", False, True, id="keep-alive-alone-is-only-a-persistence-wish"),
        pytest.param(b"keep-alive, close", False, True, id="both-wishes-are-still-only-directives"),
        pytest.param(b"upgrade", False, False, id="upgrade-is-more-than-a-persistence-wish"),
        pytest.param(b"close, x-hop", False, False, id="a-nominated-header-is-more-than-a-wish"),
        pytest.param(b"close, ???", False, False, id="an-invalid-element-is-more-than-a-wish"),
        pytest.param(b"close, cookie", True, False, id="nominating-cookie-is-abuse"),
        pytest.param(_many(17), True, False, id="too-many-tokens-are-abuse-and-not-a-mere-wish"),
    ],
)
def test_abusive_and_only_directives(value: bytes, abusive: bool, only_directives: bool) -> None:
    parsed = parse_connection([value])
    assert parsed.abusive is abusive
    assert parsed.only_directives is only_directives


# --------------------------------------------------------------------------------------
# The tables
# --------------------------------------------------------------------------------------


def test_hop_by_hop_set_is_rfc_9110_plus_rfc_2616_legacy() -> None:
    assert (
        frozenset(
            {
                b"connection",
                b"keep-alive",
                b"proxy-connection",
                b"te",
                b"transfer-encoding",
                b"upgrade",
                b"proxy-authenticate",
                b"proxy-authorization",
                b"trailers",
            }
        )
        == HOP_BY_HOP
    )


@pytest.mark.parametrize(
    ("name", "hop_by_hop"),
    [
        pytest.param(b"trailer", False, id="trailer-survives-as-the-announcement-of-trailers-question-1"),
        pytest.param(b"trailers", True, id="trailers-the-rfc-2616-misspelling-is-stripped-question-1"),
        pytest.param(b"proxy-connection", True, id="proxy-connection-is-stripped-question-2"),
        pytest.param(b"te", True, id="te-is-hop-by-hop-question-3"),
        pytest.param(b"proxy-authenticate", True, id="proxy-authenticate-is-stripped-question-7"),
        pytest.param(b"proxy-authorization", True, id="proxy-authorization-is-stripped-question-7"),
        pytest.param(b"content-length", False, id="content-length-is-end-to-end"),
    ],
)
def test_policy_questions_on_the_hop_by_hop_set(name: bytes, hop_by_hop: bool) -> None:
    assert (name in HOP_BY_HOP) is hop_by_hop


def test_every_hop_by_hop_entry_cites_its_source() -> None:
    source = RULES_SOURCE
    start = source.index("HOP_BY_HOP: Final")
    block = source[start : source.index('"""', start)]
    entry_lines = [line for line in block.splitlines() if line.strip().startswith('b"')]
    assert len(entry_lines) == len(HOP_BY_HOP)
    for line in entry_lines:
        assert "# RFC " in line, line


@pytest.mark.parametrize(
    "name",
    [
        b"host",
        b"content-length",
        b"content-type",
        b"authorization",
        b"cookie",
        b"set-cookie",
        b"forwarded",
        b"x-forwarded-for",
        b"x-forwarded-proto",
        b"x-forwarded-host",
        b"x-real-ip",
        b"origin",
        b"sec-websocket-key",
        b"sec-websocket-accept",
        b"sec-websocket-protocol",
    ],
    ids=lambda name: f"{name.decode()}-is-protected-as-issue-2-requires",
)
def test_issue_2_protected_names(name: bytes) -> None:
    assert Policy().is_protected(name)
    assert name in PROTECTED or name.startswith(PROTECTED_PREFIXES)


def test_no_hop_by_hop_name_is_protected() -> None:
    assert not [name for name in HOP_BY_HOP if Policy().is_protected(name)]


@pytest.mark.parametrize(
    ("protected_headers", "name", "expected"),
    [
        pytest.param(["X-Tenant"], b"x-tenant", True, id="a-configured-name-is-protected-in-lower-case"),
        pytest.param([b"x-tenant"], b"x-tenant", True, id="a-configured-name-may-be-bytes"),
        pytest.param(["x-acme-*"], b"x-acme-user", True, id="a-star-protects-a-prefix"),
        pytest.param(["x-acme-*"], b"x-acme", False, id="a-prefix-does-not-protect-a-shorter-name"),
        pytest.param(["x-acme-*"], b"host", True, id="configured-names-add-to-the-defaults"),
        pytest.param([], b"x-tenant", False, id="an-ordinary-name-is-not-protected"),
    ],
)
def test_configured_protected_headers(
    protected_headers: list[str | bytes], name: bytes, expected: bool
) -> None:
    policy = Policy(protected_headers=protected_headers)
    assert policy.is_protected(name) is expected
    assert (name in policy.tokens([b"close, " + name]).refused) is expected


@pytest.mark.parametrize(
    "strip_headers",
    [
        pytest.param(["Host"], id="stripping-host-is-refused"),
        pytest.param(["x-forwarded-for"], id="stripping-a-protected-prefix-is-refused"),
        pytest.param([b"cookie"], id="stripping-cookie-given-as-bytes-is-refused"),
    ],
)
def test_protected_names_cannot_be_stripped(strip_headers: list[str | bytes]) -> None:
    with pytest.raises(ValueError, match="protected"):
        Policy(strip_headers=strip_headers)


def test_a_configured_prefix_also_refuses_stripping() -> None:
    with pytest.raises(ValueError, match="protected"):
        Policy(strip_headers=["x-acme-id"], protected_headers=["x-acme-*"])


# --------------------------------------------------------------------------------------
# Names: token syntax, kinds, versions
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param(b"keep-alive", True, id="keep-alive-is-a-token"),
        pytest.param(b"!#$%&'*+-.^_`|~09azAZ", True, id="every-tchar-class-is-a-token"),
        pytest.param(b"", False, id="empty-is-not-a-token"),
        pytest.param(b"a b", False, id="a-space-is-not-a-tchar"),
        pytest.param(b"a;b", False, id="a-semicolon-is-a-delimiter"),
        pytest.param(b"a,b", False, id="a-comma-is-a-delimiter"),
        pytest.param(b'"a"', False, id="a-double-quote-is-a-delimiter"),
        pytest.param(b"\xe9", False, id="a-latin-1-letter-is-not-a-tchar"),
        pytest.param(b"a\x00", False, id="a-nul-byte-is-not-a-tchar"),
    ],
)
def test_is_token(value: bytes, expected: bool) -> None:
    assert is_token(value) is expected


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        pytest.param(b"connection", rules.CONNECTION, id="asgi-connection-is-the-connection-kind"),
        pytest.param("Connection", rules.CONNECTION, id="wsgi-title-case-connection-is-the-connection-kind"),
        pytest.param(b"cOnNeCtIoN", rules.CONNECTION, id="odd-case-connection-is-found-by-lower-casing"),
        pytest.param(b"upgrade", rules.UPGRADE, id="upgrade-has-its-own-kind"),
        pytest.param("TE", rules.TE, id="te-has-its-own-kind"),
        pytest.param(b"Keep-Alive", rules.HOP, id="keep-alive-is-hop-by-hop"),
        pytest.param("transfer-encoding", rules.HOP, id="transfer-encoding-is-hop-by-hop"),
        pytest.param(b"PROXY-CONNECTION", rules.HOP, id="upper-case-proxy-connection-is-hop-by-hop"),
        pytest.param(b"Trailer", rules.ORDINARY, id="trailer-is-ordinary"),
        pytest.param("content-type", rules.ORDINARY, id="content-type-is-ordinary"),
        pytest.param("caf\u00e9", rules.INVALID, id="a-latin-1-str-name-is-no-token-so-invalid"),
        pytest.param("\u2603", rules.INVALID, id="a-str-name-outside-latin-1-is-invalid-not-an-error"),
    ],
)
def test_kind_of(name: bytes | str, kind: int) -> None:
    policy = Policy()
    assert policy.kind_of(name) == kind
    assert policy.kind_of(name) == kind  # the second answer comes from the cache


def test_configured_strip_headers_are_hop_by_hop_in_any_case() -> None:
    policy = Policy(strip_headers=["X-Powered-By", b"server"])
    assert policy.kind_of(b"x-powered-by") == rules.HOP
    assert policy.kind_of("Server") == rules.HOP
    assert policy.needs_cleaning([(b"Server", b"uvicorn")])
    assert not Policy().needs_cleaning([(b"Server", b"uvicorn")])


def test_the_name_cache_stays_bounded() -> None:
    policy = Policy()
    for index in range(3 * CACHE_LIMIT):
        policy.kind_of(b"x-%d" % index)
    assert len(policy._kinds) <= CACHE_LIMIT
    assert policy.kind_of(b"x-0") == rules.ORDINARY


@pytest.mark.parametrize(
    ("version", "expected"),
    [
        pytest.param("1.0", "1.0", id="asgi-1-0"),
        pytest.param("1.1", "1.1", id="asgi-1-1"),
        pytest.param("2", "2", id="asgi-2"),
        pytest.param("3", "3", id="asgi-3"),
        pytest.param("HTTP/1.0", "1.0", id="wsgi-http-1-0"),
        pytest.param("HTTP/1.1", "1.1", id="wsgi-http-1-1"),
        pytest.param("HTTP/2", "2", id="wsgi-http-2"),
        pytest.param("HTTP/2.0", "2", id="wsgi-http-2-0-as-some-servers-spell-it"),
        pytest.param("HTTP/3", "3", id="wsgi-http-3"),
        pytest.param("HTTP/0.9", "1.0", id="http-0-9-reads-as-the-cautious-1-0"),
        pytest.param("", "1.0", id="an-empty-version-reads-as-1-0"),
        pytest.param("http/1.1", "1.0", id="a-lower-case-protocol-name-is-not-http-and-reads-as-1-0"),
    ],
)
def test_normalize_http_version(version: str, expected: str) -> None:
    assert normalize_http_version(version) == expected


def test_every_public_name_is_exported() -> None:
    tree = ast.parse(RULES_SOURCE)
    public = {
        node.name
        for node in tree.body
        if isinstance(node, ast.ClassDef | ast.FunctionDef) and not node.name.startswith("_")
    }
    missing = public - set(rules.__all__)
    assert not missing
    assert all(hasattr(rules, name) for name in rules.__all__)
