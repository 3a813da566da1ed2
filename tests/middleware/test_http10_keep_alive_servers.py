"""``CONNMW_HTTP10_KEEP_ALIVE=on`` on real servers: kept where the server keeps it, else closed.

The option honours an HTTP/1.0 client's ``Connection: keep-alive`` (RFC 9112 §9.3). Some
servers close every HTTP/1.0 connection whatever they are told (uvicorn, hypercorn, uWSGI),
and there connmw's ``keep-alive`` was a promise the socket broke: uvicorn's httptools wrote
its own ``close`` beside it (``keep-alive`` and ``close``), uWSGI said ``keep-alive`` and
closed. The server's trait (``keeps_http10``, connmw.servers) decides: one ``keep-alive``
and a connection that carries the next request, or one ``close`` and a closed socket.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from tests.helpers import server_pool
from tests.wire import (
    RawConnection,
    Server,
    daphne_cmd,
    django_cmd,
    granian_cmd,
    gunicorn_cmd,
    hypercorn_cmd,
    mod_wsgi_cmd,
    request_bytes,
    server_cmd,
    uvicorn_cmd,
)

pytestmark = pytest.mark.timeout(60)

WSGI = "tests.apps.wrapped_wsgi:app"
ASGI = "tests.apps.wrapped_asgi:app"
KEPT, CLOSED = True, False

SERVERS: dict[str, tuple[Callable[[int], list[str]], bool]] = {
    "uvicorn-h11": (lambda port: uvicorn_cmd(ASGI, port, http="h11"), CLOSED),
    "uvicorn-httptools": (lambda port: uvicorn_cmd(ASGI, port, http="httptools"), CLOSED),
    "hypercorn": (lambda port: hypercorn_cmd(ASGI, port), CLOSED),
    "granian": (lambda port: granian_cmd(ASGI, port), KEPT),
    "daphne": (lambda port: daphne_cmd(ASGI, port), KEPT),
    "gunicorn-gthread": (lambda port: gunicorn_cmd(WSGI, port, threads=4), KEPT),
    "waitress": (lambda port: server_cmd("waitress", WSGI, port), KEPT),
    "cheroot": (lambda port: server_cmd("cheroot", WSGI, port), KEPT),
    "twisted": (lambda port: server_cmd("twisted", WSGI, port), KEPT),
    "django": (lambda port: django_cmd(WSGI, port), KEPT),
    "hypercorn-wsgi": (lambda port: hypercorn_cmd(WSGI, port), CLOSED),
    "uwsgi": (lambda port: server_cmd("uwsgi", WSGI, port), CLOSED),
    "uwsgi-router": (lambda port: server_cmd("uwsgi-router", WSGI, port), CLOSED),
    "mod_wsgi": (lambda port: mod_wsgi_cmd(WSGI, port), KEPT),
}


@pytest.fixture(scope="module")
def servers() -> Iterator[Callable[[str], Server]]:
    with server_pool() as pool:
        yield lambda name: pool.shared(name, SERVERS[name][0], env={"CONNMW_HTTP10_KEEP_ALIVE": "on"})


@pytest.mark.parametrize("name", list(SERVERS))
def test_http10_keep_alive_where_the_server_keeps_it(servers: Callable[[str], Server], name: str) -> None:
    kept = SERVERS[name][1]
    request = request_bytes("GET", "/", "HTTP/1.0", headers=[("Connection", "keep-alive")])
    with RawConnection(servers(name).port) as connection:
        first = connection.send(request)
        assert first.status == 200
        assert len(first.header_values("connection")) == 1, first.headers
        tokens = set(first.connection_tokens())
        if kept:
            assert tokens == {"keep-alive"}, first.headers  # Apache merges its own: keep-alive twice
            second = connection.send(request)
            assert (second.status, second.body) == (200, b"ok")
        else:
            assert tokens == {"close"}, first.headers
            assert connection.is_closed(wait=2.0)
