"""Bare WSGI apps (no connmw) that reproduce the servers' connection faults for real.

The faults, server by server: docs/servers.md, "What servers do without connmw".

Plain module-level callables, served by name (``tests.apps.bare_wsgi:hoppy``) and easy to
wrap from another module::

    from connmw.wsgi import ConnectionMiddleware
    from tests.apps import bare_wsgi

    routed = bare_wsgi.router({path: ConnectionMiddleware(app) for path, app in bare_wsgi.ROUTES.items()})

Apps:

* ``plain``: ``Content-Type``, ``Content-Length: 2``, body ``ok``: the app of the Heroku
  question (README, "Why").
* ``hoppy``: sets hop-by-hop fields itself (``Connection: keep-alive, X-Hop``,
  ``Keep-Alive``, ``X-Hop`` nominated by Connection, ``Upgrade``, ``Proxy-Connection``,
  ``Transfer-Encoding: chunked``), no Content-Length, body ``hello world``. PEP 3333
  forbids hop-by-hop fields from apps: each server reacts differently.
* ``streaming``: three body chunks from a generator, no Content-Length.
* ``app_close``: the application's own ``Connection: close`` with a Content-Length.
* ``upgrade``: ``101 Switching Protocols`` with ``Upgrade: websocket`` and the
  Connection value taken from the query string (``/upgrade?connection=keep-alive,%20Upgrade``),
  to show how a server recognises an app's upgrade.
* ``no_content``: ``/nocontent?status=204|304|200&length=yes|no|te``, a body ``unwanted``
  where none may go (HEAD for 200), with ``Content-Length: 8``, no length, or
  ``Transfer-Encoding: chunked``.
* ``routed``: all of the above on one server, chosen by path (``ROUTES``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any
from urllib.parse import parse_qs

Environ = dict[str, Any]
StartResponse = Callable[..., Any]
WSGIApp = Callable[[Environ, StartResponse], Iterable[bytes]]

HOPPY_HEADERS: list[tuple[str, str]] = [
    ("Content-Type", "text/plain"),
    ("Connection", "keep-alive, X-Hop"),
    ("Keep-Alive", "timeout=5, max=1000"),
    ("X-Hop", "secret"),
    ("Upgrade", "foo"),
    ("Proxy-Connection", "keep-alive"),
    ("Transfer-Encoding", "chunked"),
]
HOPPY_BODY = b"hello world"
STREAM_CHUNKS = (b"one\n", b"two\n", b"three\n")


def drain(environ: Environ) -> bytes:
    """Read the request body announced by CONTENT_LENGTH (servers differ with unread bodies)."""
    length = int(environ.get("CONTENT_LENGTH") or 0)
    return environ["wsgi.input"].read(length) if length > 0 else b""


def plain(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
    """The Heroku question's app: a fixed body with Content-Length."""
    drain(environ)
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "2")])
    return [b"ok"]


def hoppy(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
    """An app that sets hop-by-hop fields itself."""
    drain(environ)
    start_response("200 OK", list(HOPPY_HEADERS))
    return [HOPPY_BODY]


def streaming(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
    """Three chunks from a generator and no Content-Length: the server picks the framing."""
    drain(environ)
    start_response("200 OK", [("Content-Type", "text/plain")])

    def chunks() -> Iterator[bytes]:
        for index, chunk in enumerate(STREAM_CHUNKS):
            if index:
                time.sleep(0.01)
            yield chunk

    return chunks()


def app_close(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
    """The application asks for the connection to close."""
    drain(environ)
    start_response(
        "200 OK", [("Content-Type", "text/plain"), ("Content-Length", "3"), ("Connection", "close")]
    )
    return [b"bye"]


def upgrade(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
    """A 101 whose Connection value comes from ``?connection=`` (default ``Upgrade``)."""
    drain(environ)
    query = parse_qs(environ.get("QUERY_STRING", ""))
    connection = query.get("connection", ["Upgrade"])[0]
    start_response("101 Switching Protocols", [("Upgrade", "websocket"), ("Connection", connection)])
    return []


NO_CONTENT_BODY = b"unwanted"
NO_CONTENT_STATUS = {"200": "200 OK", "204": "204 No Content", "304": "304 Not Modified"}


def no_content(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
    """A body where none may go: ``?status=204|304|200`` (200: for HEAD), always ``unwanted``.

    ``?length=yes`` (default) sends ``Content-Length: 8``, ``no`` no length, ``te``
    ``Transfer-Encoding: chunked`` over the unchunked bytes. A server must write none of
    them for HEAD, 204 or 304 (RFC 9110 §6.4.1), or the next response on the connection
    starts inside them.
    """
    drain(environ)
    query = parse_qs(environ.get("QUERY_STRING", ""))
    status = NO_CONTENT_STATUS.get(query.get("status", ["204"])[0], "204 No Content")
    length = query.get("length", ["yes"])[0]
    headers = [("Content-Type", "text/plain"), ("ETag", '"x"')]
    if length == "yes":
        headers.append(("Content-Length", str(len(NO_CONTENT_BODY))))
    elif length == "te":
        headers.append(("Transfer-Encoding", "chunked"))
    start_response(status, headers)
    return [NO_CONTENT_BODY]


ROUTES: dict[str, WSGIApp] = {
    "/": plain,
    "/hoppy": hoppy,
    "/stream": streaming,
    "/close": app_close,
    "/upgrade": upgrade,
    "/nocontent": no_content,
}


def router(routes: Mapping[str, WSGIApp]) -> WSGIApp:
    """One app serving ``routes`` by exact PATH_INFO (unknown paths get ``routes["/"]``)."""
    fallback = routes["/"]

    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        return routes.get(environ.get("PATH_INFO") or "/", fallback)(environ, start_response)

    return app


routed = router(ROUTES)
