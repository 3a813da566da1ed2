"""The Policy: every decision, configured once: names, requests, responses, handshakes.

The adapters call its methods; the hot path is :meth:`Policy.read_request` and
:meth:`Policy.quick_finish`.
"""

from __future__ import annotations

from collections.abc import Iterable
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
    NO_NAMES,
    AnyName,
    Header,
    _as_bytes,
    normalize_http_version,
)
from ._plan import _Planner
from ._responses import (
    ANNOUNCE,
    KEEP_ALIVE_FIELDS,
    Announce,
)
from ._traits import ServerTraits
from ._websocket import (
    HandshakeVerdict,
    OriginPolicy,
    _judge_handshake,
    _origin_refusal,
)

# --------------------------------------------------------------------------------------
# The policy: every decision, configured once
# --------------------------------------------------------------------------------------


_Answer = tuple[tuple[Header, ...], bool]
"""Connection fields to append, and whether the connection closes (:meth:`Policy.connection_fields`)."""

_COMPILED: Final = not __file__.endswith(".py")
"""This module runs compiled (the accelerated build): the hot loops take the spelling each
build runs fastest, the same reading of the same pairs (both builds run the whole suite)."""


def _read_by_items(pairs: list[Any]) -> tuple[bytes | None, bytes | None, list[Header] | None]:
    """Connection, Upgrade and their repeated lines, each pair read by its items.

    How the compiled build reads every header list, and the interpreted build one whose pairs
    are not all two items long (:meth:`Policy.read`).
    """
    connection: bytes | None = None
    upgrade: bytes | None = None
    more: list[Header] | None = None  # repeated lines, joined once by the caller: linear time
    for pair in pairs:
        # Compiled, a tuple's item is read natively, and a name typed as bytes is measured
        # natively: most names have neither length and skip both comparisons, each a generic
        # call when compiled. Both branches read the same item. (Indexing, not unpacking:
        # compiled, unpacking iterates the pair.)
        name = pair[0] if isinstance(pair, tuple) else pair[0]  # noqa: RUF034
        if isinstance(name, bytes) and len(name) != 10 and len(name) != 7:
            continue
        # Two comparisons, not a set probe: a server's header names are new objects with no
        # hash computed yet (a bytearray has none), and bytes of another length compare
        # unequal at once.
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
    return connection, upgrade, more


@final  # compiled in the accelerated build, where Python subclasses are impossible
class Policy(_Planner):
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
        traits: the server's traits, set through :meth:`for_server`: each reading then
            carries its request's plan for them (:meth:`plan_request`), decided once.
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
        traits: ServerTraits | None = None,
    ) -> None:
        # What for_server needs to build a sibling: the options as given.
        self._strip_given = tuple(strip_headers)
        self._protected_given = tuple(protected_headers)
        super().__init__(self._strip_given, self._protected_given, max_connection_tokens)
        if announce not in ANNOUNCE:
            raise ValueError(f"announce must be one of {ANNOUNCE}")
        self.announce: Announce = announce
        self._origins_given = tuple(allowed_origins)
        self._siblings: dict[tuple[bool, str, ServerTraits | None], Policy] = {}
        self.traits = traits
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
        self._plans = {}  # ordinary response plans (connmw.rules._plan)
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

    def for_server(
        self, *, keeps_http10: bool = True, announce: Announce = "every", traits: ServerTraits | None = None
    ) -> Policy:
        """This policy as a server with these traits lets it be kept (traits as data).

        ``keeps_http10``: the server can keep an HTTP/1.0 connection alive; where it cannot,
        ``http10_keep_alive`` is off (an HTTP/1.0 request is never persistent, connmw never
        says ``keep-alive`` to it: uvicorn and hypercorn close it whatever they are told,
        and uvicorn's httptools writes its own ``close`` beside connmw's field).
        ``announce``: which Connection fields the server should be given (:data:`Announce`).
        ``traits``: the server's traits, whose request plans each reading then carries, so
        that an adapter's one reading of a request also plans it (:meth:`plan_request`).
        Returns this policy when nothing changes, else a sibling built once.
        """
        http10 = self.http10_keep_alive and keeps_http10
        if http10 == self.http10_keep_alive and announce == self.announce and traits is self.traits:
            return self
        sibling = self._siblings.get((http10, announce, traits))
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
                traits=traits,
            )
            self._siblings[(http10, announce, traits)] = sibling
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
        if self.traits is not None and upgrade is None:  # planned now: never asked again
            reading.planned, reading.planned_for = self._request_plan(facts, self.traits), self.traits
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
        if _COMPILED:
            connection, upgrade, more = _read_by_items(pairs)
        else:
            try:  # interpreted, unpacking a pair is one specialised instruction
                for name, value in pairs:
                    if name == b"connection":
                        if connection is None:
                            connection = value
                            continue
                    elif name == b"upgrade":
                        if upgrade is None:
                            upgrade = value
                            continue
                    else:
                        continue
                    if more is None:
                        more = []
                    more.append((name, value))
            except (TypeError, ValueError):  # a pair of another size: each read by its items
                connection, upgrade, more = _read_by_items(pairs)
        if more is not None:
            connection, upgrade = _join_repeated(connection, upgrade, more)
        if upgrade is None:  # the cache lookup of reading, inlined for the hot path
            try:
                return self._readings[http_version][connection]
            except KeyError:
                pass
        return self.reading(http_version, connection, upgrade)

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
