"""Baseline: today's servers' connection faults, on the wire, WITHOUT connmw.

Every test here serves a bare app (``tests/apps/bare_*.py``, ``tests/apps/ws_echo.py``)
on a real server subprocess and asserts that a fault exists: these tests document what
connmw is for (docs/servers.md, "What servers do without connmw"). Each will get a twin that
serves the same app behind connmw and passes with the fault fixed. If a server release
fixes a fault, its test here fails: update docs/servers.md and the twin together.

Clients: raw sockets (every header line as sent, and whether the server really closed),
the exact curl commands of the Heroku question (README, "Why"), and httpx for HTTP/2.
One server process per server kind serves every route (``routed`` apps), shared by the
whole module.

A fault that reads differently on the wire than from a client:

* granian to an HTTP/1.0 client of ``hoppy`` seems to "keep the connection open because
  the app said keep-alive". On the wire granian forwards the app's
  ``Connection: keep-alive, x-hop`` but closes the socket anyway; curl believes the
  header and reports the connection "left intact". The fault asserted is that lie.
  (With ``Connection: keep-alive`` in the request it really stays open, as it may.)

More faults measured here are in the last sections, marked as such.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import httpx
import pytest
from websockets.sync.client import connect as ws_connect

from tests.apps.bare_asgi import HOPPY_BODY, STREAM_CHUNKS
from tests.helpers import WS_KEY, handshake_fields
from tests.wire import (
    WEBSOCKETS_SANSIO_BEFORE_17,
    RawConnection,
    RawResponse,
    Server,
    ServerPool,
    TLSFiles,
    curl,
    exchange,
    granian_cmd,
    gunicorn_cmd,
    hypercorn_cmd,
    request_bytes,
    uvicorn_cmd,
    werkzeug_cmd,
    wsgiref_cmd,
)

pytestmark = pytest.mark.timeout(60)

ASGI = "tests.apps.bare_asgi:routed"
WSGI = "tests.apps.bare_wsgi:routed"
WS = "tests.apps.ws_echo:app"

SERVERS: dict[str, Callable[[int], list[str]]] = {
    "uvicorn-h11": lambda port: uvicorn_cmd(ASGI, port, http="h11", ws="none"),
    "uvicorn-httptools": lambda port: uvicorn_cmd(ASGI, port, http="httptools", ws="none"),
    "hypercorn": lambda port: hypercorn_cmd(ASGI, port),
    "granian-asgi": lambda port: granian_cmd(ASGI, port, interface="asgi"),
    "granian-wsgi": lambda port: granian_cmd(WSGI, port, interface="wsgi"),
    "werkzeug": lambda port: werkzeug_cmd(WSGI, port),
    "wsgiref": lambda port: wsgiref_cmd(WSGI, port),
    "gunicorn-gthread": lambda port: gunicorn_cmd(WSGI, port, worker="gthread", threads=2),
    # WebSocket stacks, each serving the Starlette echo app
    "ws-uvicorn-websockets": lambda port: uvicorn_cmd(WS, port, http="httptools", ws="websockets"),
    "ws-uvicorn-wsproto": lambda port: uvicorn_cmd(WS, port, http="h11", ws="wsproto"),
    "ws-uvicorn-websockets-sansio": lambda port: uvicorn_cmd(
        WS, port, http="httptools", ws="websockets-sansio"
    ),
    "ws-hypercorn": lambda port: hypercorn_cmd(WS, port),
    "ws-granian": lambda port: granian_cmd(WS, port, interface="asgi"),
}

HOP_BY_HOP = ["connection", "keep-alive", "x-hop", "upgrade", "proxy-connection", "transfer-encoding"]


@pytest.fixture(scope="module")
def running(serve_module: ServerPool) -> Callable[[str], Server]:
    """The module's server of a kind named in ``SERVERS``, started on first use."""

    def get(name: str) -> Server:
        return serve_module.shared(name, SERVERS[name])

    return get


def lower(values: Sequence[str]) -> list[str]:
    return [value.lower() for value in values]


def show(response: RawResponse) -> str:
    """The response head, for assertion messages."""
    return response.raw_head.decode("latin-1")


# ---------------------------------------------------------------------------------------
# The three curl requests (and HTTP/1.0 keep-alive), app `plain`: raw sockets and curl
# ---------------------------------------------------------------------------------------

# request name -> (HTTP version, request headers, curl's extra arguments)
CURL_REQUESTS: dict[str, tuple[str, tuple[tuple[str, str], ...], list[str]]] = {
    "http11": ("HTTP/1.1", (), []),
    "http10": ("HTTP/1.0", (), ["--http1.0"]),
    "http11-close": ("HTTP/1.1", (("Connection", "close"),), ["-H", "Connection: close"]),
    "http10-keep-alive": (
        "HTTP/1.0",
        (("Connection", "keep-alive"),),
        ["--http1.0", "-H", "Connection: keep-alive"],
    ),
}

# (server, request, Connection lines sent, socket closed), bare, as measured on the wire
CURL_MATRIX: list[tuple[str, str, tuple[str, ...], bool]] = [
    ("uvicorn-h11", "http11", (), False),
    ("uvicorn-h11", "http10", ("close",), True),
    ("uvicorn-h11", "http11-close", ("close",), True),
    ("uvicorn-h11", "http10-keep-alive", ("close",), True),
    ("uvicorn-httptools", "http11", (), False),
    ("uvicorn-httptools", "http10", ("close",), True),
    ("uvicorn-httptools", "http11-close", ("close",), True),
    ("uvicorn-httptools", "http10-keep-alive", ("close",), True),
    ("gunicorn-gthread", "http11", ("keep-alive",), False),
    ("gunicorn-gthread", "http10", ("close",), True),
    ("gunicorn-gthread", "http11-close", ("close",), True),
    ("gunicorn-gthread", "http10-keep-alive", ("keep-alive",), False),
    # werkzeug's dev server in HTTP/1.1 mode closes every connection, even a plain HTTP/1.1 one
    ("werkzeug", "http11", ("close",), True),
    ("werkzeug", "http10", ("close",), True),
    ("werkzeug", "http11-close", ("close",), True),
    ("werkzeug", "http10-keep-alive", ("close",), True),
]


def _curl_params() -> list[object]:
    return [
        pytest.param(
            server,
            request,
            connection,
            closed,
            id="-".join(
                [server, request, "-".join(connection) or "no-connection", "closed" if closed else "kept"]
            ),
        )
        for server, request, connection, closed in CURL_MATRIX
    ]


def curl_request(request: str) -> bytes:
    """The ``curl -X POST`` request, byte for byte as curl sends it (no body)."""
    version, headers, _ = CURL_REQUESTS[request]
    return request_bytes(
        "POST", "/", version, headers=[("User-Agent", "curl/7.88.1"), ("Accept", "*/*"), *headers]
    )


@pytest.mark.parametrize(("server", "request_name", "connection", "closed"), _curl_params())
def test_curl_matrix_raw_socket(
    running: Callable[[str], Server],
    server: str,
    request_name: str,
    connection: tuple[str, ...],
    closed: bool,
) -> None:
    port = running(server).port
    with RawConnection(port) as conn:
        response = conn.send(curl_request(request_name), check_closed=True)
        assert (response.status, response.body) == (200, b"ok")
        assert lower(response.header_values("connection")) == list(connection), show(response)
        assert response.closed is closed, show(response)
        if not closed:
            # "kept" must mean usable: a second request on the same socket gets its answer
            again = conn.send(curl_request(request_name))
            assert (again.status, again.body) == (200, b"ok")


@pytest.mark.parametrize(("server", "request_name", "connection", "closed"), _curl_params())
def test_curl_matrix_with_curl(
    running: Callable[[str], Server],
    server: str,
    request_name: str,
    connection: tuple[str, ...],
    closed: bool,
) -> None:
    url = running(server).url + "/"
    result = curl(["-X", "POST", *CURL_REQUESTS[request_name][2], url])
    assert result.returncode == 0, result.log
    assert (result.status, result.body) == (200, b"ok")
    assert lower(result.header_values("connection")) == list(connection), result.log
    assert result.left_intact is not closed, result.log
    assert result.closed is closed, result.log


# ---------------------------------------------------------------------------------------
# App `hoppy`: hop-by-hop fields set by the application
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "server",
    [
        pytest.param("uvicorn-h11", id="uvicorn-h11-http11-hop-by-hop-passes"),
        pytest.param("uvicorn-httptools", id="uvicorn-httptools-http11-hop-by-hop-passes"),
        pytest.param("hypercorn", id="hypercorn-http11-hop-by-hop-passes"),
        pytest.param("granian-asgi", id="granian-asgi-http11-hop-by-hop-passes"),
        pytest.param("granian-wsgi", id="granian-wsgi-http11-hop-by-hop-passes"),
    ],
)
def test_hoppy_every_hop_by_hop_field_reaches_the_client(
    running: Callable[[str], Server], server: str
) -> None:
    response = exchange(running(server).port, request_bytes("GET", "/hoppy"), check_closed=False)
    assert (response.status, response.body) == (200, HOPPY_BODY)
    names = response.header_names_lower()
    assert all(name in names for name in HOP_BY_HOP), show(response)
    assert response.connection_tokens() == ["keep-alive", "x-hop"], show(response)
    assert response.header_values("x-hop") == ["secret"]


def test_uvicorn_h11_http10_two_connection_lines_and_keep_alive_while_closing(
    running: Callable[[str], Server],
) -> None:
    response = exchange(running("uvicorn-h11").port, request_bytes("GET", "/hoppy", "HTTP/1.0"))
    assert response.status == 200
    assert lower(response.header_values("connection")) == ["close", "x-hop"], show(response)
    assert response.header_values("keep-alive") == ["timeout=5, max=1000"], show(response)
    assert response.closed


def test_uvicorn_httptools_http10_chunked_and_contradictory_connection(
    running: Callable[[str], Server],
) -> None:
    response = exchange(running("uvicorn-httptools").port, request_bytes("GET", "/hoppy", "HTTP/1.0"))
    assert response.status == 200
    assert lower(response.header_values("connection")) == ["keep-alive, x-hop", "close"], show(response)
    assert response.chunked, "chunked framing sent to an HTTP/1.0 client"
    assert response.body == HOPPY_BODY
    assert response.closed


def test_granian_http10_announces_keep_alive_but_closes(running: Callable[[str], Server]) -> None:
    # It seems to keep an HTTP/1.0 connection open "because the app said keep-alive".
    # On the wire the socket is closed; the app's keep-alive reaches the client, which trusts it.
    for server in ("granian-asgi", "granian-wsgi"):
        port = running(server).port
        response = exchange(port, request_bytes("GET", "/hoppy", "HTTP/1.0"))
        assert response.connection_tokens() == ["keep-alive", "x-hop"], show(response)
        assert response.closed, f"{server}: announced keep-alive and closed"
        seen_by_curl = curl(["--http1.0", f"{running(server).url}/hoppy"])
        assert seen_by_curl.left_intact, seen_by_curl.log


@pytest.mark.parametrize("server", ["granian-asgi", "granian-wsgi"])
def test_granian_close_request_gets_keep_alive_and_close_in_one_field(
    running: Callable[[str], Server], server: str
) -> None:
    request = request_bytes("GET", "/hoppy", headers=[("Connection", "close")])
    response = exchange(running(server).port, request)
    assert lower(response.header_values("connection")) == ["keep-alive, x-hop, close"], show(response)
    assert response.closed


def test_hypercorn_h2c_leaks_the_field_connection_nominated(running: Callable[[str], Server]) -> None:
    with httpx.Client(http2=True, http1=False) as client:  # h2c with prior knowledge
        response = client.get(f"{running('hypercorn').url}/hoppy")
    assert response.http_version == "HTTP/2"
    names = [name.decode().lower() for name, _ in response.headers.raw]
    assert response.headers.get_list("x-hop") == ["secret"], names
    # the h2 library drops the fixed connection-specific list, not what Connection nominated
    assert not {"connection", "keep-alive", "upgrade", "proxy-connection", "transfer-encoding"} & set(names)


def test_hypercorn_h2_over_tls_leaks_x_hop(serve_module: ServerPool, tls_files: TLSFiles) -> None:
    server = serve_module.shared(
        "hypercorn-tls",
        lambda port: hypercorn_cmd(ASGI, port, certfile=tls_files.certfile, keyfile=tls_files.keyfile),
        scheme="https",
    )
    with httpx.Client(http2=True, verify=tls_files.client_context()) as client:  # ALPN h2
        response = client.get(f"{server.url}/hoppy")
    assert response.http_version == "HTTP/2"
    assert response.headers.get_list("x-hop") == ["secret"]


def test_werkzeug_transfer_encoding_twice_and_two_connection_fields(running: Callable[[str], Server]) -> None:
    response = exchange(running("werkzeug").port, request_bytes("GET", "/hoppy"))
    assert response.header_values("transfer-encoding") == ["chunked", "chunked"], show(response)
    assert response.header_values("connection") == ["keep-alive, X-Hop", "close"], show(response)
    assert response.body == HOPPY_BODY  # chunked once, despite the two fields
    assert response.closed


def test_wsgiref_answers_500_to_hop_by_hop_fields(running: Callable[[str], Server]) -> None:
    server = running("wsgiref")
    response = exchange(server.port, request_bytes("GET", "/hoppy"))
    assert response.status == 500
    message = "AssertionError: Hop-by-hop header, 'Connection: keep-alive, X-Hop', not allowed"
    assert message in server.log_text()


def test_gunicorn_drops_its_fixed_list_but_leaks_what_connection_nominated(
    running: Callable[[str], Server],
) -> None:
    response = exchange(running("gunicorn-gthread").port, request_bytes("GET", "/hoppy"), check_closed=False)
    assert response.header_values("x-hop") == ["secret"], show(response)
    assert response.header_values("connection") == ["keep-alive"], show(response)  # gunicorn's own
    assert not response.has_header("keep-alive")
    assert not response.has_header("upgrade")
    # Proxy-Connection is not on gunicorn's list either (docs/servers.md: gunicorn leaks it)
    assert response.header_values("proxy-connection") == ["keep-alive"]


@pytest.mark.parametrize(
    ("connection", "sent"),
    [
        pytest.param("Upgrade", ["upgrade"], id="gunicorn-app-connection-upgrade-recognised"),
        pytest.param("keep-alive, Upgrade", ["keep-alive"], id="gunicorn-app-connection-list-upgrade-lost"),
    ],
)
def test_gunicorn_recognises_connection_upgrade_only_as_the_exact_value(
    running: Callable[[str], Server], connection: str, sent: list[str]
) -> None:
    path = "/upgrade?connection=" + connection.replace(" ", "%20")
    response = exchange(running("gunicorn-gthread").port, request_bytes("GET", path), check_closed=False)
    assert response.status == 101
    assert response.header_values("upgrade") == ["websocket"]
    assert lower(response.header_values("connection")) == sent, show(response)


# ---------------------------------------------------------------------------------------
# WebSocket opening handshakes (Starlette echo app, raw socket)
# ---------------------------------------------------------------------------------------



def handshake(
    *,
    method: str = "GET",
    version: str = "HTTP/1.1",
    key: str = WS_KEY,
    ws_version: str = "13",
    connection: str = "Upgrade",
    extra: Sequence[tuple[str, str]] = (),
) -> bytes:
    fields = handshake_fields(Connection=connection, Sec_WebSocket_Key=key, Sec_WebSocket_Version=ws_version)
    return request_bytes(method, "/ws", version, headers=[*fields, *extra])


WS_REQUESTS: dict[str, bytes] = {
    "valid": handshake(),
    "foreign-origin": handshake(extra=[("Origin", "http://evil.example")]),
    "version-8": handshake(ws_version="8"),
    "short-key": handshake(key="short"),
    "connection-keep-alive-upgrade": handshake(connection="keep-alive, Upgrade"),
    "post": handshake(method="POST"),
    "http10": handshake(version="HTTP/1.0"),
}
WS_SERVERS = ["uvicorn-websockets", "uvicorn-wsproto", "uvicorn-websockets-sansio", "hypercorn", "granian"]
# docs/servers.md's WebSocket row, server by server
WS_TABLE: dict[str, tuple[int, int, int, int, int]] = {
    "valid": (101, 101, 101, 101, 101),
    "foreign-origin": (101, 101, 101, 101, 101),  # no Origin check anywhere
    "version-8": (400, 426, 400, 400, 400),
    "short-key": (400, 101, 400, 101, 101),
    "connection-keep-alive-upgrade": (101, 101, 101, 101, 101),
    "post": (400, 400, 405, 404, 101),
    "http10": (101, 101, 101, 400, 101),
}


def _ws_params() -> list[object]:
    return [
        pytest.param(
            server,
            case,
            status,
            id=f"{server}-{case}-{status}",
            marks=WEBSOCKETS_SANSIO_BEFORE_17 if server.endswith("sansio") and case == "post" else (),
        )
        for case, statuses in WS_TABLE.items()
        for server, status in zip(WS_SERVERS, statuses, strict=True)
    ]


@pytest.mark.parametrize(("server", "case", "status"), _ws_params())
def test_websocket_handshake_table(
    running: Callable[[str], Server], server: str, case: str, status: int
) -> None:
    response = exchange(running(f"ws-{server}").port, WS_REQUESTS[case], check_closed=False)
    assert response.status == status, show(response)
    if status == 101:
        assert response.connection_tokens() == ["upgrade"], show(response)
    if status == 426:  # the RFC 6455 §4.4 answer names the versions it speaks
        assert response.header_values("sec-websocket-version") == ["13"]


def test_websocket_echo_works_with_a_real_client(running: Callable[[str], Server]) -> None:
    port = running("ws-uvicorn-websockets").port
    with ws_connect(f"ws://127.0.0.1:{port}/ws", open_timeout=5) as websocket:
        websocket.send("hi")
        assert websocket.recv(timeout=5) == "echo:hi"


# ---------------------------------------------------------------------------------------
# More faults measured here: connmw's twins should cover them too
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("server", "chunked"),
    [
        pytest.param("uvicorn-httptools", True, id="uvicorn-httptools-http10-stream-chunked"),
        pytest.param("uvicorn-h11", False, id="uvicorn-h11-http10-stream-close-delimited"),
        pytest.param("hypercorn", False, id="hypercorn-http10-stream-close-delimited"),
        pytest.param("granian-asgi", False, id="granian-asgi-http10-stream-close-delimited"),
    ],
)
def test_http10_streaming_response_framing(
    running: Callable[[str], Server], server: str, chunked: bool
) -> None:
    # httptools chunks any response without Content-Length, even for an HTTP/1.0 client
    response = exchange(running(server).port, request_bytes("GET", "/stream", "HTTP/1.0"))
    assert response.chunked is chunked, show(response)
    assert response.close_delimited is not chunked
    assert response.body == b"".join(STREAM_CHUNKS)
    assert response.closed


def test_hypercorn_http10_two_connection_lines_like_h11(running: Callable[[str], Server]) -> None:
    response = exchange(running("hypercorn").port, request_bytes("GET", "/hoppy", "HTTP/1.0"))
    assert lower(response.header_values("connection")) == ["close", "x-hop"], show(response)
    assert response.header_values("keep-alive") == ["timeout=5, max=1000"]
    assert response.closed


def test_gunicorn_ignores_the_apps_connection_close(running: Callable[[str], Server]) -> None:
    with RawConnection(running("gunicorn-gthread").port) as conn:
        response = conn.send(request_bytes("GET", "/close"), check_closed=True)
        assert response.body == b"bye"
        assert response.header_values("connection") == ["keep-alive"], show(response)
        assert not response.closed
        assert conn.send(request_bytes("GET", "/close")).status == 200


def test_werkzeug_repeats_the_apps_connection_close(running: Callable[[str], Server]) -> None:
    response = exchange(running("werkzeug").port, request_bytes("GET", "/close"))
    assert response.header_values("connection") == ["close", "close"], show(response)
    assert response.closed


def test_wsgiref_answers_500_to_the_apps_connection_close(running: Callable[[str], Server]) -> None:
    response = exchange(running("wsgiref").port, request_bytes("GET", "/close"))
    assert response.status == 500
