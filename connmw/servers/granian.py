"""granian (ASGI and WSGI), a Rust server.

Sends no Connection field of its own on HTTP/1.1, passes every field an application
sends and merges ``close`` into the application's Connection value; connmw's one field
goes to it. On an HTTP/1.0 request that asked for keep-alive it appends its own
``keep-alive`` to any Connection field, and keeps such a connection.
"""

from __future__ import annotations

from typing import Final

from ..rules import ServerTraits
from ._profile import Markers, ServerProfile

__all__ = ["GRANIAN", "PROFILES"]

GRANIAN: Final = ServerProfile(
    "granian",
    frozenset({"asgi", "wsgi"}),
    "connmw's one Connection field; granian acts on its close",
    # ASGI: send is a method of granian._granian's protocol; WSGI: start_response is a
    # granian.wsgi.Response object.
    Markers(owners=("granian",), software=("Granian",)),
    traits=ServerTraits(
        keeps_http10=True,
        connection_field="app",
        says_http10_keep_alive=True,
        switches_protocols=True,
    ),
)

PROFILES: Final = (GRANIAN,)
