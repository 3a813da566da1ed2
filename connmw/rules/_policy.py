"""The Policy: every decision, configured once: names, requests, responses, handshakes.

The adapters call its methods; the hot path is :meth:`Policy.read_request` and
:meth:`Policy.quick_finish`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Final, final, overload

from ._connection import (
    NO_TOKENS,
    ConnectionTokens,
    RequestFacts,
    _join_repeated,
    _persistent,
    _Reading,
    _upgrade_protocols,
    parse_connection,
)
from ._headers import (
    _BASE_KINDS,
    _CACHE_LIMIT,
    _EMPTY,
    _NO_HEADERS,
    _NO_NAMES,
    _UPGRADE_WISHES,
    _VERSIONS,
    CONNECTION,
    HOP,
    INVALID,
    ORDINARY,
    PROTECTED,
    PROTECTED_PREFIXES,
    TE,
    UPGRADE,
    AnyName,
    Header,
    _as_bytes,
    _as_lower_bytes,
    _has_content_length,
    _is_protected,
    _Pairs,
    _read_as,
    is_token,
    normalize_http_version,
)
from ._responses import (
    _CLOSE_FIELDS,
    _KEEP_ALIVE_FIELDS,
    _NO_BODY_STATUSES,
    _UPGRADE_FIELDS,
    ANNOUNCE,
    Announce,
    ResponsePlan,
    drops_content_length,
)
from ._websocket import (
    ACCEPT_H2,
    ACCEPT_UNCHECKED,
    REJECT_BAD_HOST,
    REJECT_CONNECTION,
    REJECT_HOST,
    REJECT_KEY,
    REJECT_METHOD,
    REJECT_UPGRADE,
    REJECT_VERSION,
    REJECT_WS_VERSION,
    HandshakeVerdict,
    OriginPolicy,
    _fields,
    _request_host,
    _valid_websocket_key,
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
class Policy:
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
        if max_connection_tokens < 1:
            raise ValueError("max_connection_tokens must be >= 1")
        if announce not in ANNOUNCE:
            raise ValueError(f"announce must be one of {ANNOUNCE}")
        self.announce: Announce = announce
        # What for_server needs to build a sibling: the options as given.
        self._strip_given = tuple(strip_headers)
        self._protected_given = tuple(protected_headers)
        self._origins_given = tuple(allowed_origins)
        self._siblings: dict[tuple[bool, str], Policy] = {}
        strip_headers, protected_headers = self._strip_given, self._protected_given
        self.explicit_keep_alive = explicit_keep_alive
        self.http10_keep_alive = http10_keep_alive
        self.max_connection_tokens = max_connection_tokens
        self.keep_alive_timeout = keep_alive_timeout
        self.origins = OriginPolicy(self._origins_given)

        protected = set(PROTECTED)
        prefixes = list(PROTECTED_PREFIXES)
        for raw in protected_headers:
            name = _as_lower_bytes(raw)
            if name.endswith(b"*"):
                prefixes.append(name[:-1])
            else:
                protected.add(name)
        self.protected: frozenset[bytes] = frozenset(protected)
        self.protected_prefixes: tuple[bytes, ...] = tuple(prefixes)

        base = dict(_BASE_KINDS)
        for raw in strip_headers:
            name = _as_lower_bytes(raw)
            if _is_protected(name, self.protected, self.protected_prefixes):
                raise ValueError(f"{raw!r} is protected and cannot be stripped")
            base.setdefault(name, HOP)
        self.strip: frozenset[bytes] = frozenset(base)
        self.configured_strip: frozenset[bytes] = frozenset(base).difference(_BASE_KINDS)
        # Seed the name caches with the usual spellings, bytes for ASGI and str for WSGI,
        # so that the common response never lower-cases a name. Two dicts: an ASCII str
        # and its bytes hash alike, and one dict would compare them on every lookup.
        self._kinds: dict[bytes, int] = {}
        self._known_end_to_end: set[bytes] = set()  # bytes names seen and known end-to-end
        self._str_kinds: dict[str, int] = {}
        for name, kind in base.items():
            text = name.decode("latin-1")
            for spelling in (text, text.title(), text.upper()):
                self._str_kinds[spelling] = kind
                self._kinds[spelling.encode("latin-1")] = kind

        if keep_alive_timeout is not None:
            self._keep_fields: tuple[Header, ...] = (
                *_KEEP_ALIVE_FIELDS,
                (b"keep-alive", b"timeout=%d" % keep_alive_timeout),
            )
        else:
            self._keep_fields = _KEEP_ALIVE_FIELDS
        self._tokens_cache: dict[bytes, ConnectionTokens] = {}
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
            closing = self.connection_fields(RequestFacts(version, False, NO_TOKENS, _NO_NAMES), 200)
            keeping = self.connection_fields(RequestFacts(version, True, NO_TOKENS, _NO_NAMES), 200)
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

    # -- names ---------------------------------------------------------------------

    def kind_of(self, name: AnyName) -> int:
        """``ORDINARY``, ``HOP``, ``CONNECTION``, ``UPGRADE``, ``TE`` or ``INVALID`` for a header name.

        Accepts bytes (ASGI) or str (WSGI) in any case; answers from a bounded cache, so
        each distinct name is judged once. ``INVALID``: the name is no token (RFC 9110
        §5.1, §5.6.2), white space around it included (RFC 9112 §5.1); such a field is
        removed, and one a server would read as ``connection`` still nominates.
        """
        if isinstance(name, str):
            kind = self._str_kinds.get(name)
            if kind is None:
                kind = self._judge_name(_as_lower_bytes(name))
                if len(self._str_kinds) < _CACHE_LIMIT:
                    self._str_kinds[name] = kind
            return kind
        kind = self._kinds.get(name)
        if kind is None:
            kind = self._judge_name(name.lower())
            if len(self._kinds) < _CACHE_LIMIT:
                self._kinds[name] = kind
                if kind == ORDINARY:
                    self._known_end_to_end.add(name)
        return kind

    def _judge_name(self, lower: bytes) -> int:
        """:meth:`kind_of` for a lower-case name the cache does not hold yet."""
        kind = self._kinds.get(lower)
        if kind is None:
            kind = ORDINARY if is_token(lower) else INVALID
        return kind

    def needs_cleaning(self, headers: Sequence[tuple[AnyName, object]]) -> bool:
        """Whether any header in the list is hop-by-hop (the fast pre-check).

        The list is either all-str (WSGI) or all-bytes (ASGI); the first name picks the
        cache, so the loop is one dict lookup per header.
        """
        pairs: Sequence[Any] = headers  # loose, as _Pairs says
        if not pairs:
            return False
        kinds: dict[Any, int] = self._str_kinds if type(pairs[0][0]) is str else self._kinds
        for name, _ in pairs:
            kind = kinds.get(name)
            if kind is None:
                kind = self.kind_of(name)
            if kind:
                return True
        return False

    def why_removed(self, name: bytes) -> str:
        """Which table removed a response header: ``"invalid"`` (no token, RFC 9110 §5.1),
        ``"hop-by-hop"`` (RFC 9110 §7.6.1), ``"strip_headers"`` (configured),
        ``"Connection-nominated"`` or, for Content-Length on a 1xx, 204 or 304,
        ``"framing"``. For strict mode's error and the one log line."""
        kind = self.kind_of(name)
        if kind == INVALID:
            return "invalid"
        if name.lower() in self.configured_strip:
            return "strip_headers"
        if kind:
            return "hop-by-hop"
        return "framing" if name.lower() == b"content-length" else "Connection-nominated"

    def is_protected(self, name: bytes) -> bool:
        """Whether a Connection field may never nominate this lower-case name."""
        return _is_protected(name, self.protected, self.protected_prefixes)

    def tokens(self, values: Sequence[bytes]) -> ConnectionTokens:
        """:func:`parse_connection` with this policy's protected names and limit, cached."""
        if len(values) == 1:
            value = values[0]
            cached = self._tokens_cache.get(value)
            if cached is not None:
                return cached
        parsed = parse_connection(
            values,
            protected=self.protected,
            prefixes=self.protected_prefixes,
            max_tokens=self.max_connection_tokens,
        )
        if len(values) == 1 and len(self._tokens_cache) < _CACHE_LIMIT and len(values[0]) <= 256:
            self._tokens_cache[values[0]] = parsed
        return parsed

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
        offered: tuple[bytes, ...] = _NO_NAMES
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
            and len(by_value) < _CACHE_LIMIT
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
        # Loose pairs, as _Pairs says; servers give a list, which the compiled build reads
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

    def strip_request(self, headers: Sequence[Header], facts: RequestFacts) -> Sequence[Header]:
        """The request's headers without hop-by-hop and nominated fields.

        Returns ``headers`` itself when nothing is removed. Protected names always stay;
        Connection and Upgrade stay on a request that asks to upgrade (the application
        answers the upgrade); one ``TE: trailers`` stays if the client offered trailers.
        """
        nominated = facts.tokens.nominated
        if not nominated and not self.needs_cleaning(headers):
            return headers
        return _without_hop_by_hop(self, headers, nominated, keep_upgrade=facts.upgrade_requested)

    def clean_accept_headers(self, headers: Sequence[Header]) -> tuple[Sequence[Header], tuple[bytes, ...]]:
        """Headers of a WebSocket ``accept`` (the 101) without hop-by-hop or nominated ones.

        Returns ``(headers, removed)``; ``headers`` is the list itself when clean. The
        server writes Upgrade and Connection of the 101 itself (RFC 6455 §4.2.2).
        """
        if not self.needs_cleaning(headers):
            return headers, _NO_NAMES
        pairs: _Pairs = headers
        values = _connection_values(self, headers)
        nominated = self.tokens(values).nominated if values else _EMPTY
        kept = _without_hop_by_hop(self, headers, nominated, keep_te=False)
        kept_names = {name for name, _ in kept}
        removed = tuple(dict.fromkeys([name.lower() for name, _ in pairs if name not in kept_names]))
        return kept, removed

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
            return _NO_HEADERS, False  # RFC 9113 §8.2.2, RFC 9114 §4.2
        if status == 101 and request.upgrade_requested:
            return _UPGRADE_FIELDS, False  # RFC 9110 §7.8: Upgrade is hop-by-hop
        if status < 200:
            return _NO_HEADERS, False  # RFC 9110 §15.2: interim; the final response decides
        if not request.persistent:  # the request's own close: every server answers it itself
            return (_CLOSE_FIELDS if self.announce == "every" else _NO_HEADERS), True
        if app_close or server_close:
            return _CLOSE_FIELDS, True
        if not has_length and status not in _NO_BODY_STATUSES:
            # RFC 9112 §9.3, §6.3 item 8 (and RFC 1945's keep-alive practice): a body nothing
            # delimits ends with the connection.
            return _CLOSE_FIELDS, True
        if self.announce == "closes-beyond-request":
            return _NO_HEADERS, False  # the server decides persistence and says so itself
        if request.http_version != "1.0" and not self.explicit_keep_alive and self.keep_alive_timeout is None:
            return _NO_HEADERS, False
        # A configured Keep-Alive hint goes on every persistent HTTP/1.x response, even
        # with explicit_keep_alive off: Keep-Alive is connection-specific, so it travels
        # with "keep-alive" in Connection (RFC 9110 §7.6.1; RFC 2068 §19.7.1).
        if requests_left is not None and self.keep_alive_timeout is not None:
            hint = b"timeout=%d, max=%d" % (self.keep_alive_timeout, requests_left)
            return (*_KEEP_ALIVE_FIELDS, (b"keep-alive", hint)), False
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
        pairs: _Pairs = headers
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
            return headers, close, _NO_NAMES
        return [*headers, *fields], close, _NO_NAMES

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
        pairs: list[Any] = headers  # loose, as _Pairs says; a list is read fastest compiled
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
        pairs: _Pairs = headers
        values = _connection_values(self, headers)
        app = self.tokens(values) if values else NO_TOKENS
        keep_upgrade = status == 101 and request.upgrade_requested and not request.multiplexed
        # The app's Connection is always replaced by connmw's one field; replacing a
        # mere wish (close / keep-alive, or "upgrade" on a legitimate 101) is no correction.
        honoured = app.only_directives or (
            keep_upgrade
            and not app.invalid
            and not app.refused
            and not app.too_many
            and app.nominated <= _UPGRADE_WISHES
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

    # -- WebSocket -----------------------------------------------------------------

    def judge_websocket(
        self, method: str, http_version: str, headers: Iterable[Header], *, validate: bool = True
    ) -> HandshakeVerdict:
        """Judge a WebSocket opening handshake (RFC 6455 §4.2.1; RFC 8441 over HTTP/2+).

        Over HTTP/1.x: GET, HTTP/1.1 or later, ``websocket`` in Upgrade, ``upgrade`` in
        Connection, one Sec-WebSocket-Key that is the base64 of 16 bytes, exactly one
        Host naming ``host[:port]`` (400 otherwise), Sec-WebSocket-Version 13 (426 with
        ``Sec-WebSocket-Version: 13`` otherwise), and an allowed Origin (403). Over HTTP/2
        and HTTP/3 the request is an extended CONNECT with no Upgrade, Connection or key
        by design, so the version, every ``host`` (equal to the first, RFC 9113 §8.3.1)
        and the Origin are judged. ``validate=False`` judges the Origin alone
        (:meth:`origin_refusal`): the structure is left to the server, never the Origin
        policy. Never raises for any bytes.
        """
        version = normalize_http_version(http_version)
        multiplexed = version in ("2", "3")
        if not validate:
            refusal = self.origin_refusal(http_version, headers)
            if refusal is not None:
                return refusal
            return ACCEPT_H2 if multiplexed else ACCEPT_UNCHECKED
        fields = _fields(headers, _HANDSHAKE_FIELDS)
        hosts = fields.get(b"host", [])
        upgrade = fields.get(b"upgrade", [])
        keys = fields.get(b"sec-websocket-key", [])
        ws_versions = [
            v.strip(b" \t")
            for value in fields.get(b"sec-websocket-version", ())
            for v in value.split(b",")
            if v.strip(b" \t")
        ]
        if not multiplexed:
            if method != "GET":  # RFC 9110 §9.1: methods are case-sensitive
                return REJECT_METHOD
            if http_version not in _VERSIONS or version == "1.0":
                return REJECT_VERSION
            if upgrade != [b"websocket"] and not any(
                b"websocket" in _upgrade_protocols(value) for value in upgrade
            ):
                return REJECT_UPGRADE
            if not self.tokens(fields.get(b"connection", [])).upgrade:  # cached for the usual values
                return REJECT_CONNECTION
        if ws_versions != [b"13"]:
            return REJECT_WS_VERSION
        if not multiplexed:
            if len(keys) != 1 or not _valid_websocket_key(keys[0]):
                return REJECT_KEY
            if not hosts:
                return REJECT_HOST
        host = _request_host(hosts, multiplexed)
        if host is None and hosts:
            return REJECT_BAD_HOST
        refusal = self.origins.refusal(fields.get(b"origin", []), host)
        if refusal is not None:
            return refusal
        if multiplexed:
            return ACCEPT_H2
        return HandshakeVerdict(True, 101, "ok", "accepted", key=keys[0])

    def origin_refusal(self, http_version: str, headers: Iterable[Header]) -> HandshakeVerdict | None:
        """The 403 for a WebSocket handshake's Origin, or ``None`` when the policy admits it.

        The Origin policy asked alone, whatever else the handshake says: same origin by
        default, else the allow-list (:class:`OriginPolicy`; RFC 6455 §10.2). The request
        names its host only by exactly one valid Host (or, over HTTP/2 and HTTP/3, every
        ``host`` equal to the first): otherwise no Origin is its same origin. Never raises.
        """
        if self.origins.allows_any:
            return None
        fields = _fields(headers, _ORIGIN_FIELDS)
        host = _request_host(fields.get(b"host", []), normalize_http_version(http_version) in ("2", "3"))
        return self.origins.refusal(fields.get(b"origin", []), host)


def _connection_values(policy: Policy, headers: Iterable[Header]) -> list[bytes]:
    """The values of a response's Connection field, every line of it.

    A line whose name is ``INVALID`` but reads as ``connection`` (white space around it,
    RFC 9112 §5.1) counts too: it is removed, and what it nominates goes with it, so that
    nothing leaves under a disguised Connection field (hypercorn trims such names after
    the middleware ran, and would send both fields).
    """
    pairs: _Pairs = headers
    values: list[bytes] = []
    for name, value in pairs:
        kind = policy.kind_of(name)
        if kind == CONNECTION or (kind == INVALID and _read_as(name) == b"connection"):
            values.append(value)
    return values


def _without_hop_by_hop(
    policy: Policy,
    headers: Iterable[Header],
    nominated: frozenset[bytes],
    *,
    keep_upgrade: bool = False,
    keep_te: bool = True,
) -> list[Header]:
    kept: list[Header] = []
    trailers = False
    pairs: _Pairs = headers
    for name, value in pairs:
        kind = policy.kind_of(name)
        if kind == ORDINARY:
            if name.lower() not in nominated:
                kept.append((name, value))
        elif kind == TE and keep_te:
            # RFC 9110 §10.1.4 / RFC 9113 §8.2.2: only "trailers" may cross a hop.
            trailers = trailers or any(
                e.split(b";", 1)[0].strip(b" \t").lower() == b"trailers" for e in value.split(b",")
            )
        elif keep_upgrade and kind in (UPGRADE, CONNECTION):
            kept.append((name, value))
    if trailers:
        kept.append((b"te", b"trailers"))
    return kept


_DEFAULT_POLICY: Policy | None = None


@overload
def forwardable_headers(
    headers: Iterable[tuple[bytes, bytes]], *, policy: Policy | None = None, response: bool = False
) -> list[tuple[bytes, bytes]]: ...


@overload
def forwardable_headers(
    headers: Iterable[tuple[str, str]], *, policy: Policy | None = None, response: bool = False
) -> list[tuple[str, str]]: ...


def forwardable_headers(
    headers: Iterable[tuple[Any, Any]], *, policy: Policy | None = None, response: bool = False
) -> list[tuple[Any, Any]]:
    """Headers safe to forward to another hop, for applications that proxy.

    Removes every hop-by-hop header and every header the Connection field nominates
    (protected names excepted, RFC 9110 §7.6.1). ``response=False`` (the default) is for
    a request on its way upstream: a single ``TE: trailers`` survives if any TE element
    was ``trailers`` (RFC 9113 §8.2.2). ``response=True`` is for an upstream's response
    on its way back: no TE survives (TE is a request field, RFC 9110 §10.1.4, and HTTP/2
    forbids it in responses). Use it on an upstream response before returning it
    (copying an upstream's ``Transfer-Encoding: chunked`` makes the server chunk the body
    twice) and on a client request before sending it upstream.

    ``headers`` are ``(name, value)`` pairs, all ``bytes`` (ASGI) or all ``str`` holding
    latin-1 text (WSGI, ``http.client``, ``requests``); the answer has the same type, in
    the same order, names as given. Mixed types raise :class:`TypeError`, and ``str``
    that is not latin-1 :class:`ValueError`, each naming the header.
    """
    global _DEFAULT_POLICY
    if policy is None:
        if _DEFAULT_POLICY is None:
            _DEFAULT_POLICY = Policy()
        policy = _DEFAULT_POLICY
    pairs, text = _bytes_pairs(headers)
    values = _connection_values(policy, pairs)
    nominated = policy.tokens(values).nominated if values else _EMPTY
    kept = _without_hop_by_hop(policy, pairs, nominated, keep_te=not response)
    if text:
        return [(name.decode("latin-1"), value.decode("latin-1")) for name, value in kept]
    return kept


def _bytes_pairs(headers: Iterable[tuple[Any, Any]]) -> tuple[list[Header], bool]:
    """``headers`` as bytes pairs, and whether they came as ``str`` (latin-1) pairs."""
    given = list(headers)
    text = bool(given) and isinstance(given[0][0], str)
    pairs: list[Header] = []
    for name, value in given:
        if isinstance(name, bytes) and isinstance(value, bytes) and not text:
            pairs.append((name, value))
        elif isinstance(name, str) and isinstance(value, str) and text:
            try:
                pairs.append((name.encode("latin-1"), value.encode("latin-1")))
            except UnicodeEncodeError:
                raise ValueError(f"forwardable_headers: {name!r} is not latin-1 text (PEP 3333)") from None
        else:
            first = "str" if text else "bytes"
            raise TypeError(
                "forwardable_headers: header pairs must be all bytes or all str, got "
                f"({type(name).__name__}, {type(value).__name__}) for {name!r} after {first} pairs"
            )
    return pairs, text
