"""The Flask and Django examples on real servers, checked on the wire.

* ``example_apps/flask_app.py`` on gunicorn's gthread worker and on werkzeug's server:
  plain, streamed and hop-by-hop routes, the flask-sock echo, and the proxy route, which
  forwards to another local server (tests/apps/wrapped_wsgi.py on gunicorn) with
  ``connmw.forwardable_headers`` both ways and must hand back a clean, singly-framed body.
* ``example_apps/django_app``: ``wsgi.py`` on gunicorn and ``asgi.py`` on uvicorn, both
  wrapped by connmw.

Each server runs with the command the README gives (port and log level aside).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence

import pytest
from websockets.sync.client import connect as ws_connect

from tests.helpers import handshake_fields, server_pool
from tests.wire import (
    RawConnection,
    RawResponse,
    Server,
    granian_cmd,
    gunicorn_cmd,
    request_bytes,
    uvicorn_cmd,
    werkzeug_cmd,
)

pytestmark = pytest.mark.timeout(60)

FLASK = "example_apps.flask_app:app"
HOP_BY_HOP = {"keep-alive", "proxy-connection", "upgrade", "x-hop", "te", "trailers"}


@pytest.fixture(scope="module")
def servers() -> Iterator[Callable[[str], Server]]:
    """One server per name for the module; the Flask ones proxy to ``upstream``."""
    with server_pool() as pool:

        def get(name: str) -> Server:
            if name == "upstream":
                # granian passes an application's hop-by-hop fields through (docs/servers.md): the
                # proxy must not.
                return pool.shared(
                    name, lambda port: granian_cmd("tests.apps.wrapped_wsgi:app", port, "wsgi")
                )
            env = {"PROXY_UPSTREAM": get("upstream").url} if name.startswith("flask") else None
            return pool.shared(name, COMMANDS[name], env=env)

        yield get


COMMANDS: dict[str, Callable[[int], list[str]]] = {
    "flask-gunicorn": lambda port: gunicorn_cmd(FLASK, port, threads=8),
    "flask-werkzeug": lambda port: werkzeug_cmd(FLASK, port),
    "django-wsgi": lambda port: gunicorn_cmd("example_apps.django_app.wsgi:application", port, threads=8),
    "django-asgi": lambda port: uvicorn_cmd("example_apps.django_app.asgi:application", port, http="h11"),
}
FLASKS = ["flask-gunicorn", "flask-werkzeug"]
ALL = list(COMMANDS)
PATHS = {
    name: ("/", "/stream/", "/hoppy/") if name.startswith("django") else ("/", "/stream", "/hoppy")
    for name in ALL
}


def get(
    port: int, path: str, version: str = "HTTP/1.1", headers: Sequence[tuple[str, str]] = ()
) -> RawResponse:
    with RawConnection(port) as connection:
        response = connection.send(request_bytes("GET", path, version, headers=headers))
        if not response.closed:
            response.closed = connection.is_closed(
                wait=1.0 if "close" in response.connection_tokens() else 0.2
            )
        return response


def assert_clean(response: RawResponse) -> None:
    names = response.header_names_lower()
    assert not set(names) & HOP_BY_HOP, response.headers
    for name in ("connection", "transfer-encoding", "content-length"):
        assert names.count(name) <= 1, response.headers
    assert not ("transfer-encoding" in names and "content-length" in names), response.headers
    assert set(response.connection_tokens()) <= {"close", "keep-alive"}


@pytest.mark.parametrize("version", ["HTTP/1.1", "HTTP/1.0"])
@pytest.mark.parametrize("name", ALL)
def test_routes_clean(servers: Callable[[str], Server], name: str, version: str) -> None:
    port = servers(name).port
    plain, stream, hoppy = (get(port, path, version) for path in PATHS[name])
    for response in (plain, stream, hoppy):
        assert response.status == 200
        assert_clean(response)
    assert plain.body.startswith(b"hello over HTTP/" + version[5:].encode())
    assert stream.body == b"".join(b"line %d\n" % i for i in range(5))
    assert hoppy.body == b"hop-by-hop headers removed\n"
    if version == "HTTP/1.0":
        assert plain.closed
        assert b"persistent: False" in plain.body


@pytest.mark.parametrize("name", ["flask-gunicorn", "django-wsgi", "django-asgi"])
def test_keep_alive_said_and_done(servers: Callable[[str], Server], name: str) -> None:
    with RawConnection(servers(name).port) as connection:
        for path in PATHS[name]:
            response = connection.send(request_bytes("GET", path))
            assert [value.lower() for value in response.header_values("connection")] == ["keep-alive"]
        assert not connection.is_closed(wait=0.2)


@pytest.mark.parametrize("name", ["flask-gunicorn", "django-wsgi", "django-asgi"])
def test_stats_reach_the_middleware_however_it_was_added(servers: Callable[[str], Server], name: str) -> None:
    """Flask's wsgi_app, Django's wsgi.py and asgi.py: connmw.stats() sums every instance."""
    port = servers(name).port
    stats = "/stats/" if name.startswith("django") else "/stats"
    before = json.loads(get(port, stats).body)["headers_stripped"].get("x-hop", 0)
    assert "x-hop" not in get(port, PATHS[name][2]).header_names_lower()
    assert json.loads(get(port, stats).body)["headers_stripped"]["x-hop"] == before + 1


@pytest.mark.parametrize("name", FLASKS)
def test_flask_websocket_echo(servers: Callable[[str], Server], name: str) -> None:
    server = servers(name)
    with ws_connect(f"ws://127.0.0.1:{server.port}/ws", open_timeout=5, close_timeout=2) as ws:
        ws.send("ping")
        assert ws.recv(timeout=5) == "ping"
    assert get(server.port, "/").status == 200
    assert "Traceback" not in server.log_text()


@pytest.mark.parametrize("name", FLASKS)
def test_flask_websocket_refused_before_the_app(servers: Callable[[str], Server], name: str) -> None:
    headers = [
        ("Connection", "Upgrade"),
        ("Upgrade", "websocket"),
        ("Sec-WebSocket-Key", "short"),
        ("Sec-WebSocket-Version", "13"),
    ]
    response = get(servers(name).port, "/ws", headers=headers)
    assert response.status == 400
    assert response.body.startswith(b"WebSocket handshake refused")


@pytest.mark.parametrize("name", FLASKS)
def test_flask_websocket_without_a_version_gets_426(servers: Callable[[str], Server], name: str) -> None:
    """A WSGI server leaves the handshake to the app, so connmw answers RFC 6455's 426 (on ASGI
    servers their own WebSocket stack answers 400 first: docs/policy.md)."""
    headers = handshake_fields(Sec_WebSocket_Version=None)
    response = get(servers(name).port, "/ws", headers=headers)
    assert response.status == 426
    assert response.header_values("sec-websocket-version") == ["13"]


@pytest.mark.parametrize("path", ["/bare/hoppy", "/bare/stream", "/hoppy"])
@pytest.mark.parametrize("name", FLASKS)
def test_proxy_returns_a_clean_singly_framed_body(
    servers: Callable[[str], Server], name: str, path: str
) -> None:
    upstream = get(servers("upstream").port, path)
    if path == "/bare/hoppy":  # what a careless proxy would copy
        assert {"x-hop", "keep-alive", "transfer-encoding"} <= set(upstream.header_names_lower())
    response = get(servers(name).port, "/proxy" + path)
    assert response.status == 200
    assert_clean(response)
    expected = b"one\ntwo\nthree\n" if path.endswith("stream") else b"hello world"
    assert response.body == expected
    framing = response.header_values("transfer-encoding") + response.header_values("content-length")
    assert len(framing) == 1, response.headers
    assert len(response.header_values("server")) == len(response.header_values("date")) == 1


@pytest.mark.parametrize("name", FLASKS)
def test_proxy_forwards_no_hop_by_hop_request_field(servers: Callable[[str], Server], name: str) -> None:
    headers = [
        ("Connection", "keep-alive, x-secret"),
        ("X-Secret", "1"),
        ("Keep-Alive", "300"),
        ("TE", "deflate;q=0.5, trailers"),
        ("X-Kept", "1"),
    ]
    response = get(servers(name).port, "/proxy/environ", headers=headers)
    seen = json.loads(response.body)["headers"]
    assert "HTTP_X_KEPT" in seen
    assert "HTTP_TE" in seen  # one "TE: trailers" may cross a hop
    assert not {"HTTP_X_SECRET", "HTTP_KEEP_ALIVE"} & set(seen)
