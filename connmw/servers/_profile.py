"""The shape of what connmw knows about one server: typed traits, hooks and recognition markers.

Every server module declares one or more :class:`ServerProfile` values; the middlewares
read only these fields, never a server's name. Traits are typed (``Literal`` values,
booleans, callables), so a misspelt trait is a type error, not a silent default.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal

from ..rules import Announce

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

Interface = Literal["asgi", "wsgi"]

FieldRoute = Literal["app", "hook", "server", "none"]
"""WSGI: how connmw's ``Connection`` (and ``Keep-Alive``) fields reach the client.

* ``"app"``: in the application's headers; the server passes them on and acts on ``close``;
* ``"hook"``: set through the server's own objects (:attr:`ServerProfile.wsgi_persist`);
* ``"server"``: never; the server writes its own field (and may refuse the application's);
* ``"none"``: never, and the server says nothing either (wsgiref answers as HTTP/1.0;
  behind a proxy the proxy speaks).
"""

UnsizedBodiless = Literal["never", "head", "always"]
"""WSGI: after which responses without content and without Content-Length the server
closes, saying nothing beside connmw's ``keep-alive``: ``"head"`` (a response to HEAD) or
``"always"`` (HEAD, 1xx, 204, 304); connmw then says ``close`` itself."""

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
    keeps_http10: bool = False
    """It keeps an HTTP/1.0 connection alive that connmw answered with ``keep-alive``
    (``http10_keep_alive`` works there); where not, HTTP/1.0 is never persistent."""

    # -- WSGI ----------------------------------------------------------------------
    connection_field: FieldRoute = "none"
    announce_wsgi: Announce = "every"
    """Which of connmw's Connection fields it is given (:data:`connmw.rules.Announce`)."""
    may_refuse_field: bool = False
    """It may refuse connmw's field in ``start_response`` (PEP 3333 lets it: wsgiref
    asserts, waitress raises): connmw then calls it once more without the field, and sends
    none there again in this process."""
    wsgi_persist: WsgiPersist | None = None
    """How to make the connection do what connmw decided, when a field alone cannot."""
    always_closes: bool = False
    """It closes every connection after one response, whatever was asked."""
    chunks_unsized: bool = True
    """HTTP/1.1: it frames a body without Content-Length itself (chunked); if not, connmw
    holds such a body (``http10_buffer_bytes``) and sends it with a length."""
    closes_unsized_bodiless: UnsizedBodiless = "never"
    says_http10_keep_alive: bool = False
    """It answers an HTTP/1.0 request that asked for keep-alive with its own ``keep-alive``
    beside the application's Connection field (granian): connmw sends no ``close`` there,
    which would read ``close, keep-alive``."""
    switches_protocols: bool = False
    """An application's ``101`` through ``start_response`` can hand the connection over
    (flask-sock); where it cannot, connmw refuses the 101 (the server answers 500)."""

    # -- ASGI ----------------------------------------------------------------------
    announce_asgi: Announce = "every"
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
