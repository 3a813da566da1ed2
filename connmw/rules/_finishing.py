"""Responses decided: which Connection fields go out, what is removed, whether to close.

RFC 9110 §7.6.1 (Connection; hop-by-hop fields), §7.8 (Upgrade), §15.2 (interim
responses), §8.6 (Content-Length); RFC 9112 §9.3 (persistence), §6.3 (message body
length); RFC 9113 §8.2.2 and RFC 9114 §4.2 (no connection-specific field over HTTP/2 and
HTTP/3). :class:`~connmw.rules.Policy` is built on :class:`_ResponseDecisions`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ._connection import NO_TOKENS, RequestFacts, _Reading
from ._drain import is_event_stream
from ._headers import (
    CACHE_LIMIT,
    CONNECTION,
    CONTENT_TYPE,
    NO_HEADERS,
    NO_NAMES,
    ORDINARY,
    UPGRADE,
    UPGRADE_WISHES,
    Header,
    Pairs,
    _as_lower_bytes,
    _has_content_length,
)
from ._names import _HeaderNames
from ._responses import (
    CLOSE_FIELDS,
    KEEP_ALIVE_FIELDS,
    NO_BODY_STATUSES,
    UPGRADE_FIELDS,
    Announce,
    ResponsePlan,
    drops_content_length,
)

if TYPE_CHECKING:
    from ._plan import PlannedResponse  # the planner subclasses this module's class

_Answer = tuple[tuple[Header, ...], bool]
"""Connection fields to append, and whether the connection closes (``connection_fields``)."""
_Finished = tuple[Sequence[Header], tuple[Header, ...], bool, tuple[bytes, ...]]
"""``(kept, fields, close, removed)``: the application's headers that go out (``headers`` itself
when nothing was removed), connmw's fields, whether to close, the names removed as corrections."""


class _ResponseDecisions(_HeaderNames):
    """The response half of a :class:`~connmw.rules.Policy`: its settings are set there."""

    announce: Announce
    explicit_keep_alive: bool
    keep_alive_timeout: int | None
    _keep_fields: tuple[Header, ...]
    _ordinary_answers: dict[str, tuple[_Answer | None, _Answer | None]]

    def connection_fields(
        self,
        request: RequestFacts,
        status: int,
        *,
        app_close: bool = False,
        server_close: bool = False,
        has_length: bool = True,
        requests_left: int | None = None,
    ) -> tuple[tuple[Header, ...], bool]:
        """The one decision of which Connection / Keep-Alive fields a response carries.

        Returns ``(fields, close)``. ``app_close`` is the application's own
        ``Connection: close``; ``server_close`` a server-side reason (drain, limits);
        ``has_length`` whether the body is delimited on the wire (an HTTP/1.0 keep-alive
        response must have a Content-Length; on HTTP/1.1 a server that does not chunk
        leaves a body without one to end with the connection, RFC 9112 §6.3 item 8);
        ``requests_left`` adds ``max=N`` to the Keep-Alive hint. An interim (1xx)
        response decides nothing: the final response does (RFC 9110 §15.2). What goes out
        through the server follows :attr:`announce` (the request's own close, and
        keep-alive, may be left to the server); ``close`` is decided alike either way.
        """
        if request.http_version in ("2", "3"):
            return NO_HEADERS, False  # RFC 9113 §8.2.2, RFC 9114 §4.2
        if status == 101 and request.upgrade_requested:
            return UPGRADE_FIELDS, False  # RFC 9110 §7.8: Upgrade is hop-by-hop
        if status < 200:
            return NO_HEADERS, False  # RFC 9110 §15.2: interim; the final response decides
        if not request.persistent:  # the request's own close: every server answers it itself
            return (CLOSE_FIELDS if self.announce == "every" else NO_HEADERS), True
        if app_close or server_close:
            return CLOSE_FIELDS, True
        if not has_length and status not in NO_BODY_STATUSES:
            # RFC 9112 §9.3, §6.3 item 8 (and RFC 1945's keep-alive practice): a body nothing
            # delimits ends with the connection.
            return CLOSE_FIELDS, True
        if self.announce == "closes-beyond-request":
            return NO_HEADERS, False  # the server decides persistence and says so itself
        if request.http_version != "1.0" and not self.explicit_keep_alive and self.keep_alive_timeout is None:
            return NO_HEADERS, False
        # A configured Keep-Alive hint goes on every persistent HTTP/1.x response, even
        # with explicit_keep_alive off: Keep-Alive is connection-specific, so it travels
        # with "keep-alive" in Connection (RFC 9110 §7.6.1; RFC 2068 §19.7.1).
        if requests_left is not None and self.keep_alive_timeout is not None:
            hint = b"timeout=%d, max=%d" % (self.keep_alive_timeout, requests_left)
            return (*KEEP_ALIVE_FIELDS, (b"keep-alive", hint)), False
        return self._keep_fields, False

    def finish_response(
        self,
        request: RequestFacts,
        status: int,
        headers: Sequence[Header],
        *,
        server_close: bool = False,
        requests_left: int | None = None,
        delimited: bool = True,
        server_announces: bool = False,
    ) -> ResponsePlan:
        """The response's headers as they must go out, and whether to close.

        Removes every hop-by-hop header and every header the application's Connection
        field nominates (protected names excepted), keeps Upgrade on a legitimate 101,
        honours the application's ``Connection: close``, then appends the fields
        :meth:`connection_fields` decides. Nothing is allocated beyond the appended
        list when the application sent no hop-by-hop header. ``delimited=False``: the
        body has no Content-Length and the server will not chunk it. ``server_announces``
        (with ``server_close``): the server adds its own ``Connection: close`` to this
        response, so connmw adds no field beside it (one field, RFC 9110 §7.6.1).
        """
        finished = self._finish(request, status, headers, server_close, requests_left, delimited)
        kept, fields, close, removed = finished
        if not fields or (server_announces and close):
            return kept, close, removed
        return [*kept, *fields], close, removed

    def _finish(  # noqa: PLR0917 (finish_response's arguments, in its order)
        self,
        request: RequestFacts,
        status: int,
        headers: Sequence[Header],
        server_close: bool,
        requests_left: int | None,
        delimited: bool,
    ) -> _Finished:
        """:meth:`finish_response` with connmw's fields apart from the application's kept headers
        (``headers`` itself when nothing was removed)."""
        ordinary = self._known_end_to_end  # a set probe per known name: the whole cost when clean
        pairs: Pairs = headers
        dirty = drops_content_length(status) and _has_content_length(headers)  # see _finish_dirty
        for name, _ in pairs:
            if dirty or (name not in ordinary and self.kind_of(name)):
                return self._finish_dirty(request, status, headers, server_close, requests_left, delimited)
        fields, close = self._answer(request, status, headers, server_close, requests_left, delimited)
        return headers, fields, close, NO_NAMES

    def _answer(  # noqa: PLR0917 (the state of one response start)
        self,
        request: RequestFacts,
        status: int,
        headers: Pairs,
        server_close: bool,
        requests_left: int | None,
        delimited: bool,
    ) -> _Answer:
        """:meth:`connection_fields` for a response whose headers need no cleaning (str or
        bytes pairs): the request's ordinary answer where it applies, else decided in full."""
        answer = self.ordinary_answer(request)
        if answer is None or status < 200 or server_close or requests_left is not None or not delimited:
            has_length = delimited
            if request.http_version == "1.0" and request.persistent:
                has_length = has_length and _sized(headers)
            answer = self.connection_fields(
                request,
                status,
                server_close=server_close,
                has_length=has_length,
                requests_left=requests_left,
            )
        return answer

    def ordinary_answer(self, request: RequestFacts) -> _Answer | None:
        """:meth:`connection_fields` for an *ordinary response* to ``request``: final, with
        content, framed, and no reason of the server's to close; ``None`` for a persistent
        HTTP/1.0 request, where the response's framing decides. It depends on the request's
        version and persistence only, so it is decided once per pair and looked up by them."""
        answers = self._ordinary_answers.get(request.http_version)
        if answers is None:  # facts built by hand with another spelling: decide it now
            if request.http_version == "1.0" and request.persistent:
                return None
            return self.connection_fields(request, 200)
        return answers[request.persistent]

    @staticmethod
    def _appended(request: RequestFacts, answer: _Answer | None) -> list[Header] | None:
        """The fields :meth:`quick_finish` appends for ``request`` (see :class:`_Reading`), or ``None``."""
        if answer is None or answer[1] or request.upgrade:  # a 101 answers only a request to upgrade
            return None
        return list(answer[0])  # a list: concatenated to the app's in one step

    def quick_finish(self, request: RequestFacts, status: int, headers: list[Header]) -> list[Header] | None:
        """:meth:`finish_response` for the common response, in one step, or ``None`` (see
        :meth:`quick_finish_reading`, which the adapters call with what they read)."""
        answer = self.ordinary_answer(request)
        reading = _Reading(request, answer, self._appended(request, answer), False)
        quick = self.quick_finish_reading(reading, status, headers)
        return quick if isinstance(quick, list) else None

    def quick_finish_reading(
        self, reading: _Reading, status: int, headers: list[Header]
    ) -> list[Header] | PlannedResponse | None:
        """:meth:`finish_response` for the common response, in one step; else its whole plan.

        The common response: the connection stays open, the request offers no upgrade
        (so no 101 can be legitimate), the status is one whose response has content (not
        1xx, 204 or 304: the adapters then drop body bytes, :func:`no_content_reason`),
        every header name is one already known to be end-to-end, and it is no event stream
        (the adapters must see each one: drain ends it). Its headers need no
        cleaning, only connmw's fields appended, so this
        returns the new list (``headers`` itself when no field is due, as on HTTP/2).
        Any other response is planned in full in the same call (:meth:`Policy.plan_response`,
        which learns the names this call does not know yet) when the policy knows the server
        (:meth:`Policy.for_server` with its traits): the hot path's one visit, as it comes, with
        no reason of the lifecycle's or the server's to close. ``None``: a policy that does not
        know the server; ask :meth:`finish_response`.
        """
        fields = reading.appended  # None: a response the rules decide in full
        if fields is None or status < 200 or status in {204, 304}:
            return self._declined(reading, status, headers)
        ordinary = self._known_end_to_end  # names, and Content-Type pairs known to be no event stream
        pairs: list[Any] = headers  # loose, as Pairs says; a list is read fastest compiled
        try:
            for pair in pairs:
                if pair[0] not in ordinary and pair not in ordinary and not self._learn_content_type(pair):
                    return self._declined(reading, status, headers)
        except TypeError:  # a pair that is a list cannot be probed as a whole: decided in full
            return self._declined(reading, status, headers)
        if fields:
            return headers + fields
        return headers

    def _declined(self, reading: _Reading, status: int, headers: list[Header]) -> PlannedResponse | None:
        """The whole plan of a start the quick path declines (the planner's), or ``None``."""
        return None

    def _learn_content_type(self, pair: Any) -> bool:
        """Whether ``pair`` is a well-formed Content-Type that is no event stream; if so it is
        remembered, so that the next response with it passes the quick path on one probe.

        An event stream (``text/event-stream``) is never remembered: the adapters must see
        each one, since drain ends it (:mod:`connmw._streams`), and its answer comes from
        :meth:`finish_response`. Bounded like every cache here: past the limit a new value
        is decided in full each time.
        """
        if (
            type(pair) is not tuple
            or len(pair) != 2
            or pair[0] != CONTENT_TYPE
            or type(pair[1]) is not bytes
            or is_event_stream((pair,))
            or len(self._known_end_to_end) >= CACHE_LIMIT
        ):
            return False
        self._known_end_to_end.add(pair)
        return True

    def _finish_dirty(  # noqa: PLR0917 (_finish's arguments, in its order)
        self,
        request: RequestFacts,
        status: int,
        headers: Sequence[Header],
        server_close: bool,
        requests_left: int | None,
        delimited: bool,
    ) -> _Finished:
        pairs: Pairs = headers
        values = self._connection_values(headers)
        app = self.tokens(values) if values else NO_TOKENS
        keep_upgrade = status == 101 and request.upgrade_requested and not request.multiplexed
        # The app's Connection is always replaced by connmw's one field; replacing a
        # mere wish (close / keep-alive, or "upgrade" on a legitimate 101) is no correction.
        honoured = app.only_directives or (
            keep_upgrade
            and not app.invalid
            and not app.refused
            and not app.too_many
            and app.nominated <= UPGRADE_WISHES
        )
        lengthless = drops_content_length(status)  # RFC 9110 §8.6
        kept: list[Header] = []
        removed: list[bytes] = []
        for name, value in pairs:
            kind = self.kind_of(name)
            if kind == ORDINARY:
                if (app.nominated and name.lower() in app.nominated) or (
                    lengthless and name.lower() == b"content-length"
                ):
                    removed.append(name.lower())
                else:
                    kept.append((name, value))
            elif kind == UPGRADE and keep_upgrade:
                kept.append((name, value))
            elif kind != CONNECTION or not honoured:
                removed.append(name.lower())
        has_length = delimited
        if request.http_version == "1.0" and request.persistent:
            has_length = has_length and _has_content_length(kept)
        fields, close = self.connection_fields(
            request,
            status,
            app_close=app.close,
            server_close=server_close,
            has_length=has_length,
            requests_left=requests_left,
        )
        return kept, fields, close, tuple(dict.fromkeys(removed))

    def _decide_ordinary_answers(self) -> dict[str, tuple[_Answer | None, _Answer | None]]:
        """:meth:`ordinary_answer` by version, then persistence: connection_fields(facts, 200)
        depends on those two fields only, so each pair is decided once, here."""
        answers: dict[str, tuple[_Answer | None, _Answer | None]] = {}
        for version in ("1.0", "1.1", "2", "3"):
            closing = self.connection_fields(RequestFacts(version, False, NO_TOKENS, NO_NAMES), 200)
            keeping = self.connection_fields(RequestFacts(version, True, NO_TOKENS, NO_NAMES), 200)
            answers[version] = (closing, None if version == "1.0" else keeping)  # 1.0 kept: framing decides
        return answers


def _sized(headers: Pairs) -> bool:
    """Whether a Content-Length names itself among headers whose names are str (WSGI's pairs,
    passed as they are when they need no cleaning) or bytes."""
    pairs: Pairs = headers
    return any(_as_lower_bytes(name) == b"content-length" for name, _ in pairs)
