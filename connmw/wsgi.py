"""The WSGI adapter: read the environ, ask :mod:`connmw.rules`, write the answer.

WSGI headers are ``str`` pairs holding latin-1 text (PEP 3333, "Unicode Issues"); they are
converted to the rules' bytes pairs and back here, and nowhere else.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Sequence
from functools import partial
from http import HTTPStatus
from typing import TYPE_CHECKING, Any, Final, final

from ._core import Core, Decided, warn_nested
from ._counters import Stats, logger
from ._drain_flag import DRAIN
from ._wsgi_headers import (
    field_text,
    report_malformed,
    request_headers,
    strip_environ,
    to_bytes,
    to_str,
)
from ._wsgi_responders import (
    RESPONSE_KEY,
    GuardedBody,
    HeldResponse,
    PendingResponse,
    status_code,
    write_nothing,
)
from ._wsgi_servers import REFUSING, Remembered, ServerView, start_refusable
from .config import Config, check_environment
from .errors import SwitchingProtocolsError
from .rules import (
    HandshakeVerdict,
    Header,
    PlannedResponse,
    Policy,
    RequestFacts,
    asks_readiness,
    no_content_reason,
    readiness_answer,
)
from .servers import UNKNOWN, ServerProfile, describe_wsgi, recognise_wsgi
from .servers._profile import WsgiPersist
from .servers._recognise import identity

if TYPE_CHECKING:
    from _typeshed import OptExcInfo
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

    Write = Callable[[bytes], object]

__all__ = ["ENVIRON_KEY", "ConnectionMiddleware", "request_facts"]

ENVIRON_KEY: Final = "connmw.request"
"""Where the request's :class:`~connmw.rules.RequestFacts` are published in the environ."""

check_environment()  # a CONNMW_* typo stops the import, before any server serves the application

# Status lines whose responses have no content, by their three digits (the rules decide).
_NO_CONTENT_CODES: Final = frozenset(str(code) for code in range(100, 1000) if no_content_reason(None, code))


@final  # compiled in the accelerated build, where Python subclasses are impossible
class ConnectionMiddleware:
    """Correct, server-independent HTTP connection handling for any WSGI application.

    * Removes the hop-by-hop headers PEP 3333 forbids applications to send (Connection,
      Keep-Alive, Transfer-Encoding, Upgrade, Proxy-Connection, TE, …) and the headers
      the application's Connection field nominates: no server answers 500 (wsgiref),
      frames a body twice (werkzeug) or leaks a nominated header (gunicorn). The app's
      iterable is returned as is (``wsgi.file_wrapper`` keeps its fast path; the server
      calls its ``close()``, once); ``exc_info`` and ``write()`` work as PEP 3333 says.
    * The server owns the connection. connmw says what its ASGI twin says (``keep-alive``
      while the connection persists; ``close`` for HTTP/1.0, the client's or the app's
      ``close``, drain, limits) as far as the server lets it, and makes a close real
      where a field cannot: :mod:`connmw.servers` says, per server, whether connmw's
      field reaches the client and how to ask the server to close (docs/servers.md). On a
      server it does not recognise it is never worse than the server alone: one
      ``Connection: close`` for the application's and its own reasons only, sent again
      without it where the server refuses the field (docs/policy.md).
    * Never lets chunked framing reach an HTTP/1.0 client (RFC 9112 §6.1), nor a body
      no one delimits: a response without Content-Length is held, ``write()`` calls
      included, until the iterable is exhausted (at most ``http10_buffer_bytes``) and
      started with a Content-Length, for HTTP/1.0 and on servers that do not chunk. A
      longer body is streamed as it comes, and the connection closes after it.
    * A response to HEAD, or a 1xx, 204 or 304, carries no body: its bytes are dropped
      (the iterable is still closed, once) and counted in ``stats.bodies_dropped``.
    * Publishes the request's facts as ``environ["connmw.request"]`` (:data:`ENVIRON_KEY`,
      a read-only :class:`connmw.rules.RequestFacts`); ``strip_request_headers`` deletes
      hop-by-hop and nominated ``HTTP_*`` entries (never protected ones, nor Connection
      and Upgrade on an upgrade request).
    * Refuses bad WebSocket handshakes before the app runs: 400; 426 with
      ``Sec-WebSocket-Version: 13``; 403 for an Origin outside ``ws_allowed_origins``.
      Apps that take the socket over (flask-sock on werkzeug or gunicorn) work unchanged.
    * A ``101`` through ``start_response`` keeps Upgrade and ``Connection: Upgrade``; one
      the request did not ask for, or with a wrong Sec-WebSocket-Accept (RFC 9110 §7.8,
      RFC 6455 §4.2.2), is logged and raises :class:`connmw.SwitchingProtocolsError`
      (the server answers 500).

    Args:
        app: the WSGI application.
        config: a :class:`connmw.config.Config` (:func:`connmw.load_config`); or
        **options: settings of the README's configuration table (``strict``, ``enabled``,
            ``ws_allowed_origins``, ``keep_alive_timeout``, …), over ``CONNMW_*``
            variables; a bad value raises :class:`connmw.ConfigError` here.

    ``strict`` raises :class:`connmw.ForbiddenHeaderError` for a header connmw would
    remove or WSGI cannot carry (not a latin-1 ``str`` pair): for development. Otherwise
    removals are counted in ``stats`` and logged once per name, a header WSGI cannot carry
    is logged once and passed on as it is, and the response goes out.
    Attributes: ``config``, ``policy``, ``stats``, ``server_name`` (the server profile in
    use, ``None`` before the first request). Usage, as the outermost middleware::

        app.wsgi_app = ConnectionMiddleware(app.wsgi_app)                 # Flask
        application = ConnectionMiddleware(get_wsgi_application())        # Django wsgi.py

    Security: a Connection field never nominates protected headers (Host, Cookie,
    Authorization, X-Forwarded-*, …); attempts count in ``stats.request_abuse``.
    Connection limits need ``REMOTE_PORT`` (gunicorn has it; granian not). New in 0.1.0.
    """

    def __init__(self, app: WSGIApplication, *, config: Config | None = None, **options: Any) -> None:
        core = self._core = Core(config, options, "wsgi")
        self.app = app
        if isinstance(app, ConnectionMiddleware):
            warn_nested("one ConnectionMiddleware built around another")
        self._unseen = True  # until the first request, looked at for an outer connmw's facts
        self._ready = core.ready_path  # read per request: one attribute load away
        self._drain = DRAIN
        # Response header names the rules call ordinary (Policy.kind_of), for the
        # unchanged start's loop: one set probe a name, cheaper than a needs_cleaning call.
        self._ordinary: set[object] = set()
        # Requests that need nothing but their facts, by their Connection field: the rules
        # decided once for that field, protocol and server; this only remembers.
        self._plain: dict[object, Remembered] = {}
        # Status lines whose responses have content (rules.no_content_reason), for the unchanged
        # start: one set probe per response, where the app's status is a constant.
        self._with_content: set[object] = set()
        self._forced = core.forced  # CONNMW_SERVER, else None: recognise it
        self._decode = to_bytes  # WSGI's pairs as the rules' (an attribute: no global lookup per start)
        self._server_name: str | None = None  # the profile met last, logged when it changes
        # The rules as each server lets them be kept (its traits, as data: Policy.for_server).
        self._views: dict[ServerProfile, ServerView] = {}

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
        return self._server_name

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        connection = environ.get("HTTP_CONNECTION")
        seen = self._plain.get(connection)
        # PEP 3333's native strings, as the rules take them: typed so, the compiled build
        # compares them as strings, not by the generic comparison (docs/benchmarks.md).
        protocol: str | None
        method: str | None
        if (
            seen is not None
            and self._ready is None
            and (protocol := environ.get("SERVER_PROTOCOL")) is not None
            and protocol == seen.protocol  # the same protocol, same server
            and ((software := environ.get("SERVER_SOFTWARE")) is seen.software or software == seen.software)
            and "HTTP_UPGRADE" not in environ
            and ((method := environ.get("REQUEST_METHOD")) is None or method != "HEAD")
            and not (seen.unless_draining and self._drain.on)
        ):
            environ[ENVIRON_KEY] = seen.facts
        else:
            answer = self._respond(environ, start_response, connection)
            if answer is not None:  # the app's answer, or connmw's
                return answer
        # The server decides alone: a clean start with content passes as it is, and the
        # app's iterable comes back as it is. A closure, not an object or a partial: the
        # cheapest call in both builds (docs/benchmarks.md).
        started = False

        def start_unchanged(
            status: str, headers: list[tuple[str, str]], exc_info: OptExcInfo | None = None
        ) -> Write:
            nonlocal started
            ordinary = self._ordinary
            clean = False
            try:
                if status in self._with_content or self._learn_status(status):
                    for name, _ in headers:
                        if name not in ordinary:
                            break  # hop-by-hop, or not seen yet: ask the rules
                    else:
                        clean = True
            except (TypeError, ValueError, IndexError):  # not (name, value) pairs: reported there
                pass
            started = clean  # False again for a second start (PEP 3333's exc_info)
            if clean:
                return start_response(status, headers, exc_info)
            # The server is recognised again there, only then: one cell less on every request.
            return self._start(environ, start_response, None, status, headers, exc_info)

        result = self.app(environ, start_unchanged)
        return result if started else GuardedBody.around(self._core, environ, result)

    def _respond(
        self, environ: WSGIEnvironment, start_response: StartResponse, connection: str | None
    ) -> Iterable[bytes] | None:
        """The app's answer off the remembered path: judge, strip, hold, then call it.

        ``None``: the request's facts are published and it needs nothing more; the caller
        calls the app with its unchanged start (the server known)."""
        core = self._core
        if self._ready is not None and asks_readiness(
            environ.get("REQUEST_METHOD"),
            environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", ""),
            self._ready,
        ):
            return self._answer_ready(environ, start_response)
        if not core.enabled:
            return self.app(environ, start_response)
        if self._unseen:  # off the remembered path, and once
            self._unseen = False
            if ENVIRON_KEY in environ:
                warn_nested("an outer connmw already read this request")
        server = self._server_of(environ, start_response)
        protocol, upgrade = environ.get("SERVER_PROTOCOL"), environ.get("HTTP_UPGRADE")
        view = self._view_of(server)
        strip = core.strip_request
        headers: list[Header] | None = None
        keys: list[str] | None = None
        if strip or upgrade is not None:  # headers to strip, or a WebSocket offer to judge
            headers, keys = request_headers(environ)
            plan = view.policy.plan_request(  # one visit: facts, plan, complaint, strip, verdict
                protocol or "",
                connection,
                upgrade,
                headers=headers,
                traits=server.traits,
                strip=strip,
                judge=upgrade is not None,
                validate=core.config.ws_validate,
                method=environ.get("REQUEST_METHOD"),
            )
        else:  # one visit: the facts, the plan, the complaint
            plan = view.policy.plan_request(protocol or "", connection, traits=server.traits)
        facts = environ[ENVIRON_KEY] = plan.facts
        abuse = plan.complaint
        if abuse is not None:
            core.reporter.abuse(abuse)
        verdict = plan.verdict
        if verdict is not None and not verdict.accepted:
            return self._refuse(verdict, start_response)
        if plan.headers is not None and headers is not None and keys is not None:
            strip_environ(environ, headers, keys, plan.headers)
        if core.buffer_limit and plan.hold_unsized:
            held = HeldResponse(partial(self._start, environ, start_response, server), core.buffer_limit)
            return GuardedBody.around(self._core, environ, held.body(self.app(environ, held.start_response)))
        unless_draining = plan.server_keeps and not core.lifecycle_on  # connmw sends it no field
        if (not view.acts or (unless_draining and not DRAIN.on)) and environ.get("REQUEST_METHOD") != "HEAD":
            software = environ.get("SERVER_SOFTWARE")
            if (
                not (abuse or upgrade is not None or core.strip_request or len(connection or "") > 256)
                and type(protocol) is str
                and type(software) is str
                and len(self._plain) < 256
            ):
                self._plain[connection] = Remembered(facts, protocol, software, unless_draining)
            return None
        return GuardedBody.around(
            self._core,
            environ,
            self.app(environ, partial(self._start, environ, start_response, server)),
        )

    def _start(  # noqa: PLR0917 (bound by partial: the request's walk, then start_response's own)
        self,
        environ: WSGIEnvironment,
        send: StartResponse,
        server: ServerProfile | None,
        status: str,
        headers: Sequence[tuple[str, str]],
        exc_info: OptExcInfo | None = None,
        *,
        framing: bool = False,
        held: HeldResponse | None = None,
        decided: Decided | None = None,
    ) -> Write:
        """start_response when headers need cleaning, a 101 checking or the server a field: the
        rules plan the response (:meth:`Policy.plan_response`), this applies the plan.

        ``server``: the server, when the request's walk already knows it (else recognised);
        ``framing``: an HTTP/1.0 body too long to hold goes out without a length; ``held``:
        the response that holds a body without a length, told when the plan says to hold it
        (nothing is settled then; the lifecycle's verdict is kept for the start that goes out,
        given back as ``decided``, so that the response is counted once).
        """
        if server is None:
            server = self._server_of(environ, send)
        view = self._view_of(server)
        policy = view.policy
        core = self._core
        facts = environ.get(ENVIRON_KEY)
        if not isinstance(facts, RequestFacts):  # replaced by the app: read the request again
            facts = policy.request_facts(environ.get("SERVER_PROTOCOL") or "", environ.get("HTTP_CONNECTION"))
        headers = headers if type(headers) is list else list(headers)
        code = status_code(status)
        key = _connection_key(environ) if core.lifecycle_on else None
        if decided is None:  # not boxed: unpacked at once (compiled, a tuple in a variable is an object)
            reason, left = core.limits(facts, key) if view.acts else (None, None)  # connmw can close it
        else:
            reason, left = decided
        strict = core.strict
        # The app's own str pairs go to the rules as they are; the rules convert them (with
        # to_bytes) only when something needs cleaning or dropping (granian's common case: not).
        plan = policy.plan_response(
            facts,
            code,
            headers,
            method=environ.get("REQUEST_METHOD"),
            traits=server.traits,
            interface="wsgi",
            server_reason=reason,
            requests_left=left,
            framing=framing,
            hooked=server.wsgi_persist is not None,
            field_refused=identity(send) in REFUSING if REFUSING else False,
            websocket_key=environ.get("HTTP_SEC_WEBSOCKET_KEY") if code == 101 else None,  # read for a 101
            decode=self._decode,
            decode_all=strict,
            hold=held is not None,
        )
        if plan.hold and held is not None:
            return held.hold((reason, left))
        if (
            plan.decoded is None
            and not plan.switch_refused
            and plan.switch_problem is None
            and not view.reach
            and len(self._ordinary) < 1024
        ):
            # Planned in full and read as they are: every name is one the rules call ordinary
            # (Policy.needs_cleaning), remembered for the unchanged start's loop.
            self._ordinary.update([pair[0] for pair in headers])
        malformed = plan.unreadable
        if plan.switch_refused or malformed or plan.switch_problem is not None or plan.removed:
            self._refuse_or_report(plan, server, malformed, mine=exc_info is None)
        out = headers
        if plan.headers is not None and plan.decoded is not None:
            out = to_str(headers, plan.decoded, plan.headers)
        elif plan.append:
            out = headers.copy()
        refused = False
        if plan.append:
            out.extend(map(field_text, plan.fields))
            if plan.refusable:
                start = (status, out, exc_info)
                write, refused = start_refusable(core, server, send, start, len(plan.fields))
            else:
                write = send(status, out, exc_info)
        else:
            write = send(status, out, exc_info)
        hook = server.wsgi_persist
        after = core.settle(
            plan, key, None if hook is None else partial(_persist, hook, write, plan.fields), refused=refused
        )
        no_content = plan.no_content
        if no_content is not None or after is not None:
            environ[RESPONSE_KEY] = PendingResponse(no_content, after)
            if no_content is not None:
                return partial(write_nothing, core, environ)
        else:
            environ[RESPONSE_KEY] = None  # nothing more (an error page replacing a bodiless start too)
        return write

    def _refuse_or_report(
        self, plan: PlannedResponse, server: ServerProfile, malformed: Sequence[Any], *, mine: bool
    ) -> None:
        """Raise for a 101 the plan refuses; report (raise in strict mode, unless ``mine`` is
        false: never over the app's own error) headers WSGI cannot carry and removed ones."""
        if plan.switch_refused:
            logger.error("app answered 101 on %s, which cannot switch protocols: 500", server.name)
            raise SwitchingProtocolsError(f"{server.name} cannot hand the connection over", status_hint=500)
        if malformed:
            report_malformed(malformed, strict=self._core.strict and mine)
        if plan.switch_problem is not None:
            logger.error("app answered %s; the server will answer 500", plan.switch_problem)
            raise SwitchingProtocolsError(plan.switch_problem, status_hint=500)
        if plan.removed:
            self._core.removed(plan.removed, may_raise=mine)

    def _learn_status(self, status: str) -> bool:
        """Whether a response with this status line has content; remembered if so (bounded)."""
        content = status[:3] not in _NO_CONTENT_CODES
        if content and len(self._with_content) < 64:
            self._with_content.add(status)
        return content

    def _server_of(self, environ: WSGIEnvironment, start_response: StartResponse) -> ServerProfile:
        """The server behind ``start_response``: forced by ``CONNMW_SERVER``, or recognised."""
        server = self._forced
        if server is None:
            server = recognise_wsgi(environ, start_response)
        if server.name != self._server_name:  # the first request, or another server: say which
            self._server_name = server.name
            how = "CONNMW_SERVER" if self._forced is not None else describe_wsgi(environ, start_response)
            self._core.reporter.server(server.name, how, recognised=server is not UNKNOWN)
            if server is UNKNOWN and self._forced is None:
                self._core.reporter.unrecognised()  # once per recognition, not each request
        return server

    def _view_of(self, server: ServerProfile) -> ServerView:
        """The rules' answers that depend on ``server`` alone, decided once per server."""
        view = self._views.get(server)
        if view is None:
            view = self._views[server] = ServerView(self._core.policy, server)
        return view

    def _answer_ready(self, environ: WSGIEnvironment, start_response: StartResponse) -> list[bytes]:
        """Answer a readiness check without calling the application (``ready_path``)."""
        server = self._server_of(environ, start_response)
        environ[ENVIRON_KEY] = self._view_of(server).policy.request_facts(
            environ.get("SERVER_PROTOCOL") or "", environ.get("HTTP_CONNECTION"), environ.get("HTTP_UPGRADE")
        )
        draining = self._core.lifecycle.draining()
        self._core.reporter.readiness(draining)
        status, headers, body = readiness_answer(environ.get("REQUEST_METHOD"), draining)
        # connection fields, and a request to close where the server needs one, while draining
        status_line = f"{status} {HTTPStatus(status).phrase}"
        self._start(environ, start_response, server, status_line, list(map(field_text, headers)))
        return [body]

    def _refuse(self, verdict: HandshakeVerdict, start_response: StartResponse) -> list[bytes]:
        """Answer a refused WebSocket handshake as the rules' verdict says; the app is not called."""
        self._core.reporter.rejected(verdict.code, verdict.reason)
        start_response(
            f"{verdict.status} {HTTPStatus(verdict.status).phrase}", list(map(field_text, verdict.headers))
        )
        return [verdict.body]


def request_facts(environ: WSGIEnvironment) -> RequestFacts | None:
    """What connmw read from this request's connection fields, or ``None`` if it did not see it."""
    facts = environ.get(ENVIRON_KEY)
    return facts if isinstance(facts, RequestFacts) else None


def _persist(
    hook: WsgiPersist, write: Write, fields: tuple[Header, ...], keep: bool
) -> Callable[[], None] | None:
    """The server's hook, asked to keep or close after this response (:meth:`Core.settle`)."""
    return hook(write, keep, fields)


def _connection_key(environ: WSGIEnvironment) -> Hashable | None:
    port = environ.get("REMOTE_PORT")
    return None if port is None else (environ.get("REMOTE_ADDR"), port, environ.get("SERVER_PORT"))
