"""The harness itself: framing, header fidelity and close detection in tests/wire.py.

Every real-server test trusts ``exchange`` to read exactly one response and to tell a
closed socket from an open one, so those parts are proven here against a scripted
loopback peer that sends fixed bytes and then closes, resets or stays open.
"""

from __future__ import annotations

import socket
import struct
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from tests.wire import (
    RawConnection,
    WireError,
    curl,
    django_cmd,
    exchange,
    free_port,
    request_bytes,
    required_module,
    uvicorn_cmd,
    werkzeug_cmd,
    wsgiref_cmd,
)

pytestmark = pytest.mark.timeout(30)


@contextmanager
def scripted_peer(*answers: bytes, then: str = "close", hold: float = 3.0) -> Iterator[int]:
    """A one-connection server: per request read, send the next answer; then close/reset/hold.

    ``then="reset"`` closes with SO_LINGER 0 (an RST), ``"hold"`` keeps the socket open for
    ``hold`` seconds. Yields the port.
    """
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    done = threading.Event()

    def run() -> None:
        conn, _ = listener.accept()
        with conn:
            for answer in answers:
                data = b""
                while b"\r\n\r\n" not in data:
                    chunk = conn.recv(65536)
                    if not chunk:
                        return
                    data += chunk
                conn.sendall(answer)
            if then == "reset":
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            elif then == "hold":
                done.wait(hold)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        yield port
    finally:
        done.set()
        thread.join(5)
        listener.close()


OK_HEAD = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n"


def test_request_bytes_adds_host_and_content_length() -> None:
    assert request_bytes("POST", "/x", body=b"abc") == (
        b"POST /x HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 3\r\n\r\nabc"
    )
    assert request_bytes(host=None, headers=[("A", "1")]) == b"GET / HTTP/1.1\r\nA: 1\r\n\r\n"


def test_headers_kept_as_sent_with_duplicates_and_case() -> None:
    answer = (
        b"HTTP/1.1 200 OK\r\nConnection: keep-alive, X-Hop\r\nconnection: close\r\n"
        b"Content-Length: 2\r\n\r\nok"
    )
    with scripted_peer(answer) as port:
        response = exchange(port, request_bytes())
    assert (response.http_version, response.status, response.reason) == ("HTTP/1.1", 200, "OK")
    assert response.headers == [
        ("Connection", "keep-alive, X-Hop"),
        ("connection", "close"),
        ("Content-Length", "2"),
    ]
    assert response.header_values("CONNECTION") == ["keep-alive, X-Hop", "close"]
    assert response.connection_tokens() == ["keep-alive", "x-hop", "close"]
    assert response.header_names_lower() == ["connection", "connection", "content-length"]
    assert response.body == b"ok"
    assert response.closed


def test_chunked_body_with_extensions_and_trailers() -> None:
    answer = (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"3;ext=1\r\none\r\n4\r\n two\r\n0\r\nX-Checksum: abc\r\n\r\n"
    )
    with scripted_peer(answer, then="hold") as port:
        response = exchange(port, request_bytes(), close_wait=0.2)
    assert response.chunked
    assert response.body == b"one two"
    assert response.trailers == [("X-Checksum", "abc")]
    assert not response.closed


def test_close_delimited_body_means_closed() -> None:
    with scripted_peer(b"HTTP/1.0 200 OK\r\n\r\nall of it") as port:
        response = exchange(port, request_bytes(version="HTTP/1.0"))
    assert (response.body, response.close_delimited, response.closed) == (b"all of it", True, True)


@pytest.mark.parametrize(
    ("method", "answer"),
    [
        pytest.param("HEAD", OK_HEAD, id="head"),
        pytest.param("GET", b"HTTP/1.1 204 No Content\r\n\r\n", id="204"),
        pytest.param("GET", b"HTTP/1.1 304 Not Modified\r\nContent-Length: 2\r\n\r\n", id="304"),
        pytest.param("GET", b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n", id="101"),
    ],
)
def test_responses_without_body(method: str, answer: bytes) -> None:
    with scripted_peer(answer, then="hold") as port:
        response = exchange(port, request_bytes(method), close_wait=0.2)
    assert response.body == b""
    assert not response.closed


def test_reset_counts_as_closed() -> None:
    with scripted_peer(OK_HEAD + b"ok", then="reset") as port:
        assert exchange(port, request_bytes()).closed


def test_keep_alive_on_one_connection() -> None:
    with scripted_peer(OK_HEAD + b"ok", OK_HEAD + b"ok", then="hold") as port, RawConnection(port) as conn:
        assert conn.send(request_bytes()).body == b"ok"
        assert not conn.is_closed(wait=0.2)
        assert conn.send(request_bytes()).body == b"ok"


def test_empty_reply_and_short_body_raise() -> None:
    with scripted_peer(b"", then="close") as port, pytest.raises(WireError, match="empty reply"):
        exchange(port, request_bytes())
    with scripted_peer(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nok") as port, pytest.raises(WireError):
        exchange(port, request_bytes())


def test_curl_parses_headers_and_verdict() -> None:
    answer = b"HTTP/1.1 200 OK\r\nX-A: 1\r\nx-a: 2\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok"
    with scripted_peer(answer) as port:
        result = curl([f"http://127.0.0.1:{port}/"], timeout=5)
    assert (result.status, result.body, result.returncode) == (200, b"ok", 0)
    assert result.header_values("x-a") == ["1", "2"]
    assert result.closed
    assert not result.left_intact


def test_required_module_of_each_command() -> None:
    port = free_port()
    assert required_module(uvicorn_cmd("m:a", port)) == "uvicorn"
    assert required_module(werkzeug_cmd("m:a", port)) == "werkzeug"
    assert required_module(wsgiref_cmd("m:a", port)) is None
    assert required_module(django_cmd("m:a", port)) == "django"
