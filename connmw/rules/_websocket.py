"""WebSocket opening handshakes and origins (RFC 6455 §4.2, RFC 6454, RFC 8441).

The verdicts, Sec-WebSocket-Accept, the Origin policy (same origin by default), and the
check of an application's own 101.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Final

from ._connection import (
    ConnectionTokens,
    RequestFacts,
    _upgrade_protocols,
)
from ._headers import (
    NO_HEADERS,
    OWS,
    VERSIONS,
    Header,
    Pairs,
    normalize_http_version,
)

# --------------------------------------------------------------------------------------
# WebSocket (RFC 6455)
# --------------------------------------------------------------------------------------

WEBSOCKET_GUID: Final[bytes] = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"  # RFC 6455 §1.3
_BASE64_ALPHABET: Final[bytes] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
_DEFAULT_PORTS: Final[dict[str, int]] = {"http": 80, "ws": 80, "https": 443, "wss": 443}
_NO_DEFAULT_PORT: Final = -1
_SCHEME_CHARS: Final[str] = "abcdefghijklmnopqrstuvwxyz0123456789+-."
_SWITCH_FIELDS: Final = frozenset({b"upgrade", b"sec-websocket-accept"})
# Never in a host: a path, a query, a fragment, userinfo, white space, and a comma (the mark
# of repeated Host lines a server joined, RFC 9110 §5.3: werkzeug and granian write "a,b").
_NOT_IN_ORIGIN_HOST: Final = frozenset("/\\@?# \t,")


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
    headers: tuple[Header, ...] = NO_HEADERS
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
REJECT_BAD_HOST: Final = _reject(
    400,
    "bad-host",
    "Host must be one field naming host[:port] (RFC 9112 §3.2; RFC 9113 §8.3.1: host equals the authority)",
)
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
ACCEPT_UNCHECKED: Final = HandshakeVerdict(True, 101, "ok", "the Origin is admitted; the rest is not checked")
"""An HTTP/1.x handshake judged by its Origin alone (``ws_validate`` off): the server checks the rest."""


def _split_origin(origin: str) -> tuple[str, str, int] | None:
    """``scheme://host[:port]`` → (scheme, host, port) lower-cased, default port filled.

    RFC 6454 §6.2 serialises an origin as scheme "://" host [":" port]: userinfo, a
    path, a query, a fragment or white space make a value that is not an origin. A
    scheme without a default port (``capacitor://localhost``) and no port given gets
    port -1, so it matches only itself. ``None`` for anything else; never raises.
    """
    scheme, sep, rest = origin.strip(" \t").lower().partition("://")  # RFC 9110 §5.5: OWS only
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
    a path, a query, a fragment, white space, a comma, a byte that is not printable or a
    port outside 0-65535 give ``None``; never raises.
    """
    text = text.lower()
    if not text or not text.isprintable() or not _NOT_IN_ORIGIN_HOST.isdisjoint(text):
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

    Hosts compare case-insensitively, and ports are compared too, each side's default
    made explicit: an Origin's port is its own or its scheme's default (RFC 6454 §4: 80 for http and
    ws, 443 for https and wss), and a Host that names no port matches an Origin on its
    scheme's default port. So ``http://localhost`` is not ``localhost:8000``: a page on
    one port of a host is another origin than an application on another port. Schemes
    are never compared, since behind a proxy that ends TLS the application sees plain
    HTTP while the page was https. Only space and tab may surround either value (RFC
    9110 §5.5). ``null``, a value that is not an origin, or no Host at all: not the
    same origin.
    """
    if host is None:
        return False
    theirs = _split_origin(origin.decode("latin-1"))
    ours = _split_authority(host.strip(OWS).decode("latin-1"))
    if theirs is None or ours is None:
        return False
    scheme, name, port = theirs
    host_name, host_port = ours
    if name != host_name:
        return False
    if host_port is None:  # on the default port: the Origin must be on its scheme's default too
        return port == _DEFAULT_PORTS.get(scheme)  # a scheme with none matches no such Host
    return port == host_port


def _fields(headers: Iterable[Header], names: frozenset[bytes]) -> dict[bytes, list[bytes]]:
    """The values of the fields named in ``names`` (lower-case), every line, in order."""
    found: dict[bytes, list[bytes]] = {}
    pairs: Pairs = headers
    for name, value in pairs:
        lower = name.lower()
        if lower in names:
            found.setdefault(lower, []).append(value)
    return found


def _request_host(hosts: Sequence[bytes], multiplexed: bool) -> bytes | None:
    """The one authority a request's Host fields name (space and tab trimmed), or ``None``.

    HTTP/1.x: exactly one Host line whose value is ``host[:port]`` (RFC 9112 §3.2: a
    server must answer 400 to more than one, or to an invalid one; RFC 6455 §4.2.1).
    HTTP/2 and HTTP/3: a server may copy ``:authority`` into ``host``; a ``host`` that
    differs from it makes the request malformed (RFC 9113 §8.3.1, RFC 9114 §4.3.1), so
    every entry must equal the first. ``None`` when there is none, or when they do not
    name one valid authority.
    """
    if not hosts or (len(hosts) > 1 and not multiplexed):
        return None
    first = hosts[0]
    for other in hosts:
        if other != first:
            return None
    value = first.strip(OWS)
    return value if _split_authority(value.decode("latin-1")) is not None else None


def _is_scheme(scheme: str) -> bool:
    # RFC 3986 §3.1: scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ), here lower-case.
    return bool(scheme) and "a" <= scheme[0] <= "z" and not scheme.strip(_SCHEME_CHARS)


class OriginPolicy:
    """Which browser origins may open a WebSocket (RFC 6455 §10.2, RFC 6454).

    With no pattern at all (the default) only the same origin is admitted
    (:func:`same_origin`: the Origin's host and port, default ports made explicit, equal
    the request's Host), as gorilla/websocket, python-socketio and Django Channels do by
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
        text = origin.decode("latin-1").strip(" \t")  # RFC 9110 §5.5: OWS is space and tab only
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

    def refusal(self, origins: Sequence[bytes], host: bytes | None) -> HandshakeVerdict | None:
        """The 403 for a handshake with these Origin lines, or ``None`` when it may proceed.

        ``host`` is the one authority the request names (``None`` when it names none
        validly, which no Origin matches). More than one Origin line is refused: a
        browser sends exactly one (RFC 6454 §7.3, RFC 6455 §4.1 item 8).
        """
        if self._any:
            return None
        if len(origins) > 1 or not self.allows(origins[0] if origins else None, host):
            return REJECT_CROSS_ORIGIN if self._same_origin else REJECT_ORIGIN
        return None


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
    fields = _fields(response_headers, _SWITCH_FIELDS)
    chosen = [protocol for value in fields.get(b"upgrade", ()) for protocol in _upgrade_protocols(value)]
    accept = [value.strip(OWS) for value in fields.get(b"sec-websocket-accept", ())]
    if not chosen:
        return "101 Switching Protocols without an Upgrade field (RFC 9110 §15.2.2)"
    for protocol in chosen:
        if protocol not in request.upgrade:
            return "101 Switching Protocols to a protocol the client did not offer (RFC 9110 §7.8)"
    if b"websocket" in chosen and key is not None and accept != [websocket_accept(key)]:
        return "Sec-WebSocket-Accept does not match Sec-WebSocket-Key (RFC 6455 §4.2.2)"
    return None


# --------------------------------------------------------------------------------------
# Judging an opening handshake (Policy.judge_websocket and Policy.origin_refusal)
# --------------------------------------------------------------------------------------

_HANDSHAKE_FIELDS: Final = frozenset(
    {b"host", b"upgrade", b"connection", b"sec-websocket-key", b"sec-websocket-version", b"origin"}
)
_ORIGIN_FIELDS: Final = frozenset({b"host", b"origin"})


def _judge_handshake(
    method: str,
    http_version: str,
    headers: Iterable[Header],
    origins: OriginPolicy,
    tokens: Callable[[Sequence[bytes]], ConnectionTokens],
    *,
    validate: bool = True,
) -> HandshakeVerdict:
    """Judge a WebSocket opening handshake (RFC 6455 §4.2.1; RFC 8441 over HTTP/2+).

    Over HTTP/1.x: GET, HTTP/1.1 or later, ``websocket`` in Upgrade, ``upgrade`` in
    Connection, one Sec-WebSocket-Key that is the base64 of 16 bytes, exactly one
    Host naming ``host[:port]`` (400 otherwise), Sec-WebSocket-Version 13 (426 with
    ``Sec-WebSocket-Version: 13`` otherwise), and an allowed Origin (403). Over HTTP/2
    and HTTP/3 the request is an extended CONNECT with no Upgrade, Connection or key
    by design, so the version, every ``host`` (equal to the first, RFC 9113 §8.3.1)
    and the Origin are judged. ``validate=False`` judges the Origin alone
    (:func:`_origin_refusal`): the structure is left to the server, never the Origin
    policy. Never raises for any bytes.

    :param origins: the Origin policy (RFC 6455 §10.2).
    :param tokens: how the configuration reads a Connection field (a cache of
        :func:`parse_connection`; only its ``upgrade`` is read here).
    """
    version = normalize_http_version(http_version)
    multiplexed = version in ("2", "3")
    if not validate:
        refusal = _origin_refusal(http_version, headers, origins)
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
        if http_version not in VERSIONS or version == "1.0":
            return REJECT_VERSION
        if upgrade != [b"websocket"] and not any(
            b"websocket" in _upgrade_protocols(value) for value in upgrade
        ):
            return REJECT_UPGRADE
        if not tokens(fields.get(b"connection", [])).upgrade:  # cached for the usual values
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
    refusal = origins.refusal(fields.get(b"origin", []), host)
    if refusal is not None:
        return refusal
    if multiplexed:
        return ACCEPT_H2
    return HandshakeVerdict(True, 101, "ok", "accepted", key=keys[0])

def _origin_refusal(
    http_version: str, headers: Iterable[Header], origins: OriginPolicy
) -> HandshakeVerdict | None:
    """The 403 for a WebSocket handshake's Origin, or ``None`` when the policy admits it.

    The Origin policy asked alone, whatever else the handshake says: same origin by
    default, else the allow-list (:class:`OriginPolicy`; RFC 6455 §10.2). The request
    names its host only by exactly one valid Host (or, over HTTP/2 and HTTP/3, every
    ``host`` equal to the first): otherwise no Origin is its same origin. Never raises.
    """
    if origins.allows_any:
        return None
    fields = _fields(headers, _ORIGIN_FIELDS)
    host = _request_host(fields.get(b"host", []), normalize_http_version(http_version) in ("2", "3"))
    return origins.refusal(fields.get(b"origin", []), host)
