"""The Connection field and persistence: tokens read across every line, a request's facts.

RFC 9110 §7.6.1 (Connection), §5.6.1-§5.6.2 (lists, tokens); RFC 9112 §9.3 (persistence).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final, final

from ._headers import (
    EMPTY_NAMES,
    KEEP_ALIVE_ONLY,
    NO_NAMES,
    PROTECTED,
    PROTECTED_PREFIXES,
    Header,
    _is_protected,
    is_token,
)

if TYPE_CHECKING:
    from ._plan import PlannedRequest
    from ._traits import ServerTraits

# --------------------------------------------------------------------------------------
# Parsing Connection
# --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ConnectionTokens:
    """What one message's Connection field says, read across all its lines.

    ``nominated`` holds the lower-case header names the field makes hop-by-hop (every
    token but ``close``), minus protected names, which go to ``refused`` instead.
    ``invalid`` holds elements that are not tokens; ``too_many`` is set when the field
    had more tokens than allowed, in which case ``nominated`` is empty.
    """

    close: bool = False
    keep_alive: bool = False
    upgrade: bool = False
    nominated: frozenset[bytes] = EMPTY_NAMES
    refused: frozenset[bytes] = EMPTY_NAMES
    invalid: tuple[bytes, ...] = NO_NAMES
    too_many: bool = False

    @property
    def flagged(self) -> bool:
        """Something is reportable: a refused nomination, too many or invalid tokens."""
        return bool(self.refused or self.invalid) or self.too_many

    @property
    def complaint(self) -> str | None:
        """What to report about this field, in words both adapters log alike; or None."""
        if self.too_many:
            return "had more tokens than allowed"
        if self.refused:
            return "nominated a protected header"
        if self.invalid:
            return "held invalid tokens"
        return None

    @property
    def abusive(self) -> bool:
        """A protected header was nominated, or the list was too long (RFC 9110 §7.6.1)."""
        return bool(self.refused) or self.too_many

    @property
    def only_directives(self) -> bool:
        """The field says no more than close / keep-alive: a wish about persistence."""
        return (
            not self.upgrade
            and not self.invalid
            and not self.refused
            and not self.too_many
            and self.nominated <= KEEP_ALIVE_ONLY
        )


NO_TOKENS: Final = ConnectionTokens()


def parse_connection(
    values: Iterable[bytes],
    *,
    protected: frozenset[bytes] = PROTECTED,
    prefixes: tuple[bytes, ...] = PROTECTED_PREFIXES,
    max_tokens: int = 16,
) -> ConnectionTokens:
    """Read the tokens of every Connection line in ``values`` (RFC 9110 §7.6.1, §5.6.1).

    Empty list elements and optional whitespace are allowed; tokens compare
    case-insensitively; invalid elements are reported, never raised. Never raises for
    any bytes.
    """
    close = keep_alive = upgrade = False
    names: set[bytes] = set()
    refused: set[bytes] = set()
    invalid: list[bytes] = []
    count = 0
    for value in values:
        for element in value.split(b","):
            token = element.strip(b" \t").lower()
            if not token:
                continue  # RFC 9110 §5.6.1: empty elements do not count
            if not is_token(token):
                invalid.append(token)
                continue
            count += 1
            if token == b"close":
                close = True
                continue
            if token == b"keep-alive":
                keep_alive = True
            elif token == b"upgrade":
                upgrade = True
            if _is_protected(token, protected, prefixes):
                refused.add(token)
            else:
                names.add(token)
    too_many = count > max_tokens
    return ConnectionTokens(
        close=close,
        keep_alive=keep_alive,
        upgrade=upgrade,
        nominated=EMPTY_NAMES if too_many or not names else frozenset(names),
        refused=frozenset(refused) if refused else EMPTY_NAMES,
        invalid=tuple(invalid),
        too_many=too_many,
    )


# --------------------------------------------------------------------------------------
# Requests
# --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RequestFacts:
    """What the connection layer of one request says, as connmw reads it.

    The adapters publish this object to the application: ``scope["state"]["connmw"]`` on
    ASGI (``request.state.connmw`` in Starlette) and ``environ["connmw.request"]`` on
    WSGI; ``connmw.asgi.request_facts(scope)`` and ``connmw.wsgi.request_facts(environ)``
    read it. Instances are shared between requests with the same facts, so they are
    immutable. Plain data: every public function of the rules answers from these fields
    (``dataclasses.replace`` gives facts that are answered as a request saying so would be).
    """

    http_version: str
    """``"1.0"``, ``"1.1"``, ``"2"`` or ``"3"``."""
    persistent: bool
    """Whether the connection may carry another request after this one (RFC 9112 §9.3)."""
    tokens: ConnectionTokens
    """The request's Connection field, parsed."""
    upgrade: tuple[bytes, ...]
    """Lower-case protocol names the request offers in Upgrade, when Connection has
    ``upgrade`` and the version allows it (RFC 9110 §7.8); else empty."""

    @property
    def multiplexed(self) -> bool:
        """HTTP/2 or HTTP/3: no connection-specific field may appear (RFC 9113 §8.2.2)."""
        return self.http_version in ("2", "3")

    @property
    def upgrade_requested(self) -> bool:
        """The client asked to switch protocols on this connection."""
        return bool(self.upgrade)

    @property
    def websocket(self) -> bool:
        """The client asked for the WebSocket protocol (RFC 6455 §4.1)."""
        return b"websocket" in self.upgrade


def _persistent(version: str, tokens: ConnectionTokens, http10_keep_alive: bool) -> bool:
    # RFC 9112 §9.3: close → not persistent; HTTP/1.1+ → persistent; HTTP/1.0 with
    # keep-alive → persistent only where we accept the opt-in; otherwise close.
    if version in ("2", "3"):
        return True  # the connection outlives any one stream; nothing to decide here
    if tokens.close:
        return False
    if version == "1.1":
        return True
    return http10_keep_alive and tokens.keep_alive


def _upgrade_protocols(value: bytes) -> tuple[bytes, ...]:
    """Protocol names of an Upgrade field, lower-case, version suffixes dropped."""
    names: list[bytes] = []
    for element in value.split(b","):
        protocol = element.strip(b" \t").lower()
        if protocol:
            names.append(protocol.split(b"/", 1)[0] if protocol.startswith(b"websocket/") else protocol)
    return tuple(names)


def _join_repeated(
    connection: bytes | None, upgrade: bytes | None, more: list[Header]
) -> tuple[bytes | None, bytes | None]:
    """Connection and Upgrade with their repeated lines ``more`` appended, ``", "``-joined.

    RFC 9110 §5.3: several lines are one list. One join per field keeps the cost linear in
    the number of lines (appending line by line copies the whole value every time).
    """
    connections = [value for name, value in more if name == b"connection"]
    upgrades = [value for name, value in more if name == b"upgrade"]
    if connections and connection is not None:
        connection = b", ".join([connection, *connections])
    if upgrades and upgrade is not None:
        upgrade = b", ".join([upgrade, *upgrades])
    return connection, upgrade


@final  # compiled in the accelerated build: a native class, its attributes read natively
class _Reading:
    """A request as one :class:`~connmw.rules.Policy` read it: the public facts, and what the
    adapters' hot path needs decided once for them (rules-private; applications get ``facts``).

    The answers are that policy's, for those facts: a reading is never given to another
    policy, and the facts stay plain data (no answer rides on them).

    :param facts: the request's :class:`RequestFacts`, published to the application.
    :param ordinary: ``(fields, close)``, what :meth:`Policy.connection_fields` answers for
        an *ordinary response* to this request: final (2xx-5xx), with content, framed, and
        no reason of the server's to close; ``None`` for a persistent HTTP/1.0 request, whose
        answer depends on the response's framing.
    :param appended: the fields to append to an ordinary response when it keeps the
        connection and the request offers no upgrade (so no 101 can be legitimate); else
        ``None``, and the response is decided by :meth:`Policy.finish_response`.
    :param needs_care: HTTP/1.0, or a Connection field with something to report: the
        adapters take their full path for it.

    ``planned`` remembers the request's plan (:meth:`Policy.plan_request`, without stripping)
    for the server traits ``planned_for``: a reading that is looked up again is planned once.
    """

    __slots__ = ("appended", "facts", "needs_care", "ordinary", "planned", "planned_for")

    def __init__(
        self,
        facts: RequestFacts,
        ordinary: tuple[tuple[Header, ...], bool] | None,
        appended: list[Header] | None,
        needs_care: bool,
    ) -> None:
        self.facts = facts
        self.ordinary = ordinary
        self.appended = appended
        self.needs_care = needs_care
        self.planned: PlannedRequest | None = None
        self.planned_for: ServerTraits | None = None
