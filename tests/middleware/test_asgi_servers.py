"""connmw's ASGI middleware on real servers: every assertion is about bytes on the wire.

Servers run as subprocesses on loopback: uvicorn (``--http h11 --ws wsproto`` and
``--http httptools --ws websockets-sansio``), hypercorn with its asyncio worker (HTTP/1.1
and h2c on one port; HTTP/2 over TLS with ALPN ``h2`` on another, with a trustme
certificate) and with its trio worker (``-k trio``: HTTP/1.1, h2c, WebSocket), granian's
ASGI interface (HTTP/1.1 and h2c) and daphne (Twisted and autobahn: HTTP/1.x and
WebSocket). Each serves tests/apps/wrapped_asgi.py, configured only through ``CONNMW_*``
variables, with the same app unwrapped under ``/bare`` so each server's fault is shown
without connmw and fixed with it on the same server.

Clients: raw sockets (every header line, and whether the server really closed), the
three curl requests of the Heroku question, httpx (HTTP/1.1, h2c prior knowledge, h2 over
TLS) and the websockets client for a real echo.

Measured behaviours connmw cannot change are pinned as ``xfail(strict=True)`` with the
reason, so a server that fixes them shows up here:

* uvicorn's WebSocket scope always says ``http_version: "1.1"``, and daphne's has no
  ``http_version`` (it hands an HTTP/1.0 handshake to autobahn as HTTP/1.1), so an
  HTTP/1.0 handshake cannot be told apart and gets 101;
* a 1xx sent through ``http.response.start`` (ASGI offers no interim response over
  HTTP/1.x): daphne and uvicorn's httptools frame it as a final chunked response, so
  ``0\r\n\r\n`` follows the interim head; uvicorn's h11 drops the connection and granian
  answers 500;
* past ``http10_buffer_bytes``, uvicorn's httptools protocol chunks an HTTP/1.0 response
  (it chunks whatever has no Content-Length).

Where the server's WebSocket stack refuses a handshake before the application runs
(wrong version everywhere but daphne, a short key in websockets-sansio and daphne, HTTP/1.0
in hypercorn), the server's own answer is what the client gets; ``WS_TABLE`` records who
answers what. daphne offers no ``websocket.http.response``: connmw answers through
autobahn's ``failHandshake`` (status line and fields, no body), so connmw's refusals there
are told by their reason phrase.
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import httpx
import pytest
from websockets.sync.client import connect as ws_connect

from tests.helpers import handshake_fields, server_pool
from tests.wire import (
    WEBSOCKETS_SANSIO_BEFORE_17,
    RawConnection,
    RawResponse,
    Server,
    TLSFiles,
    WireError,
    curl,
    daphne_cmd,
    extended_connect,
    granian_cmd,
    h2_request,
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

HTTP1 = ["uvicorn-h11", "uvicorn-httptools", "hypercorn", "hypercorn-trio", "granian", "daphne"]
HTTP2 = ["hypercorn", "hypercorn-trio", "hypercorn-tls", "granian"]
WEBSOCKET = ["uvicorn-h11", "uvicorn-httptools", "hypercorn", "hypercorn-trio", "granian", "daphne"]
HYPERCORN = ["hypercorn", "hypercorn-trio"]
HYPERCORN_MAX_REQUESTS = 3
"""``keep_alive_max_requests`` of the ``*-max-requests`` hypercorn servers (its TOML config)."""
LIMITED = {"CONNMW_MAX_REQUESTS_PER_CONNECTION": "2"}
"""connmw's own limit on the ``*-limited`` servers: its close is a server-side reason (like drain)."""


def _command(name: str, tls: TLSFiles, config: Path) -> Callable[[int], list[str]]:
    if name == "uvicorn-h11":
        return lambda port: uvicorn_cmd(APP, port, http="h11", ws="wsproto")
    if name == "uvicorn-httptools":
        return lambda port: uvicorn_cmd(APP, port, http="httptools", ws="websockets-sansio")
    if name == "hypercorn":
        return lambda port: hypercorn_cmd(APP, port)
    if name == "hypercorn-trio":
        return lambda port: hypercorn_cmd(APP, port, worker="trio")
    if name == "hypercorn-tls":
        return lambda port: hypercorn_cmd(APP, port, certfile=tls.certfile, keyfile=tls.keyfile)
    if name in ("hypercorn-max-requests", "hypercorn-trio-max-requests"):
        worker = "trio" if "trio" in name else "asyncio"
        return lambda port: hypercorn_cmd(APP, port, worker=worker, extra=["--config", str(config)])
    if name in ("daphne", "daphne-limited"):
        return lambda port: daphne_cmd(APP, port)
    if name == "hypercorn-trio-limited":
        return lambda port: hypercorn_cmd(APP, port, worker="trio")
    if name == "granian":
        return lambda port: granian_cmd(APP, port)
    if name == "example-fastapi":
        return lambda port: uvicorn_cmd("example_apps.fastapi_app:app", port, http="httptools")
    if name == "example-starlette":
        return lambda port: hypercorn_cmd("example_apps.starlette_app:app", port)
    if name == "example-starlette-daphne":
        return lambda port: daphne_cmd("example_apps.starlette_app:app", port)
    if name == "example-starlette-max-requests":
        example = "example_apps.starlette_app:app"
        return lambda port: hypercorn_cmd(example, port, extra=["--config", str(config)])
    raise ValueError(name)


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> TLSFiles:
    return make_tls_files(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="module")
def hypercorn_config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """hypercorn's TOML config for ``keep_alive_max_requests`` (it has no such CLI flag)."""
    path = tmp_path_factory.mktemp("hypercorn") / "max-requests.toml"
    path.write_text(f"keep_alive_max_requests = {HYPERCORN_MAX_REQUESTS}\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def servers(tls: TLSFiles, hypercorn_config: Path) -> Iterator[Callable[[str], Server]]:
    """Start each server once for the module, on first use, configured only by ``ENV``.

    ``CONNMW_*`` variables of the shell are hidden from the servers, so the figures are
    those of ``ENV`` over the defaults.
    """
    with server_pool() as pool:

        def get(name: str) -> Server:
            scheme = "https" if name.endswith("-tls") else "http"
            env = {**ENV, **LIMITED} if name.endswith("-limited") else ENV
            return pool.shared(name, _command(name, tls, hypercorn_config), env=env, scheme=scheme)

        yield get


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


def connection_lines(response: RawResponse) -> list[str]:
    """The Connection lines as sent, lower-cased: ``["close"]`` is exactly one line saying close."""
    return [value.lower() for value in response.header_values("connection")]


def then_again(
    port: int, path: str, version: str = "HTTP/1.1", headers: Sequence[tuple[str, str]] = ()
) -> tuple[RawResponse, bool]:
    """A GET, then ``GET /`` on the same socket: the first response, and whether the second was answered.

    What a response says about the connection is checked against what the socket does:
    after a response saying ``close`` the server gets 0.3 s to close before the second
    request is sent (a loopback close takes milliseconds).
    """
    with RawConnection(port) as connection:
        first = connection.send(request_bytes("GET", path, version, headers=headers))
        wait = 0.3 if "close" in first.connection_tokens() else 0.0
        if first.closed or (wait and connection.is_closed(wait=wait)):
            return first, False
        try:
            second = connection.send(request_bytes("GET", "/"))
        except (WireError, OSError):
            return first, False
        return first, (second.status, second.body) == (200, b"ok")


def read_raw(port: int, request: bytes, quiet: float = 0.5, limit: float = 5.0) -> tuple[bytes, bool]:
    """Send ``request``; everything received until the server closes or is ``quiet`` seconds silent.

    For responses whose own framing is wrong, which ``RawConnection`` would refuse to parse.
    Returns the bytes and whether the server closed.
    """
    data = b""
    deadline = time.monotonic() + limit
    with socket.create_connection(("127.0.0.1", port), timeout=limit) as sock:
        sock.sendall(request)
        sock.settimeout(quiet)
        while time.monotonic() < deadline:
            try:
                chunk = sock.recv(65536)
            except TimeoutError:
                return data, False
            except ConnectionResetError:
                return data, True
            if not chunk:
                return data, True
            data += chunk
    return data, False


def split_head(data: bytes) -> tuple[str, list[tuple[str, str]], bytes]:
    """Raw response bytes as (status line, header lines as sent, what follows the blank line)."""
    head, blank, rest = data.partition(b"\r\n\r\n")
    assert blank, f"no complete response head in {data[:300]!r}"
    status, *lines = head.decode("latin-1").split("\r\n")
    fields = [(name, value.strip()) for name, _, value in (line.partition(":") for line in lines)]
    return status, fields, rest


# --------------------------------------------------------------------------------------
# The three curl requests on every HTTP/1.x server
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", HTTP1)
def test_the_three_curl_requests(servers: Callable[[str], Server], name: str) -> None:
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


# case -> (path, version, request fields, the one Connection value the response must carry)
CURL_CASES = {
    "http11": ("/", "HTTP/1.1", (), "keep-alive"),
    "http10": ("/", "HTTP/1.0", (), "close"),
    "http11-close": ("/", "HTTP/1.1", (("Connection", "close"),), "close"),
    "http10-keep-alive": ("/", "HTTP/1.0", (("Connection", "keep-alive"),), "close"),
    "app-close": ("/close", "HTTP/1.1", (), "close"),
}


@pytest.mark.parametrize("name", HTTP1)
@pytest.mark.parametrize("case", list(CURL_CASES))
def test_curl_matrix_says_what_the_socket_does(
    servers: Callable[[str], Server], name: str, case: str, request: pytest.FixtureRequest
) -> None:
    """The curl POSTs on a raw socket: one Connection line, and the socket does what it says.

    ``keep-alive``: a second request on the same socket is answered; ``close``: the server
    really closes within 2 s.
    """
    path, version, headers, said = CURL_CASES[case]
    if name == "granian" and case == "http10-keep-alive":
        request.applymarker(GRANIAN_HTTP10_KEEP_ALIVE)
    with RawConnection(servers(name).port) as connection:
        first = connection.send(request_bytes("POST", path, version, headers=headers, body=b"x=1"))
        closed = first.closed or connection.is_closed(wait=2.0 if said == "close" else 0.05)
        if not closed:
            second = connection.send(request_bytes("GET", "/"))
            assert (second.status, second.body) == (200, b"ok"), "announced persistent, so answered"
    assert first.status == 200
    assert connection_lines(first) == [said]
    assert closed == (said == "close"), f"said {said!r}, socket {'closed' if closed else 'open'}"


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
    "http11-keep-alive-close": ("/", "HTTP/1.1", (("Connection", "keep-alive, close"),)),
    "http11-keep-alive-comma-close": ("/", "HTTP/1.1", (("Connection", "keep-alive,close"),)),
    "http11-close-second-line": ("/", "HTTP/1.1", (("Connection", "keep-alive"), ("Connection", "close"))),
    "app-close": ("/close", "HTTP/1.1", ()),
    "app-close-client-close": ("/close", "HTTP/1.1", (("Connection", "close"),)),
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
# The servers' faults (docs/servers.md, "What servers do without connmw"): shown on /bare, fixed by connmw
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
    port = servers(name).port
    if name == "daphne" and version == "HTTP/1.0":
        # daphne keeps the app's Transfer-Encoding on a body it does not chunk (see
        # test_fault_daphne_keeps_the_apps_transfer_encoding_to_http10): read it raw.
        _, fields, bare_body = split_head(read_raw(port, request_bytes("GET", "/bare/hoppy", version))[0])
        bare_names = {field_name.lower() for field_name, _ in fields}
    else:
        bare = get(port, "/bare/hoppy", version)
        bare_names, bare_body = names(bare), bare.body
    fixed = get(port, "/hoppy", version)
    assert {"x-hop", "keep-alive", "upgrade", "proxy-connection"} <= bare_names
    assert not names(fixed) & {"x-hop", "keep-alive", "upgrade", "proxy-connection"}
    assert len(fixed.header_values("connection")) == 1
    assert fixed.body == bare_body == b"hello world"


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
        "hypercorn-trio",
        "granian",
        "daphne",
    ],
)
def test_http10_past_the_buffer_streams_with_close(servers: Callable[[str], Server], name: str) -> None:
    response = get(servers(name).port, "/big", "HTTP/1.0")
    assert [v.lower() for v in response.header_values("connection")] == ["close"]
    assert response.body == b"a" * 65536 + b"b" * 65536 + b"c" * 65536
    assert response.closed
    assert not response.chunked


def test_fault_granian_tells_http10_keep_alive_when_the_app_says_so(servers: Callable[[str], Server]) -> None:
    """Bare, granian passes the app's ``keep-alive`` to an HTTP/1.0 client.

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


# path, request fields -> daphne's bare Connection lines, and whether it answered a second request
DAPHNE_PERSISTENCE = [
    pytest.param("/close", (), ["close"], True, id="app-close-ignored"),
    pytest.param("/close", (("Connection", "close"),), ["close", "close"], False, id="client-close-doubled"),
    pytest.param("/", (("Connection", "keep-alive,close"),), [], True, id="comma-close-unseen"),
    pytest.param(
        "/", (("Connection", "keep-alive"), ("Connection", "close")), [], True, id="second-line-unseen"
    ),
]


@pytest.mark.parametrize(("path", "headers", "bare_lines", "bare_open"), DAPHNE_PERSISTENCE)
def test_fault_daphne_decides_persistence_from_the_request_alone(
    servers: Callable[[str], Server],
    path: str,
    headers: tuple[tuple[str, str], ...],
    bare_lines: list[str],
    bare_open: bool,
) -> None:
    """Twisted reads only the request's first Connection line, split on spaces, never the response.

    twisted/web/http.py ``HTTPChannel.checkPersistence``: the app's ``Connection: close``
    is ignored (the socket stays open), ``keep-alive,close`` and a second line are not seen,
    and Twisted's own ``close`` goes out beside the app's. connmw sets the channel's
    ``persistent`` flag and sends its one field instead.
    """
    port = servers("daphne").port
    bare, bare_answered = then_again(port, "/bare" + path, headers=headers)
    fixed, fixed_answered = then_again(port, path, headers=headers)
    assert (connection_lines(bare), bare_answered) == (bare_lines, bare_open)
    assert (connection_lines(fixed), fixed_answered) == (["close"], False)


def test_fault_daphne_keeps_the_apps_transfer_encoding_to_http10(servers: Callable[[str], Server]) -> None:
    """Twisted chunks only HTTP/1.1, yet keeps the app's ``Transfer-Encoding: chunked`` for HTTP/1.0."""
    port = servers("daphne").port
    data, closed = read_raw(port, request_bytes("GET", "/bare/hoppy", "HTTP/1.0"))
    _, fields, body = split_head(data)
    assert [value for field_name, value in fields if field_name.lower() == "transfer-encoding"] == ["chunked"]
    assert body == b"hello world", "not chunked: the field misdescribes the framing"
    assert closed
    fixed = get(port, "/hoppy", "HTTP/1.0")
    assert fixed.header_values("transfer-encoding") == []
    assert fixed.header_values("content-length") == ["11"]
    assert fixed.body == b"hello world"
    assert connection_lines(fixed) == ["close"]
    assert fixed.closed


# --------------------------------------------------------------------------------------
# Closes a server decides: hypercorn's keep_alive_max_requests, connmw's own limit
# --------------------------------------------------------------------------------------


def lines_on_one_socket(port: int, path: str, count: int) -> tuple[list[list[str]], bool]:
    """``count`` GETs on one socket: each response's Connection lines, and whether the server then closed."""
    with RawConnection(port) as connection:
        answers = [connection.send(request_bytes("GET", path)) for _ in range(count)]
        closed = connection.is_closed(wait=2.0)
    assert all(answer.status == 200 for answer in answers)
    return [connection_lines(answer) for answer in answers], closed


@pytest.mark.parametrize("name", HYPERCORN)
def test_hypercorn_max_requests_close_stands_alone(servers: Callable[[str], Server], name: str) -> None:
    """At ``keep_alive_max_requests`` hypercorn appends its own ``connection: close``: connmw adds nothing."""
    port = servers(f"{name}-max-requests").port
    for path in ("/", "/hoppy"):
        lines, closed = lines_on_one_socket(port, path, HYPERCORN_MAX_REQUESTS)
        assert lines == [["keep-alive"]] * (HYPERCORN_MAX_REQUESTS - 1) + [["close"]], path
        assert closed, path


@pytest.mark.parametrize("name", HYPERCORN)
def test_fault_hypercorn_max_requests_close_beside_the_apps_keep_alive(
    servers: Callable[[str], Server], name: str
) -> None:
    """hypercorn/protocol/h11.py appends ``connection: close`` without looking at the app's field."""
    port = servers(f"{name}-max-requests").port
    lines, closed = lines_on_one_socket(port, "/bare/hoppy", HYPERCORN_MAX_REQUESTS)
    assert lines[-1] == ["keep-alive, x-hop", "close"]
    assert closed


@pytest.mark.parametrize("name", ["daphne", "hypercorn-trio"])
def test_connmw_limit_closes_for_real(servers: Callable[[str], Server], name: str) -> None:
    """connmw's max_requests_per_connection (a server-side close, like drain) is said once and done."""
    lines, closed = lines_on_one_socket(servers(f"{name}-limited").port, "/", 2)
    assert lines == [["keep-alive"], ["close"]]
    assert closed


# --------------------------------------------------------------------------------------
# No content after HEAD, 1xx, 204, 304: the next response on the socket still parses
# --------------------------------------------------------------------------------------

NO_CONTENT = [
    pytest.param("HEAD", 200, id="head-200"),
    pytest.param("HEAD", 204, id="head-204"),
    pytest.param("HEAD", 304, id="head-304"),
    pytest.param("GET", 204, id="get-204"),
    pytest.param("GET", 304, id="get-304"),
]


def no_content_then_again(
    port: int, prefix: str, method: str, status: int
) -> tuple[RawResponse, RawResponse]:
    """``/nocontent`` (8 body bytes in two messages), then ``GET /`` on the same socket.

    The strict reader reads no body after HEAD, 204 or 304, so body bytes the server
    wrote anyway are read as the start of the next response: ``WireError``.
    """
    with RawConnection(port) as connection:
        first = connection.send(request_bytes(method, f"{prefix}/nocontent?status={status}"))
        second = connection.send(request_bytes("GET", "/"))
    return first, second


@pytest.mark.parametrize("name", HTTP1)
@pytest.mark.parametrize(("method", "status"), NO_CONTENT)
def test_no_body_bytes_after_head_204_304(
    servers: Callable[[str], Server], name: str, method: str, status: int
) -> None:
    first, second = no_content_then_again(servers(name).port, "", method, status)
    assert first.status == status
    assert connection_lines(first) == ["keep-alive"]
    assert (second.status, second.body) == (200, b"ok"), "in sync: the next response parses"
    if status == 204:  # RFC 9110 §6.4.1, §8.6
        assert not first.has_header("content-length")
        assert not first.has_header("transfer-encoding")
    elif method == "HEAD" and status == 200:  # RFC 9110 §9.3.2: the length GET would have
        assert first.header_values("content-length") == ["8"]


@pytest.mark.parametrize(
    ("name", "method", "status", "broken"),
    [
        *(pytest.param("daphne", *param.values, "not an HTTP/1.x status line", id=f"daphne-{param.id}")
          for param in NO_CONTENT),
        pytest.param("uvicorn-httptools", "GET", 204, "not an HTTP/1.x status line", id="httptools-get-204"),
        pytest.param("uvicorn-httptools", "GET", 304, "not an HTTP/1.x status line", id="httptools-get-304"),
        pytest.param("uvicorn-h11", "GET", 204, "closed before any response", id="h11-get-204"),
        pytest.param("uvicorn-h11", "GET", 304, "closed before any response", id="h11-get-304"),
    ],
)  # fmt: skip
def test_fault_body_after_no_content_breaks_the_connection(
    servers: Callable[[str], Server], name: str, method: str, status: int, broken: str
) -> None:
    """Bare: daphne writes every body message after the first (http_protocol.py calls
    ``http.Request.write`` past Twisted's no-body guard), httptools writes the body after a
    204/304 head: the next response is read from the middle of it. h11 refuses the bytes
    (``Too much data for declared Content-Length``) and uvicorn drops the connection."""
    port = servers(name).port
    with pytest.raises(WireError, match=broken):
        no_content_then_again(port, "/bare", method, status)
    _, second = no_content_then_again(port, "", method, status)
    assert (second.status, second.body) == (200, b"ok")


@pytest.mark.parametrize("name", HTTP1)
def test_expect_100_continue_then_one_connection_line(servers: Callable[[str], Server], name: str) -> None:
    """The server's own ``100 Continue`` carries no Connection field; the final response exactly one."""
    expect = request_bytes("POST", "/", headers=(("Expect", "100-continue"), ("Content-Length", "3")))
    with RawConnection(servers(name).port) as connection:
        connection.send_raw(expect)
        interim = connection.read_response("POST")
        connection.send_raw(b"x=1")
        final = connection.read_response("POST")
        again = connection.send(request_bytes("GET", "/"))
    assert interim.status == 100
    assert not interim.has_header("connection")
    assert (final.status, final.body) == (200, b"ok")
    assert connection_lines(final) == ["keep-alive"]
    assert (again.status, again.body) == (200, b"ok")


EARLY_NEVER_SENT = {
    "uvicorn-h11": pytest.mark.xfail(
        strict=True,
        reason="uvicorn h11_impl builds h11.Response(status_code=103), which h11 refuses ('Response "
        "status_code should be in range [200, 1000), not 103'): the connection drops, no byte is sent",
    ),
    "granian": pytest.mark.xfail(
        strict=True,
        reason="granian answers a 103 start with 'HTTP/1.1 500 Internal Server Error', content-length: 0",
    ),
}
EARLY_FRAMED_AS_FINAL = {
    "daphne": pytest.mark.xfail(
        strict=True,
        reason="Twisted frames a 1xx as a final response (1xx is not in NO_BODY_CODES, twisted/web/http.py): "
        "'Transfer-Encoding: chunked' on the 103, '0\\r\\n\\r\\n' after it; connmw drops only the app's body",
    ),
    "uvicorn-httptools": pytest.mark.xfail(
        strict=True,
        reason="uvicorn httptools_impl chunks any response without Content-Length, a 103 too: "
        "'transfer-encoding: chunked' and '0\\r\\n\\r\\n' after the interim head",
    ),
}


@pytest.mark.parametrize("name", HTTP1)
def test_app_1xx_gets_no_connection_field(
    servers: Callable[[str], Server], name: str, request: pytest.FixtureRequest
) -> None:
    """A 103 through ``http.response.start``: connmw decides nothing on an interim one (RFC 9110 §15.2)."""
    if name in EARLY_NEVER_SENT:
        request.applymarker(EARLY_NEVER_SENT[name])
    data, _ = read_raw(servers(name).port, request_bytes("GET", "/early"))
    status, fields, _ = split_head(data)
    assert status.startswith("HTTP/1.1 103")
    assert [value for field_name, value in fields if field_name.lower() == "connection"] == []


@pytest.mark.parametrize("name", HTTP1)
def test_app_1xx_carries_no_body(
    servers: Callable[[str], Server], name: str, request: pytest.FixtureRequest
) -> None:
    """After an interim head comes another head or nothing: no body bytes, no chunk terminator."""
    if name in EARLY_NEVER_SENT or name in EARLY_FRAMED_AS_FINAL:
        request.applymarker({**EARLY_NEVER_SENT, **EARLY_FRAMED_AS_FINAL}[name])
    data, _ = read_raw(servers(name).port, request_bytes("GET", "/early"))
    status, _, rest = split_head(data)
    assert status.startswith("HTTP/1.1 103")
    assert rest == b"" or rest.startswith(b"HTTP/1."), f"bytes after the 103 head: {rest[:100]!r}"


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


@pytest.mark.parametrize("name", HYPERCORN)
def test_fault_hypercorn_h2_leaks_the_nominated_header(
    servers: Callable[[str], Server], tls: TLSFiles, name: str
) -> None:
    server = servers(name)
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
    # granian and daphne send no websocket.accept headers at all (daphne: ws_protocol.py
    # passes only the subprotocol to autobahn's serverAccept).
    if name not in ("granian", "daphne"):
        assert accepted.headers["x-app"] == "1"




def handshake(port: int, path: str = "/ws", version: str = "HTTP/1.1", **change: str | None) -> RawResponse:
    """A WebSocket opening handshake; ``change`` sets fields, or leaves one out (``None``)."""
    with RawConnection(port) as connection:
        return connection.send(request_bytes("GET", path, version, headers=handshake_fields(**change)))


UVICORN_WS_HTTP10 = pytest.mark.xfail(
    strict=True, reason="uvicorn's websocket scope always says http_version 1.1: connmw cannot see HTTP/1.0"
)
DAPHNE_WS_HTTP10 = pytest.mark.xfail(
    strict=True,
    reason="daphne's websocket scope has no http_version and daphne/http_protocol.py hands the handshake to "
    "autobahn as HTTP/1.1: connmw cannot see HTTP/1.0, autobahn answers 101",
)
CONNMW_REASONS = {400: "Bad Request", 403: "Forbidden", 426: "Upgrade Required"}
"""Reason phrases of connmw's refusals on daphne (autobahn's ``failHandshake``: no body)."""


def refused_by_connmw(name: str, response: RawResponse) -> bool:
    """connmw's refusal: its body elsewhere, its reason phrase on daphne.

    autobahn's own refusals name the fault (``bad Sec-WebSocket-Key ...``), and daphne's
    answer to ``websocket.close`` before accept is ``403 Access denied``.
    """
    if name == "daphne":
        return response.body == b"" and response.reason == CONNMW_REASONS.get(response.status)
    return response.body.startswith(REFUSED_BY_CONNMW)


# case -> server -> (status, who answers: "connmw", "server" or "app")
WS_TABLE: dict[str, tuple[dict[str, str | None], str, dict[str, tuple[int, str]]]] = {
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
    # Every server's WebSocket stack but daphne's refuses another version before the app runs.
    "version-8": (
        {"Sec-WebSocket-Version": "8"},
        "HTTP/1.1",
        {
            "uvicorn-h11": (426, "server"),  # wsproto: 426 + Sec-WebSocket-Version: 13
            "uvicorn-httptools": (400, "server"),  # websockets
            "hypercorn": (400, "server"),
            "hypercorn-trio": (400, "server"),
            "granian": (400, "server"),
            "daphne": (426, "connmw"),  # autobahn alone accepts version 8: 101
        },
    ),
    # No version at all: every ASGI server refuses it itself, so connmw's 426 never goes out
    # there (wsproto adds Sec-WebSocket-Version: 13; daphne's autobahn says "Hixie76 protocol
    # not supported"; the others answer a bare 400). connmw answers 426 on WSGI.
    "no-version": (
        {"Sec-WebSocket-Version": None},
        "HTTP/1.1",
        dict.fromkeys(WEBSOCKET, (400, "server")),
    ),
    "short-key": (
        {"Sec-WebSocket-Key": "short"},
        "HTTP/1.1",
        {
            "uvicorn-h11": (400, "connmw"),  # wsproto alone answers 101
            "uvicorn-httptools": (400, "server"),  # websockets refuses it first
            "hypercorn": (400, "connmw"),  # hypercorn alone answers 101
            "hypercorn-trio": (400, "connmw"),
            "granian": (400, "connmw"),  # granian alone answers 101
            "daphne": (400, "server"),  # autobahn: 400 bad Sec-WebSocket-Key
        },
    ),
    "http10": (
        {},
        "HTTP/1.0",
        {
            "uvicorn-h11": (400, "connmw"),
            "uvicorn-httptools": (400, "connmw"),
            "hypercorn": (400, "server"),
            "hypercorn-trio": (400, "server"),
            "granian": (400, "connmw"),  # granian alone answers 101
            "daphne": (400, "connmw"),
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
    if case == "http10" and name == "daphne":
        request.applymarker(DAPHNE_WS_HTTP10)
    status, who = expected[name]
    response = handshake(servers(name).port, version=version, **change)
    assert response.status == status
    if who == "connmw":
        assert refused_by_connmw(name, response)
    elif who == "server":
        assert not refused_by_connmw(name, response)
    if status == 426:  # RFC 6455 §4.4
        assert response.header_values("sec-websocket-version") == ["13"]


@pytest.mark.parametrize(
    ("name", "case"),
    [
        *((name, "foreign-origin") for name in WEBSOCKET),
        ("uvicorn-h11", "short-key"),
        ("hypercorn", "short-key"),
        ("hypercorn-trio", "short-key"),
        ("granian", "short-key"),
        ("granian", "http10"),
        ("daphne", "version-8"),
    ],
)
def test_fault_handshakes_accepted_without_connmw(
    servers: Callable[[str], Server], name: str, case: str
) -> None:
    change, version, expected = WS_TABLE[case]
    bare = handshake(servers(name).port, "/bare/ws", version, **change)
    fixed = handshake(servers(name).port, "/ws", version, **change)
    assert bare.status == 101
    assert (fixed.status, "connmw") == expected[name]
    assert refused_by_connmw(name, fixed)


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
    request: pytest.FixtureRequest, servers: Callable[[str], Server], name: str, change: dict[str, str]
) -> None:
    if name == "uvicorn-httptools" and not change.get("Sec-WebSocket-Key", "").isascii():
        request.applymarker(WEBSOCKETS_SANSIO_BEFORE_17)
    try:
        response = handshake(servers(name).port, **change)
    except WireError:
        return
    assert response.status < 500


# --------------------------------------------------------------------------------------
# WebSocket over HTTP/2 (RFC 8441): judged by its own rules, not refused for lacking Upgrade
# --------------------------------------------------------------------------------------


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
@pytest.mark.parametrize("name", HYPERCORN)
def test_rfc8441_websocket_over_http2_on_hypercorn(
    servers: Callable[[str], Server], name: str, extra: tuple[tuple[str, str], ...], status: int, who: str
) -> None:
    answer = extended_connect(servers(name).port, *extra)
    assert answer.connect_protocol, "hypercorn announces SETTINGS_ENABLE_CONNECT_PROTOCOL"
    assert answer.status == status
    assert answer.body.startswith(REFUSED_BY_CONNMW) == (who == "connmw")
    if status == 200:
        names = {name for name, _ in answer.headers}
        assert b"x-app" in names
        assert b"keep-alive" not in names, "hop-by-hop accept header removed"


@pytest.mark.parametrize("name", HYPERCORN)
@pytest.mark.parametrize("path", ["/trailers", "/bare/trailers"])
def test_trailers_pass_over_http2_on_hypercorn(
    servers: Callable[[str], Server], name: str, path: str
) -> None:
    request = [(":method", "GET"), (":scheme", "http"), (":path", path), (":authority", "127.0.0.1"),
               ("te", "trailers")]  # fmt: skip
    answer = h2_request(servers(name).port, request)
    assert answer.status == 200
    assert answer.body == b"body"
    assert (b"trailer", b"x-checksum") in answer.headers
    assert answer.trailers == [(b"x-checksum", b"abc")]


# --------------------------------------------------------------------------------------
# The example applications run as documented
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "close",
    [
        pytest.param([("Connection", "close")], id="client-close"),
        pytest.param([("Connection", "keep-alive,close")], id="glued-close"),
        pytest.param([("Connection", "keep-alive"), ("Connection", "close")], id="close-on-a-second-line"),
    ],
)
def test_behind_starlettes_own_middlewares_daphne_closes_once(
    servers: Callable[[str], Server], close: list[tuple[str, str]]
) -> None:
    """``app.add_middleware`` puts connmw inside Starlette's ServerErrorMiddleware, which wraps
    the server's ``send``: connmw still finds daphne's and makes its one close real."""
    response = get(servers("example-starlette-daphne").port, "/hoppy", headers=close)
    assert response.header_values("connection") == ["close"]
    assert response.closed


def test_behind_starlettes_own_middlewares_hypercorn_max_requests_closes_once(
    servers: Callable[[str], Server],
) -> None:
    with RawConnection(servers("example-starlette-max-requests").port) as connection:
        answers = [connection.send(request_bytes("GET", "/hoppy")) for _ in range(3)]
        assert [a.header_values("connection") for a in answers] == [["keep-alive"], ["keep-alive"], ["close"]]
        assert connection.is_closed(wait=2.0)


@pytest.mark.parametrize("name", ["example-fastapi", "example-starlette", "example-starlette-daphne"])
def test_stats_reach_a_middleware_add_middleware_built(servers: Callable[[str], Server], name: str) -> None:
    """Starlette and FastAPI build the instance themselves; connmw.stats() reaches it anyway."""
    port = servers(name).port
    before = json.loads(get(port, "/stats").body)["headers_stripped"].get("x-hop", 0)
    assert "x-hop" not in names(get(port, "/hoppy"))
    after = json.loads(get(port, "/stats").body)
    assert after["headers_stripped"]["x-hop"] == before + 1
    assert set(after) == {
        "headers_stripped", "handshakes_rejected", "connections_closed", "request_abuse", "bodies_dropped",
        "readiness", "unrecognised",
    }  # fmt: skip
    assert after["unrecognised"] == 0  # the server, recognised


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
