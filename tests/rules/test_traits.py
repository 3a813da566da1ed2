"""The decisions that depend on a server's traits, as pure table-tested functions.

Each row names the server behaviour it stands for (docs/servers.md measured them); the
adapters only read these answers.
"""

from __future__ import annotations

from typing import Any

import pytest

from connmw.rules import (
    FieldRoute,
    Header,
    Policy,
    RequestFacts,
    ServerTraits,
    asks_server,
    fields_reach_client,
    holds_unsized_body,
    keeps_as_connmw_would,
    leaves_http10_keep_alive_to_server,
    offers_websocket,
    server_closes,
    switch_refusal,
    takes_fields,
)
from connmw.servers import SERVERS, UNKNOWN

POLICY = Policy(http10_keep_alive=True)
KEEP_11 = POLICY.request_facts("1.1", None)
CLOSE_11 = POLICY.request_facts("1.1", b"close")
KEEP_10 = POLICY.request_facts("1.0", b"keep-alive")
PLAIN_10 = POLICY.request_facts("1.0", None)
SIZED = [("Content-Type", "text/plain"), ("Content-Length", "0")]
UNSIZED = [("Content-Type", "text/plain")]


@pytest.mark.parametrize(
    ("request_facts", "traits", "held"),
    [
        pytest.param(KEEP_11, ServerTraits(), False, id="http11-on-a-chunking-server-streams"),
        pytest.param(PLAIN_10, ServerTraits(), True, id="http10-has-no-chunked-coding"),
        pytest.param(
            KEEP_11, ServerTraits(chunks_unsized=False), True, id="http11-on-a-server-that-does-not-chunk"
        ),
    ],
)
def test_holds_unsized_body(request_facts: RequestFacts, traits: ServerTraits, held: bool) -> None:
    assert holds_unsized_body(request_facts, traits) is held


@pytest.mark.parametrize(
    ("request_facts", "traits", "status", "no_content", "headers", "closes"),
    [
        pytest.param(KEEP_11, ServerTraits(), 200, None, UNSIZED, False, id="plain-server-keeps"),
        pytest.param(
            KEEP_11, ServerTraits(always_closes=True, connection_field="app"), 200, None, SIZED, True,
            id="uwsgi-http-socket-closes-every-connection",
        ),
        pytest.param(
            KEEP_11, ServerTraits(always_closes=True, connection_field="none"), 200, None, SIZED, False,
            id="always-closes-but-connmw-has-no-field-to-say-it",
        ),
        pytest.param(
            KEEP_11, ServerTraits(closes_unsized_bodiless="head"), 200, "head", UNSIZED, True,
            id="head-without-length-closed-by-a-head-closing-server",
        ),
        pytest.param(
            KEEP_11, ServerTraits(closes_unsized_bodiless="head"), 200, "head", SIZED, False,
            id="head-with-length-kept",
        ),
        pytest.param(
            KEEP_11, ServerTraits(closes_unsized_bodiless="head"), 204, "204", UNSIZED, False,
            id="204-kept-by-a-head-closing-server",
        ),
        pytest.param(
            KEEP_11, ServerTraits(closes_unsized_bodiless="always"), 304, "304", SIZED, True,
            id="304-closed-even-with-a-length-it-drops",
        ),
        pytest.param(
            CLOSE_11, ServerTraits(closes_unsized_bodiless="always"), 204, "204", UNSIZED, False,
            id="already-closing-request-needs-no-second-reason",
        ),
        pytest.param(
            KEEP_11, ServerTraits(closes_unsized_bodiless="always"), 204, "204",
            [(b"Content-Length", b"0")], True,
            id="bytes-names-read-alike",
        ),
    ],
)
def test_server_closes(  # noqa: PLR0917 (one table row)
    request_facts: RequestFacts,
    traits: ServerTraits,
    status: int,
    no_content: str | None,
    headers: list[tuple[object, object]],
    closes: bool,
) -> None:
    assert server_closes(request_facts, traits, status, no_content, headers) is closes


@pytest.mark.parametrize(
    ("request_facts", "traits", "leaves"),
    [
        pytest.param(
            KEEP_10, ServerTraits(says_http10_keep_alive=True), True, id="granian-http10-keep-alive"
        ),
        pytest.param(PLAIN_10, ServerTraits(says_http10_keep_alive=True), False, id="granian-plain-http10"),
        pytest.param(KEEP_10, ServerTraits(), False, id="other-servers-http10-keep-alive"),
        pytest.param(KEEP_11, ServerTraits(says_http10_keep_alive=True), False, id="granian-http11"),
    ],
)
def test_leaves_http10_keep_alive_to_server(
    request_facts: RequestFacts, traits: ServerTraits, leaves: bool
) -> None:
    assert leaves_http10_keep_alive_to_server(request_facts, traits) is leaves


@pytest.mark.parametrize(
    ("traits", "status", "refused"),
    [
        pytest.param(ServerTraits(switches_protocols=False), 101, True, id="101-where-it-cannot-switch"),
        pytest.param(ServerTraits(switches_protocols=True), 101, False, id="101-where-it-can"),
        pytest.param(ServerTraits(switches_protocols=False), 200, False, id="200-is-no-switch"),
    ],
)
def test_switch_refusal(traits: ServerTraits, status: int, refused: bool) -> None:
    assert switch_refusal(traits, status) is refused


@pytest.mark.parametrize(
    ("upgrade", "offered"),
    [
        pytest.param(None, False, id="none"),
        pytest.param("websocket", True, id="str"),
        pytest.param(b"WebSocket", True, id="any-case"),
        pytest.param("h2c, websocket/13", True, id="in-a-list-with-a-version"),
        pytest.param("websockets", False, id="another-protocol-whose-name-contains-it"),
        pytest.param("h2c", False, id="another-protocol"),
    ],
)
def test_offers_websocket(upgrade: str | bytes | None, offered: bool) -> None:
    assert offers_websocket(upgrade) is offered


def test_every_profile_holds_its_traits_as_rules_data() -> None:
    assert all(isinstance(profile.traits, ServerTraits) for profile in [*SERVERS.values(), UNKNOWN])


@pytest.mark.parametrize(
    ("request_facts", "traits", "status", "close", "asks"),
    [
        pytest.param(KEEP_11, ServerTraits(), 200, False, False, id="kept-http11-needs-no-word"),
        pytest.param(KEEP_11, ServerTraits(), 200, True, True, id="a-close-is-made-real"),
        pytest.param(KEEP_10, ServerTraits(), 200, False, True, id="http10-kept-only-where-granted"),
        pytest.param(
            KEEP_11, ServerTraits(connection_field="hook"), 200, False, True, id="hook-route-every-time"
        ),
        pytest.param(KEEP_11, ServerTraits(), 101, True, False, id="interim-101-decides-nothing"),
        pytest.param(KEEP_10, ServerTraits(), 103, False, False, id="interim-103-decides-nothing"),
    ],
)
def test_asks_server(
    request_facts: RequestFacts, traits: ServerTraits, status: int, close: bool, asks: bool
) -> None:
    assert asks_server(request_facts, traits, status, close) is asks


APP_200: list[Header] = [(b"content-type", b"text/plain"), (b"content-length", b"2")]
TEXT: list[Header] = [(b"content-type", b"text/plain")]
KEEP: Header = (b"connection", b"keep-alive")
CLOSE: Header = (b"connection", b"close")


@pytest.mark.parametrize(
    ("request_facts", "status", "headers", "method", "options", "expected"),
    [
        pytest.param(
            KEEP_11, 200, APP_200, "GET", {},
            ([*APP_200, KEEP], False, (), None, False, None, False),
            id="ordinary-keeps",
        ),
        pytest.param(
            CLOSE_11, 200, APP_200, "GET", {"traits": ServerTraits(connection_field="hook")},
            ([*APP_200, CLOSE], True, (), "client", True, None, True),
            id="client-close-counted-forgotten-and-asked-of-a-hook-server",
        ),
        pytest.param(
            KEEP_11, 200, APP_200, "HEAD", {"server_reason": "drain"},
            ([*APP_200, CLOSE], True, (), "drain", False, "head", True),
            id="drain-on-head-keeps-the-lifecycle-count-and-drops-the-body",
        ),
        pytest.param(
            KEEP_11, 204, [(b"content-length", b"0"), (b"keep-alive", b"x")], "GET", {},
            ([KEEP], False, (b"content-length", b"keep-alive"), None, False, "204", False),
            id="204-loses-its-length-and-hop-by-hop",
        ),
        pytest.param(
            PLAIN_10, 200, TEXT, "GET", {"framing": True},
            ([*TEXT, CLOSE], True, (), "client", True, None, True),
            id="http10-unsized-closes-for-the-client",
        ),
        pytest.param(
            KEEP_10, 200, TEXT, "GET", {"framing": True},
            ([*TEXT, CLOSE], True, (), "framing", True, None, True),
            id="http10-keep-alive-unsized-closes-for-framing",
        ),
    ],
)
def test_plan_response(  # noqa: PLR0917 (one table row)
    request_facts: RequestFacts,
    status: int,
    headers: list[Header],
    method: str,
    options: dict[str, Any],
    expected: tuple[object, ...],
) -> None:
    """One response start planned: headers, close, removed, the counter's reason, whether the
    lifecycle forgets the connection, why the body is dropped, whether to ask the server."""
    plan = POLICY.plan_response(request_facts, status, headers, method=method, **options)
    sent = [*(headers if plan.headers is None else plan.headers), *(plan.fields if plan.append else ())]
    got = (sent, plan.close, plan.removed, plan.close_reason, plan.forget, plan.no_content)
    assert (*got, plan.ask_server) == expected


@pytest.mark.parametrize(
    ("route", "takes", "reach_200", "reach_101_switching", "keeps_11", "keeps_10"),
    [
        pytest.param("app", True, True, True, False, False, id="app-granian-cheroot-uwsgi"),
        pytest.param("hook", True, False, True, False, False, id="hook-twisted-django"),
        pytest.param("server", False, False, True, True, False, id="server-gunicorn-waitress"),
        pytest.param("none", False, False, True, True, False, id="none-wsgiref"),
    ],
)
def test_field_routes(  # noqa: PLR0917 (one table row)
    route: FieldRoute, takes: bool, reach_200: bool, reach_101_switching: bool, keeps_11: bool, keeps_10: bool
) -> None:
    """WSGI: where connmw's fields go on each route, and when a server that takes none keeps
    a connection exactly as connmw would (HTTP/1.0 is always asked: kept only where granted)."""
    traits = ServerTraits(connection_field=route, switches_protocols=True)
    assert takes_fields(traits) is takes
    assert fields_reach_client(traits, 200) is reach_200
    assert fields_reach_client(traits, 101) is reach_101_switching
    assert fields_reach_client(ServerTraits(connection_field=route), 101) is reach_200
    assert keeps_as_connmw_would(KEEP_11, traits) is keeps_11
    assert keeps_as_connmw_would(KEEP_10, traits) is keeps_10
    assert keeps_as_connmw_would(CLOSE_11, traits) is False
