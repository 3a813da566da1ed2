"""The WSGI adapter: read the environ, ask :mod:`connmw.rules`, write the answer.

WSGI headers are ``str`` pairs holding latin-1 text (PEP 3333, "Unicode Issues"); they are
converted to the rules' bytes pairs and back here, and nowhere else.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Sequence
from functools import partial
from http import HTTPStatus
from typing import TYPE_CHECKING, Any, Final, final

from ._core import Core, warn_nested
from ._counters import Stats, logger
from ._wsgi_headers import (
    dirty_headers,
    field_text,
    latin1,
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
from .errors import ForbiddenHeaderError, SwitchingProtocolsError
from .lifecycle import DRAIN
from .rules import (
    Header,
    Policy,
    RequestFacts,
    asks_readiness,
    asks_server,
    check_switching_protocols,
    close_reason,
    holds_unsized_body,
    keeps_as_connmw_would,
    leaves_http10_keep_alive_to_server,
    no_content_reason,
    offers_websocket,
    readiness_answer,
    server_closes,
    switch_refusal,
)
from .rules._connection import _Reading
from .servers import UNKNOWN, ServerProfile, describe_wsgi, recognise_wsgi
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
        # Response header name -> Policy.kind_of(name), for the unchanged start's loop (cheaper than
        # a needs_cleaning call). TODO(rules): a public str-name kind mapping would do.
        self._known: dict[object, int] = {}
        # Requests that need nothing but their facts, by their Connection field: the rules
        # decided once for that field, protocol and server; this only remembers.
        self._plain: dict[object, Remembered] = {}
        # Status line -> whether its response has content (rules.no_content_reason), for
        # the unchanged start: one dict probe per response, where the app's status is a constant.
        self._statuses: dict[object, bool] = {}
        self._forced = core.forced  # CONNMW_SERVER, else None: recognise it
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
        if (
            seen is not None
            and self._ready is None
            and seen.protocol == environ.get("SERVER_PROTOCOL")  # the same protocol, same server
            and seen.software == environ.get("SERVER_SOFTWARE")
            and "HTTP_UPGRADE" not in environ
            and environ.get("REQUEST_METHOD") != "HEAD"
            and not (seen.unless_draining and self._drain.on)
        ):
            environ[ENVIRON_KEY] = seen.facts
            server = None  # this start_response is recognised if the rules are needed
        else:
            answer = self._respond(environ, start_response, connection)
            if type(answer) is not Remembered:  # the app's answer, or connmw's
                return answer
            server = answer.server  # recognised from this very start_response
        # The server decides alone: a clean start with content passes as it is, and the
        # app's iterable comes back as it is. A closure, not an object or a partial: the
        # cheapest call in both builds (docs/benchmarks.md).
        started = False

        def start_unchanged(
            status: str, headers: list[tuple[str, str]], exc_info: OptExcInfo | None = None
        ) -> Write:
            nonlocal started
            known = self._known  # the rules' answers for names seen before: 0 = ordinary
            clean = False
            try:
                statuses = self._statuses
                content = statuses.get(status)
                if content is None:
                    content = status[:3] not in _NO_CONTENT_CODES
                    if len(statuses) < 64:
                        statuses[status] = content
                if content:
                    for name, _ in headers:
                        if known.get(name, 1):
                            break  # hop-by-hop, or not seen yet: ask the rules
                    else:
                        clean = True
            except (TypeError, ValueError, IndexError):  # not (name, value) pairs: reported there
                pass
            started = clean  # False again for a second start (PEP 3333's exc_info)
            if clean:
                return start_response(status, headers, exc_info)
            return self._start(environ, start_response, server, None, status, headers, exc_info)

        result = self.app(environ, start_unchanged)
        return result if started else GuardedBody.around(self._core, environ, result)

    def _respond(
        self, environ: WSGIEnvironment, start_response: StartResponse, connection: str | None
    ) -> Iterable[bytes] | Remembered:
        """The app's answer off the remembered path: judge, strip, hold, then call it.

        A :class:`Remembered`: the request's facts are published and it needs nothing
        more; the caller calls the app with its unchanged start (the server known)."""
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
        reading = view.policy.reading(protocol or "", connection, upgrade)
        facts = reading.facts
        environ[ENVIRON_KEY] = facts
        abuse = facts.tokens.complaint
        if abuse is not None:
            core.reporter.abuse(abuse)
        if upgrade is not None and offers_websocket(upgrade):  # the Origin policy, even unvalidated
            refusal = self._judge(environ, start_response)
            if refusal is not None:
                return refusal
        if core.strip_request:
            strip_environ(core.policy, environ, facts)
        traits = server.traits
        if core.buffer_limit and holds_unsized_body(facts, traits):
            start = partial(self._start, environ, start_response, server, reading)
            held = HeldResponse(start, environ, core.buffer_limit)
            return GuardedBody.around(self._core, environ, held.body(self.app(environ, held.start_response)))
        quiet = not view.takes_fields  # connmw sends it no Connection field
        unless_draining = quiet and not core.lifecycle_on and keeps_as_connmw_would(facts, traits)
        if ((quiet and server.wsgi_persist is None) or (unless_draining and not DRAIN.on)) and environ.get(
            "REQUEST_METHOD"
        ) != "HEAD":
            seen = Remembered(facts, protocol, environ.get("SERVER_SOFTWARE"), unless_draining, server)
            remember = not (abuse or upgrade is not None or core.strip_request or len(connection or "") > 256)
            if remember and len(self._plain) < 256:
                self._plain[connection] = seen
            return seen
        return GuardedBody.around(
            self._core,
            environ,
            self.app(environ, partial(self._start, environ, start_response, server, reading)),
        )

    def _start(  # noqa: PLR0917 (bound by partial: the request's walk, then start_response's own)
        self,
        environ: WSGIEnvironment,
        send: StartResponse,
        server: ServerProfile | None,
        reading: _Reading | None,
        status: str,
        headers: Sequence[tuple[str, str]],
        exc_info: OptExcInfo | None = None,
        *,
        framing: bool = False,
    ) -> Write:
        """start_response when headers need cleaning, a 101 checking or the server a field.

        ``server``: the server, when the request's walk already knows it (else recognised);
        ``reading``: the policy's reading of the request, when the walk made one;
        ``framing``: an HTTP/1.0 body too long to hold goes out without a length.
        """
        if server is None:
            server = self._server_of(environ, send)
        view = self._view_of(server)
        policy = view.policy
        facts = environ.get(ENVIRON_KEY)
        if not isinstance(facts, RequestFacts):  # replaced by the app: read the request again
            facts = policy.request_facts(environ.get("SERVER_PROTOCOL") or "", environ.get("HTTP_CONNECTION"))
        headers = headers if type(headers) is list else list(headers)
        traits = server.traits
        code = status_code(status)
        no_content = no_content_reason(environ.get("REQUEST_METHOD"), code)
        key = _connection_key(environ) if self._core.lifecycle_on else None
        reason, left = (
            self._server_reason(server, facts, key, code=code, no_content=no_content, headers=headers)
            if view.acts  # connmw can close it: a field or a hook
            else (None, None)
        )
        if code == 101 and switch_refusal(traits, code):  # only a 101 can be refused: no call otherwise
            logger.error("app answered 101 on %s, which cannot switch protocols: 500", server.name)
            raise SwitchingProtocolsError(f"{server.name} cannot hand the connection over", status_hint=500)
        if not view.reach and not self._core.strict and len(self._known) < 1024:  # for the unchanged start
            self._learn_names(headers)
        fields: Sequence[Header]
        ordinary = no_content is None and reason is None and left is None
        answer = None
        if ordinary:  # the reading's answer while the app left the published facts alone
            mine = reading is not None and reading.facts is facts
            answer = reading.ordinary if mine and reading is not None else policy.ordinary_answer(facts)
        if (
            answer is not None
            and not framing
            and not self._core.strict
            and not dirty_headers(self._core.policy, headers)
        ):
            out, (fields, close) = list(headers), answer  # granian's common case: add a field
        else:
            out, fields, close = self._clean(
                policy, environ, facts, code, headers, exc_info, (reason, left), framing
            )
        if close and leaves_http10_keep_alive_to_server(facts, traits):
            close, fields = False, ()
        added = 0  # connmw's own fields at the end of out
        if (
            fields
            and (view.reach_101 if code == 101 else view.reach)
            and not (traits.may_refuse_field and REFUSING and identity(send) in REFUSING)
        ):
            out.extend(map(field_text, fields))
            added = len(fields)
        if added and traits.may_refuse_field:
            write, refused = start_refusable(self._core, server, send, (status, out, exc_info), added)
            close = close and not refused  # the server keeps it, and said nothing
        else:
            write = send(status, out, exc_info)
        if close and view.acts:  # connmw's decision reaches the connection: a field or the hook
            self._core.closed(close_reason(facts, reason, framing=framing), reason is None, key)
        after = None
        if server.wsgi_persist is not None and asks_server(facts, traits, code, close):
            after = server.wsgi_persist(write, not close, tuple(fields))
        if no_content is not None or after is not None:
            environ[RESPONSE_KEY] = PendingResponse(no_content, after)
            if no_content is not None:
                return partial(write_nothing, self._core, environ)
        else:
            environ[RESPONSE_KEY] = None  # nothing more (an error page replacing a bodiless start too)
        return write

    def _learn_names(self, headers: list[Any]) -> None:
        """Remember the rules' kind of each well-formed str name, for the unchanged start's loop
        (the app's pairs, loosely typed: any may be malformed)."""
        for pair in headers:
            if type(pair) is tuple and len(pair) == 2 and type(pair[0]) is str and pair[0] not in self._known:
                self._known[pair[0]] = self._core.policy.kind_of(pair[0])


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

    def _server_reason(
        self,
        server: ServerProfile,
        facts: RequestFacts,
        key: Hashable | None,
        *,
        code: int,
        no_content: str | None,
        headers: list[tuple[str, str]],
    ) -> tuple[str | None, int | None]:
        """Why the connection closes on the server's side, if it does (connmw's lifecycle: drain,
        limits; or the server's own rules), and how many requests are left on it."""
        reason: str | None = None
        left: int | None = None
        if not facts.multiplexed and (self._core.lifecycle_on or DRAIN.on):
            reason, left = self._core.lifecycle.decide(key)
        if reason is not None:
            return reason, left
        traits = server.traits
        if (no_content is not None or traits.always_closes) and server_closes(
            facts, traits, code, no_content, headers
        ):  # asked only where it can say yes: the common start calls nothing
            return "server", None  # it closes, and would not say so beside connmw's keep-alive
        return None, left

    def _clean(  # noqa: PLR0917 (the state of one start_response call)
        self,
        policy: Policy,
        environ: WSGIEnvironment,
        facts: RequestFacts,
        code: int,
        headers: list[tuple[str, str]],
        exc_info: OptExcInfo | None,
        server_close: tuple[str | None, int | None],
        framing: bool,
    ) -> tuple[list[tuple[str, str]], Sequence[Header], bool]:
        """The rules' answer for these headers: what stays, connmw's fields, whether to close."""
        raw, malformed = to_bytes(headers)
        if malformed:
            report_malformed(malformed, strict=self._core.strict and exc_info is None)
        if code == 101:
            problem = check_switching_protocols(facts, raw, latin1(environ.get("HTTP_SEC_WEBSOCKET_KEY")))
            if problem is not None:
                logger.error("app answered %s; the server will answer 500", problem)
                raise SwitchingProtocolsError(problem, status_hint=500)
        reason, left = server_close
        kept, close, removed = policy.finish_response(
            facts, code, raw, server_close=reason is not None, requests_left=left, delimited=not framing
        )
        if removed:
            if self._core.strict and exc_info is None:  # never hide the app's own error
                raise ForbiddenHeaderError(
                    removed[0].decode("latin-1"), self._core.policy.why_removed(removed[0])
                )
            self._core.reporter.stripped(removed)
        out, fields = to_str(headers, raw, kept)
        return out, fields, close

    def _answer_ready(self, environ: WSGIEnvironment, start_response: StartResponse) -> list[bytes]:
        """Answer a readiness check without calling the application (``ready_path``)."""
        server = self._server_of(environ, start_response)
        reading = self._view_of(server).policy.reading(
            environ.get("SERVER_PROTOCOL") or "", environ.get("HTTP_CONNECTION"), environ.get("HTTP_UPGRADE")
        )
        environ[ENVIRON_KEY] = reading.facts
        draining = self._core.lifecycle.draining()
        self._core.reporter.readiness(draining)
        status, headers, body = readiness_answer(environ.get("REQUEST_METHOD"), draining)
        # connection fields, and a request to close where the server needs one, while draining
        status_line = f"{status} {HTTPStatus(status).phrase}"
        self._start(environ, start_response, server, reading, status_line, list(map(field_text, headers)))
        return [body]

    def _judge(self, environ: WSGIEnvironment, start_response: StartResponse) -> list[bytes] | None:
        method, version = environ.get("REQUEST_METHOD", ""), environ.get("SERVER_PROTOCOL", "")
        headers, validate = request_headers(environ)[0], self._core.config.ws_validate
        verdict = self._core.policy.judge_websocket(method, version, headers, validate=validate)
        if verdict.accepted:
            return None
        self._core.reporter.rejected(verdict.code, verdict.reason)
        start_response(
            f"{verdict.status} {HTTPStatus(verdict.status).phrase}", list(map(field_text, verdict.headers))
        )
        return [verdict.body]


def request_facts(environ: WSGIEnvironment) -> RequestFacts | None:
    """What connmw read from this request's connection fields, or ``None`` if it did not see it."""
    facts = environ.get(ENVIRON_KEY)
    return facts if isinstance(facts, RequestFacts) else None


def _connection_key(environ: WSGIEnvironment) -> Hashable | None:
    port = environ.get("REMOTE_PORT")
    return None if port is None else (environ.get("REMOTE_ADDR"), port, environ.get("SERVER_PORT"))
