"""waitress (WSGI, pure Python, threads).

Answers 500 to any hop-by-hop field from an application, ``Connection`` included, so
connmw sends none; HTTP/1.1 persistence is its default and it keeps it. It honours only a
client close spelled exactly ``close`` and keeps HTTP/1.0 keep-alive with its own
``Connection: Keep-Alive``: when connmw decides to close it sets the request's
Connection to ``close`` before waitress writes the head (:func:`persist`). It closes
after every response without Content-Length (204 and 304 too) and says so; it writes
HEAD bodies, and frames an HTTP/1.1 HEAD response without Content-Length as chunked.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import Any, Final

from ..rules import ServerTraits
from ._profile import Fields, Markers, ServerProfile

__all__ = ["PROFILES", "WAITRESS", "persist"]


def persist(write: Any, keep: bool, fields: Fields) -> Callable[[], None] | None:
    """Set the request's Connection to ``close`` before the head is written.

    waitress decides from the request's Connection value when it writes the head (task.py
    build_response_header): ``close`` makes it say close once and close. Its
    ``set_close_on_finish()`` would add ``Connection: Keep-Alive`` beside it on HTTP/1.0.
    """
    task = getattr(write, "__self__", None)
    request = getattr(task, "request", None)
    headers = getattr(request, "headers", None)
    if keep or getattr(task, "wrote_header", True) or not isinstance(headers, dict):
        return None
    headers["CONNECTION"] = "close"
    if getattr(request, "command", None) == "HEAD" and getattr(task, "content_length", 0) is None:
        return functools.partial(_head_only, task)
    return None


def _head_only(task: Any) -> None:
    # An HTTP/1.1 HEAD response without Content-Length is framed as chunked and, once the
    # application is done, waitress writes the last chunk "0\r\n\r\n" after its head
    # (task.py finish(), which never looks at the method): the head goes out now, alone.
    if sys.exc_info()[1] is not None:
        return  # the application failed: waitress answers 500 with its own head
    if not task.wrote_header:
        task.write(b"")
    task.chunked_response = False


WAITRESS: Final = ServerProfile(
    "waitress",
    frozenset({"wsgi"}),
    "no Connection field (it answers 500 to one); connmw asks it to close",
    # its start_response is a closure of waitress.task; --ident changes SERVER_SOFTWARE
    Markers(owners=("waitress",), environ=("waitress.client_disconnected",), software=("waitress",)),
    wsgi_persist=persist,
    traits=ServerTraits(
        keeps_http10=True,
        connection_field="server",
        closes_unsized_bodiless="head",
    ),
)

PROFILES: Final = (WAITRESS,)
