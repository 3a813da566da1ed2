"""What each server does, and what connmw may ask of it: one module per server.

connmw decides HTTP in :mod:`connmw.rules`; what reaches the wire depends on the server
in between. This package knows servers, and nothing else does. Each module declares
the profiles of one server (:class:`ServerProfile`): typed traits (whether connmw's own
``Connection`` field reaches the client through it, what it does by itself), hooks that
ask it to keep or close a connection when a field cannot, and the markers it is
recognised by. :data:`REGISTRY` lists the modules; recognition (:func:`recognise_wsgi`,
:func:`recognise_asgi`) reads their markers, and both middlewares read only traits.

Adding a server is one module here, one entry in :data:`REGISTRY`, one launcher entry
in ``connmw.tool._launchers`` (how ``connmw check`` and the tests start it), its wire
tests and its row in docs/servers.md. A server nobody recognises gets :data:`UNKNOWN`:
never worse than that server without connmw (``connmw.servers.unknown``).

The measurements behind every profile (which versions, which bytes) are in the
repository's ``docs/servers.md``; a profile keeps only what connmw acts on.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import ModuleType
from typing import Any, Final

from . import (
    cheroot,
    daphne,
    django,
    granian,
    gunicorn,
    hypercorn,
    mod_wsgi,
    twisted,
    uvicorn,
    uwsgi,
    waitress,
    werkzeug,
    wsgiref,
)
from ._profile import Markers, ServerProfile
from ._recognise import Recogniser
from .unknown import UNKNOWN

__all__ = [
    "AUTO",
    "NAMES",
    "REGISTRY",
    "SERVERS",
    "UNKNOWN",
    "Markers",
    "ServerProfile",
    "describe_asgi",
    "describe_wsgi",
    "profile",
    "recognise_asgi",
    "recognise_wsgi",
]

REGISTRY: Final[tuple[ModuleType, ...]] = (
    uvicorn,
    hypercorn,
    granian,
    daphne,
    gunicorn,
    werkzeug,
    wsgiref,
    django,
    waitress,
    cheroot,
    twisted,
    uwsgi,
    mod_wsgi,
)
"""The server modules, each with its ``PROFILES``; recognition tries them in this order."""

SERVERS: Final[Mapping[str, ServerProfile]] = {
    server.name: server for module in REGISTRY for server in module.PROFILES
}
"""Every known server by name (docs/servers.md's table has one row each)."""

AUTO: Final = "auto"
NAMES: Final = (AUTO, UNKNOWN.name, *SERVERS)
"""What ``CONNMW_SERVER`` accepts: recognise (``auto``), the unknown profile, or a server."""

_RECOGNISER: Final = Recogniser(tuple(SERVERS.values()), UNKNOWN)


def profile(name: str) -> ServerProfile | None:
    """The profile ``CONNMW_SERVER=name`` forces: ``None`` for ``auto`` (recognise)."""
    if name == AUTO:
        return None
    return UNKNOWN if name == UNKNOWN.name else SERVERS[name]


recognise_wsgi: Final = _RECOGNISER.wsgi
"""``(environ, start_response)`` → the server behind them, or :data:`UNKNOWN` (per request,
so a bound method: one call less)."""


def recognise_asgi(send: Any) -> ServerProfile:
    """The server behind an ASGI ``send`` (or a wrapper closing over it), or :data:`UNKNOWN`."""
    return _RECOGNISER.asgi(send)


def describe_wsgi(environ: Mapping[str, Any], start_response: Any) -> str:
    """How :func:`recognise_wsgi` decided, for the log."""
    return _RECOGNISER.describe_wsgi(environ, start_response)


def describe_asgi(send: Any) -> str:
    """How :func:`recognise_asgi` decided, for the log."""
    return _RECOGNISER.describe_asgi(send)
