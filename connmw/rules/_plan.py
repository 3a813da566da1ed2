"""One request and one response start, planned: everything an adapter must do, decided at once.

:meth:`Policy.plan_request` and :meth:`Policy.plan_response` compose the rules' decisions
(RFC 9110 §7.6.1 hop-by-hop fields, RFC 9112 §9.3 persistence, RFC 9110 §6.4.1 no content,
RFC 9110 §15.2.2 switching protocols, the server's traits) into one answer each; the
adapters read the scope or environ, ask once, and apply the answer.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any, Final, Literal, final

from ._connection import RequestFacts, _Reading
from ._drain import is_event_stream
from ._finishing import _ResponseDecisions
from ._headers import NO_HEADERS, NO_NAMES, AnyName, Header, _as_bytes, _has_content_length
from ._responses import close_reason, drops_content_length, no_content_reason
from ._traits import (
    DEFAULT_TRAITS,
    ServerTraits,
    _names_content_length,
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
from ._websocket import HandshakeVerdict, check_switching_protocols

_NO_PAIRS: Final[tuple[Any, ...]] = ()  # no pairs the converter could not read

Interface = Literal["asgi", "wsgi"]
"""Which adapter asks: the traits' fields named for one interface apply to it alone."""


def _shown(plan: object, names: tuple[str, ...]) -> str:
    """A plan's fields as its constructor takes them, for its ``repr``."""
    shown = ", ".join(f"{name}={getattr(plan, name)!r}" for name in names)
    return f"{type(plan).__name__}({shown})"


@final  # compiled in the accelerated build: a native class
class PlannedRequest:
    """What an adapter must do with one request before the application runs.

    :param facts: the request's facts, read once (published to the application).
    :param hold_unsized: a body without Content-Length must be held and sent with one
        (:func:`holds_unsized_body`: HTTP/1.0, or a server that does not chunk).
    :param websocket: the Upgrade field offers WebSocket: the handshake is judged (the
        Origin policy holds even when the rest is not validated).
    :param server_keeps: WSGI: the server takes no field from connmw and keeps this
        connection exactly when connmw would (:func:`keeps_as_connmw_would`).
    :param complaint: what to report about the Connection field
        (:attr:`ConnectionTokens.complaint`), or ``None``.
    :param headers: asked to strip: the request's headers without hop-by-hop and nominated
        fields (:meth:`~connmw.rules.Policy.strip_request`); ``None``: not asked, or nothing
        removed.
    :param verdict: asked to judge (``judge=True``) a request that offers WebSocket: the
        handshake's verdict (:meth:`~connmw.rules.Policy.judge_websocket`); else ``None``.

    Plain data, built by the rules and only read by the adapters.
    """

    __slots__ = ("complaint", "facts", "headers", "hold_unsized", "server_keeps", "verdict", "websocket")

    def __init__(  # noqa: PLR0917 (the plan's fields, in order)
        self,
        facts: RequestFacts,
        hold_unsized: bool,
        websocket: bool,
        server_keeps: bool,
        complaint: str | None = None,
        headers: Sequence[Header] | None = None,
        verdict: HandshakeVerdict | None = None,
    ) -> None:
        self.facts = facts
        self.hold_unsized = hold_unsized
        self.websocket = websocket
        self.server_keeps = server_keeps
        self.complaint = complaint
        self.headers = headers
        self.verdict = verdict

    def __repr__(self) -> str:
        return _shown(self, _REQUEST_SHOWN)


_REQUEST_SHOWN: Final = (
    "facts",
    "hold_unsized",
    "websocket",
    "server_keeps",
    "complaint",
    "headers",
    "verdict",
)


@final  # compiled in the accelerated build: a native class, built per response at native speed
class PlannedResponse:
    """What an adapter must do with one response start.

    :param headers: the application's headers that go out, without connmw's fields; ``None``:
        the application's own list, unchanged.
    :param fields: connmw's Connection fields (lower-case bytes), for the headers when
        :attr:`append` says so, and for the server's hook.
    :param append: whether :attr:`fields` go at the end of the headers sent.
    :param close: whether the connection closes after this response.
    :param removed: lower-case names taken out as corrections (to count, or raise in strict mode).
    :param close_reason: the counter's reason when it closes and connmw's decision reaches the
        connection (:func:`close_reason`), else ``None``: nothing to count.
    :param forget: a counted close that is not the lifecycle's own: the connection's count is dropped.
    :param no_content: why the body must be dropped (``head``, ``1xx``, ``204``, ``304``), or ``None``.
    :param ask_server: ask the server's hook to keep (``not close``) or close the connection.
    :param refusable: WSGI: the server may refuse connmw's fields in ``start_response``: offer
        them so that it can be called once more without.
    :param switch_refused: WSGI: a 101 on a server that cannot hand the connection over is
        refused (:func:`switch_refusal`); nothing else in the plan applies.
    :param switch_problem: WSGI: why this 101 is not allowed (:func:`check_switching_protocols`);
        nothing else in the plan applies.
    :param hold: asked whether to hold (``hold=True``): this response has a body and no
        Content-Length, so the adapter holds it until its length is known; nothing else in
        the plan applies, and nothing was decided (no lifecycle verdict is used up).
    :param decoded: given a converter (``decode``), the application's pairs as the rules read
        them (converted: they needed cleaning), else ``None``: read as they are.
    :param unreadable: the pairs the converter could not read (passed on as they are).
    :param event_stream: ASGI: a response with content that says ``Content-Type:
        text/event-stream`` (:func:`is_event_stream`): a stream drain ends at an event boundary.

    Plain data, built by the rules and only read by the adapters (a frozen dataclass would
    cost the accelerated build a Python-level ``__init__`` per response).
    """

    __slots__ = (
        "append",
        "ask_server",
        "close",
        "close_reason",
        "decoded",
        "event_stream",
        "fields",
        "forget",
        "headers",
        "hold",
        "no_content",
        "refusable",
        "removed",
        "switch_problem",
        "switch_refused",
        "unreadable",
    )

    def __init__(  # noqa: PLR0917 (the plan's fields, in order)
        self,
        headers: Sequence[Header] | None,
        fields: tuple[Header, ...],
        append: bool,
        close: bool,
        removed: tuple[bytes, ...],
        close_reason: str | None,
        forget: bool,
        no_content: str | None,
        ask_server: bool,
        refusable: bool = False,
        switch_refused: bool = False,
        switch_problem: str | None = None,
        hold: bool = False,
        decoded: list[Header] | None = None,
        unreadable: Sequence[Any] = _NO_PAIRS,
        event_stream: bool = False,
    ) -> None:
        self.headers = headers
        self.fields = fields
        self.append = append
        self.close = close
        self.removed = removed
        self.close_reason = close_reason
        self.forget = forget
        self.no_content = no_content
        self.ask_server = ask_server
        self.refusable = refusable
        self.switch_refused = switch_refused
        self.switch_problem = switch_problem
        self.hold = hold
        self.decoded = decoded
        self.unreadable = unreadable
        self.event_stream = event_stream

    def __repr__(self) -> str:
        return _shown(self, _SHOWN)


_SHOWN: Final = (
    *("headers", "fields", "append", "close", "removed", "close_reason", "forget", "no_content"),
    *("ask_server", "refusable", "switch_refused", "switch_problem", "hold", "decoded", "unreadable"),
    "event_stream",
)

_SWITCH_REFUSED: Final = PlannedResponse(
    None, NO_HEADERS, False, False, NO_NAMES, None, False, "1xx", False, switch_refused=True
)
_HOLD: Final = PlannedResponse(None, NO_HEADERS, False, False, NO_NAMES, None, False, None, False, hold=True)

# Statuses a WSGI status line can carry (three digits) whose responses lose a Content-Length.
_DROPS_LENGTH: Final = frozenset(code for code in range(1000) if drops_content_length(code))

Decode = Callable[[Sequence[Any]], "tuple[list[Header], Sequence[Any]]"]
"""An adapter's converter from its own header pairs to the rules' bytes pairs: returns them, and
the pairs it could not read (which it passes on as they are)."""


_REMEMBERS: Final = __file__.endswith(".py")
"""Plans are remembered in the pure build only: compiled (the accelerated build), making an
ordinary plan costs fewer instructions than building its key and looking it up."""

_PLANS_LIMIT: Final = 1024
"""Ordinary response plans one policy remembers (request facts x traits x status x method)."""

_PlanKey = tuple[int, int, int, "str | None", str, bool, bool]


class _Planner(_ResponseDecisions):
    """The planning half of a :class:`~connmw.rules.Policy`: its settings are set there."""

    _plans: dict[_PlanKey, tuple[RequestFacts, ServerTraits, PlannedResponse]]
    traits: ServerTraits | None

    def _declined(self, reading: _Reading, status: int, headers: list[Header]) -> PlannedResponse | None:
        """A start the hot path's quick answer declines, planned in full for the policy's server."""
        traits = self.traits
        return None if traits is None else self.plan_response(reading.facts, status, headers, traits=traits)

    def reading(
        self, http_version: str, connection: AnyName | None, upgrade: AnyName | None = None
    ) -> _Reading:
        """The Policy's (:mod:`connmw.rules._policy`): a request read from its fields."""
        raise NotImplementedError

    def read(self, http_version: str, headers: Iterable[Header]) -> _Reading:
        """The Policy's (:mod:`connmw.rules._policy`): a request read from its header list."""
        raise NotImplementedError

    def judge_websocket(
        self, method: str, http_version: str, headers: Iterable[Header], *, validate: bool = True
    ) -> HandshakeVerdict:
        """The Policy's (:mod:`connmw.rules._policy`): a WebSocket handshake judged."""
        raise NotImplementedError

    def plan_request(  # noqa: PLR0917 (defaults, not keyword-only: the pure build fills those from a dict)
        self,
        http_version: str,
        connection: AnyName | None = None,
        upgrade: AnyName | None = None,
        headers: Sequence[Header] | None = None,
        traits: ServerTraits = DEFAULT_TRAITS,
        strip: bool = False,
        facts: RequestFacts | None = None,
        judge: bool = False,
        validate: bool = True,
        method: str | None = None,
    ) -> PlannedRequest:
        """Read a request and decide everything an adapter must before the application runs.

        :param http_version: the request's version, as :meth:`~connmw.rules.Policy.request_facts`
            reads it.
        :param connection: the Connection field (WSGI's environ value), read when ``headers``
            is not given.
        :param upgrade: the Upgrade field as received (``None``: none), read for WebSocket even
            without ``Connection: upgrade`` (RFC 6455 §4.1).
        :param headers: the request's header list (lower-case bytes names): its Connection and
            Upgrade lines are read (ASGI's scope), and it is what ``strip`` strips.
        :param traits: the server's traits.
        :param strip: answer the headers without hop-by-hop and nominated fields too
            (``strip_request_headers``; RFC 9110 §7.6.1): needs ``headers``.
        :param facts: the request's facts, already read by this policy (the ASGI hot path's
            reading): nothing is read again.
        :param judge: judge the opening handshake of a request whose Upgrade offers WebSocket
            (RFC 6455 §4.2.1; WSGI, where no scope of its own says so): needs ``headers``.
        :param validate: with ``judge``: the handshake in full, else its Origin alone.
        :param method: with ``judge``: the request's method.

        Give the parameters after ``upgrade`` by name (they are not keyword-only because the
        pure build fills a keyword-only default from a dict per call).

        One call per request: the facts, the plan, the complaint and the stripped headers. A
        plan without stripping or Upgrade is remembered by the reading it was made from (which
        the policy looks up by version and Connection value), for the last traits it was made
        for: the same plan object, which no adapter changes.
        """
        reading: _Reading | None = None
        if facts is None:
            if headers is None:
                reading = self.reading(http_version, connection, upgrade)
            else:
                reading = self.read(http_version, headers)
            if reading.planned_for is traits and not strip:
                planned = reading.planned
                if planned is not None:
                    return planned
            facts = reading.facts
        plan = self._request_plan(facts, traits, upgrade)
        if judge and plan.websocket and headers is not None:  # the Origin policy, even unvalidated
            plan.verdict = self.judge_websocket(method or "", http_version, headers, validate=validate)
        if strip and headers is not None:
            kept = self.strip_request(headers, facts)
            if kept is not headers:
                plan.headers = kept
        elif reading is not None and upgrade is None:  # an Upgrade field's reading is not looked up
            reading.planned, reading.planned_for = plan, traits
        return plan

    def _request_plan(
        self, facts: RequestFacts, traits: ServerTraits, upgrade: AnyName | None = None
    ) -> PlannedRequest:
        """The plan of a request with these facts on a server with these traits (a new object)."""
        return PlannedRequest(
            facts,
            holds_unsized_body(facts, traits),
            upgrade is not None and offers_websocket(upgrade),
            keeps_as_connmw_would(facts, traits),
            facts.tokens.complaint,
        )

    def plan_response(
        self,
        request: RequestFacts,
        status: int,
        headers: Sequence[Any],
        *,
        method: str | None = None,
        traits: ServerTraits = DEFAULT_TRAITS,
        interface: Interface = "asgi",
        server_reason: str | None = None,
        requests_left: int | None = None,
        server_announces: bool = False,
        framing: bool = False,
        hooked: bool = False,
        field_refused: bool = False,
        websocket_key: AnyName | None = None,
        decode: Decode | None = None,
        decode_all: bool = False,
        hold: bool = False,
    ) -> PlannedResponse:
        """Everything an adapter must do with one response start (:class:`PlannedResponse`).

        :param request: the request's facts; answered from their fields.
        :param status: the response's status.
        :param headers: the application's header list: bytes pairs, or (with ``decode``) the
            application's own pairs as they are.
        :param method: the request's method (a response to ``HEAD`` has no content).
        :param traits: the server's traits.
        :param interface: which adapter asks (:data:`Interface`).
        :param server_reason: why connmw's lifecycle closes the connection (drain, a limit),
            or ``None``.
        :param requests_left: adds ``max=N`` to a Keep-Alive hint.
        :param server_announces: ASGI: the server writes its own ``Connection: close`` here,
            so connmw adds no field beside it (one field, RFC 9110 §7.6.1).
        :param framing: the body goes out without a length nothing delimits (RFC 9112 §6.3).
        :param hooked: WSGI: the server has a hook that carries out connmw's decision.
        :param field_refused: WSGI: this ``start_response`` refused connmw's field before: offer
            none where the server may refuse it.
        :param websocket_key: WSGI: the request's Sec-WebSocket-Key, checked against a 101's
            Sec-WebSocket-Accept (RFC 6455 §4.2.2).
        :param decode: the adapter's converter (:data:`Decode`; WSGI's str pairs): ``headers``
            are read as they are when no header needs cleaning (:meth:`needs_cleaning`; a pair
            that cannot be read does) and the status keeps a Content-Length, else converted
            first (:attr:`PlannedResponse.decoded`).
        :param decode_all: convert them in any case (strict mode checks every pair).
        :param hold: the adapter holds a body without Content-Length (the request's plan says
            :attr:`PlannedRequest.hold_unsized`): a response with a body and no Content-Length
            gets :attr:`PlannedResponse.hold` alone (:func:`body_needs_framing`), decided
            before the lifecycle's verdict is needed.

        In the pure build, an ordinary start (clean pairs, no reason of the server's, framed,
        not a 101) whose plan cannot depend on its headers is planned once per request facts
        and server traits (the very objects, which the cache holds) and looked up after that:
        the same plan object, which no adapter changes.
        """
        clean = False
        decoded: list[Header] | None = None
        unreadable: Sequence[Any] = _NO_PAIRS
        if decode is not None:
            clean = not (
                decode_all
                or framing
                or (status in _DROPS_LENGTH if 0 <= status < 1000 else drops_content_length(status))
                or self._unclean(headers)
            )
            if not clean:
                decoded, unreadable = decode(headers)
                headers = decoded
        key: _PlanKey | None = None
        if (
            _REMEMBERS
            and clean
            and server_reason is None
            and requests_left is None
            and not framing
            and not server_announces
            and status != 101
            and not hold
        ):
            key = (id(request), id(traits), status, method, interface, hooked, field_refused)
            known = self._plans.get(key)
            if known is not None and known[0] is request and known[1] is traits:
                return known[2]
        wsgi = interface == "wsgi"
        no_content = no_content_reason(method, status)
        if hold and no_content is None:  # body_needs_framing, for the pairs as read here
            sized = _names_content_length(headers) if clean else _has_content_length(headers)
            if not sized:
                return _HOLD  # RFC 9112 §6.1: no chunked coding to an HTTP/1.0 client
        acts = True  # connmw's decision reaches the connection (always on ASGI)
        if wsgi:
            if status == 101 and switch_refusal(traits, status):
                return _SWITCH_REFUSED
            acts = hooked or takes_fields(traits)
            if (
                server_reason is None
                and acts
                and (no_content is not None or traits.always_closes)
                and server_closes(request, traits, status, no_content, headers)
            ):
                server_reason = "server"  # it closes, and would not say so beside connmw's keep-alive
            if status == 101:
                problem = check_switching_protocols(request, headers, _as_bytes(websocket_key))
                if problem is not None:
                    return PlannedResponse(
                        None, NO_HEADERS, False, False, NO_NAMES, None, False, no_content, False,
                        switch_problem=problem,
                    )
        elif server_announces and server_reason is None:
            server_reason = "server"
        server_close = server_reason is not None
        kept: Sequence[Header] | None = None
        removed = NO_NAMES
        if clean:
            fields, close = self._answer(request, status, headers, server_close, requests_left, not framing)
        else:
            out, fields, close, removed = self._finish(
                request, status, headers, server_close, requests_left, not framing
            )
            if out is not headers:
                kept = out
        if wsgi:
            if close and leaves_http10_keep_alive_to_server(request, traits):
                close, fields = False, NO_HEADERS  # the server says keep-alive and keeps it
            refused = field_refused and traits.may_refuse_field
            append = bool(fields) and not refused and fields_reach_client(traits, status)
        else:
            append = bool(fields) and not (server_announces and close)
        plan = PlannedResponse(
            kept,
            fields,
            append,
            close,
            removed,
            close_reason(request, server_reason, framing=framing) if close and acts else None,
            close and acts and server_reason is None,
            no_content,
            asks_server(request, traits, status, close),
            append and wsgi and traits.may_refuse_field,
            decoded=decoded,
            unreadable=unreadable,
            event_stream=not wsgi and no_content is None and is_event_stream(headers),
        )
        if (
            key is not None
            and no_content is None  # the server's close after a bodiless response reads its headers
            and not traits.always_closes
            and not (request.http_version == "1.0" and request.persistent)  # its framing decides
            and len(self._plans) < _PLANS_LIMIT
        ):
            self._plans[key] = (request, traits, plan)
        return plan

    def _unclean(self, headers: Sequence[Any]) -> bool:
        """Whether an application's pairs need cleaning (:meth:`needs_cleaning`): a pair that
        cannot be read as a name and a value does (its converter reports it)."""
        try:
            return self.needs_cleaning(headers)
        except (TypeError, AttributeError, IndexError, ValueError):
            return True
