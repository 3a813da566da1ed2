"""gunicorn (WSGI: its sync and gthread workers; ASGI apps run on uvicorn's worker).

Writes its own Connection field (``keep-alive``/``close``) and drops the application's,
with a fixed list of hop-by-hop fields (but not those the application's Connection
nominates, nor ``Proxy-Connection``). It ignores the application's close (gthread) and
keeps an HTTP/1.0 connection that asked for keep-alive: connmw asks its response to
close (:func:`persist`). The sync worker closes every connection and says so.
"""

from __future__ import annotations

from typing import Any, Final

from ..rules import ServerTraits
from ._profile import Fields, Markers, ServerProfile

__all__ = ["GUNICORN", "PROFILES", "persist"]


def persist(write: Any, keep: bool, fields: Fields) -> None:
    """gunicorn's ``Response.force_close()``: it then says ``Connection: close`` and closes."""
    closer = getattr(getattr(write, "__self__", None), "force_close", None)
    if not keep and callable(closer):
        closer()


GUNICORN: Final = ServerProfile(
    "gunicorn",
    frozenset({"asgi", "wsgi"}),
    "gunicorn writes its own Connection field; connmw asks it to close",
    Markers(owners=("gunicorn",), environ=("gunicorn.socket",), software=("gunicorn/",)),
    wsgi_persist=persist,
    traits=ServerTraits(
        keeps_http10=True,
        connection_field="server",
        switches_protocols=True,
    ),
)

PROFILES: Final = (GUNICORN,)
