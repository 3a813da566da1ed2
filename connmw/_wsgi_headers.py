"""WSGI's ``str`` headers as the rules' bytes pairs and back (PEP 3333, "Unicode Issues").

WSGI headers are ``str`` pairs holding latin-1 text; :mod:`connmw.rules` decides on lower-case
bytes. The conversions live here and nowhere else; a pair WSGI cannot carry passes on as the
application wrote it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Final

from ._counters import logger
from .errors import ForbiddenHeaderError
from .rules import Header

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIEnvironment

_warned_malformed: list[bool] = []  # once per process, like every connmw warning


@lru_cache(maxsize=256)
def field_text(field: Header) -> tuple[str, str]:
    """One of connmw's own fields (lower-case bytes) as a WSGI header."""
    return field[0].decode("latin-1").title().replace("Websocket", "WebSocket"), field[1].decode("latin-1")


def latin1(text: str | None) -> bytes | None:
    return None if text is None else text.encode("latin-1", "replace")


# What the rules see for a pair WSGI cannot carry, which is passed on as the app wrote it: a
# token no application sends, so an ordinary name to the rules (an empty one is invalid).
_UNREADABLE: Final = b"x-connmw-unreadable"


def to_bytes(headers: Iterable[Any]) -> tuple[list[Header], list[Any]]:
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


def to_str(headers: Sequence[Any], raw: list[Header], kept: Sequence[Header]) -> list[Any]:
    """The app's own pairs the rules kept, in order, as the app wrote them.

    The rules keep the app's headers in order, as the very bytes objects they were given:
    identity, not equality, tells which of them were kept.
    """
    # Any, not tuple[str, str]: malformed pairs pass through as the app wrote them.
    out: list[Any] = []
    index, size = 0, len(kept)
    for pair, (name, value) in zip(headers, raw, strict=True):
        if index < size and kept[index][0] is name and kept[index][1] is value:
            out.append(pair)
            index += 1
    return out


def request_headers(environ: WSGIEnvironment) -> tuple[list[Header], list[str]]:
    """The request's ``HTTP_*`` entries as lower-case bytes headers, and their keys."""
    pairs = [(key, value) for key, value in environ.items() if key[:5] == "HTTP_" and type(value) is str]
    headers = [
        (key[5:].lower().replace("_", "-").encode("latin-1", "replace"), latin1(v) or b"")
        for key, v in pairs
    ]
    return headers, [key for key, _ in pairs]


def strip_environ(
    environ: WSGIEnvironment, headers: list[Header], keys: list[str], kept: Sequence[Header]
) -> None:
    """Delete the ``HTTP_*`` entries the rules stripped from the request (``strip_request_headers``).

    :param headers: the request's headers as :func:`request_headers` read them.
    :param keys: their environ keys, in the same order.
    :param kept: the headers the rules kept (:attr:`connmw.rules.PlannedRequest.headers`).
    """
    names = {name for name, _ in kept}
    for key, (name, _) in zip(keys, headers, strict=True):
        if name not in names:
            del environ[key]
    if (b"te", b"trailers") in kept:
        environ["HTTP_TE"] = "trailers"  # the one TE element that may cross a hop


def report_malformed(pairs: Sequence[Any], *, strict: bool) -> None:
    """Headers WSGI cannot carry: raise in strict mode (never over the app's own error), else log once."""
    first = pairs[0]
    name = first[0] if type(first) is tuple and first and type(first[0]) is str else "?"
    if strict:
        raise ForbiddenHeaderError(name, "malformed (PEP 3333: str name, latin-1 str value)")
    if not _warned_malformed:
        _warned_malformed.append(True)
        logger.warning("app sent header %s that WSGI cannot carry; passed on unchanged", name)
