"""The standard library's ``wsgiref.simple_server``.

Answers as HTTP/1.0 and closes every connection; asserts on any hop-by-hop field from an
application (a 500, PEP 3333), a 101's Upgrade included. Its ``SERVER_SOFTWARE``,
``WSGIServer/0.2``, is borrowed by Django's runserver: the class behind
``start_response`` tells them apart (``connmw.servers.django``).
"""

from __future__ import annotations

from typing import Final

from ..rules import ServerTraits
from ._profile import Markers, ServerProfile

__all__ = ["PROFILES", "WSGIREF"]

WSGIREF: Final = ServerProfile(
    "wsgiref",
    frozenset({"wsgi"}),
    "HTTP/1.0 answers, every connection closed; connmw sends no field (it asserts on one)",
    # Its handler classes, not the package: wsgiref.validate wraps other servers too.
    Markers(owners=("wsgiref.simple_server", "wsgiref.handlers"), software=("WSGIServer/",)),
    traits=ServerTraits(
        always_closes=True,
    ),
)

PROFILES: Final = (WSGIREF,)
