"""Twisted's WSGI container (``twist web --wsgi``), which gives no ``SERVER_SOFTWARE``.

Passes the application's fields; decides persistence from the first request Connection
line split on spaces, and ignores the application's close. connmw sets the field and the
channel's ``persistent`` flag through the reactor (:func:`persist`).
"""

from __future__ import annotations

from typing import Any, Final

from ..rules import ServerTraits
from ._profile import Fields, Markers, ServerProfile

__all__ = ["PROFILES", "TWISTED", "persist"]


def persist(write: Any, keep: bool, fields: Fields) -> None:
    """Twisted's own Connection field replaced by connmw's, and the channel's flag set.

    The channel's persistent flag decides at the end of the response; both are set in the
    reactor thread, scheduled before the application's first write.
    """
    response = getattr(write, "__self__", None)
    request = getattr(response, "request", None)
    reactor = getattr(response, "reactor", None)
    if request is None or reactor is None:
        return
    reactor.callFromThread(_set, request, keep, fields)


def _set(request: Any, keep: bool, fields: Fields) -> None:
    request.responseHeaders.removeHeader(b"connection")
    for name, value in fields:
        request.responseHeaders.setRawHeaders(name, [value])
    request.channel.persistent = keep


TWISTED: Final = ServerProfile(
    "twisted",
    frozenset({"wsgi"}),
    "connmw's one Connection field, set and made real through Twisted's request",
    Markers(owners=("twisted.web",)),
    wsgi_persist=persist,
    traits=ServerTraits(
        keeps_http10=True,
        connection_field="hook",
    ),
)

PROFILES: Final = (TWISTED,)
