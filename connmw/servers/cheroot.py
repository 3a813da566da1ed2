"""cheroot (CherryPy's WSGI server).

Passes every field an application sends, its Connection field included, and then keeps
the connection anyway: connmw sends its one field and sets the request's
``close_connection`` (:func:`persist`). Honours only a byte-exact client ``close``; writes
HEAD, 204 and 304 bodies; closes after a HEAD without Content-Length; answers HTTP/1.0
requests as HTTP/1.1.
"""

from __future__ import annotations

from typing import Any, Final

from ..rules import ServerTraits
from ._profile import Fields, Markers, ServerProfile

__all__ = ["CHEROOT", "PROFILES", "persist"]


def persist(write: Any, keep: bool, fields: Fields) -> None:
    """cheroot's ``HTTPRequest.close_connection``, read when it sends the head and at the end."""
    request = getattr(getattr(write, "__self__", None), "req", None)
    if request is not None and hasattr(request, "close_connection"):
        request.close_connection = not keep


CHEROOT: Final = ServerProfile(
    "cheroot",
    frozenset({"wsgi"}),
    "connmw's one Connection field, and the close made real through cheroot's request",
    Markers(owners=("cheroot",), software=("Cheroot/",)),
    wsgi_persist=persist,
    traits=ServerTraits(
        keeps_http10=True,
        connection_field="app",
        closes_unsized_bodiless="head",
    ),
)

PROFILES: Final = (CHEROOT,)
