"""The Policy: every decision, configured once: names, requests, responses, handshakes.

The adapters call its methods; the hot path is :meth:`Policy.read_request` and
:meth:`Policy.quick_finish`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Final, final

from ._connection import (
    NO_TOKENS,
    RequestFacts,
    _join_repeated,
    _persistent,
    _Reading,
    _upgrade_protocols,
)
from ._headers import (
    CACHE_LIMIT,
    CONNECTION,
    NO_HEADERS,
    NO_NAMES,
    ORDINARY,
    UPGRADE,
    UPGRADE_WISHES,
    AnyName,
    Header,
    Pairs,
    _as_bytes,
    _has_content_length,
    normalize_http_version,
)
from ._names import _HeaderNames
from ._responses import (
    ANNOUNCE,
    CLOSE_FIELDS,
    KEEP_ALIVE_FIELDS,
    NO_BODY_STATUSES,
    UPGRADE_FIELDS,
    Announce,
    ResponsePlan,
    drops_content_length,
)
from ._websocket import (
    HandshakeVerdict,
    OriginPolicy,
    _judge_handshake,
    _origin_refusal,
)

# --------------------------------------------------------------------------------------
# The policy: every decision, configured once
# --------------------------------------------------------------------------------------


_HANDSHAKE_FIELDS: Final = frozenset(
    {b"host", b"upgrade", b"connection", b"sec-websocket-key", b"sec-websocket-version", b"origin"}
)
_ORIGIN_FIELDS: Final = frozenset({b"host", b"origin"})

_Answer = tuple[tuple[Header, ...], bool]
"""Connection fields to append, and whether the connection closes (:meth:`Policy.connection_fields`)."""

_COMPILED: Final = not __file__.endswith(".py")
"""This module runs compiled (the accelerated build): the hot loops take the spelling each
build runs fastest, the same reading of the same pairs (both builds run the whole suite)."""


@final  # compiled in the accelerated build, where Python subclasses are impossible
class Policy(_HeaderNames):
    """connmw's decisions, configured once and shared by every request.

    Build one per middleware (the adapters do it from :class:`connmw.config.Config`).
    All methods are pure functions of their arguments and the configuration; the
    caches inside only remember answers already computed, bounded in size.

    Args:
        explicit_keep_alive: send ``Connection: keep-alive`` on persistent HTTP/1.x
            responses, as gunicorn and Heroku's router do (a configured
            ``keep_alive_timeout`` sends it regardless, beside its hint).
        http10_keep_alive: honour an HTTP/1.0 client's ``Connection: keep-alive``.
        strip_headers: more header names to remove from every response.
        protected_headers: more names a Connection field may never nominate; a name
            ending in ``*`` protects a prefix (``x-acme-*``).
        max_connection_tokens: more Connection tokens than this nominate nothing.
        keep_alive_timeout: seconds to announce as ``Keep-Alive: timeout=N`` on
            persistent HTTP/1.x responses.
        allowed_origins: WebSocket origin patterns (see :class:`OriginPolicy`).
        announce: which Connection fields go out (:data:`Announce`); a trait of the server,
            set through :meth:`for_server`.
    """

    def __init__(
        self,
        *,
        explicit_keep_alive: bool = True,
        http10_keep_alive: bool = False,
        strip_headers: Iterable[AnyName] = (),
        protected_headers: Iterable[AnyName] = (),
        max_connection_tokens: int = 16,
        keep_alive_timeout: int | None = None,
        allowed_origins: Iterable[str] = (),
        announce: Announce = "every",
    ) -> None:
        # What for_server needs to build a sibling: the options as given.
        self._strip_given = tuple(strip_headers)
        self._protected_given = tuple(protected_headers)
        super().__init__(self._strip_given, self._protected_given, max_connection_tokens)
        if announce not in ANNOUNCE:
            raise ValueError(f"announce must be one of {ANNOUNCE}")
        self.announce: Announce = announce
        self._origins_given = tuple(allowed_origins)
        self._siblings: dict[tuple[bool, str], Policy] = {}
        self.explicit_keep_alive = explicit_keep_alive
        self.http10_keep_alive = http10_keep_alive
        self.keep_alive_timeout = keep_alive_timeout
        self.origins = OriginPolicy(self._origins_given)

        if keep_alive_timeout is not None:
            self._keep_fields: tuple[Header, ...] = (
                *KEEP_ALIVE_FIELDS,
                (b"keep-alive", b"timeout=%d" % keep_alive_timeout),
            )
        else:
            self._keep_fields = KEEP_ALIVE_FIELDS
        self._ordinary_answers = self._decide_ordinary_answers()
        # Readings by version, then by Connection value: bytes values (ASGI) and str values
        # (WSGI's environ) in separate dicts, since an ASCII str and its bytes hash alike
        # and one dict would compare them.
        versions = ("1.0", "1.1", "2", "3", "HTTP/1.0", "HTTP/1.1", "HTTP/1")
        self._readings: dict[str, dict[AnyName | None, _Reading]] = {v: {} for v in versions}
        self._readings_str: dict[str, dict[AnyName | None, _Reading]] = {v: {} for v in versions}
        for value in (None, b"keep-alive", b"close", b"Keep-Alive", b"Close"):
            for version in versions:
                self.reading(version, value)
                if value is not None:
                    self.reading(version, value.decode())

    def _decide_ordinary_answers(self) -> dict[str, tuple[_Answer | None, _Answer | None]]:
        """:meth:`ordinary_answer` by version, then persistence: connection_fields(facts, 200)
        depends on those two fields only, so each pair is decided once, here."""
        answers: dict[str, tuple[_Answer | None, _Answer | None]] = {}
        for version in ("1.0", "1.1", "2", "3"):
            closing = self.connection_fields(RequestFacts(version, False, NO_TOKENS, NO_NAMES), 200)
            keeping = self.connection_fields(RequestFacts(version, True, NO_TOKENS, NO_NAMES), 200)
            answers[version] = (closing, None if version == "1.0" else keeping)  # 1.0 kept: framing decides
        return answers

    def for_server(self, *, keeps_http10: bool = True, announce: Announce = "every") -> Policy:
        """This policy as a server with these traits lets it be kept (traits as data).

        ``keeps_http10``: the server can keep an HTTP/1.0 connection alive; where it cannot,
        ``http10_keep_alive`` is off (an HTTP/1.0 request is never persistent, connmw never
        says ``keep-alive`` to it: uvicorn and hypercorn close it whatever they are told,
        and uvicorn's httptools writes its own ``close`` beside connmw's field).
        ``announce``: which Connection fields the server should be given (:data:`Announce`).
        Returns this policy when nothing changes, else a sibling built once.
        """
        http10 = self.http10_keep_alive and keeps_http10
        if http10 == self.http10_keep_alive and announce == self.announce:
            return self
        sibling = self._siblings.get((http10, announce))
        if sibling is None:
            sibling = Policy(
                explicit_keep_alive=self.explicit_keep_alive,
                http10_keep_alive=http10,
                strip_headers=self._strip_given,
                protected_headers=self._protected_given,
                max_connection_tokens=self.max_connection_tokens,
                keep_alive_timeout=self.keep_alive_timeout,
                allowed_origins=self._origins_given,
                announce=announce,
            )
            self._siblings[(http10, announce)] = sibling
        return sibling

    # -- requests ------------------------------------------------------------------

    def request_facts(
        self, http_version: str, connection: AnyName | None, upgrade: AnyName | None = None
    ) -> RequestFacts:
        """Facts for a request with this version, Connection value and Upgrade value.

        :param http_version: ``"1.0"``, ``"1.1"``, ``"2"``, ``"3"`` or WSGI's ``"HTTP/1.1"`` spellings.
        :param connection: every Connection line joined with ``", "``, or ``None``; bytes
            (ASGI) or latin-1 str (WSGI's environ).
        :param upgrade: the Upgrade field, likewise.

        Answers for requests without Upgrade come from a cache, so the common request
        allocates nothing.
        """
        return self.reading(http_version, connection, upgrade).facts

    def reading(
        self, http_version: str, connection: AnyName | None, upgrade: AnyName | None = None
    ) -> _Reading:
        """:meth:`request_facts` with this policy's answers for the adapters' hot path (:class:`_Reading`)."""
        by_value = (self._readings_str if type(connection) is str else self._readings).get(http_version)
        if by_value is not None and upgrade is None:
            cached = by_value.get(connection)
            if cached is not None:
                return cached
        version = normalize_http_version(http_version)
        conn_bytes = _as_bytes(connection)
        tokens = NO_TOKENS if conn_bytes is None else self.tokens((conn_bytes,))
        offered: tuple[bytes, ...] = NO_NAMES
        upgrade_bytes = _as_bytes(upgrade)
        # RFC 9110 §7.8: Upgrade counts only with the "upgrade" connection option, and
        # is ignored in HTTP/1.0 requests; HTTP/2 and HTTP/3 forbid it (RFC 9113 §8.6).
        if upgrade_bytes is not None and tokens.upgrade and version == "1.1":
            offered = _upgrade_protocols(upgrade_bytes)
        facts = RequestFacts(
            http_version=version,
            persistent=_persistent(version, tokens, self.http10_keep_alive),
            tokens=tokens,
            upgrade=offered,
        )
        answer = self.ordinary_answer(facts)
        reading = _Reading(
            facts, answer, self._appended(facts, answer), version == "1.0" or tokens.flagged
        )
        if (
            by_value is not None
            and upgrade is None
            and len(by_value) < CACHE_LIMIT
            and (connection is None or len(connection) <= 256)
        ):
            by_value[connection] = reading
        return reading

    def read_request(self, http_version: str, headers: Iterable[Header]) -> RequestFacts:
        """:meth:`request_facts` from an ASGI header list (lower-case names)."""
        return self.read(http_version, headers).facts

    def read(self, http_version: str, headers: Iterable[Header]) -> _Reading:
        """:meth:`read_request`, with this policy's answers for the adapters' hot path (:class:`_Reading`)."""
        connection: bytes | None = None
        upgrade: bytes | None = None
        more: list[Header] | None = None  # repeated lines, joined once below: linear time
        # Loose pairs, as Pairs says; servers give a list, which the compiled build reads
        # fastest (anything else is read once into one).
        pairs: list[Any] = headers if isinstance(headers, list) else list(headers)
        native = _COMPILED  # a local: read once, not per pair
        for pair in pairs:
            if native:
                # Compiled, a tuple's item is read natively, and a name typed as bytes is
                # measured natively: most names have neither length and skip both
                # comparisons, each a generic call when compiled. Both branches read the
                # same item.
                name = pair[0] if isinstance(pair, tuple) else pair[0]  # noqa: RUF034
                if isinstance(name, bytes) and len(name) != 10 and len(name) != 7:
                    continue
            else:
                name = pair[0]  # indexing, not unpacking: the compiled build iterates a pair to unpack it
            # Two comparisons, not a set probe: a server's header names are new objects
            # with no hash computed yet, and bytes of another length compare unequal at once.
            if name == b"connection":
                if connection is None:
                    connection = pair[1]
                    continue
            elif name == b"upgrade":
                if upgrade is None:
                    upgrade = pair[1]
                    continue
            else:
                continue
            if more is None:
                more = []
            more.append((name, pair[1]))
        if more is not None:
            connection, upgrade = _join_repeated(connection, upgrade, more)
        if upgrade is None:  # the cache lookup of reading, inlined for the hot path
            try:
                return self._readings[http_version][connection]
            except KeyError:
                pass
        return self.reading(http_version, connection, upgrade)

    # -- responses -----------------------------------------------------------------

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
        ordinary = self._known_end_to_end  # a set probe per known name: the whole cost when clean
        pairs: Pairs = headers
        dirty = drops_content_length(status) and _has_content_length(headers)  # see _finish_dirty
        for name, _ in pairs:
            if dirty or (name not in ordinary and self.kind_of(name)):
                return self._finish_dirty(
                    request,
                    status,
                    headers,
                    server_close,
                    requests_left,
                    delimited=delimited,
                    server_announces=server_announces,
                )
        answer = self.ordinary_answer(request)
        if answer is None or status < 200 or server_close or requests_left is not None or not delimited:
            has_length = delimited
            if request.http_version == "1.0" and request.persistent:
                has_length = has_length and _has_content_length(headers)
            answer = self.connection_fields(
                request,
                status,
                server_close=server_close,
                has_length=has_length,
                requests_left=requests_left,
            )
        fields, close = answer
        if not fields or (server_announces and close):
            return headers, close, NO_NAMES
        return [*headers, *fields], close, NO_NAMES

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
    def _appended(request: RequestFacts, answer: _Answer | None) -> tuple[Header, ...] | None:
        """The fields :meth:`quick_finish` appends for ``request`` (see :class:`_Reading`), or ``None``."""
        if answer is None or answer[1] or request.upgrade:  # a 101 answers only a request to upgrade
            return None
        return answer[0]

    def quick_finish(self, request: RequestFacts, status: int, headers: list[Header]) -> list[Header] | None:
        """:meth:`finish_response` for the common response, in one step, or ``None`` (see
        :meth:`quick_finish_reading`, which the adapters call with what they read)."""
        answer = self.ordinary_answer(request)
        reading = _Reading(request, answer, self._appended(request, answer), False)
        return self.quick_finish_reading(reading, status, headers)

    def quick_finish_reading(
        self, reading: _Reading, status: int, headers: list[Header]
    ) -> list[Header] | None:
        """:meth:`finish_response` for the common response, in one step, or ``None``.

        The common response: the connection stays open, the request offers no upgrade
        (so no 101 can be legitimate), the status is one whose response has content (not
        1xx, 204 or 304: the adapters then drop body bytes, :func:`no_content_reason`)
        and every header name is one already known to be end-to-end. Its headers need no
        cleaning, only connmw's fields appended, so this
        returns the new list (``headers`` itself when no field is due, as on HTTP/2).
        ``None`` means "ask :meth:`finish_response`", which decides every other case and
        learns the names this call does not know yet.
        """
        fields = reading.appended  # None: a response the rules decide in full
        if fields is None or status < 200 or status in {204, 304}:
            return None
        ordinary = self._known_end_to_end
        pairs: list[Any] = headers  # loose, as Pairs says; a list is read fastest compiled
        for pair in pairs:
            if pair[0] not in ordinary:
                return None
        if fields:
            return [*headers, *fields]
        return headers

    def _finish_dirty(
        self,
        request: RequestFacts,
        status: int,
        headers: Sequence[Header],
        server_close: bool,
        requests_left: int | None,
        *,
        delimited: bool = True,
        server_announces: bool = False,
    ) -> ResponsePlan:
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
        if not (server_announces and close):
            kept.extend(fields)
        return kept, close, tuple(dict.fromkeys(removed))

    # -- WebSocket ----------------------------------------------------------------

    def judge_websocket(
        self, method: str, http_version: str, headers: Iterable[Header], *, validate: bool = True
    ) -> HandshakeVerdict:
        """Judge a WebSocket opening handshake with this policy's Origin policy (RFC 6455
        §4.2.1; RFC 8441 over HTTP/2+): :func:`~connmw.rules._websocket._judge_handshake`.

        A verdict: accepted (101), or the status the server must answer (400; 426 with
        ``Sec-WebSocket-Version: 13``; 403 for a foreign Origin). ``validate=False`` judges
        the Origin alone; the structure is left to the server. Never raises for any bytes.
        """
        return _judge_handshake(method, http_version, headers, self.origins, self.tokens, validate=validate)

    def origin_refusal(self, http_version: str, headers: Iterable[Header]) -> HandshakeVerdict | None:
        """The 403 for a WebSocket handshake's Origin, or ``None`` when this policy admits it
        (:func:`~connmw.rules._websocket._origin_refusal`). Never raises."""
        return _origin_refusal(http_version, headers, self.origins)
