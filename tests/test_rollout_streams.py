"""A rolling restart of a WebSocket and event-stream application behind HAProxy (connmw._streams).

Two uvicorn instances of ``tests/apps/drain_streams_apps.py`` behind HAProxy, which checks
connmw's ready path (``tests/test_rollout.py`` has the balancer and the recipe). For the
whole run:

* ``WS_CLIENTS`` WebSocket clients send a numbered message every ``SEND_EVERY`` seconds and
  keep each until the server acknowledges it (``ack:<n>``); when their connection closes
  they reconnect at once (through HAProxy) and re-send what was not acknowledged;
* ``SSE_CLIENTS`` ``EventSource``-style clients read ``/events`` and, whenever the stream
  ends or breaks, reconnect with ``Last-Event-ID``.

Each instance in turn: touch its drain file, wait until HAProxy has it DOWN and it holds
no connection any more (its WebSockets and streams have left, spread over the window; at
most the window and two seconds), SIGTERM, start it again, wait until it is UP.

* With connmw (``CONNMW_DRAIN_WINDOW=WINDOW``): no abnormal closure (every close frame
  says 1001, none missing), no message lost (each client's last unacknowledged messages
  are acknowledged after a reconnect), each instance's WebSockets leave spread over the
  window (first and last close at least half of it apart), and every event id reaches each
  event-stream client exactly once.
* The bare application (its own ``/healthz`` says 200 until the process dies; SIGTERM right
  away, as an orchestrator does): the storm, every WebSocket of the instance closed by
  uvicorn with 1012 within a fraction of a second.

Opt-in (``-m rollout``): ``python -m pytest -m rollout tests/test_rollout_streams.py -v -s``
prints each run's figures.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

from tests.helpers import hide_connmw_variables
from tests.test_rollout import HTTP_CHECK, PLAIN_CHECK, READY_PATH, HAProxy, Upstream
from tests.wire import LOOPBACK, free_port

pytestmark = [pytest.mark.rollout, pytest.mark.timeout(120)]

WINDOW = 3.0
GRACE = 3  # uvicorn --timeout-graceful-shutdown
WS_CLIENTS = 30
SSE_CLIENTS = 4
SEND_EVERY = 0.1
DOWN_WAIT = 1.0 + 3 * 0.2 + 0.5  # connmw's look at the drain file, HAProxy fall 2 of inter 200ms, margin
SETTLE = 1.0


@dataclass
class StreamUpstream(Upstream):
    """An instance of the WebSocket and event-stream application."""

    def argv(self) -> list[str]:
        app = "tests.apps.drain_streams_apps:" + ("app" if self.wrapped else "bare_app")
        return [
            *(sys.executable, "-m", "uvicorn", app, "--host", LOOPBACK, "--port", str(self.port)),
            *("--http", "httptools", "--ws", "websockets", "--no-access-log"),
            *("--timeout-graceful-shutdown", str(GRACE)),
        ]

    def env(self) -> dict[str, str]:
        if not self.wrapped:
            return {}
        return {
            "CONNMW_READY_PATH": READY_PATH,
            "CONNMW_DRAIN_FILE": str(self.drain_file),
            "CONNMW_DRAIN_WINDOW": str(WINDOW),
            "CONNMW_WS_ALLOWED_ORIGINS": "*",
        }


@dataclass
class Clients:
    """Every client's outcomes; times are seconds of ``time.monotonic()``."""

    closes: list[tuple[float, int | None]] = field(default_factory=list)  # (when, code; None: no frame)
    refused: Counter[str] = field(default_factory=Counter)  # failed (re)connections, by kind
    unacked: list[dict[int, float]] = field(default_factory=list)
    sent: int = 0
    acked: int = 0
    resent: int = 0
    events: list[list[int]] = field(default_factory=list)
    stream_ends: Counter[str] = field(default_factory=Counter)  # clean / broken


async def ws_client(port: int, index: int, clients: Clients, stop: asyncio.Event) -> None:
    unacked: dict[int, float] = {}
    clients.unacked.append(unacked)
    number = index * 1_000_000

    while not stop.is_set():
        try:
            async with connect(f"ws://{LOOPBACK}:{port}/ws", open_timeout=5, close_timeout=3) as ws:

                async def read(ws: ClientConnection = ws) -> None:
                    async for message in ws:
                        acked = int(str(message)[4:])
                        if unacked.pop(acked, None) is not None:
                            clients.acked += 1

                reader = asyncio.ensure_future(read())
                for pending in sorted(unacked):  # what the last connection did not acknowledge
                    clients.resent += 1
                    await ws.send(str(pending))
                with_stop = False
                while not reader.done():
                    if stop.is_set():
                        with_stop = True
                        break
                    number += 1
                    unacked[number] = time.monotonic()
                    clients.sent += 1
                    try:
                        await ws.send(str(number))
                    except ConnectionClosed:
                        break
                    await asyncio.wait([reader], timeout=SEND_EVERY)
                if with_stop:  # the end of the run: wait for the last acknowledgements
                    deadline = time.monotonic() + 3
                    while unacked and not reader.done() and time.monotonic() < deadline:
                        await asyncio.sleep(0.05)
                    reader.cancel()
                    return
                with contextlib.suppress(ConnectionClosed):
                    await reader
                received = ws.protocol.close_rcvd
                clients.closes.append((time.monotonic(), None if received is None else received.code))
        except InvalidStatus as error:
            clients.refused[f"http-{error.response.status_code}"] += 1
            await asyncio.sleep(0.1)
        except (OSError, InvalidHandshake, TimeoutError) as error:
            clients.refused[type(error).__name__] += 1
            await asyncio.sleep(0.1)


def sse_client(port: int, clients: Clients, stop: threading.Event) -> None:
    """An EventSource: dispatch an event at its blank line; reconnect with Last-Event-ID."""
    ids: list[int] = []
    clients.events.append(ids)
    last: int | None = None
    with httpx.Client(timeout=httpx.Timeout(5.0)) as http:
        while not stop.is_set():
            headers = {"Accept": "text/event-stream"}
            if last is not None:
                headers["Last-Event-ID"] = str(last)
            try:
                with http.stream("GET", f"http://{LOOPBACK}:{port}/events", headers=headers) as response:
                    if response.status_code != 200:
                        clients.stream_ends[f"http-{response.status_code}"] += 1
                        time.sleep(0.1)
                        continue
                    pending: int | None = None
                    for line in response.iter_lines():
                        if stop.is_set():
                            return
                        if line.startswith("id: "):
                            pending = int(line[4:])
                        elif line == "" and pending is not None:  # dispatch
                            ids.append(pending)
                            last, pending = pending, None
                clients.stream_ends["clean"] += 1
            except httpx.HTTPError as error:
                clients.stream_ends[f"broken-{type(error).__name__}"] += 1
                time.sleep(0.1)


@dataclass
class Restart:
    name: str
    drained: float
    terminated: float
    took: float
    status: int | None


def roll(upstreams: list[StreamUpstream], haproxy: HAProxy, wrapped: bool) -> tuple[Clients, list[Restart]]:
    clients = Clients()
    restarts: list[Restart] = []
    sse_stop = threading.Event()
    sse_threads = [
        threading.Thread(target=sse_client, args=(haproxy.port, clients, sse_stop), daemon=True)
        for _ in range(SSE_CLIENTS)
    ]

    async def main() -> None:
        stop = asyncio.Event()
        tasks = [asyncio.ensure_future(ws_client(haproxy.port, i, clients, stop)) for i in range(WS_CLIENTS)]
        for thread in sse_threads:
            thread.start()
        await asyncio.sleep(SETTLE * 2)
        for upstream in upstreams:
            drained = time.monotonic()
            if wrapped:
                upstream.drain_file.touch()
                await asyncio.to_thread(haproxy.wait_state, upstream.name, "DOWN", DOWN_WAIT + WINDOW + 2)
            terminated = time.monotonic()
            took, status = await asyncio.to_thread(upstream.terminate)
            restarts.append(Restart(upstream.name, drained, terminated, took, status))
            upstream.drain_file.unlink(missing_ok=True)
            upstream.start()
            await asyncio.to_thread(upstream.wait_listening)
            assert await asyncio.to_thread(haproxy.wait_state, upstream.name, "UP", 10.0)
            await asyncio.sleep(SETTLE)
        stop.set()
        await asyncio.wait_for(asyncio.gather(*tasks), 10)

    try:
        asyncio.run(main())
    finally:
        sse_stop.set()
        for thread in sse_threads:
            thread.join(10)
    return clients, restarts


def figures(clients: Clients, restarts: list[Restart]) -> tuple[str, list[list[float]]]:
    """The run's figures as text, and each restart's close times from its drain."""
    lines = [
        f"sent={clients.sent} acked={clients.acked} resent={clients.resent} "
        f"unacked-at-end={sum(len(u) for u in clients.unacked)} closes={len(clients.closes)} "
        f"codes={dict(Counter(code for _, code in clients.closes))} refused={dict(clients.refused)}",
        f"event-stream ends={dict(clients.stream_ends)} events per client={[len(e) for e in clients.events]}",
    ]
    spans: list[list[float]] = []
    for restart in restarts:
        until = restart.terminated + restart.took + 0.5
        offsets = sorted(at - restart.drained for at, _ in clients.closes if restart.drained <= at <= until)
        spans.append(offsets)
        span = f"{offsets[0]:.2f}-{offsets[-1]:.2f}s" if offsets else "none"
        sigterm = restart.terminated - restart.drained
        lines.append(
            f"{restart.name}: {len(offsets)} closes at {span} after the drain began; SIGTERM at "
            f"{sigterm:.2f}s, exited with {restart.status} in {restart.took:.2f}s"
        )
    return "\n  ".join(lines), spans


@pytest.fixture
def pair(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[bool], list[StreamUpstream]]]:
    hide_connmw_variables(monkeypatch)
    made: list[StreamUpstream] = []

    def make(wrapped: bool) -> list[StreamUpstream]:
        for name in ("a", "b"):
            made.append(StreamUpstream(name, "uvicorn", wrapped, free_port(), tmp_path / f"drain-{name}"))
        for upstream in made:
            upstream.start()
        for upstream in made:
            upstream.wait_listening()
        return made

    yield make
    for upstream in made:
        upstream.stop()


def run_behind_haproxy(
    tmp_path: Path, upstreams: list[StreamUpstream], wrapped: bool
) -> tuple[Clients, list[Restart]]:
    haproxy = HAProxy(tmp_path, free_port(), list(upstreams), HTTP_CHECK if wrapped else PLAIN_CHECK)
    try:
        haproxy.start()
        return roll(upstreams, haproxy, wrapped)
    finally:
        haproxy.stop()


def test_connmw_spreads_the_reconnects_and_loses_nothing(
    tmp_path: Path, pair: Callable[[bool], list[StreamUpstream]]
) -> None:
    upstreams = pair(True)
    began = time.monotonic()
    clients, restarts = run_behind_haproxy(tmp_path, upstreams, True)
    report, spans = figures(clients, restarts)
    print(f"connmw, window {WINDOW}s, {time.monotonic() - began:.1f}s:\n  {report}")
    assert clients.closes, report
    assert {code for _, code in clients.closes} == {1001}, report  # never 1006 (no frame), never 1012
    assert sum(len(u) for u in clients.unacked) == 0, report  # every message acknowledged in the end
    assert clients.acked >= 1000, report
    for offsets in spans:
        assert len(offsets) >= WS_CLIENTS // 3, report
        assert offsets[-1] - offsets[0] >= WINDOW / 2, report
    for ids in clients.events:
        assert ids == list(range(1, len(ids) + 1)), report  # every id once, in order
        assert len(ids) >= 50, report
    # uvicorn raises SIGTERM again after its graceful shutdown (-15); quickly, nothing left open
    assert all(restart.status in (0, -15) and restart.took < GRACE for restart in restarts), report


def test_bare_baseline_is_a_reconnect_storm(
    tmp_path: Path, pair: Callable[[bool], list[StreamUpstream]]
) -> None:
    upstreams = pair(False)
    began = time.monotonic()
    clients, restarts = run_behind_haproxy(tmp_path, upstreams, False)
    report, spans = figures(clients, restarts)
    print(f"bare, {time.monotonic() - began:.1f}s:\n  {report}")
    assert 1012 in {code for _, code in clients.closes}, report  # uvicorn's "service restart"
    for offsets in spans:
        assert len(offsets) >= WS_CLIENTS // 3, report
        assert offsets[-1] - offsets[0] < 0.5, report  # all at once
