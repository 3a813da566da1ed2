"""The shape of what connmw knows about one server: its traits, hooks and recognition markers.

Every server module declares one or more :class:`ServerProfile` values; the middlewares
read only these fields, never a server's name. The traits are the rules' own data
(:class:`connmw.rules.ServerTraits`, typed ``Literal`` values and booleans, so a misspelt
trait is a type error, not a silent default); the hooks and markers sit beside them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from ..rules import FieldRoute, Interface, ServerTraits, UnsizedBodiless
from ..rules._traits import DEFAULT_TRAITS

__all__ = [
    "NO_MARKERS",
    "AsgiPersist",
    "FieldRoute",
    "Fields",
    "Interface",
    "Markers",
    "ServerProfile",
    "UnsizedBodiless",
    "WsgiPersist",
]


Fields = tuple[tuple[bytes, bytes], ...]

WsgiPersist = Callable[[Any, bool, Fields], "Callable[[], None] | None"]
"""WSGI: ask the server to keep (``True``) or close (``False``) the connection after this
response, given the ``write`` its ``start_response`` returned and the fields connmw
decided. May return a callback to run once the body is over (``close()`` of the iterable)."""

AsgiPersist = Callable[[Any, bool], None]
"""ASGI: ask the server behind ``send`` to keep (``True``) or close (``False``) the connection."""


@dataclass(frozen=True)
class Markers:
    """How to recognise a server, as data read by one generic function (``_recognise``).

    ``SERVER_SOFTWARE`` is free text another server may borrow (Django's runserver says
    ``WSGIServer/0.2`` like wsgiref), so it is a claim, never proof: a server is recognised
    only by something it alone has.
    """

    owners: tuple[str, ...] = ()
    """Modules (a name matches itself and its submodules) of the object behind the
    callable the server hands the application: WSGI ``start_response``, ASGI ``send``. The
    owner of a bound method is its ``__self__``'s class; of a function, its module; of a
    callable object, its class. Looked for through wrappers that close over it."""
    environ: tuple[str, ...] = ()
    """WSGI: environ keys only this server puts in every environ."""
    software: tuple[str, ...] = ()
    """WSGI: prefixes of the ``SERVER_SOFTWARE`` it sends; named in the log when a claim is
    not confirmed by the markers above."""


NO_MARKERS: Final = Markers()


@dataclass(frozen=True, eq=False)  # compared and hashed by identity: one object per profile
class ServerProfile:
    """One server, as connmw meets it. Fields named for an interface apply to it alone."""

    name: str
    """The name ``CONNMW_SERVER``, ``connmw check --server`` and the docs use."""
    interfaces: frozenset[Interface]
    summary: str
    """One line for the docs: what connmw does there."""
    markers: Markers = NO_MARKERS
    kind: Callable[[Mapping[str, Any]], ServerProfile] | None = None
    """WSGI: which of its profiles serves this environ, for a server with several (uWSGI's
    socket kinds); ``None``: this one."""
    traits: ServerTraits = DEFAULT_TRAITS
    """What it does that the rules decide from (:class:`connmw.rules.ServerTraits`), as data."""

    # -- WSGI ----------------------------------------------------------------------
    wsgi_persist: WsgiPersist | None = None
    """How to make the connection do what connmw decided, when a field alone cannot."""

    # -- ASGI ----------------------------------------------------------------------
    asgi_persist: AsgiPersist | None = None
    """How to make the connection do what connmw decided, when a field alone cannot."""
    closes_itself: Callable[[Any], bool] | None = None
    """Given ``send``, whether the server adds its own ``close`` to this response."""
    refuse_handshake: Callable[[Any, int, Fields], bool] | None = None
    """Answer a refused WebSocket handshake with this status and headers where the server
    offers no ``websocket.http.response``; ``False`` if it could not."""
    close_websocket: Callable[[Any, int], bool] | None = None
    """Close the WebSocket behind ``send`` with this code where ``websocket.close`` cannot
    carry it (drain's 1001, :mod:`connmw._streams`); ``False`` if it could not."""
