"""uWSGI (the ``pyuwsgi`` wheel or a uWSGI binary), by the socket it serves.

Recognised by ``uwsgi.version`` in the environ (its ``start_response`` is a built-in of no
module, and a proxy may forward another server's ``SERVER_SOFTWARE``); which of its
sockets a worker serves is read from ``uwsgi.opt`` once, its HTTP router by
``UWSGI_ROUTER``. Every kind writes HEAD, 204, 304 and 1xx bodies and passes every
hop-by-hop field; none can switch protocols through ``start_response``.

* ``--http11-socket`` (:data:`UWSGI`) keeps every HTTP/1.1 connection ("Connection: close
  is not honoured", proto/http.c) and frames no body without Content-Length: connmw holds
  such bodies, sends its field, and makes a close real by shutting the socket down.
* ``--http-socket`` (:data:`HTTP_SOCKET`): one request per connection, no field of its own.
* the ``--http`` router with ``--http-keepalive`` (:data:`ROUTER`) honours a response
  Connection of exactly ``close`` and closes after a bodiless response without
  Content-Length, silently beside a ``keep-alive``.
* ``--socket`` behind a proxy (:data:`SOCKET`): the proxy owns the client's connection.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import os
import socket
from collections.abc import Callable, Mapping
from typing import Any, Final

from ..rules import ServerTraits
from ._profile import Fields, Interface, Markers, ServerProfile

__all__ = ["HTTP_SOCKET", "PROFILES", "ROUTER", "SOCKET", "UWSGI", "persist"]


def persist(write: Any, keep: bool, fields: Fields) -> Callable[[], None] | None:
    """``--http11-socket``: shut the client socket down once the body is written.

    uWSGI then reads EOF and closes its descriptor itself.
    """
    if keep:
        return None
    descriptor = importlib.import_module("uwsgi").connection_fd()  # only inside a uWSGI worker

    def shut() -> None:
        # uWSGI writes a head no body followed (HEAD, 204) only after close(): write it now.
        with contextlib.suppress(OSError):
            write(b"")
        with contextlib.suppress(OSError), socket.socket(fileno=os.dup(descriptor)) as connection:
            connection.shutdown(socket.SHUT_RDWR)

    return shut


def _kind(environ: Mapping[str, Any]) -> ServerProfile:
    """The profile of the socket this request came through."""
    return ROUTER if environ.get("UWSGI_ROUTER") == "http" else _worker_socket()


@functools.lru_cache(maxsize=1)
def _worker_socket() -> ServerProfile:
    """Which of its sockets a uWSGI worker serves (one process serves one kind here)."""
    try:
        options = importlib.import_module("uwsgi").opt  # only importable inside a uWSGI worker
    except (ImportError, AttributeError):
        return SOCKET
    if "http11-socket" in options:
        return UWSGI
    if "http-socket" in options:
        return HTTP_SOCKET
    return SOCKET


_WSGI: Final[frozenset[Interface]] = frozenset({"wsgi"})
_MARKERS: Final = Markers(environ=("uwsgi.version",))

UWSGI: Final = ServerProfile(
    "uwsgi",
    _WSGI,
    "--http11-socket: connmw's one field; a close made real by shutting the socket down",
    _MARKERS,
    kind=_kind,
    wsgi_persist=persist,
    traits=ServerTraits(
        connection_field="app",
        chunks_unsized=False,
    ),
)
HTTP_SOCKET: Final = ServerProfile(
    "uwsgi-http-socket",
    _WSGI,
    "--http-socket closes every connection: connmw says close",
    traits=ServerTraits(
        connection_field="app",
        always_closes=True,
    ),
)
ROUTER: Final = ServerProfile(
    "uwsgi-router",
    _WSGI,
    "the --http router with --http-keepalive acts on connmw's one Connection field",
    traits=ServerTraits(
        connection_field="app",
        chunks_unsized=False,
        closes_unsized_bodiless="always",
    ),
)
SOCKET: Final = ServerProfile(
    "uwsgi-socket",
    _WSGI,
    "behind a proxy (nginx uwsgi_pass): the proxy owns the client's connection",
)

PROFILES: Final = (UWSGI, HTTP_SOCKET, ROUTER, SOCKET)
