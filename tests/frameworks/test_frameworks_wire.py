"""connmw added each framework's own way, on the wire (docs/frameworks.md).

Every app under tests/frameworks (tests/frameworks/table.py) is served once for the module
by a real server on loopback: uvicorn (httptools, wsproto) for ASGI, gunicorn's gthread
worker for WSGI. For each: the three curl requests of the README, the app's own
``Connection: close`` said once and honoured, no hop-by-hop field leaked (the nominated
``X-Custom`` removed too), HEAD and 204 without body bytes, what the app reads of connmw's
facts, and exactly one Connection line on every response. Where the framework speaks
WebSocket: an echo through its own WebSocket API with a same-origin handshake, 403 for a
foreign Origin, 426 and ``Sec-WebSocket-Version: 13`` for version 8. python-socketio's own
client connects (long-polling, then the upgrade to WebSocket), emits and gets its
acknowledgement through the wrapped app exactly as through the bare one.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator

import pytest
from websockets.sync.client import connect as ws_connect

from tests.frameworks.routes import BODY, CLOSING, LEAKY, echo
from tests.frameworks.table import BY_NAME, FRAMEWORKS, command
from tests.helpers import handshake_fields, server_pool
from tests.wire import RawConnection, RawResponse, Server, curl, request_bytes, require_module

pytestmark = pytest.mark.timeout(60)

NAMES = [framework.name for framework in FRAMEWORKS]
WEBSOCKET = [framework.name for framework in FRAMEWORKS if framework.websocket]
ECHO = [framework.name for framework in FRAMEWORKS if framework.websocket and not framework.socketio]
SOCKETIO = [framework.name for framework in FRAMEWORKS if framework.socketio]
HOP_BY_HOP = {"keep-alive", "transfer-encoding", "upgrade", "proxy-connection", "te", "x-custom"}
REFUSED_BY_CONNMW = b"WebSocket handshake refused"
LITESTAR_AFTER_ROUTING = pytest.mark.xfail(
    strict=True,
    reason="Litestar builds its middleware stack around each route handler: what its router answers "
    "itself (404, 405) never passes a middleware given to Litestar(middleware=[...]); "
    "wrap the Litestar object to see those too (docs/frameworks.md)",
)


@pytest.fixture(scope="module")
def servers() -> Iterator[Callable[..., Server]]:
    """``servers(name, attr="app")``: a framework's app served once for the module.

    ``attr`` names the module's object: ``app`` (connmw added the framework's way),
    ``bare`` (without connmw), ``outer`` (Litestar's, wrapped as an object).

    ``CONNMW_*`` variables of the shell are hidden from the servers: defaults only.
    """
    with server_pool() as pool:

        def get(name: str, attr: str = "app") -> Server:
            framework = BY_NAME[name]
            require_module(framework.package)
            target = f"{framework.module}:{attr}"
            return pool.shared(target, command(target, framework.interface))

        yield get


def connection_lines(response: RawResponse) -> list[str]:
    """The Connection lines as sent, lower-cased: ``["close"]`` is one line saying close."""
    return [value.lower() for value in response.header_values("connection")]


def then_next(port: int, request: bytes) -> tuple[RawResponse, RawResponse]:
    """``request``, then ``GET /`` on the same socket: both responses.

    The second parses only if the first ended where its framing said (no body bytes
    after HEAD or a 204) and the connection stayed open as announced.
    """
    with RawConnection(port) as connection:
        first = connection.send(request)
        second = connection.send(request_bytes("GET", "/"))
    assert (second.status, second.body) == (200, BODY.encode())
    return first, second


# --------------------------------------------------------------------------------------
# HTTP
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_the_three_curl_requests(servers: Callable[..., Server], name: str) -> None:
    url = f"{servers(name).url}/"
    default = curl(["-X", "POST", url])
    http10 = curl(["-X", "POST", "--http1.0", url])
    close = curl(["-X", "POST", "-H", "Connection: close", url])
    assert [v.lower() for v in default.header_values("connection")] == ["keep-alive"]
    assert default.left_intact
    for closing in (http10, close):
        assert [v.lower() for v in closing.header_values("connection")] == ["close"]
        assert not closing.left_intact
    assert default.body == http10.body == close.body == BODY.encode()


@pytest.mark.parametrize("name", NAMES)
def test_apps_own_close_said_once_and_honoured(servers: Callable[..., Server], name: str) -> None:
    with RawConnection(servers(name).port) as connection:
        response = connection.send(request_bytes("GET", "/close"))
        closed = response.closed or connection.is_closed(wait=2.0)
    assert (response.status, response.body) == (200, CLOSING.encode())
    assert connection_lines(response) == ["close"]
    assert closed, "the app said close: the server must really close"


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("version", ["HTTP/1.1", "HTTP/1.0"])
def test_no_hop_by_hop_field_leaks(servers: Callable[..., Server], name: str, version: str) -> None:
    with RawConnection(servers(name).port) as connection:
        response = connection.send(request_bytes("GET", "/leak", version))
    assert (response.status, response.body) == (200, LEAKY.encode())
    assert not set(response.header_names_lower()) & HOP_BY_HOP
    assert connection_lines(response) == (["keep-alive"] if version == "HTTP/1.1" else ["close"])
    assert response.header_values("content-length") == [str(len(LEAKY))]


@pytest.mark.parametrize("name", NAMES)
def test_head_has_no_body(servers: Callable[..., Server], name: str) -> None:
    head, _ = then_next(servers(name).port, request_bytes("HEAD", "/"))
    assert head.status == 200
    assert connection_lines(head) == ["keep-alive"]


@pytest.mark.parametrize("name", NAMES)
def test_204_has_no_body(servers: Callable[..., Server], name: str) -> None:
    empty, _ = then_next(servers(name).port, request_bytes("GET", "/empty"))
    assert empty.status == 204
    assert connection_lines(empty) == ["keep-alive"]
    assert not empty.has_header("content-length"), "RFC 9110 §8.6: a 204 has no Content-Length"
    assert not empty.has_header("transfer-encoding")


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize(
    ("version", "said"), [("HTTP/1.1", "1.1 persistent"), ("HTTP/1.0", "1.0 closing")], ids=["1.1", "1.0"]
)
def test_app_reads_the_facts(servers: Callable[..., Server], name: str, version: str, said: str) -> None:
    with RawConnection(servers(name).port) as connection:
        response = connection.send(request_bytes("GET", "/facts", version))
    assert (response.status, response.body) == (200, said.encode())
    assert len(connection_lines(response)) == 1


@pytest.mark.parametrize("name", NAMES)
def test_the_routers_own_404_passes_connmw(
    servers: Callable[..., Server], name: str, request: pytest.FixtureRequest
) -> None:
    if BY_NAME[name].after_routing:
        request.applymarker(LITESTAR_AFTER_ROUTING)
    with RawConnection(servers(name).port) as connection:
        response = connection.send(request_bytes("GET", "/nope"))
    assert response.status == 404
    assert connection_lines(response) == ["keep-alive"]


def test_litestar_wrapped_outside_sees_the_routers_answers(servers: Callable[..., Server]) -> None:
    """The other way to add connmw to Litestar: wrapping the application object (``outer``)."""
    with RawConnection(servers("litestar", "outer").port) as connection:
        missing = connection.send(request_bytes("GET", "/nope"))
        home = connection.send(request_bytes("POST", "/", body=b"x=1"))
    assert (missing.status, connection_lines(missing)) == (404, ["keep-alive"])
    assert (home.status, home.body, connection_lines(home)) == (200, BODY.encode(), ["keep-alive"])


# --------------------------------------------------------------------------------------
# WebSocket
# --------------------------------------------------------------------------------------

def handshake(server: Server, path: str, **change: str) -> RawResponse:
    fields = handshake_fields(**{"Origin": f"http://127.0.0.1:{server.port}", **change})
    with RawConnection(server.port) as connection:
        return connection.send(request_bytes("GET", path, headers=fields))


@pytest.mark.parametrize("name", ECHO)
def test_websocket_echo_same_origin(servers: Callable[..., Server], name: str) -> None:
    server = servers(name)
    url = f"ws://127.0.0.1:{server.port}{BY_NAME[name].websocket}"
    with ws_connect(url, origin=f"http://127.0.0.1:{server.port}", open_timeout=5) as websocket:  # type: ignore[arg-type]
        websocket.send("hi")
        assert websocket.recv(timeout=5) == echo("hi")
        accepted = websocket.response
    assert accepted is not None
    assert accepted.status_code == 101


@pytest.mark.parametrize("name", WEBSOCKET)
def test_websocket_foreign_origin_403(servers: Callable[..., Server], name: str) -> None:
    response = handshake(servers(name), BY_NAME[name].websocket or "", Origin="http://evil.example")
    assert response.status == 403
    assert response.body.startswith(REFUSED_BY_CONNMW)


@pytest.mark.parametrize("name", WEBSOCKET)
def test_websocket_version_8_426(servers: Callable[..., Server], name: str) -> None:
    response = handshake(servers(name), BY_NAME[name].websocket or "", Sec_WebSocket_Version="8")
    assert response.status == 426
    assert response.header_values("sec-websocket-version") == ["13"]


# --------------------------------------------------------------------------------------
# python-socketio's own client
# --------------------------------------------------------------------------------------


def socketio_session(server: Server) -> tuple[list[tuple[str, str]], str]:
    """Connect with python-socketio's client (polling, then upgrade), ping, disconnect.

    Returns the events in order and the transport the session ended on.
    """
    import socketio  # noqa: PLC0415 (a test extra: the tests needing it are skipped without it)

    client = socketio.Client(reconnection=False)
    events: list[tuple[str, str]] = []
    arrived = threading.Event()

    @client.on("welcome")
    def welcome(data: str) -> None:
        events.append(("welcome", data))

    @client.on("reply")
    def reply(data: str) -> None:
        events.append(("reply", data))
        arrived.set()

    client.connect(server.url, transports=["polling", "websocket"], wait_timeout=5)
    try:
        for _ in range(50):  # the upgrade follows the polling handshake: at most 5 s
            if client.transport() == "websocket":
                break
            client.sleep(0.1)
        transport = client.transport()
        events.append(("ack", client.call("ping", "x", timeout=5)))
        assert arrived.wait(5), "the reply event never came"
    finally:
        client.disconnect()
    return events, transport


@pytest.mark.parametrize("name", SOCKETIO)
def test_socketio_client_same_through_connmw(servers: Callable[..., Server], name: str) -> None:
    wrapped, wrapped_transport = socketio_session(servers(name))
    bare, bare_transport = socketio_session(servers(name, "bare"))
    assert wrapped_transport == bare_transport == "websocket"
    # welcome comes first; the reply and the acknowledgement race each other on both
    assert wrapped[0] == bare[0] == ("welcome", "hi")
    assert sorted(wrapped) == sorted(bare) == [("ack", "pong:x"), ("reply", "x"), ("welcome", "hi")]
