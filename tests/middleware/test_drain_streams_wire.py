"""Drain ends WebSockets and event streams gradually, on real servers (connmw._streams).

Each test starts its own server (drain is process-wide) serving
``tests/apps/drain_streams_apps.py`` with ``CONNMW_DRAIN_WINDOW=1.5``, connects real
clients, drains through the application (``/admin/drain`` calls :func:`connmw.drain`) and
reads what the clients got:

* N ``websockets`` clients: each gets a close frame with 1001 (never 1006: no close frame,
  nor a reset; on daphne through its hook, connmw.servers.daphne), the first and last at
  least half the window apart, and the application saw every disconnect, with 1001;
* an event stream read on a raw socket: the response ends properly (the last chunk of its
  chunked coding), after whole events only.
"""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import Callable, Sequence

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from tests.helpers import hide_connmw_variables
from tests.wire import LOOPBACK, Server, ServerPool, daphne_cmd, granian_cmd, hypercorn_cmd, uvicorn_cmd

APP = "tests.apps.drain_streams_apps:app"
WINDOW = 1.5
CLIENTS = 8

SERVERS: dict[str, Callable[[int], Sequence[str]]] = {
    "uvicorn-websockets": lambda port: uvicorn_cmd(APP, port, http="httptools", ws="websockets"),
    "uvicorn-wsproto": lambda port: uvicorn_cmd(APP, port, http="h11", ws="wsproto"),
    "uvicorn-websockets-sansio": lambda port: uvicorn_cmd(
        APP, port, http="httptools", ws="websockets-sansio"
    ),
    "hypercorn": lambda port: hypercorn_cmd(APP, port),
    "hypercorn-trio": lambda port: hypercorn_cmd(APP, port, worker="trio"),
    "daphne": lambda port: daphne_cmd(APP, port),
    "granian": lambda port: granian_cmd(APP, port),
}


@pytest.fixture(autouse=True)
def _no_connmw_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    hide_connmw_variables(monkeypatch)  # the servers get only the settings a test gives


def start(pool: ServerPool, name: str) -> Server:
    env = {"CONNMW_DRAIN_WINDOW": str(WINDOW), "CONNMW_WS_ALLOWED_ORIGINS": "*"}
    return pool(SERVERS[name], env=env)


def get(port: int, path: str) -> bytes:
    """One GET on its own connection; the body (the responses here have a length)."""
    with socket.create_connection((LOOPBACK, port), timeout=5) as sock:
        sock.sendall(b"GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n" % path.encode())
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    return data.split(b"\r\n\r\n", 1)[1]


@pytest.mark.parametrize("name", list(SERVERS))
def test_websockets_leave_with_1001_spread_over_the_window(serve: ServerPool, name: str) -> None:
    server = start(serve, name)

    async def client(index: int, ready: asyncio.Event) -> tuple[float, int | None, int | None]:
        async with connect(f"ws://{LOOPBACK}:{server.port}/ws", open_timeout=10) as ws:
            await ws.send(str(index))
            assert await ws.recv() == f"ack:{index}"
            ready.set()
            try:
                while True:
                    await ws.recv()
            except ConnectionClosed:
                pass
            received = ws.protocol.close_rcvd
            return time.monotonic(), (None if received is None else received.code), ws.protocol.close_code

    async def main() -> tuple[float, list[tuple[float, int | None, int | None]]]:
        readies = [asyncio.Event() for _ in range(CLIENTS)]
        tasks = [asyncio.create_task(client(i, readies[i])) for i in range(CLIENTS)]
        await asyncio.wait_for(asyncio.gather(*(r.wait() for r in readies)), 15)
        began = time.monotonic()
        await asyncio.to_thread(get, server.port, "/admin/drain")
        return began, await asyncio.wait_for(asyncio.gather(*tasks), WINDOW + 8)

    began, results = asyncio.run(main())
    times = sorted(at for at, _, _ in results)
    assert [received for _, received, _ in results] == [1001] * CLIENTS, server.log_text()[-2000:]
    assert [closed for _, _, closed in results] == [1001] * CLIENTS
    assert times[-1] - times[0] >= WINDOW / 2, times
    assert times[-1] - began <= WINDOW + 1.0 + 1.0  # seen within a second, then the window
    deadline = time.monotonic() + 5
    while True:
        seen = json.loads(get(server.port, "/seen"))
        if len(seen["websocket"]) >= CLIENTS or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert seen["websocket"] == [1001] * CLIENTS


def read_stream(port: int, seconds: float) -> tuple[bytes, bool, list[int]]:
    """GET /events on a raw socket for at most ``seconds``: the de-chunked body, whether the
    chunked body ended with its last chunk, and the ids of the whole events received."""
    with socket.create_connection((LOOPBACK, port), timeout=seconds) as sock:
        sock.sendall(b"GET /events HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n")
        data = b""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and not data.endswith(b"\r\n0\r\n\r\n"):
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    head, _, chunked = data.partition(b"\r\n\r\n")
    assert b"transfer-encoding: chunked" in head.lower(), head
    body = b""
    ended = False
    while chunked:
        size_line, _, rest = chunked.partition(b"\r\n")
        size = int(size_line.split(b";")[0], 16)
        if size == 0:
            ended = True
            break
        body += rest[:size]
        chunked = rest[size + 2 :]
    ids = [int(line[4:]) for line in body.split(b"\n") if line.startswith(b"id: ")]
    return body, ended, ids


@pytest.mark.parametrize("name", ["uvicorn-websockets", "hypercorn", "daphne", "granian"])
def test_an_event_stream_ends_at_an_event_boundary(serve: ServerPool, name: str) -> None:
    server = start(serve, name)

    async def main() -> tuple[bytes, bool, list[int]]:
        reader = asyncio.create_task(asyncio.to_thread(read_stream, server.port, WINDOW + 8))
        await asyncio.sleep(0.6)
        await asyncio.to_thread(get, server.port, "/admin/drain")
        return await reader

    body, ended, ids = asyncio.run(main())
    assert ended, body[-200:]  # a complete response, not a reset nor a timeout
    assert body.endswith(b"\n\n")  # at an event's end
    assert ids == list(range(1, len(ids) + 1))
    assert body.count(b"data: ") == len(ids) and len(ids) < 60  # whole events only, ended early
    deadline = time.monotonic() + 3
    while json.loads(get(server.port, "/seen"))["http"] < 1 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert json.loads(get(server.port, "/seen"))["http"] == 1  # the application was told
