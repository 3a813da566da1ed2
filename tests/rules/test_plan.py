"""One request and one response start planned (Policy.plan_request, Policy.plan_response).

Each row names the server behaviour or HTTP rule it stands for; the property tests show that
a plan answers exactly what the rules' separate decisions answer.
"""

from __future__ import annotations

import dataclasses
from typing import Any, get_args

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connmw.rules import (
    FieldRoute,
    Header,
    Policy,
    RequestFacts,
    ServerTraits,
    UnsizedBodiless,
    asks_server,
    check_switching_protocols,
    close_reason,
    fields_reach_client,
    holds_unsized_body,
    keeps_as_connmw_would,
    leaves_http10_keep_alive_to_server,
    no_content_reason,
    offers_websocket,
    server_closes,
    switch_refusal,
    takes_fields,
    websocket_accept,
)
from connmw.rules._plan import _REMEMBERS
from connmw.servers import SERVERS
from tests.helpers import handshake_headers

from .test_traits import CLOSE_11, KEEP_10, KEEP_11, PLAIN_10, POLICY

UPGRADE_11 = POLICY.request_facts("1.1", b"upgrade", b"websocket")
KEEP: Header = (b"connection", b"keep-alive")
CLOSE: Header = (b"connection", b"close")
SIZED: list[Header] = [(b"content-type", b"text/plain"), (b"content-length", b"2")]
UNSIZED: list[Header] = [(b"content-type", b"text/plain")]
KEY = b"dGhlIHNhbXBsZSBub25jZQ=="
SWITCH: list[Header] = [
    (b"upgrade", b"websocket"),
    (b"connection", b"upgrade"),
    (b"sec-websocket-accept", websocket_accept(KEY)),
]
APP = ServerTraits(connection_field="app")
WSGI: dict[str, Any] = {"interface": "wsgi"}


def _on(route: FieldRoute, **traits: Any) -> ServerTraits:
    return ServerTraits(connection_field=route, **traits)


def _sent(plan: Any, headers: list[Any]) -> list[Any]:
    """The headers an adapter sends for this plan."""
    return [*(headers if plan.headers is None else plan.headers), *(plan.fields if plan.append else ())]


@pytest.mark.parametrize(
    ("facts", "status", "headers", "method", "options", "expected"),
    [
        pytest.param(
            KEEP_11, 200, SIZED, "GET", {**WSGI, "traits": APP},
            ([*SIZED, KEEP], False, None, False, False),
            id="wsgi-app-route-appends-keep-alive",
        ),
        pytest.param(
            KEEP_11, 200, SIZED, "GET", {**WSGI, "traits": ServerTraits(connection_field="server")},
            (SIZED, False, None, False, False),
            id="wsgi-server-route-sends-no-field",
        ),
        pytest.param(
            CLOSE_11, 200, SIZED, "GET", {**WSGI, "traits": ServerTraits(connection_field="server")},
            (SIZED, True, None, False, False),
            id="wsgi-server-route-without-hook-counts-no-close",
        ),
        pytest.param(
            CLOSE_11, 200, SIZED, "GET",
            {**WSGI, "traits": ServerTraits(connection_field="server"), "hooked": True},
            (SIZED, True, "client", True, False),
            id="wsgi-hooked-server-counts-and-asks",
        ),
        pytest.param(
            KEEP_11, 200, UNSIZED, "HEAD", {**WSGI, "traits": _on("app", closes_unsized_bodiless="head")},
            ([*UNSIZED, CLOSE], True, "server", False, False),
            id="wsgi-head-without-length-closed-by-the-server-says-close",
        ),
        pytest.param(
            KEEP_11, 200, SIZED, "HEAD", {**WSGI, "traits": _on("app", closes_unsized_bodiless="head")},
            ([*SIZED, KEEP], False, None, False, False),
            id="wsgi-head-with-length-kept",
        ),
        pytest.param(
            KEEP_11, 200, SIZED, "GET", {**WSGI, "traits": _on("app", always_closes=True)},
            ([*SIZED, CLOSE], True, "server", False, False),
            id="wsgi-uwsgi-http-socket-closes-every-connection",
        ),
        pytest.param(
            KEEP_10, 200, UNSIZED, "GET",
            {**WSGI, "traits": _on("app", says_http10_keep_alive=True), "framing": True},
            (UNSIZED, False, None, False, False),
            id="wsgi-granian-http10-keep-alive-left-to-the-server",
        ),
        pytest.param(
            KEEP_10, 200, UNSIZED, "GET", {**WSGI, "traits": APP, "framing": True},
            ([*UNSIZED, CLOSE], True, "framing", True, False),
            id="wsgi-http10-keep-alive-unsized-closes-for-framing",
        ),
        pytest.param(
            KEEP_11, 200, SIZED, "GET",
            {**WSGI, "traits": _on("app", may_refuse_field=True), "field_refused": True},
            (SIZED, False, None, False, False),
            id="wsgi-field-refused-before-is-not-offered",
        ),
        pytest.param(
            KEEP_11, 200, SIZED, "GET", {**WSGI, "traits": APP, "field_refused": True},
            ([*SIZED, KEEP], False, None, False, False),
            id="wsgi-refusal-of-another-server-ignored-where-none-refuses",
        ),
        pytest.param(
            KEEP_11, 200, SIZED, "GET", {**WSGI, "traits": _on("app", may_refuse_field=True)},
            ([*SIZED, KEEP], False, None, False, True),
            id="wsgi-field-offered-where-it-may-be-refused",
        ),
        pytest.param(
            UPGRADE_11, 101, SWITCH, "GET",
            {**WSGI, "traits": _on("server", switches_protocols=True), "websocket_key": KEY},
            ([*SWITCH[:1], SWITCH[2], (b"connection", b"upgrade")], False, None, False, False),
            id="wsgi-101-on-a-switching-server-keeps-its-upgrade-fields",
        ),
        pytest.param(
            KEEP_11, 200, SIZED, "GET", {"server_announces": True},
            (SIZED, True, "server", False, False),
            id="asgi-server-announces-its-close-alone",
        ),
        pytest.param(
            KEEP_11, 200, SIZED, "GET", {"server_reason": "drain"},
            ([*SIZED, CLOSE], True, "drain", False, False),
            id="asgi-drain-keeps-the-lifecycle-count",
        ),
    ],
)
def test_plan_response_inputs(  # noqa: PLR0917 (one table row)
    facts: RequestFacts,
    status: int,
    headers: list[Header],
    method: str,
    options: dict[str, Any],
    expected: tuple[object, ...],
) -> None:
    """Sent headers, close, the counter's reason, whether the lifecycle forgets, and whether the
    fields are offered where the server may refuse them."""
    plan = POLICY.plan_response(facts, status, headers, method=method, **options)
    assert not plan.switch_refused
    assert plan.switch_problem is None
    got = (_sent(plan, headers), plan.close, plan.close_reason, plan.forget, plan.refusable)
    assert got == expected


def test_plan_refuses_a_101_where_the_server_cannot_switch() -> None:
    plan = POLICY.plan_response(UPGRADE_11, 101, SWITCH, interface="wsgi", traits=APP, websocket_key=KEY)
    assert plan.switch_refused
    assert not plan.close
    assert plan.close_reason is None


@pytest.mark.parametrize(
    ("facts", "headers", "key", "problem"),
    [
        pytest.param(KEEP_11, SWITCH, KEY, "asked for no upgrade", id="no-upgrade-asked"),
        pytest.param(UPGRADE_11, SWITCH[1:], KEY, "without an Upgrade field", id="no-upgrade-field"),
        pytest.param(UPGRADE_11, SWITCH, "x" * 24, "does not match", id="wrong-accept-str-key"),
    ],
)
def test_plan_names_a_wrong_101(facts: RequestFacts, headers: list[Header], key: Any, problem: str) -> None:
    traits = ServerTraits(switches_protocols=True)
    plan = POLICY.plan_response(facts, 101, headers, interface="wsgi", traits=traits, websocket_key=key)
    assert plan.switch_problem is not None
    assert problem in plan.switch_problem


def test_plan_of_a_101_on_asgi_checks_nothing() -> None:
    plan = POLICY.plan_response(KEEP_11, 101, SWITCH)
    assert plan.switch_problem is None
    assert not plan.switch_refused


@pytest.mark.parametrize(
    ("facts", "status", "headers", "fields", "close"),
    [
        pytest.param(KEEP_11, 200, [("Content-Type", "text/plain")], [KEEP], False, id="str-pairs-keep"),
        pytest.param(CLOSE_11, 200, [("Content-Type", "text/plain")], [CLOSE], True, id="str-pairs-close"),
        pytest.param(
            KEEP_10, 200, [("Content-Length", "2")], [KEEP], False, id="str-pairs-http10-sized-keeps"
        ),
        pytest.param(KEEP_10, 200, [("X-A", "b")], [CLOSE], True, id="str-pairs-http10-unsized-closes"),
    ],
)
def test_plan_reads_clean_str_pairs_as_they_are(
    facts: RequestFacts, status: int, headers: list[Any], fields: list[Header], close: bool
) -> None:
    """WSGI's fast case: pairs that need no cleaning go to the rules as they are; only connmw's
    fields are decided (the converter is not called, and the application's list is not copied)."""
    converter = _Converter()
    plan = POLICY.plan_response(facts, status, headers, interface="wsgi", traits=APP, decode=converter)
    assert converter.calls == 0
    assert plan.headers is None
    assert plan.decoded is None
    assert list(plan.fields) == fields
    assert plan.append
    assert plan.close is close


class _Converter:
    """A WSGI-like converter (str pairs to latin-1 bytes pairs) that counts its calls."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, headers: Any) -> tuple[list[Header], list[Any]]:
        self.calls += 1
        raw: list[Header] = []
        unreadable: list[Any] = []
        for pair in headers:
            if type(pair) is tuple and len(pair) == 2 and all(type(part) is str for part in pair):
                raw.append((pair[0].encode("latin-1"), pair[1].encode("latin-1")))
            elif type(pair) is tuple and len(pair) == 2 and all(type(part) is bytes for part in pair):
                raw.append(pair)  # already the rules' pairs
            else:
                raw.append((b"x-unreadable", b""))
                unreadable.append(pair)
        return raw, unreadable


@pytest.mark.parametrize(
    ("status", "headers", "options", "sent", "unreadable"),
    [
        pytest.param(
            200, [("Content-Length", "2"), ("Connection", "close")], {},
            [(b"Content-Length", b"2"), CLOSE], [], id="hop-by-hop-pair-converted-and-removed",
        ),
        pytest.param(
            204, [("Content-Length", "0")], {}, [KEEP], [], id="status-that-drops-its-length-converted",
        ),
        pytest.param(
            200, [("X-A", "b")], {"framing": True}, [(b"X-A", b"b"), CLOSE], [],
            id="unframed-body-converted",
        ),
        pytest.param(
            200, [("X-A", "b")], {"decode_all": True}, [(b"X-A", b"b"), KEEP], [],
            id="strict-converts-every-pair",
        ),
        pytest.param(
            200, [("X-A", "b"), None], {}, [(b"X-A", b"b"), (b"x-unreadable", b""), KEEP],
            [None], id="unreadable-pair-converted-and-named",
        ),
        pytest.param(
            200, [("X-A", "b"), (1, 2, 3)], {}, [(b"X-A", b"b"), (b"x-unreadable", b""), KEEP],
            [(1, 2, 3)], id="pair-of-three-converted-and-named",
        ),
    ],
)
def test_plan_converts_pairs_only_when_they_need_it(
    status: int, headers: list[Any], options: dict[str, Any], sent: list[Header], unreadable: list[Any]
) -> None:
    """The planner decides whether the application's own pairs need converting and calls the
    adapter's converter once; the plan carries what it read (``decoded``) and could not."""
    converter = _Converter()
    plan = POLICY.plan_response(
        KEEP_11, status, headers, interface="wsgi", traits=APP, decode=converter, **options
    )
    assert converter.calls == 1
    assert plan.decoded is not None
    assert _sent(plan, plan.decoded) == sent
    assert list(plan.unreadable) == unreadable


@pytest.mark.parametrize(
    ("facts", "status", "headers", "method", "hold"),
    [
        pytest.param(PLAIN_10, 200, UNSIZED, "GET", True, id="unsized-body-held"),
        pytest.param(PLAIN_10, 200, SIZED, "GET", False, id="sized-body-goes-out"),
        pytest.param(PLAIN_10, 200, [(b"Content-Length", b"2")], "GET", False, id="any-case-length"),
        pytest.param(PLAIN_10, 200, [[b"content-length", b"2"]], "GET", False, id="list-pair-length"),
        pytest.param(PLAIN_10, 200, UNSIZED, "HEAD", False, id="head-has-no-body"),
        pytest.param(PLAIN_10, 204, UNSIZED, "GET", False, id="204-has-no-body"),
        pytest.param(PLAIN_10, 304, UNSIZED, "GET", False, id="304-has-no-body"),
        pytest.param(KEEP_11, 101, SWITCH, "GET", False, id="101-has-no-body"),
    ],
)
def test_plan_says_hold_before_anything_else(
    facts: RequestFacts, status: int, headers: list[Header], method: str, hold: bool
) -> None:
    """``hold=True``: a body without Content-Length is held (RFC 9112 §6.1) and nothing else is
    decided; any other start is planned in full, as without ``hold``."""
    plan = POLICY.plan_response(facts, status, headers, method=method, hold=True, server_reason="drain")
    assert plan.hold is hold
    if hold:
        assert (plan.fields, plan.close, plan.close_reason, plan.ask_server) == ((), False, None, False)
    else:
        fresh = POLICY.plan_response(facts, status, headers, method=method, server_reason="drain")
        assert _as_data(plan) == _as_data(fresh)
        assert plan.no_content == no_content_reason(method, status)


@pytest.mark.parametrize(
    ("version", "connection", "traits", "upgrade", "expected"),
    [
        pytest.param("1.1", None, APP, None, (False, False, False), id="http11-app-route"),
        pytest.param("1.0", None, APP, None, (True, False, False), id="http10-held"),
        pytest.param(
            "1.1", None, ServerTraits(chunks_unsized=False), None, (True, False, True),
            id="server-that-does-not-chunk-holds",
        ),
        pytest.param(
            "1.1", b"upgrade", ServerTraits(connection_field="server"), "WebSocket", (False, True, True),
            id="websocket-offered-on-a-server-that-keeps-as-connmw",
        ),
        pytest.param(
            "HTTP/1.1", "keep-alive", _on("server"), "websocket", (False, True, True),
            id="websocket-offered-without-connection-upgrade-str-fields",
        ),
        pytest.param(
            "1.0", b"keep-alive", ServerTraits(connection_field="server"), b"h2c", (True, False, False),
            id="http10-is-always-asked",
        ),
    ],
)
def test_plan_request(
    version: str, connection: Any, traits: ServerTraits, upgrade: Any, expected: tuple[bool, ...]
) -> None:
    plan = POLICY.plan_request(version, connection, upgrade, traits=traits)
    assert plan.facts == POLICY.request_facts(version, connection, upgrade)
    assert (plan.hold_unsized, plan.websocket, plan.server_keeps) == expected
    assert (plan.complaint, plan.headers) == (None, None)


@pytest.mark.parametrize(
    ("headers", "options", "complaint", "kept"),
    [
        pytest.param(
            [(b"host", b"a"), (b"connection", b"close")], {}, None, None, id="asgi-list-read",
        ),
        pytest.param(
            [(b"host", b"a"), (b"connection", b"host, x-a"), (b"x-a", b"1")], {},
            "nominated a protected header", None, id="protected-nomination-complained-of",
        ),
        pytest.param(
            [(b"connection", b"x-a"), (b"x-a", b"1"), (b"keep-alive", b"5"), (b"host", b"a")],
            {"strip": True}, None, [(b"host", b"a")], id="stripped-in-the-same-answer",
        ),
        pytest.param(
            [(b"host", b"a"), (b"x-a", b"1")], {"strip": True}, None, None,
            id="nothing-to-strip-keeps-the-list",
        ),
        pytest.param(
            [(b"host", b"a"), (b"te", b"trailers, gzip")], {"strip": True}, None,
            [(b"host", b"a"), (b"te", b"trailers")], id="te-trailers-crosses-the-hop",
        ),
        pytest.param(
            [(b"connection", b"close"), (b"x-a", b"1")], {"strip": True}, None, [(b"x-a", b"1")],
            id="connection-itself-stripped",
        ),
    ],
)
def test_plan_request_reads_a_header_list(
    headers: list[Header], options: dict[str, Any], complaint: str | None, kept: list[Header] | None
) -> None:
    """ASGI's one visit: the facts read from the scope's list, the complaint, and (asked) the
    stripped headers, all in one answer."""
    plan = POLICY.plan_request("1.1", headers=headers, **options)
    assert plan.facts == POLICY.read_request("1.1", headers)
    assert plan.complaint == complaint
    assert (None if plan.headers is None else list(plan.headers)) == kept


HANDSHAKE = handshake_headers("example.com")


@pytest.mark.parametrize(
    ("headers", "upgrade", "options", "status"),
    [
        pytest.param(HANDSHAKE, "websocket", {}, 101, id="valid-handshake-accepted"),
        pytest.param(
            handshake_headers("example.com", origin="http://evil.example"), "websocket", {}, 403,
            id="foreign-origin-403",
        ),
        pytest.param(
            handshake_headers("example.com", **{"Sec-WebSocket-Version": "8"}), "websocket", {}, 426,
            id="version-8-426",
        ),
        pytest.param(
            handshake_headers("example.com", **{"Sec-WebSocket-Version": "8"}), "websocket",
            {"validate": False}, 101, id="unvalidated-judges-the-origin-alone",
        ),
        pytest.param(HANDSHAKE, "websocket", {"method": "POST"}, 400, id="post-400"),
        pytest.param(HANDSHAKE, "h2c", {}, None, id="no-websocket-offered-nothing-judged"),
        pytest.param(HANDSHAKE, "websocket", {"judge": False}, None, id="not-asked"),
    ],
)
def test_plan_request_judges_a_websocket_offer_in_the_same_answer(
    headers: list[Header], upgrade: str, options: dict[str, Any], status: int | None
) -> None:
    """WSGI's one visit for a WebSocket offer: the verdict is part of the request's plan, the
    same as :meth:`Policy.judge_websocket` answers."""
    asked: dict[str, Any] = {"judge": True, "method": "GET", **options}
    plan = POLICY.plan_request("HTTP/1.1", upgrade=upgrade, headers=headers, **asked)
    if status is None:
        assert plan.verdict is None
        return
    assert plan.verdict is not None
    assert plan.verdict.status == status
    validate = asked.get("validate", True)
    assert plan.verdict == POLICY.judge_websocket(asked["method"], "HTTP/1.1", headers, validate=validate)


def test_a_request_plan_is_remembered_by_its_reading_and_traits() -> None:
    policy = Policy()
    first = policy.plan_request("1.1", None, traits=APP)
    assert policy.plan_request("1.1", None, traits=APP) is first  # the reading remembers it
    other = policy.plan_request("1.1", None, traits=ServerTraits(chunks_unsized=False))
    assert (first.hold_unsized, other.hold_unsized) == (False, True)  # planned for those traits
    assert policy.plan_request("1.1", None, traits=APP).hold_unsized is False
    stripped = policy.plan_request("1.1", headers=[(b"te", b"gzip")], traits=APP, strip=True)
    assert stripped.headers == [] and first.headers is None  # a stripping plan is its own
    older = dataclasses.replace(first.facts, http_version="1.0")  # given facts: answered from them
    assert policy.plan_request("1.1", facts=older, traits=APP).hold_unsized


def test_plan_request_takes_facts_already_read() -> None:
    facts = POLICY.read_request("1.0", [(b"connection", b"keep-alive")])
    plan = POLICY.plan_request("1.1", headers=[(b"connection", b"close")], facts=facts)
    assert plan.facts is facts
    assert plan.hold_unsized


FACTS = st.builds(
    POLICY.request_facts,
    st.sampled_from(["1.0", "1.1", "2"]),
    st.sampled_from([None, b"close", b"keep-alive", b"upgrade", b"keep-alive, x-a", b"te, close"]),
    st.sampled_from([None, b"websocket"]),
)
TRAITS = st.builds(
    ServerTraits,
    keeps_http10=st.booleans(),
    connection_field=st.sampled_from(get_args(FieldRoute)),
    may_refuse_field=st.booleans(),
    always_closes=st.booleans(),
    chunks_unsized=st.booleans(),
    closes_unsized_bodiless=st.sampled_from(get_args(UnsizedBodiless)),
    says_http10_keep_alive=st.booleans(),
    switches_protocols=st.booleans(),
)
HEADERS = st.lists(
    st.sampled_from(
        [*SIZED, *UNSIZED, *SWITCH, (b"keep-alive", b"x"), (b"x-a", b"1"), (b"transfer-encoding", b"a")]
    ),
    max_size=5,
)
FAST = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(
    FACTS,
    st.sampled_from([101, 200, 204, 304, 404, 103]),
    HEADERS,
    st.sampled_from(["GET", "HEAD"]),
    TRAITS | st.sampled_from([profile.traits for profile in SERVERS.values()]),
    st.sampled_from([None, "drain", "max-requests"]),
    st.booleans(),
    st.booleans(),
    st.booleans(),
)
def test_wsgi_plan_equals_the_separate_decisions(  # noqa: PLR0917 (one drawn example)
    facts: RequestFacts,
    status: int,
    headers: list[Header],
    method: str,
    traits: ServerTraits,
    reason: str | None,
    framing: bool,
    hooked: bool,
    refused: bool,
) -> None:
    """The WSGI plan answers what the adapter decided by asking each rule in turn."""
    plan = POLICY.plan_response(
        facts, status, headers, method=method, traits=traits, interface="wsgi", server_reason=reason,
        framing=framing, hooked=hooked, field_refused=refused, websocket_key=KEY,
    )
    if switch_refusal(traits, status):
        assert plan.switch_refused
        return
    problem = check_switching_protocols(facts, headers, KEY) if status == 101 else None
    assert plan.switch_problem == problem
    if problem is not None:
        return
    no_content = no_content_reason(method, status)
    acts = takes_fields(traits) or hooked
    if reason is None and acts and server_closes(facts, traits, status, no_content, headers):
        reason = "server"
    out, close, removed = POLICY.finish_response(
        facts, status, headers, server_close=reason is not None, delimited=not framing
    )
    fields = tuple(out[len(out) - len(plan.fields) :]) if plan.fields else ()
    if close and leaves_http10_keep_alive_to_server(facts, traits):
        close, fields = False, ()
    assert plan.fields == fields
    assert plan.close is close
    assert plan.removed == removed
    assert plan.no_content == no_content
    refused = refused and traits.may_refuse_field
    assert plan.append is (bool(fields) and not refused and fields_reach_client(traits, status))
    assert plan.close_reason == (close_reason(facts, reason, framing=framing) if close and acts else None)
    assert plan.forget is (close and acts and reason is None)
    assert plan.ask_server is asks_server(facts, traits, status, close)
    assert plan.refusable is (plan.append and traits.may_refuse_field)


@FAST
@given(FACTS, st.sampled_from([101, 200, 204, 304, 404]), HEADERS, st.booleans(), st.booleans())
def test_asgi_plan_equals_finish_response(
    facts: RequestFacts, status: int, headers: list[Header], announces: bool, framing: bool
) -> None:
    """The ASGI plan sends what :meth:`Policy.finish_response` answers."""
    reason = "server" if announces else None
    plan = POLICY.plan_response(facts, status, headers, server_announces=announces, framing=framing)
    out, close, removed = POLICY.finish_response(
        facts, status, headers, server_close=announces, delimited=not framing, server_announces=announces
    )
    assert _sent(plan, headers) == list(out)
    assert (plan.close, plan.removed) == (close, removed)
    assert plan.close_reason == (close_reason(facts, reason, framing=framing) if close else None)


REQUEST_HEADERS = st.lists(
    st.sampled_from(
        [
            (b"connection", b"close"), (b"connection", b"keep-alive, x-a"), (b"connection", b"host"),
            (b"connection", b"upgrade"), (b"upgrade", b"websocket"), (b"x-a", b"1"), (b"te", b"trailers"),
            (b"keep-alive", b"5"), (b"host", b"a"), (b"connection", b"a b"),
        ]
    ),
    max_size=6,
)


@FAST
@given(
    st.sampled_from(["1.0", "1.1", "2", "HTTP/1.1"]),
    REQUEST_HEADERS,
    TRAITS,
    st.sampled_from([None, "websocket", b"h2c, WebSocket/13", ""]),
    st.booleans(),
)
def test_request_plan_equals_the_separate_decisions(
    version: str, headers: list[Header], traits: ServerTraits, upgrade: Any, strip: bool
) -> None:
    """One call answers what reading, planning, the complaint and stripping answered apart."""
    plan = POLICY.plan_request(version, upgrade=upgrade, headers=headers, traits=traits, strip=strip)
    facts = POLICY.read_request(version, headers)
    assert plan.facts == facts
    assert plan.hold_unsized is holds_unsized_body(facts, traits)
    assert plan.websocket is (upgrade is not None and offers_websocket(upgrade))
    assert plan.server_keeps is keeps_as_connmw_would(facts, traits)
    assert plan.complaint == facts.tokens.complaint
    stripped = POLICY.strip_request(headers, facts) if strip else headers
    assert (headers if plan.headers is None else plan.headers) == stripped
    again = POLICY.plan_request(version, upgrade=upgrade, headers=headers, traits=traits, strip=strip)
    assert _request_data(again) == _request_data(plan)  # remembered or made afresh: the same


def _request_data(plan: Any) -> tuple[Any, ...]:
    names = ("facts", "hold_unsized", "websocket", "server_keeps", "complaint")
    return tuple(getattr(plan, name) for name in names)


# -- ordinary plans are remembered: the same answer as planning afresh ---------------------

SHARED = Policy(http10_keep_alive=True)  # remembers plans across the examples below
POOL = [
    SHARED.request_facts(version, connection)
    for version in ("1.0", "1.1", "2")
    for connection in (None, b"keep-alive", b"close")
]
_FIELDS = ("headers", "fields", "append", "close", "removed", "close_reason", "forget", "no_content")


def _as_data(plan: Any) -> tuple[Any, ...]:
    return tuple(getattr(plan, name) for name in (*_FIELDS, "ask_server", "refusable"))


@FAST
@given(
    st.lists(
        st.tuples(
            st.sampled_from(POOL),
            st.sampled_from([200, 204, 304, 404, 103]),
            st.sampled_from([SIZED, UNSIZED]),
            st.sampled_from(["GET", "HEAD"]),
            st.sampled_from([profile.traits for profile in SERVERS.values()]),
            st.booleans(),
            st.booleans(),
        ),
        min_size=1,
        max_size=8,
    )
)
def test_a_remembered_plan_is_the_plan_made_afresh(starts: list[tuple[Any, ...]]) -> None:
    # Repeated starts with the very same facts and traits hit the policy's remembered plans
    # (a persistent HTTP/1.0 request's depends on Content-Length, a bodiless one's on the
    # server: those are never remembered); each must read as a fresh policy plans it.
    for facts, status, headers, method, traits, hooked, refused in starts:
        options: dict[str, Any] = {
            "method": method, "traits": traits, "interface": "wsgi", "hooked": hooked,
            "field_refused": refused, "decode": _Converter(),
        }
        remembered = SHARED.plan_response(facts, status, headers, **options)
        fresh = Policy(http10_keep_alive=True).plan_response(facts, status, headers, **options)
        assert _as_data(remembered) == _as_data(fresh)


def test_an_ordinary_plan_is_made_once_and_replace_is_a_new_request() -> None:
    policy = Policy()
    facts = policy.request_facts("1.1", None)
    str_pairs = [("Content-Type", "text/plain"), ("Content-Length", "2")]
    first = policy.plan_response(facts, 200, str_pairs, interface="wsgi", traits=APP, decode=_Converter())
    again = policy.plan_response(facts, 200, str_pairs, interface="wsgi", traits=APP, decode=_Converter())
    assert (again is first) is _REMEMBERS  # the pure build remembers; compiled, making it is cheaper
    closing = dataclasses.replace(facts, persistent=False)  # equal fields but one: answered from them
    plan = policy.plan_response(closing, 200, str_pairs, interface="wsgi", traits=APP, decode=_Converter())
    assert (first.close, plan.close) == (False, True)
