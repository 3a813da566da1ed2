"""HTTP connection semantics as pure functions: the one place where connmw decides.

This module holds no networking code and does no I/O: no sockets, no logging, no
environment reads, no framework imports (a test enforces it). The ASGI and WSGI
adapters read a request, ask this module what to do, and write the answer.

Facts every function here relies on:

* A header is a ``(name, value)`` tuple of ``bytes``; a header list keeps order and
  duplicates. Request header names arrive lower-case (ASGI servers guarantee it; the
  WSGI adapter builds them so). Response header names from an application may be in
  any case, so every lookup of a response name goes through :meth:`Policy.kind_of`.
* ``Connection`` is a comma-separated list (RFC 9110 §5.6.1) that may be spread over
  several lines; its tokens are read across every line, never from ``dict(headers)``.
* HTTP versions are the ASGI spellings ``"1.0"``, ``"1.1"``, ``"2"``, ``"3"``; WSGI's
  ``"HTTP/1.1"`` and friends are accepted too (:func:`normalize_http_version`).

Decisions of policy (each one pinned by a test; see the README's "Rules" section):

* ``Trailer`` (singular) is end-to-end and survives: RFC 9110 §6.6.2 defines it as the
  announcement of trailer fields, and ASGI's ``http.response.trailers`` extension needs
  it. The legacy misspelling ``Trailers`` (RFC 2616 §13.5.1) is stripped.
* ``Proxy-Connection`` is stripped: RFC 9112 §9.6 lists it as a non-standard field
  that must not be forwarded, and RFC 9113 §8.2.2 makes it malformed in HTTP/2.
* ``Proxy-Authenticate`` and ``Proxy-Authorization`` are stripped from responses: they
  belong to a proxy hop (RFC 2616 §13.5.1), an origin application has no business
  sending them, and Werkzeug, wsgiref and Go strip them too.
* ``TE`` is stripped from responses (it is a request field, RFC 9110 §10.1.4). When
  forwarding a request, one ``TE: trailers`` survives if any TE element is
  ``trailers`` (RFC 9113 §8.2.2 allows exactly that value in HTTP/2 requests).
* Every token of a Connection field nominates a header for removal (RFC 9110 §7.6.1)
  except protected end-to-end names (Host, Content-Length, Authorization, Cookie,
  X-Forwarded-*, Sec-WebSocket-* …): such nominations are ignored and reported
  (hop-by-hop header abuse, Go CVE-2021-33197). A field with more tokens than
  ``max_connection_tokens`` nominates nothing and is reported as abuse.
* Several Connection lines are one list (RFC 9110 §5.3), as Go, h11 and websockets
  read them.
* HTTP/1.0 keep-alive is off by default (h11 and so uvicorn always close HTTP/1.0);
  ``http10_keep_alive`` turns on RFC 9112 §9.3's opt-in, answered by an explicit
  ``Connection: keep-alive`` as HTTP/1.0 clients require.
* Invalid tokens (outside RFC 9110 §5.6.2's ``tchar``) are ignored, never raised.
* A configured ``keep_alive_timeout`` hint goes on every persistent HTTP/1.x response,
  with ``Connection: keep-alive`` beside it even when ``explicit_keep_alive`` is off
  (Keep-Alive is connection-specific, RFC 9110 §7.6.1), and never on a closing one.
* A response to HEAD and every 1xx, 204 and 304 response carries no content, whatever
  the application returns (RFC 9110 §6.4.1; RFC 9112 §6.3): the adapters drop body bytes
  (:func:`no_content_reason`), a HEAD response keeps the Content-Length the GET would
  have had (RFC 9110 §9.3.2); a 1xx or 204 loses any Content-Length (RFC 9110 §8.6), and so
  does a 304 (which may carry one: a server that counts it against the absent body fails).
* WebSocket handshakes are same-origin by default: with no ``ws_allowed_origins``, an
  Origin is admitted only when its host (and its port, when it names one) equal the
  request's Host; ``*`` admits any (:class:`OriginPolicy`). No Origin means a
  non-browser client, admitted; ``null`` only when listed.
* A WebSocket handshake's method must be exactly ``GET`` (methods are case-sensitive,
  RFC 9110 §9.1). Origins follow RFC 6454 §6.2's serialisation; anything with a path,
  userinfo, query, fragment or a port above 65535 is not an origin.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Union, final

__all__ = [
    "HOP_BY_HOP",
    "PROTECTED",
    "PROTECTED_PREFIXES",
    "READY_RETRY_AFTER",
    "WEBSOCKET_GUID",
    "ConnectionTokens",
    "HandshakeVerdict",
    "Header",
    "OriginPolicy",
    "Policy",
    "RequestFacts",
    "ResponsePlan",
    "asks_readiness",
    "body_needs_framing",
    "check_switching_protocols",
    "close_reason",
    "forwardable_headers",
    "is_token",
    "no_content_reason",
    "normalize_http_version",
    "parse_connection",
    "readiness_answer",
    "same_origin",
    "websocket_accept",
]

Header = tuple[bytes, bytes]
"""One header: lower-case (request) or any-case (response) name, and value, as bytes."""

AnyName = Union[bytes, str]  # noqa: UP007 (a runtime alias on Python 3.10)

_Pairs = Iterable[Any]
"""How every loop here reads a header list it was given: pair by pair, whatever the pair.

ASGI allows ``[name, value]`` lists as well as tuples (its own examples use lists), and
WSGI lists hold str pairs. Typed ``Header``, a loop in the accelerated build would
check each pair is a tuple of bytes and raise where the pure build reads on, so the
loops see ``Any`` pairs and both builds behave alike (``tests/test_build.py``)."""

# --------------------------------------------------------------------------------------
# Tables
# --------------------------------------------------------------------------------------

HOP_BY_HOP: Final[frozenset[bytes]] = frozenset(
    {
        b"connection",  # RFC 9110 §7.6.1
        b"keep-alive",  # RFC 9110 §7.6.1 (RFC 2068 §19.7.1)
        b"proxy-connection",  # RFC 9110 §7.6.1; malformed in HTTP/2 (RFC 9113 §8.2.2)
        b"te",  # RFC 9110 §7.6.1 and §10.1.4
        b"transfer-encoding",  # RFC 9110 §7.6.1; RFC 9112 §6.1
        b"upgrade",  # RFC 9110 §7.6.1 and §7.8
        b"proxy-authenticate",  # RFC 2616 §13.5.1
        b"proxy-authorization",  # RFC 2616 §13.5.1
        b"trailers",  # RFC 2616 §13.5.1's misspelling; "trailer" stays (RFC 9110 §6.6.2)
    }
)
"""Headers that belong to one connection and never pass a hop, whatever Connection says."""

PROTECTED: Final[frozenset[bytes]] = frozenset(
    {
        b"host",  # RFC 9110 §7.2: the target; removing it changes the request
        b"content-length",  # RFC 9110 §8.6: message framing
        b"content-type",  # RFC 9110 §8.3
        b"content-encoding",  # RFC 9110 §8.4
        b"authorization",  # RFC 9110 §11.6.2: end-to-end credentials
        b"cookie",  # RFC 6265 §5.4
        b"set-cookie",  # RFC 6265 §4.1
        b"forwarded",  # RFC 7239: removing it hides the client from the app
        b"x-real-ip",  # de facto twin of Forwarded
        b"origin",  # RFC 6454: CSRF and WebSocket origin checks depend on it
        b"trailer",  # RFC 9110 §6.6.2: announces trailers the app really sends
    }
)
"""End-to-end headers a Connection field may never nominate for removal."""

PROTECTED_PREFIXES: Final[tuple[bytes, ...]] = (
    b"x-forwarded-",  # de facto proxy fields (X-Forwarded-For/-Proto/-Host …)
    b"sec-websocket-",  # RFC 6455 §11.3: the handshake's own fields
)

_KEEP_ALIVE_ONLY: Final[frozenset[bytes]] = frozenset({b"keep-alive"})
_UPGRADE_WISHES: Final[frozenset[bytes]] = frozenset({b"keep-alive", b"upgrade"})

# RFC 9110 §5.6.2: tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" / "." /
# "^" / "_" / "`" / "|" / "~" / DIGIT / ALPHA. Deleting these bytes from a token must
# leave nothing; bytes.translate does that without a regex.
_TCHARS: Final[bytes] = b"!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"

_VERSIONS: Final[dict[str, str]] = {
    "1.0": "1.0",
    "1.1": "1.1",
    "2": "2",
    "2.0": "2",
    "3": "3",
    "3.0": "3",
    "HTTP/1.0": "1.0",
    "HTTP/1.1": "1.1",
    "HTTP/1": "1.0",  # granian's SERVER_PROTOCOL for HTTP/1.0 requests
    "HTTP/2": "2",
    "HTTP/2.0": "2",
    "HTTP/3": "3",
    "HTTP/3.0": "3",
}

# Header kinds for the response and request scans. A plain dict lookup per name is the
# whole cost of a response that needs no change.
ORDINARY: Final = 0
HOP: Final = 1
CONNECTION: Final = 2
UPGRADE: Final = 3
TE: Final = 4

_BASE_KINDS: Final[dict[bytes, int]] = dict.fromkeys(HOP_BY_HOP, HOP)
_BASE_KINDS.update({b"connection": CONNECTION, b"upgrade": UPGRADE, b"te": TE})

_CACHE_LIMIT: Final = 4096
_NO_HEADERS: Final[tuple[Header, ...]] = ()
_NO_NAMES: Final[tuple[bytes, ...]] = ()
_EMPTY: Final[frozenset[bytes]] = frozenset()


def normalize_http_version(version: str) -> str:
    """Return ``"1.0"``, ``"1.1"``, ``"2"`` or ``"3"`` for an ASGI or WSGI version string.

    Anything else (``HTTP/0.9``, garbage) reads as ``"1.0"``: the most cautious answer,
    since it never keeps a connection open that the client did not ask to keep.
    """
    return _VERSIONS.get(version, "1.0")


def is_token(value: bytes) -> bool:
    """Whether ``value`` is an RFC 9110 §5.6.2 token (non-empty, tchar only)."""
    return bool(value) and not value.translate(None, _TCHARS)


def _is_protected(name: bytes, protected: frozenset[bytes], prefixes: tuple[bytes, ...]) -> bool:
    return name in protected or name.startswith(prefixes)


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
    nominated: frozenset[bytes] = _EMPTY
    refused: frozenset[bytes] = _EMPTY
    invalid: tuple[bytes, ...] = _NO_NAMES
    too_many: bool = False
    flagged: bool = field(default=False, compare=False, repr=False)
    """Something is reportable: a refused nomination, too many or invalid tokens."""

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
            and self.nominated <= _KEEP_ALIVE_ONLY
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
        nominated=_EMPTY if too_many or not names else frozenset(names),
        refused=frozenset(refused) if refused else _EMPTY,
        invalid=tuple(invalid),
        too_many=too_many,
        flagged=bool(refused or invalid) or too_many,
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
    read it. Instances are shared between requests with
    the same facts, so they are immutable.
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
    plain_answer: tuple[tuple[Header, ...], bool] | None = field(default=None, compare=False, repr=False)
    """:meth:`Policy.connection_fields` for an ordinary response (not 101, no server
    reason to close, framed), decided once when the facts were built so the common
    response costs a field read; ``None`` where the answer depends on the response."""
    quick_fields: tuple[Header, ...] | None = field(default=None, compare=False, repr=False)
    """The fields of :attr:`plain_answer` when that answer keeps the connection open,
    else ``None``: what :meth:`Policy.quick_finish` appends."""
    unusual: bool = field(default=False, compare=False, repr=False)
    """HTTP/1.0, or a Connection field with something to report: the adapters' slow path."""

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


# --------------------------------------------------------------------------------------
# Responses
# --------------------------------------------------------------------------------------

ResponsePlan = tuple[Sequence[Header], bool, tuple[bytes, ...]]
"""``(headers, close, removed)`` from :meth:`Policy.finish_response`.

``headers`` is the list to send (the application's own list, untouched, when nothing
had to change); ``close`` whether the connection must close after this response;
``removed`` the lower-case names taken out as corrections (an honoured
``Connection: close`` or ``keep-alive`` wish, or ``Connection: upgrade`` on a legitimate
101, is not a correction).
"""

_CLOSE_FIELDS: Final[tuple[Header, ...]] = ((b"connection", b"close"),)
_KEEP_ALIVE_FIELDS: Final[tuple[Header, ...]] = ((b"connection", b"keep-alive"),)
_UPGRADE_FIELDS: Final[tuple[Header, ...]] = ((b"connection", b"upgrade"),)

# Statuses whose responses carry no body, so no framing question (RFC 9110 §6.4.1).
_NO_BODY_STATUSES: Final[frozenset[int]] = frozenset({101, 204, 304})


# --------------------------------------------------------------------------------------
# WebSocket (RFC 6455)
# --------------------------------------------------------------------------------------

WEBSOCKET_GUID: Final[bytes] = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"  # RFC 6455 §1.3
_BASE64_ALPHABET: Final[bytes] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
_DEFAULT_PORTS: Final[dict[str, int]] = {"http": 80, "ws": 80, "https": 443, "wss": 443}
_NO_DEFAULT_PORT: Final = -1
_SCHEME_CHARS: Final[str] = "abcdefghijklmnopqrstuvwxyz0123456789+-."
_NOT_IN_ORIGIN_HOST: Final[str] = "/\\@?# \t"


def websocket_accept(key: bytes) -> bytes:
    """Sec-WebSocket-Accept for a Sec-WebSocket-Key (RFC 6455 §1.3, §4.2.2 step 5.4)."""
    digest = hashlib.sha1(key.strip(b" \t") + WEBSOCKET_GUID).digest()  # noqa: S324 (the RFC's hash)
    return base64.b64encode(digest)


def _valid_websocket_key(key: bytes) -> bool:
    # RFC 6455 §4.2.1 item 5: base64 of a 16-byte value, i.e. 22 characters and "==".
    key = key.strip(b" \t")
    if len(key) != 24 or not key.endswith(b"==") or key[:22].translate(None, _BASE64_ALPHABET):
        return False
    try:
        return len(binascii.a2b_base64(key)) == 16
    except binascii.Error:  # pragma: no cover - excluded by the alphabet check above
        return False


@dataclass(frozen=True, slots=True)
class HandshakeVerdict:
    """The answer to a WebSocket opening handshake (RFC 6455 §4.2.1 to §4.2.2).

    ``accepted`` handshakes carry ``accept_key`` (HTTP/1.1) for the 101. Rejections carry
    the status, the headers (``Sec-WebSocket-Version: 13`` with 426) and a short text
    body; ``code`` is a stable identifier for counters and logs.
    """

    accepted: bool
    status: int
    code: str
    reason: str
    headers: tuple[Header, ...] = _NO_HEADERS
    body: bytes = b""
    key: bytes | None = None
    """The client's Sec-WebSocket-Key of an accepted HTTP/1.1 handshake."""

    @property
    def accept_key(self) -> bytes | None:
        """Sec-WebSocket-Accept for the 101, computed when asked (most servers write it)."""
        return None if self.key is None else websocket_accept(self.key)


def _reject(status: int, code: str, reason: str, *extra: Header) -> HandshakeVerdict:
    body = f"WebSocket handshake refused: {reason}\n".encode()
    headers = (
        (b"content-type", b"text/plain; charset=utf-8"),
        (b"content-length", str(len(body)).encode()),
        *extra,
    )
    return HandshakeVerdict(False, status, code, reason, headers, body)


# RFC 6455 §4.2.1 lists what a server must find; §4.2.2 says answer 400 when it does
# not, and for an unknown version answer "such as 426" with the versions it speaks.
REJECT_METHOD: Final = _reject(400, "not-get", "the method must be GET (RFC 6455 §4.2.1)")
REJECT_VERSION: Final = _reject(400, "http-version", "HTTP/1.1 or higher is required (RFC 6455 §4.2.1)")
REJECT_HOST: Final = _reject(400, "no-host", "the Host header is missing (RFC 6455 §4.2.1)")
REJECT_UPGRADE: Final = _reject(
    400, "no-upgrade-websocket", "Upgrade must include websocket (RFC 6455 §4.2.1)"
)
REJECT_CONNECTION: Final = _reject(
    400, "no-connection-upgrade", "Connection must include Upgrade (RFC 6455 §4.2.1)"
)
REJECT_KEY: Final = _reject(
    400, "bad-key", "Sec-WebSocket-Key must be one base64 value of 16 bytes (RFC 6455 §4.2.1)"
)
REJECT_WS_VERSION: Final = _reject(
    426,
    "bad-version",
    "Sec-WebSocket-Version must be 13 (RFC 6455 §4.2.2)",
    (b"sec-websocket-version", b"13"),
)
REJECT_ORIGIN: Final = _reject(403, "forbidden-origin", "the Origin is not allowed (RFC 6455 §10.2)")
REJECT_CROSS_ORIGIN: Final = _reject(
    403, "forbidden-origin", "the Origin is not this host's and no other origin is allowed (RFC 6455 §10.2)"
)
ACCEPT_H2: Final = HandshakeVerdict(True, 200, "ok", "accepted (RFC 8441)")


def _split_origin(origin: str) -> tuple[str, str, int] | None:
    """``scheme://host[:port]`` → (scheme, host, port) lower-cased, default port filled.

    RFC 6454 §6.2 serialises an origin as scheme "://" host [":" port]: userinfo, a
    path, a query, a fragment or white space make a value that is not an origin. A
    scheme without a default port (``capacitor://localhost``) and no port given gets
    port -1, so it matches only itself. ``None`` for anything else; never raises.
    """
    scheme, sep, rest = origin.strip().lower().partition("://")
    if not sep or not _is_scheme(scheme):
        return None
    authority = _split_authority(rest)
    if authority is None:
        return None
    host, port = authority
    return scheme, host, _DEFAULT_PORTS.get(scheme, _NO_DEFAULT_PORT) if port is None else port


def _split_authority(text: str) -> tuple[str, int | None] | None:
    """``host[:port]`` (RFC 3986 §3.2.2-3.2.3) → (lower-case host, port or ``None`` if not named).

    The host part of an origin and the value of a Host field share this form. Userinfo,
    a path, a query, a fragment, white space or a port outside 0-65535 give ``None``;
    never raises.
    """
    text = text.lower()
    if not text or not text.isprintable() or any(char in _NOT_IN_ORIGIN_HOST for char in text):
        return None
    if text.startswith("["):  # IPv6 literal, RFC 3986 §3.2.2
        host, bracket, tail = text.partition("]")
        host += bracket
        if not bracket:
            return None
        port_text = tail[1:] if tail.startswith(":") else None
        if tail and port_text is None:
            return None
    else:
        host, colon, port_text_raw = text.rpartition(":")
        if not colon:
            host, port_text = text, None
        else:
            port_text = port_text_raw
        if ":" in host or "[" in host or "]" in host:
            return None  # an unbracketed IPv6 literal or stray brackets
    if not host:
        return None
    if port_text is None:
        return host, None
    if port_text.isdigit() and port_text.isascii() and len(port_text) <= 5 and int(port_text) <= 65535:
        return host, int(port_text)  # RFC 3986 §3.2.3; a 16-bit TCP port
    return None


def same_origin(origin: bytes, host: bytes | None) -> bool:
    """Whether a browser's Origin names the host the request was sent to (its Host field).

    Hosts compare case-insensitively; ports only when the Origin names one (a Host with
    a port the Origin does not name still matches); schemes never, since behind a proxy
    that ends TLS the application sees plain HTTP while the page was https. ``null``,
    a value that is not an origin, or no Host at all: not the same origin.
    """
    if host is None:
        return False
    scheme, sep, rest = origin.decode("latin-1").strip().partition("://")
    theirs = _split_authority(rest) if sep and _is_scheme(scheme.lower()) else None
    ours = _split_authority(host.decode("latin-1").strip())
    if theirs is None or ours is None:
        return False
    return theirs[0] == ours[0] and (theirs[1] is None or theirs[1] == ours[1])


def _is_scheme(scheme: str) -> bool:
    # RFC 3986 §3.1: scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ), here lower-case.
    return bool(scheme) and "a" <= scheme[0] <= "z" and not scheme.strip(_SCHEME_CHARS)


class OriginPolicy:
    """Which browser origins may open a WebSocket (RFC 6455 §10.2, RFC 6454).

    With no pattern at all (the default) only the same origin is admitted
    (:func:`same_origin`: the Origin's host, and its port when it names one, equal the
    request's Host), as gorilla/websocket, python-socketio and Django Channels do by
    default: without it, any page on any site could open a WebSocket with the user's
    cookies (cross-site WebSocket hijacking). Patterns are exact origins
    (``https://app.example.com``), wildcard subdomains (``https://*.example.com``: any
    depth of subdomain, not the bare domain), ``*`` for any origin, or ``null`` to admit
    the opaque origin browsers send from sandboxed frames and files. Scheme and host
    compare case-insensitively and default ports are filled in, so
    ``https://A.example.com:443`` matches ``https://a.example.com``. An origin whose
    scheme has no default port (``capacitor://localhost``, an app shell) matches only
    when written the same way, port included or not.

    A request with no Origin field is admitted: browsers always send one on WebSocket
    handshakes (RFC 6455 §4.1 item 8), so its absence means a non-browser client, which
    origin checks cannot constrain. ``Origin: null`` (sandboxed frames, files) is
    refused unless a pattern names ``null``; it is never the same origin.
    """

    __slots__ = ("_allow_null", "_any", "_exact", "_same_origin", "_wildcards")

    def __init__(self, patterns: Iterable[str] = ()) -> None:
        self._any = False
        self._allow_null = False
        self._exact: set[tuple[str, str, int]] = set()
        self._wildcards: list[tuple[str, str, int]] = []
        seen = False
        for pattern in patterns:
            seen = True
            text = pattern.strip()
            if text == "*":
                self._any = True
            elif text.lower() == "null":
                self._allow_null = True
            else:
                parts = _split_origin(text)
                if parts is None:
                    raise ValueError(
                        f"{pattern!r} is not an origin: expected scheme://host[:port], "
                        "scheme://*.domain[:port], '*' or 'null'"
                    )
                scheme, host, port = parts
                if host.startswith("*.") and host[2:] and "*" not in host[2:] and host[2] != ".":
                    self._wildcards.append((scheme, host[1:], port))
                elif "*" in host:
                    raise ValueError(f"{pattern!r}: '*' is allowed only as the first label")
                else:
                    self._exact.add(parts)
        self._same_origin = not seen

    @property
    def allows_any(self) -> bool:
        """``*`` is configured: every Origin is admitted."""
        return self._any

    @property
    def same_origin_only(self) -> bool:
        """No pattern is configured: only the request's own origin is admitted."""
        return self._same_origin

    def allows(self, origin: bytes | None, host: bytes | None = None) -> bool:
        """Whether a handshake with this Origin value (or none) may proceed.

        ``host`` is the request's Host field (``:authority`` over HTTP/2), which
        same-origin judging needs; without it no Origin is the same origin.
        """
        if origin is None or self._any:
            return True
        if self._same_origin:
            return same_origin(origin, host)
        text = origin.decode("latin-1").strip()
        if text.lower() == "null":
            return self._allow_null
        parts = _split_origin(text)
        if parts is None:
            return False
        if parts in self._exact:
            return True
        scheme, name, port = parts
        return any(
            scheme == w_scheme and port == w_port and name.endswith(suffix) and len(name) > len(suffix)
            for w_scheme, suffix, w_port in self._wildcards
        )


def check_switching_protocols(
    request: RequestFacts, response_headers: Sequence[Header], key: bytes | None
) -> str | None:
    """Why a 101 response is not allowed, or ``None`` when it is.

    RFC 9110 §7.8: a server must not switch to a protocol the client did not offer, and
    sends 101 only to a request that asked to upgrade. RFC 6455 §4.2.2: a WebSocket
    101 carries Sec-WebSocket-Accept derived from the client's key.
    """
    if not request.upgrade_requested:
        return "101 Switching Protocols sent to a request that asked for no upgrade (RFC 9110 §7.8)"
    chosen: list[bytes] = []
    accept: list[bytes] = []
    pairs: _Pairs = response_headers
    for name, value in pairs:
        lower = name.lower()
        if lower == b"upgrade":
            chosen.extend(_upgrade_protocols(value))
        elif lower == b"sec-websocket-accept":
            accept.append(value.strip(b" \t"))
    if not chosen:
        return "101 Switching Protocols without an Upgrade field (RFC 9110 §15.2.2)"
    for protocol in chosen:
        if protocol not in request.upgrade:
            return "101 Switching Protocols to a protocol the client did not offer (RFC 9110 §7.8)"
    if b"websocket" in chosen and key is not None and accept != [websocket_accept(key)]:
        return "Sec-WebSocket-Accept does not match Sec-WebSocket-Key (RFC 6455 §4.2.2)"
    return None


# --------------------------------------------------------------------------------------
# The policy: every decision, configured once
# --------------------------------------------------------------------------------------


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
    ) -> None:
        if max_connection_tokens < 1:
            raise ValueError("max_connection_tokens must be >= 1")
        self.explicit_keep_alive = explicit_keep_alive
        self.http10_keep_alive = http10_keep_alive
        self.max_connection_tokens = max_connection_tokens
        self.keep_alive_timeout = keep_alive_timeout
        self.origins = OriginPolicy(allowed_origins)

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
        # Seed the name caches with the usual spellings, bytes for ASGI and str for WSGI,
        # so that the common response never lower-cases a name. Two dicts: an ASCII str
        # and its bytes hash alike, and one dict would compare them on every lookup.
        self._kinds: dict[bytes, int] = {}
        self._ordinary: set[bytes] = set()  # bytes names seen and known end-to-end
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
        # Request facts by version, then by Connection value: bytes values (ASGI) and str
        # values (WSGI's environ) in separate dicts, since an ASCII str and its bytes
        # hash alike and one dict would compare them.
        versions = ("1.0", "1.1", "2", "3", "HTTP/1.0", "HTTP/1.1", "HTTP/1")
        self._facts_cache: dict[str, dict[AnyName | None, RequestFacts]] = {v: {} for v in versions}
        self._facts_str: dict[str, dict[AnyName | None, RequestFacts]] = {v: {} for v in versions}
        for value in (None, b"keep-alive", b"close", b"Keep-Alive", b"Close"):
            for version in versions:
                self.request_facts(version, value)
                if value is not None:
                    self.request_facts(version, value.decode())

    # -- names ---------------------------------------------------------------------

    def kind_of(self, name: AnyName) -> int:
        """``ORDINARY``, ``HOP``, ``CONNECTION``, ``UPGRADE`` or ``TE`` for a header name.

        Accepts bytes (ASGI) or str (WSGI) in any case; answers from a bounded cache.
        """
        if isinstance(name, str):
            kind = self._str_kinds.get(name)
            if kind is None:
                kind = self._kinds.get(_as_lower_bytes(name), ORDINARY)
                if len(self._str_kinds) < _CACHE_LIMIT:
                    self._str_kinds[name] = kind
            return kind
        kind = self._kinds.get(name)
        if kind is None:
            kind = self._kinds.get(name.lower(), ORDINARY)
            if len(self._kinds) < _CACHE_LIMIT:
                self._kinds[name] = kind
                if kind == ORDINARY:
                    self._ordinary.add(name)
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
        """Strict mode's word for a removal: ``"hop-by-hop"``, ``"Connection-nominated"`` or,
        for Content-Length on a 1xx, 204 or 304, ``"framing"``."""
        if self.kind_of(name):
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

        ``connection`` is every Connection line joined with ``", "`` (or ``None``), as
        bytes (ASGI) or latin-1 str (WSGI's environ); likewise ``upgrade``. Answers for
        requests without Upgrade come from a cache, so the common request allocates
        nothing.
        """
        by_value = (self._facts_str if type(connection) is str else self._facts_cache).get(http_version)
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
        if not (version == "1.0" and facts.persistent):  # else framing decides per response
            answer = self.connection_fields(facts, 200)
            object.__setattr__(facts, "plain_answer", answer)
            if not answer[1] and not offered:  # a 101 answers only a request to upgrade
                object.__setattr__(facts, "quick_fields", answer[0])
        object.__setattr__(facts, "unusual", version == "1.0" or tokens.flagged)
        if (
            by_value is not None
            and upgrade is None
            and len(by_value) < _CACHE_LIMIT
            and (connection is None or len(connection) <= 256)
        ):
            by_value[connection] = facts
        return facts

    def read_request(self, http_version: str, headers: Iterable[Header]) -> RequestFacts:
        """:meth:`request_facts` from an ASGI header list (lower-case names)."""
        connection: bytes | None = None
        upgrade: bytes | None = None
        more: list[Header] | None = None  # repeated lines, joined once below: linear time
        # Loose pairs, as _Pairs says; servers give a list, which the compiled build reads
        # fastest (anything else is read once into one).
        pairs: list[Any] = headers if isinstance(headers, list) else list(headers)
        for pair in pairs:
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
        if upgrade is None:  # the cache lookup of request_facts, inlined for the hot path
            try:
                return self._facts_cache[http_version][connection]
            except KeyError:
                pass
        return self.request_facts(http_version, connection, upgrade)

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
        values = [value for name, value in pairs if self.kind_of(name) == CONNECTION]
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
        response decides nothing: the final response does (RFC 9110 §15.2).
        """
        if request.http_version in ("2", "3"):
            return _NO_HEADERS, False  # RFC 9113 §8.2.2, RFC 9114 §4.2
        if status == 101 and request.upgrade_requested:
            return _UPGRADE_FIELDS, False  # RFC 9110 §7.8: Upgrade is hop-by-hop
        if status < 200:
            return _NO_HEADERS, False  # RFC 9110 §15.2: interim; the final response decides
        if not request.persistent or app_close or server_close:
            return _CLOSE_FIELDS, True
        if not has_length and status not in _NO_BODY_STATUSES:
            # RFC 9112 §9.3, §6.3 item 8 (and RFC 1945's keep-alive practice): a body nothing
            # delimits ends with the connection.
            return _CLOSE_FIELDS, True
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
        ordinary = self._ordinary  # a set probe per known name: the whole cost when clean
        pairs: _Pairs = headers
        dirty = (status < 200 or status in {204, 304}) and _has_content_length(headers)  # _finish_dirty
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
        answer = request.plain_answer
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

    def quick_finish(self, request: RequestFacts, status: int, headers: list[Header]) -> list[Header] | None:
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
        fields = request.quick_fields  # None for a request that offers an upgrade (a 101)
        if fields is None or status < 200 or status in {204, 304}:
            return None
        ordinary = self._ordinary
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
        values = [value for name, value in pairs if self.kind_of(name) == CONNECTION]
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
        # RFC 9110 §8.6: no Content-Length in a 1xx or 204 response (it has no content). A 304
        # may carry the 200's, and loses it too: uvicorn's httptools protocol counts it against
        # the body a 304 never has, and fails the response; caches do not update it from a 304.
        lengthless = status < 200 or status in {204, 304}
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

    def judge_websocket(self, method: str, http_version: str, headers: Iterable[Header]) -> HandshakeVerdict:
        """Judge a WebSocket opening handshake (RFC 6455 §4.2.1; RFC 8441 over HTTP/2+).

        Over HTTP/1.x: GET, HTTP/1.1 or later, Host, ``websocket`` in Upgrade,
        ``upgrade`` in Connection, one Sec-WebSocket-Key that is the base64 of 16 bytes
        (400 otherwise), Sec-WebSocket-Version 13 (426 with ``Sec-WebSocket-Version: 13``
        otherwise), and an allowed Origin (403). Over HTTP/2 and HTTP/3 the request is an
        extended CONNECT with no Upgrade, Connection or key by design, so only the
        version and the Origin are judged. Never raises for any bytes.
        """
        version = normalize_http_version(http_version)
        multiplexed = version in ("2", "3")
        host: bytes | None = None
        upgrade: list[bytes] = []
        connection: list[bytes] = []
        keys: list[bytes] = []
        ws_versions: list[bytes] = []
        origins: list[bytes] = []
        pairs: _Pairs = headers
        for raw_name, value in pairs:
            name = raw_name.lower()
            if name == b"host":
                if host is None:
                    host = value
            elif name == b"upgrade":
                upgrade.append(value)
            elif name == b"connection":
                connection.append(value)
            elif name == b"sec-websocket-key":
                keys.append(value)
            elif name == b"sec-websocket-version":
                if value == b"13":
                    ws_versions.append(value)
                else:
                    ws_versions.extend(v.strip(b" \t") for v in value.split(b",") if v.strip(b" \t"))
            elif name == b"origin":
                origins.append(value)
        if not multiplexed:
            if method != "GET":  # RFC 9110 §9.1: methods are case-sensitive
                return REJECT_METHOD
            if http_version not in _VERSIONS or version == "1.0":
                return REJECT_VERSION
            if upgrade != [b"websocket"] and not any(
                b"websocket" in _upgrade_protocols(value) for value in upgrade
            ):
                return REJECT_UPGRADE
            if not self.tokens(connection).upgrade:  # cached for the usual values
                return REJECT_CONNECTION
        if ws_versions != [b"13"]:
            return REJECT_WS_VERSION
        if not multiplexed:
            if len(keys) != 1 or not _valid_websocket_key(keys[0]):
                return REJECT_KEY
            if host is None:
                return REJECT_HOST
        if not self.origins.allows_any and (
            len(origins) > 1 or not self.origins.allows(origins[0] if origins else None, host)
        ):
            return REJECT_CROSS_ORIGIN if self.origins.same_origin_only else REJECT_ORIGIN
        if multiplexed:
            return ACCEPT_H2
        return HandshakeVerdict(True, 101, "ok", "accepted", key=keys[0])


def no_content_reason(method: str | None, status: int) -> str | None:
    """Why this response carries no content, or ``None`` when it may carry a body.

    RFC 9110 §6.4.1: a response to HEAD (§9.3.2) and every 1xx (§15.2), 204 (§15.3.5)
    and 304 (§15.4.5) response ends with its header section (RFC 9112 §6.3 items 1-2),
    whatever the application returns. Body bytes written after such a header section
    are read by a persistent client as the start of the next response (a desync), so
    both adapters drop them. The answer is the counter's key: ``"head"``, ``"1xx"``,
    ``"204"`` or ``"304"``. A 2xx answer to CONNECT starts a tunnel, not a body; it is
    not a framing question and gets ``None``.
    """
    if method == "HEAD":
        return "head"
    if status < 200:
        return "1xx"
    if status == 204:
        return "204"
    if status == 304:
        return "304"
    return None


def body_needs_framing(status: int, method: str | None, headers: Iterable[Header]) -> bool:
    """Whether a response has a body but no Content-Length to delimit it.

    Such a body is chunked on HTTP/1.1 and close-delimited on HTTP/1.0 (RFC 9112 §6.3);
    chunked framing to an HTTP/1.0 client is forbidden (RFC 9112 §6.1), so the ASGI
    adapter holds such a body for HTTP/1.0 and sends it with a length. Responses to
    HEAD and 1xx/204/304 have no body (:func:`no_content_reason`).
    """
    if no_content_reason(method, status) is not None:
        return False
    return not _has_content_length(headers)


READY_RETRY_AFTER: Final = 5
"""Seconds a draining instance's readiness answer asks a client to wait before asking again."""
_READY_HEADERS: Final[tuple[Header, ...]] = (
    (b"content-type", b"text/plain; charset=utf-8"),
    (b"cache-control", b"no-store"),  # RFC 9111 §5.2.2.5: a probe must never be answered from a cache
)


def asks_readiness(method: str | None, path: str | None, ready_path: str | None) -> bool:
    """Whether a request is a readiness check connmw answers itself: GET or HEAD of exactly
    ``ready_path`` (the query string, not part of ``path``, is ignored)."""
    return ready_path is not None and path == ready_path and method in ("GET", "HEAD")


def readiness_answer(method: str | None, draining: bool) -> tuple[int, list[Header], bytes]:
    """The answer to a readiness check: ``(status, headers, body)``, Connection fields aside.

    ``200 ready`` while serving; ``503 draining`` with ``Retry-After`` (RFC 9110 §10.2.3,
    §15.6.4) while the instance drains, so that a load balancer's health check takes it
    out of rotation before it stops: closing keep-alive connections alone does not stop a
    balancer from opening new ones. The adapters add the connection fields
    (:meth:`Policy.finish_response` with ``server_close=draining``: ``close`` while
    draining). A HEAD answer has the GET's Content-Length and no body (RFC 9110 §9.3.2).
    """
    status, body = (503, b"draining\n") if draining else (200, b"ready\n")
    headers = [*_READY_HEADERS, (b"content-length", b"%d" % len(body))]
    if draining:
        headers.append((b"retry-after", b"%d" % READY_RETRY_AFTER))
    return status, headers, b"" if method == "HEAD" else body


def close_reason(request: RequestFacts, server_reason: str | None = None, *, framing: bool = False) -> str:
    """Why a response closes its connection, for counters and logs.

    ``server_reason`` (drain, a limit) first; then ``client`` when the request itself
    was not persistent (RFC 9112 §9.3); ``framing`` when the body could not be
    delimited; else ``app`` (the application's own ``Connection: close``).
    """
    if server_reason is not None:
        return server_reason
    if not request.persistent:
        return "client"
    return "framing" if framing else "app"


def _as_lower_bytes(name: AnyName) -> bytes:
    if isinstance(name, str):
        return name.lower().encode("latin-1", "replace")
    return name.lower()


def _as_bytes(value: AnyName | None) -> bytes | None:
    if isinstance(value, str):
        return value.encode("latin-1", "replace")
    return value


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


def _has_content_length(headers: Iterable[Header]) -> bool:
    pairs: _Pairs = headers
    return any(name.lower() == b"content-length" for name, _ in pairs)


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


def forwardable_headers(
    headers: Iterable[Header], *, policy: Policy | None = None, response: bool = False
) -> list[Header]:
    """Headers safe to forward to another hop, for applications that proxy.

    Removes every hop-by-hop header and every header the Connection field nominates
    (protected names excepted, RFC 9110 §7.6.1). For a request, a single
    ``TE: trailers`` survives if any TE element was ``trailers``; with
    ``response=True`` no TE survives (TE is a request field, RFC 9110 §10.1.4, and
    HTTP/2 forbids it in responses). Use it on an upstream response before returning it
    (copying an upstream's ``Transfer-Encoding: chunked`` makes the server chunk the
    body twice) and on a client request before sending it upstream.
    """
    global _DEFAULT_POLICY
    if policy is None:
        if _DEFAULT_POLICY is None:
            _DEFAULT_POLICY = Policy()
        policy = _DEFAULT_POLICY
    headers = list(headers)
    pairs: _Pairs = headers
    values = [value for name, value in pairs if name.lower() == b"connection"]
    nominated = policy.tokens(values).nominated if values else _EMPTY
    return _without_hop_by_hop(policy, headers, nominated, keep_te=not response)
