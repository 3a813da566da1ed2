"""Header names as connmw sees them: the hop-by-hop and protected tables, tokens, versions.

Pure: no I/O. Every other rules module builds on these tables: this module is the rules'
shared vocabulary. Its upper-case constants that :mod:`connmw.rules` does not re-export
(``NO_NAMES``, ``EMPTY_NAMES``, ``BASE_KINDS``, ``CACHE_LIMIT`` …) and its ``_``-prefixed
helpers (``_as_bytes``, ``_is_protected``, ``_has_content_length`` …) are for the rules
modules only, never for the adapters or applications.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Final, Union

Header = tuple[bytes, bytes]
"""One header: lower-case (request) or any-case (response) name, and value, as bytes."""

AnyName = Union[bytes, str]  # noqa: UP007 (a runtime alias on Python 3.10)

Pairs = Iterable[Any]
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

KEEP_ALIVE_ONLY: Final[frozenset[bytes]] = frozenset({b"keep-alive"})
UPGRADE_WISHES: Final[frozenset[bytes]] = frozenset({b"keep-alive", b"upgrade"})

# RFC 9110 §5.6.2: tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" / "." /
# "^" / "_" / "`" / "|" / "~" / DIGIT / ALPHA. Deleting these bytes from a token must
# leave nothing; bytes.translate does that without a regex.
_TCHARS: Final[bytes] = b"!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"

VERSIONS: Final[dict[str, str]] = {
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
INVALID: Final = 5
"""A name that is no token (RFC 9110 §5.1, §5.6.2): white space around it, or a byte
outside ``tchar``. Such a field is removed; see :func:`_read_as`."""

OWS: Final[bytes] = b" \t"  # RFC 9110 §5.6.3: the only white space HTTP allows around a value
_SERVER_TRIMS: Final[bytes] = b" \t\n\r\x0b\x0c"
"""What ``bytes.strip()`` removes, and so what hypercorn trims from an application's
response names after the middleware ran (measured: ``connection\\x0b`` went out as
``connection``)."""

BASE_KINDS: Final[dict[bytes, int]] = dict.fromkeys(HOP_BY_HOP, HOP)
BASE_KINDS.update({b"connection": CONNECTION, b"upgrade": UPGRADE, b"te": TE})

CACHE_LIMIT: Final = 4096
CONTENT_TYPE: Final = b"content-type"
"""The one end-to-end field the quick path reads by value: an event stream's (``connmw.rules._drain``)."""
NO_HEADERS: Final[tuple[Header, ...]] = ()
NO_NAMES: Final[tuple[bytes, ...]] = ()
EMPTY_NAMES: Final[frozenset[bytes]] = frozenset()


def normalize_http_version(version: str) -> str:
    """Return ``"1.0"``, ``"1.1"``, ``"2"`` or ``"3"`` for an ASGI or WSGI version string.

    Anything else (``HTTP/0.9``, garbage) reads as ``"1.0"``: the most cautious answer,
    since it never keeps a connection open that the client did not ask to keep.
    """
    return VERSIONS.get(version, "1.0")


def is_token(value: bytes) -> bool:
    """Whether ``value`` is an RFC 9110 §5.6.2 token (non-empty, tchar only)."""
    return bool(value) and not value.translate(None, _TCHARS)


def _read_as(name: AnyName) -> bytes:
    """The lower-case name a lenient recipient reads for an ``INVALID`` name.

    RFC 9112 §5.1: white space between a field name and its colon is invalid, and a
    proxy must remove it; hypercorn trims every ASCII white space byte (``bytes.strip()``)
    from names. So ``connection `` is removed as invalid, yet its tokens still count as the
    application's Connection field: nothing it nominates may leave under its disguise.
    """
    return _as_lower_bytes(name).strip(_SERVER_TRIMS)


def _is_protected(name: bytes, protected: frozenset[bytes], prefixes: tuple[bytes, ...]) -> bool:
    return name in protected or name.startswith(prefixes)


def _as_lower_bytes(name: AnyName) -> bytes:
    if isinstance(name, str):
        return name.lower().encode("latin-1", "replace")
    return name.lower()


def _as_bytes(value: AnyName | None) -> bytes | None:
    if isinstance(value, str):
        return value.encode("latin-1", "replace")
    return value


def _has_content_length(headers: Iterable[Header]) -> bool:
    pairs: Pairs = headers
    return any(name.lower() == b"content-length" for name, _ in pairs)
