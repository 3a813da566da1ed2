"""The ASGI adapter: read the scope, ask :mod:`connmw.rules`, write the messages."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Hashable, Mapping, MutableMapping, Sequence
from functools import partial
from typing import TYPE_CHECKING, Any, Final, final

from ._asgi_responders import BodilessResponse, HeldHttp10Response
from ._core import Core, Decided, built_by_a_running_server, refuse_to_run, warn_nested, wrapped_app
from ._counters import Stats, logger
from ._drain_flag import DRAIN
from ._streams import Streams
from .config import Config, check_environment
from .errors import ConfigError
from .rules import (
    PlannedResponse,
    Policy,
    RequestFacts,
    asks_readiness,
    readiness_answer,
)
from .servers import UNKNOWN, ServerProfile, describe_asgi, recognise_asgi

if TYPE_CHECKING:
    from .rules._connection import _Reading  # Policy.read's answer: the hot path's own

__all__ = [
    "STATE_KEY",
    "ASGIApp",
    "ConnectionMiddleware",
    "Message",
    "Receive",
    "Scope",
    "Send",
    "request_facts",
]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Any, Callable[[], Awaitable[Any]], Callable[[Any], Awaitable[None]]], Awaitable[None]]
"""Any ASGI application, whatever types its framework writes it with.

Starlette types scopes and messages as mappings; Litestar, Quart (hypercorn's types) and Falcon
as TypedDicts, which no mapping type covers. The middleware takes any of them and is one of
each to a type checker (Starlette's middleware factory protocol is written the same way).
"""

STATE_KEY: Final = "connmw"
"""Where the request's :class:`~connmw.rules.RequestFacts` are published: ``scope["state"]["connmw"]``."""

check_environment()  # a CONNMW_* typo stops the import, before any framework builds a middleware


@final  # compiled in the accelerated build, where Python subclasses are impossible
class ConnectionMiddleware:
    """Correct, server-independent HTTP connection handling for any ASGI application.

    * Removes from every ``http.response.start`` the hop-by-hop headers (Connection,
      Keep-Alive, Transfer-Encoding, Upgrade, Proxy-Connection, TE, …) and every header
      the application's own Connection field nominates, then adds exactly one
      Connection field on HTTP/1.x: ``keep-alive`` while the connection persists,
      ``close`` when it must close (HTTP/1.0, the client's or the application's
      ``Connection: close``, drain, per-connection limits). Nothing of the kind on
      HTTP/2 and HTTP/3.
    * Never lets chunked framing reach an HTTP/1.0 client: a response without
      Content-Length is held until complete (at most ``http10_buffer_bytes``) and sent
      with one.
    * Streams every body message as it comes (StreamingResponse, Server-Sent Events);
      ``http.response.trailers`` passes untouched.
    * Publishes what the request's connection fields say, a
      :class:`connmw.rules.RequestFacts` (``persistent``, ``http_version``, ``tokens``,
      ``upgrade``), in the request's state: ``scope["state"]["connmw"]``, which is
      ``request.state.connmw`` in Starlette and FastAPI; :func:`request_facts` reads it.
      With ``strip_request_headers`` removes hop-by-hop request headers before the
      application runs.
    * Judges WebSocket opening handshakes (RFC 6455, RFC 8441 over HTTP/2) before the
      application runs: 400 for a bad key or request, 426 with
      ``Sec-WebSocket-Version: 13`` for another version, 403 for a foreign Origin. The
      application is never called for a refused handshake.
    * Passes lifespan and unknown scope types through untouched.

    Args:
        app: the ASGI application to wrap, positionally or as ``app=`` (Litestar's
            ``DefineMiddleware``); any framework's (docs/frameworks.md).
        config: a :class:`connmw.config.Config` built with :func:`connmw.load_config`;
            give either this or keyword options, not both.
        **options: any setting of the README's configuration table (``strict``, ``enabled``,
            ``strip_request_headers``, ``ws_validate``, ``ws_allowed_origins``,
            ``http10_buffer_bytes``, ``drain_file``, ``max_requests_per_connection``,
            …). A keyword wins over its ``CONNMW_*`` variable; bad values raise
            :class:`connmw.ConfigError` here, never at the first request. Built inside a
            running server (Starlette's and FastAPI's ``add_middleware``: the stack is
            built on the first ASGI call), it cannot raise to stop start-up: it fails the
            lifespan startup with the message instead (uvicorn and hypercorn exit), and
            raises the error on every request.

    With ``strict`` on, a header connmw would have removed raises
    :class:`connmw.ForbiddenHeaderError` naming it (the server then answers 500): for
    development and tests. Read-only attributes: ``config``, ``policy``, ``stats``
    (counters of what was stripped, refused and closed) and ``server_name`` (the server
    profile in use, ``None`` before the first request).

    Usage (add it last, so that it is the outermost middleware and sees every header)::

        # Starlette or FastAPI
        app.add_middleware(ConnectionMiddleware, ws_allowed_origins=["https://app.example"])

        # any ASGI application
        app = ConnectionMiddleware(app, strict=True)

        # Django: asgi.py
        from django.core.asgi import get_asgi_application
        application = ConnectionMiddleware(get_asgi_application())

    Security: headers a Connection field may never nominate (Host, Authorization,
    Cookie, X-Forwarded-*, Sec-WebSocket-*, …) are kept and the attempt is counted in
    ``stats.request_abuse``. WebSocket handshakes are same-origin unless
    ``ws_allowed_origins`` lists the origins to admit (``*``: any). Past
    ``http10_buffer_bytes`` an HTTP/1.0 response is streamed with ``Connection: close``; a
    server's own WebSocket stack may refuse a handshake before connmw sees it, and its
    answer stands. What each server allows, measured: docs/servers.md.
    """

    # ``app`` positionally or as ``app=``: Starlette's ``add_middleware`` passes it positionally
    # and types its factory as ``(app, /, **options)``, which a positional-or-keyword ``app``
    # fails under mypy (``**options`` could hold a second one); Litestar's ``DefineMiddleware``
    # passes ``app=``. So ``app`` is positional-only here and a keyword ``app`` is taken out
    # of the options (connmw._core.wrapped_app), never read as one. Overloads would type both
    # ways apart, but mypyc cannot compile an overloaded ``__init__``.
    def __init__(
        self, app: ASGIApp | None = None, /, *, config: Config | None = None, **options: Any
    ) -> None:
        self.app: ASGIApp = wrapped_app(app, options.pop("app", None))
        self._failure: str | None = None  # a bad setting, met while a server already ran
        try:
            core = Core(config, options, "asgi")
        except ConfigError as error:
            if not built_by_a_running_server():
                raise
            core, self._failure = Core(Config(enabled=False), {}, "asgi"), str(error)
            logger.error(
                "connmw built inside a running server: %s; its lifespan startup fails and "
                "every request raises this error",
                error,
            )
        self._core = core
        if isinstance(self.app, ConnectionMiddleware):
            warn_nested("one ConnectionMiddleware built around another")
        # Requests the hot path serves: enabled, no request stripping, no lifecycle limits. The
        # first request is looked at for an outer connmw's facts first and recognises the server
        # (then it is sent on its way), so that this costs the later ones nothing.
        self._plain_later = core.enabled and not (core.strip_request or core.lifecycle_on)
        self._plain = False
        self._unseen = core.enabled
        # What every request reads, one attribute load away: the rules as the server lets
        # connmw keep them (Policy.for_server), once the server is known.
        self._rules = core.policy
        self._ready = core.ready_path
        # The server, known from the first send it gives (one server per process): most need
        # nothing, some a hook (connmw.servers).
        self._server: ServerProfile | None = None
        self._server_closes: Callable[[Send], bool] | None = None
        self._streams = Streams(core.config, core.lifecycle, core.reporter)  # what drain ends: _streams

    @property
    def config(self) -> Config:
        """The settings this middleware was built with."""
        return self._core.config

    @property
    def policy(self) -> Policy:
        """The rules core configured by :attr:`config`."""
        return self._core.policy

    @property
    def stats(self) -> Stats:
        """Counters of corrections, refused handshakes and closed connections."""
        return self._core.reporter.stats

    @property
    def server_name(self) -> str | None:
        """The server profile connmw uses (``"unknown"`` when not recognised), or ``None``
        before the first request."""
        return None if self._server is None else self._server.name

    async def __call__(  # noqa: PLR0915 (the hot path, inlined: each call it saves is per request)
        self, scope: Any, receive: Callable[[], Awaitable[Any]], send: Callable[[Any], Awaitable[None]]
    ) -> None:
        # The types of ASGIApp's parameters: whatever ASGI types the framework around uses.
        if scope["type"] != "http" or not self._plain:
            if not self._core.enabled:
                if self._failure is not None:
                    await refuse_to_run(self._failure, scope, receive, send)
                    return
                await self.app(scope, receive, send)
            elif scope["type"] == "http":
                if self._unseen:  # the first request, looked at once; then on the usual path
                    self._unseen = False
                    if self._server is None:
                        self._recognise(send)
                    self._plain = self._plain_later
                    if request_facts(scope) is not None:
                        warn_nested("an outer connmw already read this request")
                    await self(scope, receive, send)
                    return
                await self._call_full_path(scope, receive, send)
            elif scope["type"] == "websocket":
                await self._websocket(scope, receive, send)
            else:
                await self.app(scope, receive, send)
            return
        try:  # both required in HTTP scopes; try is free in CPython 3.11+, [] cheaper than get
            version = scope["http_version"]
            method = scope["method"]
        except KeyError:
            version = scope.get("http_version", "1.1")
            method = scope.get("method")
        reading = self._rules.read(version, scope["headers"])
        state = scope.get("state")
        if type(state) is dict:  # _publish, inlined: the hot path
            state[STATE_KEY] = reading.facts
        else:
            scope = _publish(scope, reading.facts)
        if self._ready is not None and asks_readiness(method, scope.get("path"), self._ready):
            await self._answer_ready(scope, reading.facts, send)
            return
        if reading.needs_care or method == "HEAD":  # compared where tested: one specialised instruction
            await self._call_full_path(scope, receive, send, reading)
            return

        # ``self``, ``reading`` and ``scope`` are bound as defaults, not captured: interpreted,
        # a default is read as a plain local and a captured name costs a cell per request.
        def send_wrapper(
            message: Message,
            self: ConnectionMiddleware = self,
            reading: _Reading = reading,
            scope: Scope = scope,
        ) -> Awaitable[None]:
            # The hot path: one rules call, and a new message only if headers changed.
            # A plain function handing back the server's awaitable: no coroutine of our
            # own per message, which halves the cost of a streamed body.
            nonlocal send
            if message["type"] == "http.response.start":
                headers = message.get("headers")
                if (
                    DRAIN.on
                    or type(headers) is not list  # any other iterable: _start reads it once
                    or ((closes := self._server_closes) is not None and closes(send))
                ):
                    planned = None
                else:  # the rules' one answer: the headers as they go out, or the start's whole plan
                    new = self._rules.quick_finish_reading(reading, message["status"], headers)
                    if type(new) is list:
                        if new is not headers:
                            # copy, then set: a dict's own copy is cheapest, dict() takes any mapping
                            message = message.copy() if type(message) is dict else dict(message)
                            message["headers"] = new
                        return send(message)
                    planned = new if isinstance(new, PlannedResponse) else None
                message, plan, _ = self._start(message, reading.facts, scope, send, planned=planned)
                # The quick answer declines every status without content (1xx, 204, 304):
                # the rest of such a response goes through a send that drops its bytes.
                if plan.no_content is not None:
                    started = send(message)
                    send = BodilessResponse(self._core, plan.no_content, send)
                    return started
                if plan.event_stream:
                    send = self._streams.event_stream(send)
            return send(message)

        await self.app(scope, receive, send_wrapper)

    async def _call_full_path(
        self, scope: Scope, receive: Receive, send: Send, reading: _Reading | None = None
    ) -> None:
        """Requests off the hot path (the reading needs care: HTTP/1.0 or a reportable Connection
        field; HEAD; request stripping or lifecycle limits on): every decision made in full.

        ``reading``: the hot path's reading of this request (its facts published), which
        carries the request's plan for this server (:meth:`Policy.for_server`): not asked again.
        """
        server_send = send  # the server's own, for its hooks (connmw.servers)
        server = self._server_of(send)
        core = self._core
        ready = core.ready_path  # asked here only when the options sent the request here unread
        path = scope.get("path")
        if reading is None and ready is not None and asks_readiness(scope.get("method"), path, ready):
            facts = self._rules.read_request(scope.get("http_version", "1.1"), scope["headers"])
            await self._answer_ready(_publish(scope, facts), facts, server_send)
            return
        plan = None
        if reading is not None and reading.planned_for is server.traits:  # the hot path's read planned it
            plan = reading.planned
        if plan is None:
            plan = self._rules.plan_request(  # one visit: the facts (unless read), the plan, the strip
                scope.get("http_version", "1.1"),
                headers=scope["headers"],
                traits=server.traits,
                strip=core.strip_request,
                facts=None if reading is None else reading.facts,
            )
        facts = plan.facts
        if reading is None:
            scope = _publish(scope, facts)
        if plan.headers is not None:
            scope = dict(scope, headers=plan.headers)  # a copy: the server's scope stays as it was
        if plan.complaint is not None:
            core.reporter.abuse(plan.complaint)
        if core.buffer_limit and plan.hold_unsized:
            this = partial(self._start, facts=facts, scope=scope, send=server_send)
            held = HeldHttp10Response(this, core, core.buffer_limit, send)
            await self.app(scope, receive, held)
            return
        start = self._start  # lifecycle decisions, counting: all in one place

        def send_start(message: Message) -> Awaitable[None]:
            nonlocal send
            if message["type"] == "http.response.start":
                message, response, _ = start(message, facts, scope, server_send)
                if response.no_content is not None:  # HEAD, 1xx, 204, 304: its bytes are dropped
                    started = send(message)
                    send = BodilessResponse(core, response.no_content, send)
                    return started
                if response.event_stream:  # its own send, which drain can end
                    send = self._streams.event_stream(send)
            return send(message)

        await self.app(scope, receive, send_start)

    def _start(  # noqa: PLR0917 (bound by partial: the request's walk, then the start's own)
        self,
        message: Message,
        facts: RequestFacts,
        scope: Scope,
        send: Send,
        framing: bool = False,
        hold: bool = False,
        decided: Decided | None = None,
        planned: PlannedResponse | None = None,
    ) -> tuple[Message, PlannedResponse, Decided]:
        """The response start as it must go out, with lifecycle decisions; counts. Returns the
        message, the rules' plan for it (its ``no_content``: the body is dropped) and the
        lifecycle's verdict.

        ``send`` is the server's own: a server that closes by itself this time (hypercorn
        at its keep_alive_max_requests) is left to say so alone, and one that cannot be
        told with a field is asked through its hook (daphne). ``hold``: the plan may say to
        hold the body (:attr:`PlannedResponse.hold`): nothing is settled then, and the
        verdict comes back to be given again as ``decided`` when the start goes out, so
        that the lifecycle counts the response once. ``planned``: the plan the hot path's
        quick answer already made (no lifecycle reason, nor the server's): applied as it is.
        """
        headers = message.get("headers", ())
        if type(headers) is not list:
            headers = list(headers)  # an iterator is read once: send the list from now on
            message = {**message, "headers": headers}
        server = self._server_of(send)
        core = self._core
        key = _connection_key(scope) if core.lifecycle_on or DRAIN.on else None
        if decided is None:
            decided = core.limits(facts, key)
        reason, left = decided
        plan = planned or self._rules.plan_response(
            facts,
            message["status"],
            headers,
            method=scope.get("method"),
            traits=server.traits,
            server_reason=reason,
            requests_left=left,
            server_announces=server.closes_itself is not None and server.closes_itself(send),
            framing=framing,
            hold=hold,
        )
        if plan.hold:
            return message, plan, decided
        if plan.removed:
            self._removed(plan.removed)
        persist = server.asgi_persist
        core.settle(plan, key, None if persist is None else partial(persist, send))
        out = headers if plan.headers is None else plan.headers
        if plan.append:
            out = [*out, *plan.fields]
        if out is not headers:
            message = {**message, "headers": out}
        return message, plan, decided

    def _server_of(self, send: Send) -> ServerProfile:
        """The server behind ``send``, recognised once (connmw.servers)."""
        server = self._server
        return self._recognise(send) if server is None else server

    def _recognise(self, send: Send) -> ServerProfile:
        """Know the server (``CONNMW_SERVER``, or recognised from ``send``), once: its
        rules, its hook, the hot path; log which profile it is."""
        core = self._core
        server = core.forced or recognise_asgi(send)
        traits = server.traits
        self._rules = core.policy.for_server(
            keeps_http10=traits.keeps_http10, announce=traits.announce_asgi, traits=traits
        )
        self._server_closes = server.closes_itself
        if not self._unseen:  # else the first request's look sets it
            self._plain = self._plain_later
        self._server = server
        how = "CONNMW_SERVER" if core.forced is not None else describe_asgi(send)
        core.reporter.server(server.name, how, recognised=server is not UNKNOWN)
        if server is UNKNOWN and core.forced is None:
            core.reporter.unrecognised()  # once per middleware: the server, not each request
        return server

    async def _answer_ready(self, scope: Scope, facts: RequestFacts, send: Send) -> None:
        """Answer a readiness check without calling the application (``ready_path``)."""
        draining = self._core.lifecycle.draining()
        self._core.reporter.readiness(draining)
        status, headers, body = readiness_answer(scope.get("method"), draining)
        start, _, _ = self._start(
            {"type": "http.response.start", "status": status, "headers": headers}, facts, scope, send
        )
        await send(start)  # connection fields: close while draining
        await send({"type": "http.response.body", "body": body, "more_body": False})

    async def _websocket(self, scope: Scope, receive: Receive, send: Send) -> None:
        # ws_validate off leaves RFC 6455's structure to the server; the Origin policy holds.
        verdict = self._rules.judge_websocket(
            "GET", scope.get("http_version", "1.1"), scope["headers"], validate=self._core.config.ws_validate
        )
        if not verdict.accepted:
            self._core.reporter.rejected(verdict.code, verdict.reason)
            if "websocket.http.response" in (scope.get("extensions") or {}):
                kind = "websocket.http.response.start"
                await send({"type": kind, "status": verdict.status, "headers": list(verdict.headers)})
                await send({"type": "websocket.http.response.body", "body": verdict.body})
            elif (await receive())["type"] == "websocket.connect":
                refuse = self._server_of(send).refuse_handshake  # daphne: the RFC's status
                if refuse is None or not refuse(send, verdict.status, verdict.headers):
                    await send({"type": "websocket.close", "code": 1008})  # the server answers 403
            return

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "websocket.accept" and message.get("headers"):
                headers = list(message["headers"])
                kept, removed = self._rules.clean_accept_headers(headers)
                if removed:
                    self._removed(removed)
                    message = {**message, "headers": kept}
                elif not isinstance(message["headers"], (list, tuple)):
                    message = dict(message, headers=headers)  # an iterator, read once above
            await send(message)

        closer = self._server_of(send).close_websocket  # drain closes it (connmw._streams); daphne: a hook
        await self._streams.websocket(self.app, scope, receive, send_wrapper, closer=closer, server_send=send)

    def _removed(self, names: Sequence[bytes]) -> None:
        self._core.removed(names)



def request_facts(scope: Scope) -> RequestFacts | None:
    """What connmw read from this HTTP request's connection fields, or ``None``.

    ``None`` for a request connmw did not see (not wrapped, disabled, or not HTTP).
    """
    state = scope.get("state")
    facts = state.get(STATE_KEY) if isinstance(state, Mapping) else None
    return facts if isinstance(facts, RequestFacts) else None


def _publish(scope: Scope, facts: RequestFacts) -> Scope:
    """The scope the application gets, its ``state`` holding the facts.

    The state is the request's own namespace (the ASGI lifespan spec: a server gives each
    request a copy of it), so writing there leaves the scope itself unchanged. A scope
    without a state dict is copied first (ASGI: copy, then change).
    """
    state = scope.get("state")
    if type(state) is dict:
        state[STATE_KEY] = facts
        return scope
    base = dict(state) if isinstance(state, Mapping) else {}
    return dict(scope, state={**base, STATE_KEY: facts})


def _connection_key(scope: Scope) -> Hashable | None:
    client = scope.get("client")
    if client is None or len(client) != 2 or not client[1]:
        # Port 0 is a forwarded address (uvicorn's --proxy-headers), shared by every
        # connection from that client: it names no connection, so none is limited.
        return None
    server = scope.get("server")
    return (tuple(client), None if server is None else tuple(server))
