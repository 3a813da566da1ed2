"""Header names as one configuration judges them: hop-by-hop, protected, nominated.

RFC 9110 §7.6.1 (Connection and the fields it nominates), §5.1 and §5.6.2 (field names are
tokens), RFC 9112 §5.1 (no white space around a field name), RFC 9110 §10.1.4 (TE).
:class:`~connmw.rules.Policy` is built on :class:`_HeaderNames`; the request and response
decisions live there, the name tables and their caches here.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from ._connection import ConnectionTokens, RequestFacts, parse_connection
from ._headers import (
    BASE_KINDS,
    CACHE_LIMIT,
    CONNECTION,
    CONTENT_TYPE,
    EMPTY_NAMES,
    HOP,
    INVALID,
    NO_NAMES,
    ORDINARY,
    PROTECTED,
    PROTECTED_PREFIXES,
    TE,
    UPGRADE,
    AnyName,
    Header,
    Pairs,
    _as_lower_bytes,
    _is_protected,
    _read_as,
    is_token,
)


class _HeaderNames:
    """The name tables of one configuration, and the caches of names already judged.

    :param strip_headers: more names to remove from every response (never a protected one).
    :param protected_headers: more names a Connection field may never nominate; a name
        ending in ``*`` protects a prefix.
    :param max_connection_tokens: more Connection tokens than this nominate nothing.
    """

    def __init__(
        self,
        strip_headers: Iterable[AnyName],
        protected_headers: Iterable[AnyName],
        max_connection_tokens: int,
    ) -> None:
        if max_connection_tokens < 1:
            raise ValueError("max_connection_tokens must be >= 1")
        self.max_connection_tokens = max_connection_tokens
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

        base = dict(BASE_KINDS)
        for raw in strip_headers:
            name = _as_lower_bytes(raw)
            if _is_protected(name, self.protected, self.protected_prefixes):
                raise ValueError(f"{raw!r} is protected and cannot be stripped")
            base.setdefault(name, HOP)
        self.strip: frozenset[bytes] = frozenset(base)
        self.configured_strip: frozenset[bytes] = frozenset(base).difference(BASE_KINDS)
        # Seed the name caches with the usual spellings, bytes for ASGI and str for WSGI,
        # so that the common response never lower-cases a name. Two dicts: an ASCII str
        # and its bytes hash alike, and one dict would compare them on every lookup.
        self._kinds: dict[bytes, int] = {}
        # The response names the quick path passes unread: bytes names seen and known
        # end-to-end, but for Content-Type, whose whole (name, value) pairs are held instead,
        # once known to be no event stream (connmw.rules._finishing.quick_finish_reading).
        self._known_end_to_end: set[bytes | tuple[bytes, bytes]] = set()
        self._str_kinds: dict[str, int] = {}
        for name, kind in base.items():
            text = name.decode("latin-1")
            for spelling in (text, text.title(), text.upper()):
                self._str_kinds[spelling] = kind
                self._kinds[spelling.encode("latin-1")] = kind
        self._tokens_cache: dict[bytes, ConnectionTokens] = {}

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
                if len(self._str_kinds) < CACHE_LIMIT:
                    self._str_kinds[name] = kind
            return kind
        kind = self._kinds.get(name)
        if kind is None:
            lower = name.lower()
            kind = self._judge_name(lower)
            if len(self._kinds) < CACHE_LIMIT:
                self._kinds[name] = kind
                if kind == ORDINARY and lower != CONTENT_TYPE:
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
        pairs: Sequence[Any] = headers  # loose, as Pairs says
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
        if len(values) == 1 and len(self._tokens_cache) < CACHE_LIMIT and len(values[0]) <= 256:
            self._tokens_cache[values[0]] = parsed
        return parsed


    def strip_request(self, headers: Sequence[Header], facts: RequestFacts) -> Sequence[Header]:
        """The request's headers without hop-by-hop and nominated fields.

        Returns ``headers`` itself when nothing is removed. Protected names always stay;
        Connection and Upgrade stay on a request that asks to upgrade (the application
        answers the upgrade); one ``TE: trailers`` stays if the client offered trailers.
        """
        nominated = facts.tokens.nominated
        if not nominated and not self.needs_cleaning(headers):
            return headers
        return self._without_hop_by_hop(headers, nominated, keep_upgrade=facts.upgrade_requested)

    def clean_accept_headers(self, headers: Sequence[Header]) -> tuple[Sequence[Header], tuple[bytes, ...]]:
        """Headers of a WebSocket ``accept`` (the 101) without hop-by-hop or nominated ones.

        Returns ``(headers, removed)``; ``headers`` is the list itself when clean. The
        server writes Upgrade and Connection of the 101 itself (RFC 6455 §4.2.2).
        """
        if not self.needs_cleaning(headers):
            return headers, NO_NAMES
        pairs: Pairs = headers
        values = self._connection_values(headers)
        nominated = self.tokens(values).nominated if values else EMPTY_NAMES
        kept = self._without_hop_by_hop(headers, nominated, keep_te=False)
        kept_names = {name for name, _ in kept}
        removed = tuple(dict.fromkeys([name.lower() for name, _ in pairs if name not in kept_names]))
        return kept, removed

    def _connection_values(self, headers: Iterable[Header]) -> list[bytes]:
        """The values of a response's Connection field, every line of it.

        A line whose name is ``INVALID`` but reads as ``connection`` (white space around it,
        RFC 9112 §5.1) counts too: it is removed, and what it nominates goes with it, so that
        nothing leaves under a disguised Connection field (hypercorn trims such names after
        the middleware ran, and would send both fields).
        """
        pairs: Pairs = headers
        values: list[bytes] = []
        for name, value in pairs:
            kind = self.kind_of(name)
            if kind == CONNECTION or (kind == INVALID and _read_as(name) == b"connection"):
                values.append(value)
        return values

    def _without_hop_by_hop(
        self,
        headers: Iterable[Header],
        nominated: frozenset[bytes],
        *,
        keep_upgrade: bool = False,
        keep_te: bool = True,
    ) -> list[Header]:
        kept: list[Header] = []
        trailers = False
        pairs: Pairs = headers
        for name, value in pairs:
            kind = self.kind_of(name)
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
