"""Django's development server (``manage.py runserver``), threaded.

Built on wsgiref's classes and sending wsgiref's ``SERVER_SOFTWARE`` (``WSGIServer/0.2``),
it is told apart by the class behind ``start_response``
(``django.core.servers.basehttp.ServerHandler``). Unlike wsgiref it keeps HTTP/1.1
connections, and an HTTP/1.0 one that asked for keep-alive, saying nothing; it asserts
on any hop-by-hop field in ``start_response`` like wsgiref, closes after a body without
Content-Length (saying ``close``) and never chunks. Its handler's own headers can be set
until the head is written, and it closes when they say ``close`` (:func:`persist`).
"""

from __future__ import annotations

from typing import Any, Final

from ..rules import ServerTraits
from ._profile import Fields, Markers, ServerProfile

__all__ = ["DJANGO", "PROFILES", "persist"]


def persist(write: Any, keep: bool, fields: Fields) -> None:
    """connmw's fields set in the handler's own headers, and its request handler told to close.

    ``write`` is the handler's bound ``write``; its ``headers`` (a ``wsgiref.headers.Headers``)
    go out with the first body bytes, after the assertion ``start_response`` makes.
    """
    handler = getattr(write, "__self__", None)
    headers = getattr(handler, "headers", None)
    if headers is None or getattr(handler, "headers_sent", True):
        return
    del headers["Connection"]
    for name, value in fields:
        headers[name.decode("latin-1").title()] = value.decode("latin-1")
    request_handler = getattr(handler, "request_handler", None)
    if not keep and request_handler is not None:
        request_handler.close_connection = True


DJANGO: Final = ServerProfile(
    "django",
    frozenset({"wsgi"}),
    "runserver: connmw's one Connection field set in Django's handler, which acts on close",
    Markers(owners=("django.core.servers.basehttp",), software=("WSGIServer/",)),
    wsgi_persist=persist,
    traits=ServerTraits(
        keeps_http10=True,
        connection_field="hook",
        chunks_unsized=False,
    ),
)

PROFILES: Final = (DJANGO,)
