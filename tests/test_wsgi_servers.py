"""connmw's WSGI middleware on real servers: every assertion is about bytes on the wire.

Servers run as subprocesses on loopback: wsgiref, werkzeug's development server (threaded,
HTTP/1.1 mode, as the seed ran it), gunicorn's ``sync`` and ``gthread`` workers, and
granian's WSGI interface. Each serves tests/apps/wrapped_wsgi.py:app, configured only
through ``CONNMW_*`` variables: the apps behind connmw at ``/...``, the same apps bare at
``/bare/...`` (so each fault of baseline.md is shown without connmw and fixed with it by
the same check on the same server), and a flask-sock echo at ``/ws``.

Clients: raw sockets (every header line, and whether the server really closed), the
seed's curl commands, and the websockets client for a real echo.

In WSGI the server owns the connection; what connmw can make each server say was
measured here and is pinned in ``SEED`` (README, "WSGI servers"). Where a server decides
against what the ASGI side says, ``SEED`` records the server's answer and the reason:

* wsgiref speaks HTTP/1.0, closes every connection and sends no Connection field; it
  refuses any hop-by-hop field from an application, a 101's Upgrade included (500).
* werkzeug's server sends ``Connection: close`` and closes after every response.
* gunicorn's sync worker closes after every response, and says so.
* granian adds its own ``keep-alive`` to the answer to an HTTP/1.0 keep-alive request,
  so connmw cannot say ``close`` there without a contradiction: it stays open.
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Callable, Iterator, Sequence

import pytest
from websockets.sync.client import connect as ws_connect

from tests.apps import wrapped_wsgi
from tests.wire import (
    RawConnection,
    RawResponse,
    Server,
    ServerPool,
    curl,
    granian_cmd,
    gunicorn_cmd,
    request_bytes,
    werkzeug_cmd,
    wsgiref_cmd,
)

pytestmark = pytest.mark.timeout(60)

APP = "tests.apps.wrapped_wsgi:app"
GOOD_ORIGIN = "http://good.example"
ENV = {"CONNMW_WS_ALLOWED_ORIGINS": GOOD_ORIGIN}
HOP_BY_HOP = {"keep-alive", "proxy-connection", "upgrade", "x-hop", "te", "trailers"}
KEY = "dGhlIHNhbXBsZSBub25jZQ=="
ACCEPT = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
WS_HEADERS = [
    ("Connection", "Upgrade"),
    ("Upgrade", "websocket"),
    ("Sec-WebSocket-Key", KEY),
    ("Sec-WebSocket-Version", "13"),
]

SERVERS: dict[str, Callable[[int], list[str]]] = {
    "wsgiref": lambda port: wsgiref_cmd(APP, port),
    "werkzeug": lambda port: werkzeug_cmd(APP, port),
    "gunicorn-sync": lambda port: gunicorn_cmd(APP, port, worker="sync"),
    "gunicorn-gthread": lambda port: gunicorn_cmd(APP, port, threads=4),
    "granian": lambda port: granian_cmd(APP, port, interface="wsgi"),
}
ALL = list(SERVERS)
TAKEOVER = ["werkzeug", "gunicorn-sync", "gunicorn-gthread"]  # hand the socket to flask-sock
UPGRADING = ["werkzeug", "gunicorn-sync", "gunicorn-gthread", "granian"]  # send an app's 101


@pytest.fixture(scope="module")
def servers() -> Iterator[Callable[[str], Server]]:
    """Start each server once for the module, on first use, configured only by ``ENV``."""
    pool = ServerPool()
    with pytest.MonkeyPatch.context() as patch:
        for variable in [v for v in os.environ if v.startswith("CONNMW_")]:
            patch.delenv(variable)

        def get(name: str) -> Server:
            return pool.shared(name, SERVERS[name], env=ENV)

        try:
            yield get
        finally:
            pool.close()


def send(
    port: int,
    path: str = "/",
    version: str = "HTTP/1.1",
    headers: Sequence[tuple[str, str]] = (),
    method: str = "POST",
) -> RawResponse:
    """One request on a new connection (a POST with a body, as the seed's curl sent)."""
    with RawConnection(port) as connection:
        request = request_bytes(
            method, path, version, headers=headers, body=b"x" if method == "POST" else b""
        )
        response = connection.send(request)
        if not response.closed:
            announced = "close" in response.connection_tokens()
            response.closed = connection.is_closed(wait=2.0 if announced else 0.3)
        return response


def problems(response: RawResponse) -> list[str]:
    """What is wrong with a response's connection-level fields, or nothing."""
    found = []
    if response.status >= 500:
        found.append(f"status {response.status}")
    names = response.header_names_lower()
    if leaked := sorted(set(names) & HOP_BY_HOP):
        found.append(f"hop-by-hop {leaked}")
    for name in ("connection", "transfer-encoding", "content-length"):
        if names.count(name) > 1:
            found.append(f"{names.count(name)} {name} lines")
    tokens = set(response.connection_tokens())
    if tokens - {"close", "keep-alive"}:
        found.append(f"Connection nominates {sorted(tokens - {'close', 'keep-alive'})}")
    if {"close", "keep-alive"} <= tokens:
        found.append("Connection says close and keep-alive")
    if "close" in tokens and not response.closed:
        found.append("says close, stays open")
    if "keep-alive" in tokens and response.closed and not response.close_delimited:
        found.append("says keep-alive, closes")
    return found


# --------------------------------------------------------------------------------------
# baseline.md's faults: the same check fails on /bare and passes behind connmw
# --------------------------------------------------------------------------------------

FAULTS = {
    "wsgiref": "status 500",  # AssertionError: Hop-by-hop header not allowed
    "werkzeug": "2 transfer-encoding lines",  # and two Connection lines
    "gunicorn-sync": "hop-by-hop ['proxy-connection', 'x-hop']",  # not in gunicorn's list
    "gunicorn-gthread": "hop-by-hop ['proxy-connection', 'x-hop']",
    "granian": "hop-by-hop ['keep-alive', 'proxy-connection', 'upgrade', 'x-hop']",
}


@pytest.mark.parametrize("version", ["HTTP/1.1", "HTTP/1.0"])
@pytest.mark.parametrize("name", ALL)
def test_hoppy_app_clean_behind_connmw(servers: Callable[[str], Server], name: str, version: str) -> None:
    port = servers(name).port
    bare = send(port, "/bare/hoppy", version)
    assert FAULTS[name] in problems(bare), problems(bare)
    wrapped = send(port, "/hoppy", version)
    assert problems(wrapped) == []
    assert wrapped.status == 200
    assert wrapped.body == b"hello world"


def test_werkzeug_fault_in_full(servers: Callable[[str], Server]) -> None:
    port = servers("werkzeug").port
    bare = send(port, "/bare/hoppy")
    assert bare.header_values("transfer-encoding") == ["chunked", "chunked"]
    assert len(bare.header_values("connection")) == 2
    wrapped = send(port, "/hoppy")
    assert wrapped.header_values("transfer-encoding") == ["chunked"]  # werkzeug's own framing
    assert wrapped.header_values("connection") == ["close"]
    assert wrapped.chunked
    assert wrapped.body == b"hello world"


# --------------------------------------------------------------------------------------
# The seed's matrix: what each server says and does behind connmw (README table)
# --------------------------------------------------------------------------------------

REQUESTS = {
    "http11": ("HTTP/1.1", ()),
    "http10": ("HTTP/1.0", ()),
    "http11-close": ("HTTP/1.1", (("Connection", "close"),)),
    "http10-keep-alive": ("HTTP/1.0", (("Connection", "keep-alive"),)),
}
OPEN, CLOSED = False, True
# server -> request -> (Connection values on the wire, socket closed); app "plain" at "/".
SEED: dict[str, dict[str, tuple[list[str], bool]]] = {
    "wsgiref": {request: ([], CLOSED) for request in REQUESTS},
    "werkzeug": {request: (["close"], CLOSED) for request in REQUESTS},
    "gunicorn-sync": {request: (["close"], CLOSED) for request in REQUESTS},
    "gunicorn-gthread": {
        "http11": (["keep-alive"], OPEN),
        "http10": (["close"], CLOSED),
        "http11-close": (["close"], CLOSED),
        "http10-keep-alive": (["close"], CLOSED),  # connmw asks gunicorn to close, as ASGI does
    },
    "granian": {
        "http11": (["keep-alive"], OPEN),  # granian alone sends no Connection field
        "http10": (["close"], CLOSED),
        "http11-close": (["close"], CLOSED),
        "http10-keep-alive": (["keep-alive"], OPEN),  # granian's own choice, see the docstring
    },
}


@pytest.mark.parametrize("request_", list(REQUESTS))
@pytest.mark.parametrize("name", ALL)
def test_seed_matrix(servers: Callable[[str], Server], name: str, request_: str) -> None:
    version, headers = REQUESTS[request_]
    response = send(servers(name).port, "/", version, headers)
    expected, closed = SEED[name][request_]
    assert [value.lower() for value in response.header_values("connection")] == expected
    assert response.closed is closed
    assert problems(response) == []
    assert response.body == b"ok"


@pytest.mark.parametrize("name", ALL)
def test_app_close_is_honoured_once(servers: Callable[[str], Server], name: str) -> None:
    port = servers(name).port
    response = send(port, "/close")
    assert response.closed
    assert response.header_values("connection") == ([] if name == "wsgiref" else ["close"])
    assert response.body == b"bye"


def test_fault_gunicorn_gthread_ignores_the_apps_close(servers: Callable[[str], Server]) -> None:
    port = servers("gunicorn-gthread").port
    bare = send(port, "/bare/close")
    assert (bare.header_values("connection"), bare.closed) == (["keep-alive"], False)
    bare10 = send(port, "/bare/", "HTTP/1.0", [("Connection", "keep-alive")])
    assert (bare10.header_values("connection"), bare10.closed) == (["keep-alive"], False)


def test_fault_granian_says_nothing_on_http11(servers: Callable[[str], Server]) -> None:
    port = servers("granian").port
    assert send(port, "/bare/").header_values("connection") == []
    assert send(port, "/bare/", "HTTP/1.0").header_values("connection") == []


@pytest.mark.parametrize("name", ["gunicorn-gthread", "granian"])
@pytest.mark.parametrize("path", ["/", "/hoppy", "/stream"])
def test_keep_alive_really_carries_the_next_request(
    servers: Callable[[str], Server], name: str, path: str
) -> None:
    with RawConnection(servers(name).port) as connection:
        for _ in range(3):
            response = connection.send(request_bytes("GET", path))
            assert response.status == 200
            assert problems(response) == []
        assert not connection.is_closed(wait=0.1)


# werkzeug's server in HTTP/1.1 mode chunks any body without Content-Length, even to an
# HTTP/1.0 client (RFC 9112 §6.1 forbids it): connmw holds such a body and sends a length.
@pytest.mark.parametrize(
    ("name", "version"),
    [
        pytest.param(name, version, id=f"{name}-{version}")
        for name in ALL
        for version in ("HTTP/1.1", "HTTP/1.0")
    ],
)
def test_streaming_framed_once(servers: Callable[[str], Server], name: str, version: str) -> None:
    response = send(servers(name).port, "/stream", version, method="GET")
    assert response.body == b"one\ntwo\nthree\n"
    assert problems(response) == []
    if version == "HTTP/1.0":  # held by connmw and sent with its length, on every server
        assert not response.chunked
        assert response.header_values("content-length") == ["14"]


@pytest.mark.parametrize("name", ALL)
def test_seed_curl_commands(servers: Callable[[str], Server], name: str) -> None:
    url = f"{servers(name).url}/"
    persistent = name in ("gunicorn-gthread", "granian")
    default = curl(["-X", "POST", url])
    assert [v.lower() for v in default.header_values("connection")] == SEED[name]["http11"][0]
    assert default.left_intact is persistent
    http10 = curl(["-X", "POST", "--http1.0", url])
    assert not http10.left_intact
    close = curl(["-X", "POST", "-H", "Connection: close", url])
    assert not close.left_intact
    assert [v.lower() for v in close.header_values("connection")] == SEED[name]["http11-close"][0]
    assert default.body == http10.body == close.body == b"ok"


@pytest.mark.parametrize("name", ALL)
def test_file_wrapper_body_intact(servers: Callable[[str], Server], name: str) -> None:
    response = send(servers(name).port, "/file", method="GET")
    with open(wrapped_wsgi.__file__, "rb") as source:
        assert response.body == source.read()
    assert problems(response) == []


@pytest.mark.parametrize("name", ALL)
def test_facts_published_in_the_environ(servers: Callable[[str], Server], name: str) -> None:
    port = servers(name).port
    seen = json.loads(send(port, "/environ", method="GET").body)
    assert (seen["http_version"], seen["persistent"]) == ("1.1", True)
    seen = json.loads(send(port, "/environ", "HTTP/1.0", method="GET").body)
    assert (seen["http_version"], seen["persistent"]) == ("1.0", False)


@pytest.mark.parametrize("name", ALL)
def test_malformed_request_headers_never_500(servers: Callable[[str], Server], name: str) -> None:
    port = servers(name).port
    for headers in (
        [("Connection", "???, keep-alive; x, ,")],
        [("Connection", ", ".join(f"x-{i}" for i in range(200)))],
        [("Connection", "cookie, host, authorization")],
        [("Connection", "upgrade"), ("Upgrade", "websocket")],
        [("Connection", "upgrade"), ("Upgrade", "\x7f\x80garbage")],
        [*WS_HEADERS[:3], ("Sec-WebSocket-Version", "13, 13")],
    ):
        response = send(port, "/", headers=headers, method="GET")
        assert response.status < 500, headers


# --------------------------------------------------------------------------------------
# WebSocket: handshakes judged on the wire, flask-sock's echo, an app's own 101
# --------------------------------------------------------------------------------------

HANDSHAKES = [
    pytest.param({"Sec-WebSocket-Version": "8"}, 426, id="version-8"),
    pytest.param({"Sec-WebSocket-Key": "short"}, 400, id="short-key"),
    pytest.param({"Connection": "keep-alive"}, 400, id="no-connection-upgrade"),
    pytest.param({"Origin": "http://evil.example"}, 403, id="foreign-origin-from-env"),
]


@pytest.mark.parametrize(("change", "status"), HANDSHAKES)
@pytest.mark.parametrize("name", ALL)
def test_handshake_refusals(
    servers: Callable[[str], Server], name: str, change: dict[str, str], status: int
) -> None:
    headers = dict(WS_HEADERS)
    headers.update(change)
    response = send(servers(name).port, "/ws", headers=list(headers.items()), method="GET")
    assert response.status == status
    assert response.body.startswith(b"WebSocket handshake refused")
    assert response.header_values("sec-websocket-version") == (["13"] if status == 426 else [])
    assert problems(response) == []


def test_handshake_over_http10_refused(servers: Callable[[str], Server]) -> None:
    response = send(servers("gunicorn-gthread").port, "/ws", "HTTP/1.0", WS_HEADERS, method="GET")
    assert response.status == 400


@pytest.mark.parametrize("origin", [None, GOOD_ORIGIN])
@pytest.mark.parametrize("name", TAKEOVER)
def test_flask_sock_echo(servers: Callable[[str], Server], name: str, origin: str | None) -> None:
    server = servers(name)
    with ws_connect(f"ws://127.0.0.1:{server.port}/ws", origin=origin, open_timeout=5, close_timeout=2) as ws:  # type: ignore[arg-type]
        assert ws.response.status_code == 101
        assert ws.response.headers["Sec-WebSocket-Accept"]
        for message in ("hello", "again"):
            ws.send(message)
            assert ws.recv(timeout=5) == message
    # flask-sock ends the response its own way (StopIteration on gunicorn, a dropped
    # connection on werkzeug): the server must be healthy afterwards and say nothing bad.
    assert send(server.port, "/", method="GET").status == 200
    assert "Error handling request" not in server.log_text()
    assert "Traceback" not in server.log_text()


@pytest.mark.parametrize("name", UPGRADING)
def test_apps_101_keeps_upgrade_and_connection(servers: Callable[[str], Server], name: str) -> None:
    response = send(servers(name).port, "/switch", headers=WS_HEADERS, method="GET")
    assert response.status == 101
    assert response.header_values("upgrade") == ["websocket"]
    assert "upgrade" in response.connection_tokens()
    assert response.header_values("sec-websocket-accept") == [ACCEPT]
    if name == "werkzeug":  # werkzeug adds "Connection: close" to every response, a 101 too
        assert response.connection_tokens() == ["upgrade", "close"]
    else:
        assert response.connection_tokens() == ["upgrade"]


def test_wsgiref_refuses_any_101(servers: Callable[[str], Server]) -> None:
    """wsgiref asserts on Upgrade, with or without connmw: it cannot switch protocols."""
    assert send(servers("wsgiref").port, "/switch", headers=WS_HEADERS, method="GET").status == 500


SWITCH_ERRORS = [
    pytest.param("/switch?accept=bad", WS_HEADERS, id="bad-accept"),
    pytest.param("/switch?protocol=h2c", WS_HEADERS, id="other-protocol"),
    pytest.param("/switch", [], id="no-upgrade-asked"),
    pytest.param("/upgrade", [], id="bare-upgrade-app"),
]


@pytest.mark.parametrize(("path", "headers"), SWITCH_ERRORS)
@pytest.mark.parametrize("name", ALL)
def test_wrong_101_answered_500(
    servers: Callable[[str], Server], name: str, path: str, headers: list[tuple[str, str]]
) -> None:
    response = send(servers(name).port, path, headers=headers, method="GET")
    assert response.status == 500
    assert "upgrade" not in response.header_names_lower()


def test_wrong_101_logged(servers: Callable[[str], Server]) -> None:
    server = servers("gunicorn-gthread")
    send(server.port, "/switch?protocol=h2c", headers=WS_HEADERS, method="GET")
    assert "SwitchingProtocolsError" in server.log_text()


def test_half_closed_client_gets_its_answer(servers: Callable[[str], Server]) -> None:
    """A client that shuts its sending side after the request still gets a clean answer."""
    with socket.create_connection(("127.0.0.1", servers("gunicorn-gthread").port), timeout=5) as raw:
        raw.sendall(request_bytes("GET", "/hoppy"))
        raw.shutdown(socket.SHUT_WR)
        data = b""
        while chunk := raw.recv(65536):
            data += chunk
    head = data.split(b"\r\n\r\n", 1)[0].lower()
    assert head.startswith(b"http/1.1 200")
    assert b"x-hop" not in head
