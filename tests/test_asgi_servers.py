"""connmw's ASGI middleware on real servers: every assertion is about bytes on the wire.

Servers run as subprocesses on loopback: uvicorn (``--http h11 --ws wsproto`` and
``--http httptools --ws websockets-sansio``), hypercorn (HTTP/1.1 and h2c on one port;
HTTP/2 over TLS with ALPN ``h2`` on another, with a trustme certificate) and granian's
ASGI interface (HTTP/1.1 and h2c). Each serves tests/apps/wrapped_asgi.py, configured
only through ``CONNMW_*`` variables, with the same app unwrapped under ``/bare`` so each
fault of baseline.md is shown without connmw and fixed with it on the same server.

Clients: raw sockets (every header line, and whether the server really closed), the
seed's curl commands, httpx (HTTP/1.1, h2c prior knowledge, h2 over TLS) and the
websockets client for a real echo.

Measured behaviours connmw cannot change are pinned as ``xfail(strict=True)`` with the
reason, so a server that fixes them shows up here:

* uvicorn's WebSocket scope always says ``http_version: "1.1"``, so an HTTP/1.0
  handshake cannot be told apart and gets 101;
* past ``http10_buffer_bytes``, uvicorn's httptools protocol chunks an HTTP/1.0 response
  (it chunks whatever has no Content-Length).

Where the server's WebSocket stack refuses a handshake before the application runs
(wrong version everywhere, a short key in websockets-sansio, HTTP/1.0 in hypercorn), the
server's own answer is what the client gets; ``WS_TABLE`` records who answers what.
"""

from __future__ import annotations

import json
import os
import socket
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

import h2.config
import h2.connection
import h2.events
import h2.settings
import httpx
import pytest
from websockets.sync.client import connect as ws_connect

from tests.wire import (
    RawConnection,
    RawResponse,
    Server,
    ServerPool,
    TLSFiles,
    WireError,
    curl,
    granian_cmd,
    hypercorn_cmd,
    make_tls_files,
    request_bytes,
    uvicorn_cmd,
)

APP = "tests.apps.wrapped_asgi:app"
GOOD_ORIGIN = "http://good.example"
ENV = {
    "CONNMW_WS_ALLOWED_ORIGINS": GOOD_ORIGIN,
    "CONNMW_HTTP10_BUFFER_BYTES": "100000",  # /big (192 KiB) overflows, /stream does not
}
HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade", "x-hop"}
REFUSED_BY_CONNMW = b"WebSocket handshake refused"

HTTP1 = ["uvicorn-h11", "uvicorn-httptools", "hypercorn", "granian"]
HTTP2 = ["hypercorn", "hypercorn-tls", "granian"]
WEBSOCKET = ["uvicorn-h11", "uvicorn-httptools", "hypercorn", "granian"]


def _command(name: str, tls: TLSFiles) -> Callable[[int], list[str]]:
    if name == "uvicorn-h11":
        return lambda port: uvicorn_cmd(APP, port, http="h11", ws="wsproto")
    if name == "uvicorn-httptools":
        return lambda port: uvicorn_cmd(APP, port, http="httptools", ws="websockets-sansio")
    if name == "hypercorn":
        return lambda port: hypercorn_cmd(APP, port)
    if name == "hypercorn-tls":
        return lambda port: hypercorn_cmd(APP, port, certfile=tls.certfile, keyfile=tls.keyfile)
    if name == "granian":
        return lambda port: granian_cmd(APP, port)
    if name == "example-fastapi":
        return lambda port: uvicorn_cmd("example_apps.fastapi_app:app", port, http="httptools")
    if name == "example-starlette":
        return lambda port: hypercorn_cmd("example_apps.starlette_app:app", port)
    raise ValueError(name)


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> TLSFiles:
    return make_tls_files(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="module")
def servers(tls: TLSFiles) -> Iterator[Callable[[str], Server]]:
    """Start each server once for the module, on first use, configured only by ``ENV``.

    ``CONNMW_*`` variables of the shell are hidden from the servers, so the figures are
    those of ``ENV`` over the defaults.
    """
    pool = ServerPool()
    with pytest.MonkeyPatch.context() as patch:
        for variable in [v for v in os.environ if v.startswith("CONNMW_")]:
            patch.delenv(variable)

        def get(name: str) -> Server:
            scheme = "https" if name.endswith("-tls") else "http"
            return pool.shared(name, _command(name, tls), env=ENV, scheme=scheme)

        try:
            yield get
        finally:
            pool.close()


def get(
    port: int, path: str = "/", version: str = "HTTP/1.1", headers: Sequence[tuple[str, str]] = ()
) -> RawResponse:
    """One GET on a new connection; ``closed`` says whether the server really closed.

    A response that announces ``close`` gets up to 2 s to close; any other gets a brief
    look only, so keep-alive exchanges do not wait for a timeout.
    """
    with RawConnection(port) as connection:
        response = connection.send(request_bytes("GET", path, version, headers=headers))
        if not response.closed:
            announced = "close" in response.connection_tokens()
            response.closed = connection.is_closed(wait=2.0 if announced else 0.05)
        return response


def names(response: RawResponse) -> set[str]:
    return set(response.header_names_lower())


# --------------------------------------------------------------------------------------
# The seed's matrix on every HTTP/1.x server
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", HTTP1)
def test_seed_curl_commands(servers: Callable[[str], Server], name: str) -> None:
    url = f"{servers(name).url}/"
    default = curl(["-X", "POST", url])
    assert [v.lower() for v in default.header_values("connection")] == ["keep-alive"]
    assert default.left_intact
    http10 = curl(["-X", "POST", "--http1.0", url])
    assert [v.lower() for v in http10.header_values("connection")] == ["close"]
    assert not http10.left_intact
    close = curl(["-X", "POST", "-H", "Connection: close", url])
    assert [v.lower() for v in close.header_values("connection")] == ["close"]
    assert not close.left_intact
    assert default.body == http10.body == close.body == b"ok"


@pytest.mark.parametrize("name", HTTP1)
@pytest.mark.parametrize("path", ["/", "/hoppy", "/stream", "/big"])
def test_http11_keeps_the_connection_open(servers: Callable[[str], Server], name: str, path: str) -> None:
    with RawConnection(servers(name).port) as connection:
        first = connection.send(request_bytes("GET", path))
        second = connection.send(request_bytes("GET", "/"))  # the same socket, a second request
        assert not connection.is_closed(wait=0.3)
    assert first.status == second.status == 200
    assert [v.lower() for v in first.header_values("connection")] == ["keep-alive"]
    assert not names(first) & (HOP_BY_HOP - {"connection", "transfer-encoding"})
    assert second.body == b"ok"


CLOSING = {
    "http10": ("/", "HTTP/1.0", ()),
    "http10-hoppy": ("/hoppy", "HTTP/1.0", ()),
    "http10-keep-alive": ("/", "HTTP/1.0", (("Connection", "keep-alive"),)),
    "http10-keep-alive-hoppy": ("/hoppy", "HTTP/1.0", (("Connection", "keep-alive"),)),
    "http11-close": ("/", "HTTP/1.1", (("Connection", "close"),)),
    "http11-close-hoppy": ("/hoppy", "HTTP/1.1", (("Connection", "close"),)),
    "app-close": ("/close", "HTTP/1.1", ()),
}


@pytest.mark.parametrize("name", HTTP1)
@pytest.mark.parametrize("case", list(CLOSING))
def test_close_says_close_once_and_closes(
    servers: Callable[[str], Server], name: str, case: str, request: pytest.FixtureRequest
) -> None:
    path, version, headers = CLOSING[case]
    if name == "granian" and case.startswith("http10-keep-alive"):
        request.applymarker(GRANIAN_HTTP10_KEEP_ALIVE)
    response = get(servers(name).port, path, version, headers)
    assert response.status == 200
    assert [v.lower() for v in response.header_values("connection")] == ["close"]
    assert not names(response) & (HOP_BY_HOP - {"connection", "transfer-encoding"})
    if version == "HTTP/1.0":
        assert not response.chunked
    else:  # the server's own framing of a body without Content-Length
        assert response.header_values("transfer-encoding") in ([], ["chunked"])
    assert response.closed, "the server must really close the socket"


GRANIAN_HTTP10_KEEP_ALIVE = pytest.mark.xfail(
    strict=True,
    reason="granian appends 'keep-alive' to any Connection field (the app's own 'close' too) when an "
    "HTTP/1.0 request asked for keep-alive: 'close, keep-alive'; it does close the socket",
)


def test_granian_http10_keep_alive_still_closes(servers: Callable[[str], Server]) -> None:
    """What granian does to connmw's ``close`` (and to a bare app's own ``close``)."""
    port = servers("granian").port
    for path in ("/", "/bare/close"):
        response = get(port, path, "HTTP/1.0", (("Connection", "keep-alive"),))
        assert response.header_values("connection") == ["close, keep-alive"]
        assert response.closed


@pytest.mark.parametrize("name", HTTP1)
def test_facts_published_in_scope(servers: Callable[[str], Server], name: str) -> None:
    http11 = get(servers(name).port, "/facts")
    http10 = get(servers(name).port, "/facts", "HTTP/1.0")
    assert json.loads(http11.body) == {
        "http_version": "1.1",
        "persistent": True,
        "close": False,
        "keep_alive": False,
    }
    assert json.loads(http10.body)["persistent"] is False


# --------------------------------------------------------------------------------------
# baseline.md's faults: shown on /bare, fixed by connmw on the same server
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["uvicorn-h11", "uvicorn-httptools"])
def test_fault_uvicorn_sends_no_keep_alive(servers: Callable[[str], Server], name: str) -> None:
    bare = get(servers(name).port, "/bare/")
    fixed = get(servers(name).port, "/")
    assert bare.header_values("connection") == []
    assert fixed.header_values("connection") == ["keep-alive"]


@pytest.mark.parametrize("name", HTTP1)
@pytest.mark.parametrize("version", ["HTTP/1.1", "HTTP/1.0"])
def test_fault_hop_by_hop_headers_pass(servers: Callable[[str], Server], name: str, version: str) -> None:
    bare = get(servers(name).port, "/bare/hoppy", version)
    fixed = get(servers(name).port, "/hoppy", version)
    assert {"x-hop", "keep-alive", "upgrade", "proxy-connection"} <= names(bare)
    assert not names(fixed) & {"x-hop", "keep-alive", "upgrade", "proxy-connection"}
    assert len(fixed.header_values("connection")) == 1
    assert fixed.body == bare.body == b"hello world"


@pytest.mark.parametrize("name", ["uvicorn-h11", "uvicorn-httptools"])
def test_fault_uvicorn_two_connection_lines_to_http10(servers: Callable[[str], Server], name: str) -> None:
    bare = get(servers(name).port, "/bare/hoppy", "HTTP/1.0")
    fixed = get(servers(name).port, "/hoppy", "HTTP/1.0")
    assert len(bare.header_values("connection")) == 2
    assert bare.header_values("keep-alive"), "Keep-Alive sent while closing"
    assert [v.lower() for v in fixed.header_values("connection")] == ["close"]
    assert not fixed.header_values("keep-alive")


@pytest.mark.parametrize("path", ["/hoppy", "/stream"])
def test_fault_uvicorn_httptools_chunks_to_http10(servers: Callable[[str], Server], path: str) -> None:
    bare = get(servers("uvicorn-httptools").port, f"/bare{path}", "HTTP/1.0")
    fixed = get(servers("uvicorn-httptools").port, path, "HTTP/1.0")
    assert bare.chunked, "baseline: chunked framing sent to an HTTP/1.0 client"
    assert not fixed.chunked
    assert fixed.header_values("transfer-encoding") == []
    assert fixed.header_values("content-length") == [str(len(fixed.body))]
    assert fixed.body == bare.body
    assert fixed.closed


@pytest.mark.parametrize("name", HTTP1)
@pytest.mark.parametrize("path", ["/hoppy", "/stream"])
def test_http10_never_chunked(servers: Callable[[str], Server], name: str, path: str) -> None:
    response = get(servers(name).port, path, "HTTP/1.0")
    assert not response.chunked
    assert response.header_values("content-length") == [str(len(response.body))]
    assert response.closed


@pytest.mark.parametrize(
    "name",
    [
        pytest.param(
            "uvicorn-httptools",
            marks=pytest.mark.xfail(
                strict=True, reason="httptools chunks any response without Content-Length, even to HTTP/1.0"
            ),
        ),
        "uvicorn-h11",
        "hypercorn",
        "granian",
    ],
)
def test_http10_past_the_buffer_streams_with_close(servers: Callable[[str], Server], name: str) -> None:
    response = get(servers(name).port, "/big", "HTTP/1.0")
    assert [v.lower() for v in response.header_values("connection")] == ["close"]
    assert response.body == b"a" * 65536 + b"b" * 65536 + b"c" * 65536
    assert response.closed
    assert not response.chunked


def test_fault_granian_tells_http10_keep_alive_when_the_app_says_so(servers: Callable[[str], Server]) -> None:
    """baseline.md: granian passes the app's ``keep-alive`` to an HTTP/1.0 client.

    The client (curl: "left intact") then believes it may reuse a connection that the
    server closes anyway; with connmw the client is told ``close``.
    """
    port = servers("granian").port
    bare = get(port, "/bare/hoppy", "HTTP/1.0")
    fixed = get(port, "/hoppy", "HTTP/1.0")
    assert bare.header_values("connection") == ["keep-alive, x-hop"]
    assert curl(["--http1.0", f"{servers('granian').url}/bare/hoppy"]).left_intact
    assert fixed.header_values("connection") == ["close"]
    assert fixed.closed
    assert not curl(["--http1.0", f"{servers('granian').url}/hoppy"]).left_intact


def test_fault_granian_merges_close_into_the_apps_connection(servers: Callable[[str], Server]) -> None:
    port = servers("granian").port
    bare = get(port, "/bare/hoppy", headers=(("Connection", "close"),))
    fixed = get(port, "/hoppy", headers=(("Connection", "close"),))
    assert bare.header_values("connection") == ["keep-alive, x-hop, close"]
    assert fixed.header_values("connection") == ["close"]


# --------------------------------------------------------------------------------------
# HTTP/2: h2c prior knowledge and TLS with ALPN h2
# --------------------------------------------------------------------------------------


def h2_client(server: Server, tls: TLSFiles) -> httpx.Client:
    """httpx speaking only HTTP/2: prior-knowledge h2c, or ALPN h2 over TLS."""
    verify = tls.client_context() if server.scheme == "https" else True
    return httpx.Client(http1=False, http2=True, verify=verify, timeout=10)


@pytest.mark.parametrize("name", HTTP2)
@pytest.mark.parametrize("path", ["/", "/hoppy", "/close", "/stream", "/big"])
def test_http2_carries_no_connection_specific_field(
    servers: Callable[[str], Server], tls: TLSFiles, name: str, path: str
) -> None:
    server = servers(name)
    with h2_client(server, tls) as client:
        response = client.get(server.url + path)
        again = client.get(server.url + "/")  # the connection survives the app's close
    assert response.http_version == again.http_version == "HTTP/2"
    assert response.status_code == 200
    assert not set(response.headers) & HOP_BY_HOP


def test_fault_hypercorn_h2_leaks_the_nominated_header(
    servers: Callable[[str], Server], tls: TLSFiles
) -> None:
    server = servers("hypercorn")
    with h2_client(server, tls) as client:
        bare = client.get(server.url + "/bare/hoppy")
        fixed = client.get(server.url + "/hoppy")
    assert bare.headers.get("x-hop") == "secret"
    assert "x-hop" not in fixed.headers


@pytest.mark.parametrize("name", HTTP2)
def test_http2_facts(servers: Callable[[str], Server], tls: TLSFiles, name: str) -> None:
    server = servers(name)
    with h2_client(server, tls) as client:
        facts = client.get(server.url + "/facts").json()
    assert facts["http_version"] == "2"


# --------------------------------------------------------------------------------------
# Server-Sent Events: one by one, never buffered
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "http2"),
    [*((name, False) for name in HTTP1), *((name, True) for name in HTTP2)],
    ids=[*(f"{name}-http1.1" for name in HTTP1), *(f"{name}-http2" for name in HTTP2)],
)
def test_sse_events_arrive_one_by_one(
    servers: Callable[[str], Server], tls: TLSFiles, name: str, http2: bool
) -> None:
    server = servers(name)
    arrivals: list[tuple[float, dict[str, float]]] = []
    client = h2_client(server, tls) if http2 else httpx.Client(timeout=10)
    with client, client.stream("GET", server.url + "/sse") as response:
        for line in response.iter_lines():
            if line.startswith("data:"):
                arrivals.append((time.time(), json.loads(line[5:])))
    assert [event["i"] for _, event in arrivals] == [0, 1, 2, 3]
    first_arrival = arrivals[0][0]
    last_sent = arrivals[-1][1]["sent"]
    assert first_arrival < last_sent, "the first event must arrive before the server sends the last"
    if http2:
        assert response.http_version == "HTTP/2"
        assert not set(response.headers) & HOP_BY_HOP
    else:
        assert response.headers.get_list("connection") == ["keep-alive"]
    assert response.headers["content-type"].startswith("text/event-stream")


# --------------------------------------------------------------------------------------
# WebSocket
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", WEBSOCKET)
@pytest.mark.parametrize("origin", [None, GOOD_ORIGIN])
def test_websocket_echo(servers: Callable[[str], Server], name: str, origin: str | None) -> None:
    url = f"ws://127.0.0.1:{servers(name).port}/ws"
    with ws_connect(url, origin=origin, open_timeout=5) as websocket:  # type: ignore[arg-type]
        websocket.send("hi")
        assert websocket.recv(timeout=5) == "echo:hi"
        accepted = websocket.response
    assert accepted is not None
    assert accepted.status_code == 101
    assert "keep-alive" not in accepted.headers, "hop-by-hop accept header removed"
    if name != "granian":  # granian does not send websocket.accept headers at all
        assert accepted.headers["x-app"] == "1"


WS_KEY = "dGhlIHNhbXBsZSBub25jZQ=="


def handshake(port: int, path: str = "/ws", version: str = "HTTP/1.1", **change: str) -> RawResponse:
    fields = {
        "Upgrade": "websocket",
        "Connection": "Upgrade",
        "Sec-WebSocket-Key": WS_KEY,
        "Sec-WebSocket-Version": "13",
    }
    for key, value in change.items():
        fields[key.replace("_", "-")] = value
    with RawConnection(port) as connection:
        return connection.send(request_bytes("GET", path, version, headers=tuple(fields.items())))


UVICORN_WS_HTTP10 = pytest.mark.xfail(
    strict=True, reason="uvicorn's websocket scope always says http_version 1.1: connmw cannot see HTTP/1.0"
)

# case -> server -> (status, who answers: "connmw", "server" or "app")
WS_TABLE: dict[str, tuple[dict[str, str], str, dict[str, tuple[int, str]]]] = {
    "valid": ({}, "HTTP/1.1", dict.fromkeys(WEBSOCKET, (101, "app"))),
    "keep-alive-upgrade": (
        {"Connection": "keep-alive, Upgrade"},
        "HTTP/1.1",
        dict.fromkeys(WEBSOCKET, (101, "app")),
    ),
    "allowed-origin": ({"Origin": GOOD_ORIGIN}, "HTTP/1.1", dict.fromkeys(WEBSOCKET, (101, "app"))),
    "foreign-origin": (
        {"Origin": "http://evil.example"},
        "HTTP/1.1",
        dict.fromkeys(WEBSOCKET, (403, "connmw")),
    ),
    # Every server's WebSocket stack refuses another version before the app runs.
    "version-8": (
        {"Sec-WebSocket-Version": "8"},
        "HTTP/1.1",
        {
            "uvicorn-h11": (426, "server"),  # wsproto: 426 + Sec-WebSocket-Version: 13
            "uvicorn-httptools": (400, "server"),  # websockets
            "hypercorn": (400, "server"),
            "granian": (400, "server"),
        },
    ),
    "short-key": (
        {"Sec-WebSocket-Key": "short"},
        "HTTP/1.1",
        {
            "uvicorn-h11": (400, "connmw"),  # wsproto alone answers 101
            "uvicorn-httptools": (400, "server"),  # websockets refuses it first
            "hypercorn": (400, "connmw"),  # hypercorn alone answers 101
            "granian": (400, "connmw"),  # granian alone answers 101
        },
    ),
    "http10": (
        {},
        "HTTP/1.0",
        {
            "uvicorn-h11": (400, "connmw"),
            "uvicorn-httptools": (400, "connmw"),
            "hypercorn": (400, "server"),
            "granian": (400, "connmw"),  # granian alone answers 101
        },
    ),
}


@pytest.mark.parametrize("name", WEBSOCKET)
@pytest.mark.parametrize("case", list(WS_TABLE))
def test_websocket_handshake_table(
    servers: Callable[[str], Server], name: str, case: str, request: pytest.FixtureRequest
) -> None:
    change, version, expected = WS_TABLE[case]
    if case == "http10" and name.startswith("uvicorn"):
        request.applymarker(UVICORN_WS_HTTP10)
    status, who = expected[name]
    response = handshake(servers(name).port, version=version, **change)
    assert response.status == status
    if who == "connmw":
        assert response.body.startswith(REFUSED_BY_CONNMW)
    elif who == "server":
        assert not response.body.startswith(REFUSED_BY_CONNMW)
    if case == "version-8" and name == "uvicorn-h11":
        assert response.header_values("sec-websocket-version") == ["13"]


@pytest.mark.parametrize(
    ("name", "case"),
    [
        *((name, "foreign-origin") for name in WEBSOCKET),
        ("uvicorn-h11", "short-key"),
        ("hypercorn", "short-key"),
        ("granian", "short-key"),
        ("granian", "http10"),
    ],
)
def test_fault_handshakes_accepted_without_connmw(
    servers: Callable[[str], Server], name: str, case: str
) -> None:
    change, version, _ = WS_TABLE[case]
    bare = handshake(servers(name).port, "/bare/ws", version, **change)
    fixed = handshake(servers(name).port, "/ws", version, **change)
    assert bare.status == 101
    assert fixed.status in (400, 403)
    assert fixed.body.startswith(REFUSED_BY_CONNMW)


# --------------------------------------------------------------------------------------
# Malformed client headers: never a 500
# --------------------------------------------------------------------------------------

MALFORMED = [
    pytest.param(("Connection", "keep-alive, \u00e9t\u00e9"), id="non-ascii"),
    pytest.param(("Connection", "keep-alive\x01, x\x7f"), id="control-bytes"),
    pytest.param(("Connection", ", ".join(f"x-{i}" for i in range(1500))), id="huge-connection-1500-tokens"),
    pytest.param(("Connection", "close, host, authorization, x-forwarded-for"), id="nominates-protected"),
    pytest.param(("Connection", "keep-alive; Upgrade, ???"), id="bad-token-syntax"),
    pytest.param(("Upgrade", "\u00e9, websocket/\x01"), id="upgrade-garbage"),
]


@pytest.mark.parametrize("name", HTTP1)
@pytest.mark.parametrize("header", MALFORMED)
def test_malformed_request_headers_never_500(
    servers: Callable[[str], Server], name: str, header: tuple[str, str]
) -> None:
    try:
        response = get(servers(name).port, "/", "HTTP/1.1", (header,))
    except WireError:
        return  # the server's parser dropped the request: not a 500 from the app
    assert response.status < 500
    if response.status == 200:
        assert len(response.header_values("connection")) == 1


@pytest.mark.parametrize("name", WEBSOCKET)
@pytest.mark.parametrize(
    "change",
    [
        pytest.param({"Sec-WebSocket-Key": "\u00e9" * 24}, id="key-non-ascii"),
        pytest.param({"Sec-WebSocket-Version": "13, 13, \x01"}, id="version-list"),
        pytest.param({"Origin": "http://\u00e9:99999999"}, id="origin-garbage"),
        pytest.param({"Origin": "null"}, id="origin-null"),
        pytest.param(
            {"Connection": "Upgrade, " + ", ".join(f"x-{i}" for i in range(500))}, id="huge-connection"
        ),
    ],
)
def test_malformed_handshake_never_500(
    servers: Callable[[str], Server], name: str, change: dict[str, str]
) -> None:
    try:
        response = handshake(servers(name).port, **change)
    except WireError:
        return
    assert response.status < 500


# --------------------------------------------------------------------------------------
# WebSocket over HTTP/2 (RFC 8441): judged by its own rules, not refused for lacking Upgrade
# --------------------------------------------------------------------------------------


@dataclass
class H2Exchange:
    connect_protocol: bool = False  # the server sent SETTINGS_ENABLE_CONNECT_PROTOCOL = 1
    status: int = 0
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    body: bytes = b""
    trailers: list[tuple[bytes, bytes]] = field(default_factory=list)


def h2_request(port: int, request: list[tuple[str, str]], *, until_headers: bool = False) -> H2Exchange:
    """One stream over h2c with the h2 library: sees trailers and extended CONNECT."""
    connection = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
    seen = H2Exchange()
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        connection.initiate_connection()
        sock.sendall(connection.data_to_send())
        sent = ended = False
        while not ended:
            data = sock.recv(65536)
            if not data:
                break
            for event in connection.receive_data(data):
                if isinstance(event, h2.events.RemoteSettingsChanged):
                    setting = event.changed_settings.get(h2.settings.SettingCodes.ENABLE_CONNECT_PROTOCOL)
                    seen.connect_protocol = seen.connect_protocol or bool(setting and setting.new_value)
                    if not sent:
                        connection.send_headers(1, request, end_stream=request[0][1] != "CONNECT")
                        sent = True
                elif isinstance(event, h2.events.ResponseReceived):
                    seen.headers = list(event.headers)
                    seen.status = int(dict(seen.headers)[b":status"])
                    ended = until_headers and seen.status == 200
                elif isinstance(event, h2.events.DataReceived):
                    seen.body += event.data
                    connection.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
                elif isinstance(event, h2.events.TrailersReceived):
                    seen.trailers = list(event.headers)
                elif isinstance(event, h2.events.StreamEnded):
                    ended = True
            sock.sendall(connection.data_to_send())
    return seen


def extended_connect(port: int, *extra: tuple[str, str]) -> H2Exchange:
    """An RFC 8441 extended CONNECT for /ws; returns once the answer is known."""
    request = [(":method", "CONNECT"), (":protocol", "websocket"), (":scheme", "http"), (":path", "/ws"),
               (":authority", "127.0.0.1"), *extra]  # fmt: skip
    return h2_request(port, request, until_headers=True)


@pytest.mark.parametrize(
    ("extra", "status", "who"),
    [
        pytest.param((("sec-websocket-version", "13"),), 200, "app", id="valid"),
        pytest.param(
            (("sec-websocket-version", "13"), ("origin", GOOD_ORIGIN)), 200, "app", id="allowed-origin"
        ),
        pytest.param(
            (("sec-websocket-version", "13"), ("origin", "http://evil.example")),
            403,
            "connmw",
            id="foreign-origin",
        ),
        pytest.param((("sec-websocket-version", "8"),), 400, "server", id="version-8"),
    ],
)
def test_rfc8441_websocket_over_http2_on_hypercorn(
    servers: Callable[[str], Server], extra: tuple[tuple[str, str], ...], status: int, who: str
) -> None:
    answer = extended_connect(servers("hypercorn").port, *extra)
    assert answer.connect_protocol, "hypercorn announces SETTINGS_ENABLE_CONNECT_PROTOCOL"
    assert answer.status == status
    assert answer.body.startswith(REFUSED_BY_CONNMW) == (who == "connmw")
    if status == 200:
        names = {name for name, _ in answer.headers}
        assert b"x-app" in names
        assert b"keep-alive" not in names, "hop-by-hop accept header removed"


@pytest.mark.parametrize("path", ["/trailers", "/bare/trailers"])
def test_trailers_pass_over_http2_on_hypercorn(servers: Callable[[str], Server], path: str) -> None:
    request = [(":method", "GET"), (":scheme", "http"), (":path", path), (":authority", "127.0.0.1"),
               ("te", "trailers")]  # fmt: skip
    answer = h2_request(servers("hypercorn").port, request)
    assert answer.status == 200
    assert answer.body == b"body"
    assert (b"trailer", b"x-checksum") in answer.headers
    assert answer.trailers == [(b"x-checksum", b"abc")]


# --------------------------------------------------------------------------------------
# The example applications run as documented
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["example-fastapi", "example-starlette"])
def test_example_apps(servers: Callable[[str], Server], name: str) -> None:
    server = servers(name)
    hoppy = get(server.port, "/hoppy")
    assert hoppy.header_values("connection") == ["keep-alive"]
    assert not names(hoppy) & {"keep-alive", "x-hop", "proxy-connection"}
    streamed = get(server.port, "/stream", "HTTP/1.0")
    assert streamed.header_values("content-length") == [str(len(streamed.body))]
    assert streamed.closed
    with httpx.Client(timeout=10) as client, client.stream("GET", server.url + "/sse") as events:
        assert events.headers.get_list("connection") == ["keep-alive"]
        assert next(line for line in events.iter_lines() if line.startswith("data:")) == "data: 0"
    with ws_connect(f"ws://127.0.0.1:{server.port}/ws", open_timeout=5) as websocket:
        websocket.send("hi")
        assert websocket.recv(timeout=5) == "hi"
