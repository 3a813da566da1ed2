"""The WSGI adapter: read the environ, ask :mod:`connmw.rules`, write the answer.

WSGI headers are ``str`` pairs holding latin-1 text (PEP 3333, "Unicode Issues"); they are
converted to the rules' bytes pairs and back here, and nowhere else.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Hashable, Iterable, Iterator, Sequence
from functools import lru_cache, partial
from http import HTTPStatus
from itertools import chain
from typing import TYPE_CHECKING, Any, Final, final

from ._core import Core, warn_nested
from ._counters import Stats, logger
from .config import Config, check_environment
from .errors import ForbiddenBodyError, ForbiddenHeaderError, SwitchingProtocolsError
from .lifecycle import DRAIN
from .rules import (
    Header,
    Policy,
    RequestFacts,
    asks_readiness,
    asks_server,
    body_needs_framing,
    check_switching_protocols,
    close_reason,
    fields_reach_client,
    holds_unsized_body,
    keeps_as_connmw_would,
    leaves_http10_keep_alive_to_server,
    no_content_reason,
    offers_websocket,
    readiness_answer,
    server_closes,
    switch_refusal,
    takes_fields,
)
from .rules._connection import _Reading
from .servers import UNKNOWN, ServerProfile, describe_wsgi, recognise_wsgi
from .servers._recognise import identity

if TYPE_CHECKING:
    from _typeshed import OptExcInfo
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

    Write = Callable[[bytes], object]
    Held = tuple[str, list[tuple[str, str]], OptExcInfo | None]  # a held start_response call

__all__ = ["ENVIRON_KEY", "ConnectionMiddleware", "request_facts"]

ENVIRON_KEY: Final = "connmw.request"
"""Where the request's :class:`~connmw.rules.RequestFacts` are published in the environ."""

check_environment()  # a CONNMW_* typo stops the import, before any server serves the application

# What the rest of a response needs once its start went out: absent before it started (PEP
# 3333 lets an iterable call start_response lazily), None for nothing more, else a _Pending.
_RESPONSE: Final = "connmw.response"
_NOT_STARTED: Final = "not started"
# Status lines whose responses have no content, by their three digits (the rules decide).
_NO_CONTENT_CODES: Final = frozenset(str(code) for code in range(100, 1000) if no_content_reason(None, code))


_warned_malformed: list[bool] = []  # once per process, like every connmw warning
_refusing: set[object] = set()  # start_responses (by identity) that refused connmw's field


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
        self._plain: dict[object, _Remembered] = {}
        # Status line -> whether its response has content (rules.no_content_reason), for
        # the unchanged start: one dict probe per response, where the app's status is a constant.
        self._statuses: dict[object, bool] = {}
        self._forced = core.forced  # CONNMW_SERVER, else None: recognise it
        self._server_name: str | None = None  # the profile met last, logged when it changes
        # The rules as each server lets them be kept (its traits, as data: Policy.for_server).
        self._views: dict[ServerProfile, _ServerView] = {}

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
            if type(answer) is not _Remembered:  # the app's answer, or connmw's
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
        return result if started else _Guarded.around(self, environ, result)

    def _respond(
        self, environ: WSGIEnvironment, start_response: StartResponse, connection: str | None
    ) -> Iterable[bytes] | _Remembered:
        """The app's answer off the remembered path: judge, strip, hold, then call it.

        A :class:`_Remembered`: the request's facts are published and it needs nothing
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
            self._strip(environ, facts)
        traits = server.traits
        if core.buffer_limit and holds_unsized_body(facts, traits):
            start = partial(self._start, environ, start_response, server, reading)
            held = _HeldResponse(start, environ, core.buffer_limit)
            return _Guarded.around(self, environ, held.body(self.app(environ, held.start_response)))
        quiet = not view.takes_fields  # connmw sends it no Connection field
        unless_draining = quiet and not core.lifecycle_on and keeps_as_connmw_would(facts, traits)
        if ((quiet and server.wsgi_persist is None) or (unless_draining and not DRAIN.on)) and environ.get(
            "REQUEST_METHOD"
        ) != "HEAD":
            seen = _Remembered(facts, protocol, environ.get("SERVER_SOFTWARE"), unless_draining, server)
            remember = not (abuse or upgrade is not None or core.strip_request or len(connection or "") > 256)
            if remember and len(self._plain) < 256:
                self._plain[connection] = seen
            return seen
        return _Guarded.around(
            self,
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
        code = _status_code(status)
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
            and not _dirty(self._core.policy, headers)
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
            and not (traits.may_refuse_field and _refusing and identity(send) in _refusing)
        ):
            out.extend(map(_text, fields))
            added = len(fields)
        if added and traits.may_refuse_field:
            write, refused = self._start_refusable(server, send, (status, out, exc_info), added)
            close = close and not refused  # the server keeps it, and said nothing
        else:
            write = send(status, out, exc_info)
        if close and view.acts:  # connmw's decision reaches the connection: a field or the hook
            self._core.closed(close_reason(facts, reason, framing=framing), reason is None, key)
        after = None
        if server.wsgi_persist is not None and asks_server(facts, traits, code, close):
            after = server.wsgi_persist(write, not close, tuple(fields))
        if no_content is not None or after is not None:
            environ[_RESPONSE] = _Pending(no_content, after)
            if no_content is not None:
                return partial(_write_nothing, self, environ)
        else:
            environ[_RESPONSE] = None  # nothing more (an error page replacing a bodiless start too)
        return write

    def _learn_names(self, headers: list[Any]) -> None:
        """Remember the rules' kind of each well-formed str name, for the unchanged start's loop
        (the app's pairs, loosely typed: any may be malformed)."""
        for pair in headers:
            if type(pair) is tuple and len(pair) == 2 and type(pair[0]) is str and pair[0] not in self._known:
                self._known[pair[0]] = self._core.policy.kind_of(pair[0])

    def _start_refusable(
        self,
        server: ServerProfile,
        send: StartResponse,
        start: tuple[str, list[tuple[str, str]], OptExcInfo | None],
        added: int,
    ) -> tuple[Write, bool]:
        """``send`` with connmw's fields, or once more without them if the server refuses them.

        PEP 3333 forbids hop-by-hop fields from an application, and servers that check
        refuse one in ``start_response`` (wsgiref asserts, waitress raises): the response
        goes out without the field, the server keeps or closes the connection as it does
        alone, and the field is not offered there again in this process. Returns the
        server's ``write`` and whether the field was refused.
        """
        status, out, exc_info = start
        try:
            return send(status, out, exc_info), False
        except Exception as error:  # what a server raises is not ours to know
            del out[-added:]
            # PEP 3333: start_response may be called again, with exc_info, before the head is sent.
            write = send(status, out, sys.exc_info())
            _refusing.add(identity(send))
            self._core.reporter.refused(server.name, error)
            return write, True

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

    def _policy_of(self, server: ServerProfile) -> Policy:
        """The rules as ``server`` lets connmw keep them (connmw.rules.Policy.for_server)."""
        return self._view_of(server).policy

    def _view_of(self, server: ServerProfile) -> _ServerView:
        """The rules' answers that depend on ``server`` alone, decided once per server."""
        view = self._views.get(server)
        if view is None:
            view = self._views[server] = _ServerView(self._core.policy, server)
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
        raw, malformed = _to_bytes(headers)
        if malformed:
            self._malformed(malformed, exc_info)
        if code == 101:
            problem = check_switching_protocols(facts, raw, _latin1(environ.get("HTTP_SEC_WEBSOCKET_KEY")))
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
        out, fields = _to_str(headers, raw, kept)
        return out, fields, close

    def _answer_ready(self, environ: WSGIEnvironment, start_response: StartResponse) -> list[bytes]:
        """Answer a readiness check without calling the application (``ready_path``)."""
        server = self._server_of(environ, start_response)
        reading = self._policy_of(server).reading(
            environ.get("SERVER_PROTOCOL") or "", environ.get("HTTP_CONNECTION"), environ.get("HTTP_UPGRADE")
        )
        environ[ENVIRON_KEY] = reading.facts
        draining = self._core.lifecycle.draining()
        self._core.reporter.readiness(draining)
        status, headers, body = readiness_answer(environ.get("REQUEST_METHOD"), draining)
        # connection fields, and a request to close where the server needs one, while draining
        status_line = f"{status} {HTTPStatus(status).phrase}"
        self._start(environ, start_response, server, reading, status_line, list(map(_text, headers)))
        return [body]

    def _judge(self, environ: WSGIEnvironment, start_response: StartResponse) -> list[bytes] | None:
        method, version = environ.get("REQUEST_METHOD", ""), environ.get("SERVER_PROTOCOL", "")
        headers, validate = _request_headers(environ)[0], self._core.config.ws_validate
        verdict = self._core.policy.judge_websocket(method, version, headers, validate=validate)
        if verdict.accepted:
            return None
        self._core.reporter.rejected(verdict.code, verdict.reason)
        start_response(
            f"{verdict.status} {HTTPStatus(verdict.status).phrase}", list(map(_text, verdict.headers))
        )
        return [verdict.body]

    def _strip(self, environ: WSGIEnvironment, facts: RequestFacts) -> None:
        headers, keys = _request_headers(environ)
        kept = self._core.policy.strip_request(headers, facts)
        if kept is not headers:
            names = {name for name, _ in kept}
            for key, (name, _) in zip(keys, headers, strict=True):
                if name not in names:
                    del environ[key]
            if (b"te", b"trailers") in kept:
                environ["HTTP_TE"] = "trailers"  # the one TE element that may cross a hop

    def _drop_body(self, environ: WSGIEnvironment) -> None:
        """Body bytes of a response without content were dropped: count once, or raise (strict)."""
        pending = environ.get(_RESPONSE)
        if isinstance(pending, _Pending) and pending.no_content:
            reason, pending.no_content = pending.no_content, ""
            if self._core.strict:
                raise ForbiddenBodyError(reason)
            self._core.reporter.body_dropped(reason)

    def _malformed(self, pairs: list[Any], exc_info: OptExcInfo | None) -> None:
        first = pairs[0]
        name = first[0] if type(first) is tuple and first and type(first[0]) is str else "?"
        if self._core.strict and exc_info is None:
            raise ForbiddenHeaderError(name, "malformed (PEP 3333: str name, latin-1 str value)")
        if not _warned_malformed:
            _warned_malformed.append(True)
            logger.warning("app sent header %s that WSGI cannot carry; passed on unchanged", name)


def request_facts(environ: WSGIEnvironment) -> RequestFacts | None:
    """What connmw read from this request's connection fields, or ``None`` if it did not see it."""
    facts = environ.get(ENVIRON_KEY)
    return facts if isinstance(facts, RequestFacts) else None


@final
class _ServerView:
    """What the rules answer for one server's traits alone, asked once per server (each per
    request would be a function call in the pure build): its policy (:meth:`Policy.for_server`),
    whether connmw's fields reach the client at all (:func:`~connmw.rules.takes_fields`), whether
    connmw's close is carried out (a field or the server's hook), and whether the fields go in
    the application's headers of a response and of a 101 (:func:`~connmw.rules.fields_reach_client`).
    """

    def __init__(self, policy: Policy, server: ServerProfile) -> None:
        traits = server.traits
        self.policy = policy.for_server(keeps_http10=traits.keeps_http10, announce=traits.announce_wsgi)
        self.takes_fields = takes_fields(traits)
        self.acts = self.takes_fields or server.wsgi_persist is not None
        self.reach = fields_reach_client(traits, 200)
        self.reach_101 = fields_reach_client(traits, 101)


@final
class _Remembered:
    """What the rules decided for a request that needs nothing but its facts published.

    Remembered by its Connection field; it stands for requests with the same protocol
    (``SERVER_PROTOCOL``) from the same server (``SERVER_SOFTWARE``; recognised as ``server``).
    ``unless_draining``: the server keeps the connection exactly when connmw would, so nothing is asked of it,
    unless connmw drains (then it must close).
    """

    def __init__(
        self,
        facts: RequestFacts,
        protocol: object,
        software: object,
        unless_draining: bool,
        server: ServerProfile,
    ) -> None:
        self.facts = facts
        self.protocol = protocol
        self.software = software
        self.unless_draining = unless_draining
        self.server = server


def _write_nothing(self: ConnectionMiddleware, environ: WSGIEnvironment, data: bytes) -> None:
    """``write()`` of a response without content: the bytes are dropped (and counted)."""
    if data:
        self._drop_body(environ)


class _Pending:
    """What a response still needs after its start: dropping its body, a call at its end."""

    __slots__ = ("after", "no_content")

    def __init__(self, no_content: str | None, after: Callable[[], None] | None) -> None:
        self.no_content = no_content  # the rules' reason; "" once the dropped body is counted
        self.after = after  # the server's, once the body is written (uWSGI's close)


class _Guarded:
    """The app's iterable, for a response with something left to do once it started.

    Chunks pass while the response has content, or before it started (PEP 3333 lets a
    generator call ``start_response`` lazily, before its first non-empty chunk). Once the
    start says the response has no content (:func:`connmw.rules.no_content_reason`), the
    first non-empty chunk is dropped and counted and nothing more is read. :meth:`close`
    closes the app's iterable, once (PEP 3333), then runs what the server asked to run
    at the end of the response.
    """

    __slots__ = ("_environ", "_middleware", "_result")

    def __init__(self, middleware: ConnectionMiddleware, environ: WSGIEnvironment, result: Iterable[bytes]):
        self._middleware = middleware
        self._environ = environ
        self._result: Iterable[bytes] | None = result

    @classmethod
    def around(
        cls, middleware: ConnectionMiddleware, environ: WSGIEnvironment, result: Iterable[bytes]
    ) -> Iterable[bytes]:
        """``result`` itself when nothing is left to do, else a guard around it.

        A guard when the response started with something left (a body to drop, a call at
        its end) or has not started yet (its iterable will start it lazily); but never
        around a list or tuple of empty chunks when only a body would have been dropped.
        """
        pending = environ.get(_RESPONSE, _NOT_STARTED)
        if pending is None:
            return result
        nothing_after = not isinstance(pending, _Pending) or pending.after is None
        if nothing_after and type(result) in (list, tuple) and not any(result):
            return result
        return cls(middleware, environ, result)

    def __iter__(self) -> Iterator[bytes]:
        environ = self._environ
        for chunk in self._result or ():
            pending = environ.get(_RESPONSE)
            if not isinstance(pending, _Pending) or pending.no_content is None:
                yield chunk  # with content, or not started yet
            elif chunk:
                self._middleware._drop_body(environ)
                # A chunk, empty: hypercorn's WSGI wrapper starts the response with the
                # first chunk and answers 500 to an iterable that yields none.
                yield b""
                return

    def close(self) -> None:
        result, self._result = self._result, None
        if result is None:
            return
        try:
            _close(result)
        finally:
            pending = self._environ.get(_RESPONSE)
            if isinstance(pending, _Pending) and pending.after is not None:
                pending.after()


class _HeldResponse:
    """One response whose body the server would not delimit, held until its length is known.

    HTTP/1.0 has no chunked coding, and some servers do not chunk HTTP/1.1 either.

    The app's ``start_response`` and ``write()`` hold a response whose body needs framing
    (:func:`connmw.rules.body_needs_framing`); :meth:`body` reads the app's iterable and
    starts the response with a Content-Length, or without one once the body outgrows
    ``limit`` (the rest is then streamed). Any other response starts at once, untouched.
    """

    __slots__ = ("_held", "_limit", "_method", "_parts", "_size", "_start", "_started")

    def __init__(self, start: Callable[..., Write], environ: WSGIEnvironment, limit: int) -> None:
        self._start = start  # ConnectionMiddleware._start, bound to the request
        self._method: str | None = environ.get("REQUEST_METHOD")
        self._limit = limit
        self._held: Held | None = None
        self._parts: list[bytes] = []
        self._size = 0
        self._started: Write | None = None  # the server's write(), once the response started

    def start_response(
        self, status: str, headers: list[tuple[str, str]], exc_info: OptExcInfo | None = None
    ) -> Write:
        if self._started is not None:
            return self._start(status, headers, exc_info)  # the server judges a second call
        if self._held is not None:
            if exc_info is None:
                raise AssertionError("start_response called twice without exc_info (PEP 3333)")
            if self._size and exc_info[1] is not None:  # the app saw its body go out: re-raise
                raise exc_info[1].with_traceback(exc_info[2])
            self._parts.clear()
        if body_needs_framing(_status_code(status), self._method, _names(headers)):
            self._held = (status, headers, exc_info)
            return self._write
        self._held = None
        self._started = self._start(status, headers, exc_info)
        return self._started

    def _write(self, data: bytes) -> None:
        """The app's ``write()`` for a held response."""
        if self._started is not None:  # outgrew the limit before
            self._started(data)
            return
        self._parts.append(data)
        self._size += len(data)
        if self._size > self._limit and self._held is not None:
            write = self._release(self._held, framed=False)
            for part in self._parts:
                write(part)
            self._parts.clear()

    def _release(self, held: Held, *, framed: bool) -> Write:
        """Start the held response on the server: with the held body's length if ``framed``."""
        status, headers, exc_info = held
        self._held = None
        if framed:
            headers = [*headers, ("Content-Length", str(self._size))]
        self._started = self._start(status, headers, exc_info, framing=not framed)
        return self._started

    def body(self, result: Iterable[bytes]) -> Iterable[bytes]:
        """What the server iterates: ``result`` itself unless the response is held."""
        if self._started is not None:
            return result
        try:
            iterator = iter(result)
            for chunk in iterator:
                held = self._held
                if held is None:  # started while iterating, or write() outgrew the limit
                    return _Rest(chain(self._parts, (chunk,), iterator), result)
                self._parts.append(chunk)
                self._size += len(chunk)
                if self._size > self._limit:
                    self._release(held, framed=False)
                    return _Rest(chain(self._parts, iterator), result)
        except BaseException:
            _close(result)
            raise
        _close(result)
        if self._held is None:  # start_response never called: the server will say so
            return self._parts
        self._release(self._held, framed=True)
        return [b"".join(self._parts)]


class _Rest:
    """The held chunks, then the rest of the app's iterable; closes the app's once."""

    __slots__ = ("_chunks", "_result")

    def __init__(self, chunks: Iterator[bytes], result: Iterable[bytes]) -> None:
        self._chunks = chunks
        self._result: Iterable[bytes] | None = result

    def __iter__(self) -> Iterator[bytes]:
        return self._chunks

    def close(self) -> None:
        result, self._result = self._result, None
        if result is not None:
            _close(result)


def _close(result: Iterable[bytes]) -> None:
    close = getattr(result, "close", None)
    if close is not None:
        close()


def _status_code(status: str) -> int:
    return int(status[:3]) if status[:3].isdecimal() and status[:3].isascii() else 200


def _names(headers: Iterable[Any]) -> list[Header]:
    """The names of an app's well-formed str pairs as bytes, for the rules' framing check."""
    return [
        (pair[0].encode("latin-1", "replace"), b"")
        for pair in headers
        if type(pair) is tuple and len(pair) == 2 and type(pair[0]) is str
    ]


def _dirty(policy: Policy, headers: list[Any]) -> bool:
    try:
        return policy.needs_cleaning(headers)
    except (TypeError, AttributeError, IndexError, ValueError):
        return True  # not str pairs: the conversion reports them


@lru_cache(maxsize=256)
def _text(field: Header) -> tuple[str, str]:
    """One of connmw's own fields (lower-case bytes) as a WSGI header."""
    return field[0].decode("latin-1").title().replace("Websocket", "WebSocket"), field[1].decode("latin-1")


def _latin1(text: str | None) -> bytes | None:
    return None if text is None else text.encode("latin-1", "replace")


# What the rules see for a pair WSGI cannot carry, which is passed on as the app wrote it: a
# token no application sends, so an ordinary name to the rules (an empty one is invalid).
_UNREADABLE: Final = b"x-connmw-unreadable"


def _to_bytes(headers: Iterable[Any]) -> tuple[list[Header], list[Any]]:
    """The rules' view of WSGI headers, and those WSGI cannot carry."""
    raw: list[Header] = []
    malformed: list[Any] = []
    for pair in headers:
        try:
            name, value = pair  # anything may come from an app
            raw.append((name.encode("latin-1"), value.encode("latin-1")))
        except UnicodeEncodeError:  # a Connection field stays one to the rules
            try:
                raw.append((name.encode("latin-1"), value.encode("latin-1", "replace")))
            except UnicodeEncodeError:  # the name itself: passed on as it is
                raw.append((_UNREADABLE, b""))
            malformed.append(pair)
        except (TypeError, ValueError, AttributeError):
            raw.append((_UNREADABLE, b""))  # an ordinary header to the rules, passed on as it is
            malformed.append(pair)
    return raw, malformed


def _to_str(
    headers: Sequence[Any], raw: list[Header], kept: Sequence[Header]
) -> tuple[list[Any], Sequence[Header]]:
    """The app's own pairs the rules kept (in order, as the app wrote them), and connmw's fields.

    The rules keep the app's headers in order, as the very bytes objects they were given,
    and append their own fields: identity, not equality, tells an app's ``connection:
    close`` from connmw's. TODO(rules): finish_response could return its fields apart.
    """
    # Any, not tuple[str, str]: malformed pairs pass through as the app wrote them.
    out: list[Any] = []
    index, size = 0, len(kept)
    for pair, (name, value) in zip(headers, raw, strict=True):
        if index < size and kept[index][0] is name and kept[index][1] is value:
            out.append(pair)
            index += 1
    return out, kept[index:]


def _request_headers(environ: WSGIEnvironment) -> tuple[list[Header], list[str]]:
    """The request's ``HTTP_*`` entries as lower-case bytes headers, and their keys."""
    pairs = [(key, value) for key, value in environ.items() if key[:5] == "HTTP_" and type(value) is str]
    headers = [
        (key[5:].lower().replace("_", "-").encode("latin-1", "replace"), _latin1(v) or b"")
        for key, v in pairs
    ]
    return headers, [key for key, _ in pairs]


def _connection_key(environ: WSGIEnvironment) -> Hashable | None:
    port = environ.get("REMOTE_PORT")
    return None if port is None else (environ.get("REMOTE_ADDR"), port, environ.get("SERVER_PORT"))
