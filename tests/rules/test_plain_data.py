"""Public rules types are plain data: every public answer comes from the fields it is given.

``RequestFacts`` and ``ConnectionTokens`` carry no remembered answer: the hot path's
precomputed answers live in the policy's own private reading, keyed by what they depend on.
Two tables pin the bugs a memo on the facts caused (an answer read from the memo, not from
the fields), and hypothesis checks that ``dataclasses.replace`` on any field changes every
public answer exactly as facts built fresh with those fields, or read from a request saying
so, are answered.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connmw.rules import (
    ConnectionTokens,
    Header,
    Policy,
    RequestFacts,
    check_switching_protocols,
    close_reason,
    parse_connection,
)

FAST = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

KEEP_ALIVE: Header = (b"connection", b"keep-alive")
CLOSE: Header = (b"connection", b"close")
APP: list[Header] = [(b"content-type", b"text/plain"), (b"content-length", b"2")]


@pytest.mark.parametrize(
    ("reader", "answerer", "version", "connection", "change", "fields", "close"),
    [
        pytest.param(
            Policy(), Policy(), "1.1", None, {"persistent": False}, [CLOSE], True,
            id="replace-persistent-false-closes",
        ),
        pytest.param(
            Policy(), Policy(), "1.1", b"close", {"persistent": True}, [KEEP_ALIVE], False,
            id="replace-persistent-true-keeps",
        ),
        pytest.param(
            Policy(), Policy(), "1.1", None, {"http_version": "2"}, [], False,
            id="replace-version-2-sends-no-field",
        ),
        pytest.param(
            Policy(http10_keep_alive=True), Policy(http10_keep_alive=True), "1.1", None,
            {"http_version": "1.0"}, [KEEP_ALIVE], False,
            id="replace-version-1.0-persistent-framed-by-its-length",
        ),
        pytest.param(
            Policy(explicit_keep_alive=True), Policy(explicit_keep_alive=False), "1.1", None, {}, [], False,
            id="facts-of-an-explicit-policy-answered-by-a-quiet-one",
        ),
        pytest.param(
            Policy(explicit_keep_alive=False), Policy(explicit_keep_alive=True), "1.1", None, {},
            [KEEP_ALIVE], False,
            id="facts-of-a-quiet-policy-answered-by-an-explicit-one",
        ),
        pytest.param(
            Policy(), Policy(keep_alive_timeout=5), "1.1", None, {},
            [KEEP_ALIVE, (b"keep-alive", b"timeout=5")], False,
            id="facts-answered-with-the-answering-policys-hint",
        ),
    ],
)
def test_finish_response_answers_from_the_facts_fields(  # noqa: PLR0917 (one table row)
    reader: Policy,
    answerer: Policy,
    version: str,
    connection: bytes | None,
    change: dict[str, Any],
    fields: list[Header],
    close: bool,
) -> None:
    """The two bugs measured with a memo on the facts: ``replace(facts, persistent=False)``
    answered ``keep-alive``; facts read by one policy were answered with its answer by
    another. Each row is answered from the fields, by the policy asked."""
    headers = [(b"connection", connection)] if connection is not None else []
    facts = dataclasses.replace(reader.read_request(version, headers), **change)
    out, closes, removed = answerer.finish_response(facts, 200, APP)
    assert (list(out), closes, removed) == ([*APP, *fields], close, ())
    assert answerer.connection_fields(facts, 200) == (tuple(fields), close)
    quick = answerer.quick_finish(facts, 200, APP)
    assert quick is None or (list(quick), close) == ([*APP, *fields], False)


@pytest.mark.parametrize(
    ("change", "flagged", "complaint"),
    [
        pytest.param({"too_many": True}, True, "had more tokens than allowed", id="too-many"),
        pytest.param({"refused": frozenset({b"host"})}, True, "nominated a protected header", id="refused"),
        pytest.param({"invalid": (b"a b",)}, True, "held invalid tokens", id="invalid"),
        pytest.param({"close": True}, False, None, id="close-is-no-complaint"),
    ],
)
def test_connection_tokens_flagged_follows_the_fields(
    change: dict[str, Any], flagged: bool, complaint: str | None
) -> None:
    """``flagged`` is what the fields say, not a value remembered when they were parsed."""
    tokens = dataclasses.replace(parse_connection([b"keep-alive"]), **change)
    assert (tokens.flagged, tokens.complaint) == (flagged, complaint)
    restored = dataclasses.replace(tokens, **{name: getattr(ConnectionTokens(), name) for name in change})
    assert restored == parse_connection([b"keep-alive"])
    assert (restored.flagged, restored.complaint) == (False, None)


# --------------------------------------------------------------------------------------
# Properties
# --------------------------------------------------------------------------------------

POLICIES = [
    Policy(),
    Policy(explicit_keep_alive=False),
    Policy(http10_keep_alive=True, keep_alive_timeout=5),
    Policy(announce="closes-beyond-request"),
    Policy(announce="beyond-request", max_connection_tokens=2),
]
TOKENS = [b"close", b"keep-alive", b"upgrade", b"x-a", b"host", b"a b", b"te", b""]
connections = st.none() | st.lists(st.sampled_from(TOKENS), max_size=4).map(b", ".join)
upgrades = st.none() | st.sampled_from([b"websocket", b"h2c", b"websocket, h2c"])
requests = st.tuples(st.sampled_from(["1.0", "1.1", "2", "3"]), connections, upgrades)
RESPONSES = [
    APP,
    [(b"content-type", b"text/plain")],
    [(b"Connection", b"close"), *APP],
    [(b"connection", b"x-a"), (b"x-a", b"1"), *APP],
    [(b"upgrade", b"websocket"), (b"connection", b"upgrade"), (b"sec-websocket-accept", b"x")],
]


def _read(policy: Policy, request: tuple[str, bytes | None, bytes | None]) -> RequestFacts:
    return policy.request_facts(*request)


def _fields_of(instance: Any) -> dict[str, Any]:
    return {f.name: getattr(instance, f.name) for f in dataclasses.fields(instance)}


def _fresh(instance: Any) -> Any:
    """The same fields in a new instance, built by the constructor alone."""
    return type(instance)(**_fields_of(instance))


def _answers(policy: Policy, facts: RequestFacts, status: int, app: list[Header], left: int | None) -> Any:
    """Every public answer that takes request facts, in a fixed order."""
    plans = [
        policy.finish_response(facts, status, app, server_close=close, requests_left=left, delimited=framed)
        for close in (False, True)
        for framed in (True, False)
    ]
    return (
        [(list(out), close, removed) for out, close, removed in plans],
        policy.connection_fields(facts, status, requests_left=left, has_length=False),
        policy.connection_fields(facts, status, app_close=True),
        policy.ordinary_answer(facts),
        policy.quick_finish(facts, status, list(app)),
        policy.strip_request([(b"connection", b"x-a"), (b"x-a", b"1"), (b"host", b"h")], facts),
        close_reason(facts),
        close_reason(facts, "drain", framing=True),
        check_switching_protocols(facts, app, b"dGhlIHNhbXBsZSBub25jZQ=="),
        facts.multiplexed,
        facts.websocket,
        facts.tokens.flagged,
        facts.tokens.complaint,
        facts.tokens.only_directives,
    )


@FAST
@given(
    policy=st.sampled_from(POLICIES),
    first=requests,
    second=requests,
    status=st.sampled_from([101, 200, 204, 304, 404]),
    app=st.sampled_from(RESPONSES),
    left=st.none() | st.integers(0, 3),
)
def test_replace_changes_answers_as_fresh_facts_would(  # noqa: PLR0917 (hypothesis draws)
    policy: Policy,
    first: tuple[str, bytes | None, bytes | None],
    second: tuple[str, bytes | None, bytes | None],
    status: int,
    app: list[Header],
    left: int | None,
) -> None:
    """``replace()`` of any field of the facts (the tokens' fields included) with another
    request's value is answered as facts built fresh from the same fields are; replacing
    every field is answered as a fresh read of that other request."""
    read, other = _read(policy, first), _read(policy, second)
    for field in dataclasses.fields(RequestFacts):
        changed = dataclasses.replace(read, **{field.name: getattr(other, field.name)})
        fresh = _fresh(changed)
        _answers(policy, fresh, status, app, left)  # the policy learns the names once
        assert _answers(policy, changed, status, app, left) == _answers(policy, fresh, status, app, left)
    for field in dataclasses.fields(ConnectionTokens):
        tokens = dataclasses.replace(read.tokens, **{field.name: getattr(other.tokens, field.name)})
        changed = dataclasses.replace(read, tokens=tokens)
        fresh = dataclasses.replace(read, tokens=_fresh(tokens))
        assert _answers(policy, changed, status, app, left) == _answers(policy, fresh, status, app, left)
    everything = dataclasses.replace(read, **_fields_of(other))
    assert everything == other
    assert _answers(policy, everything, status, app, left) == _answers(policy, other, status, app, left)


@FAST
@given(reader=st.sampled_from(POLICIES), answerer=st.sampled_from(POLICIES), request=requests)
def test_facts_are_answered_by_the_policy_asked(
    reader: Policy, answerer: Policy, request: tuple[str, bytes | None, bytes | None]
) -> None:
    """Facts another policy read are answered as the asked policy's own reading of them
    (same fields, same answers), whichever policy read them."""
    theirs, ours = _read(reader, request), _read(answerer, request)
    if theirs == ours:  # the same facts: both policies persist alike for this request
        assert _answers(answerer, theirs, 200, APP, None) == _answers(answerer, ours, 200, APP, None)
