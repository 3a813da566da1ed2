"""Drain ends WebSockets and event streams gradually (connmw._streams), in process.

A fake ASGI server stands for the real ones (each test's ``send`` records the time of
every message); the drain window is short (a second or less) so that each test takes
about two seconds: connmw looks at drain once a second. What real servers and clients
see is in test_drain_streams_wire.py.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterator
from typing import Any

import pytest

import connmw
from connmw import _counters, _streams, lifecycle
from connmw.asgi import ConnectionMiddleware, Message, Receive, Scope, Send
from connmw.config import load_config
from connmw.errors import ConfigError
from tests.helpers import handshake_headers, hide_connmw_variables


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    hide_connmw_variables(monkeypatch)
    monkeypatch.setenv("CONNMW_SERVER", "granian")
    monkeypatch.setattr(_counters, "_already_warned", set())
    monkeypatch.setattr(lifecycle, "_unidentified_warned", [])
    monkeypatch.setattr(_streams, "_watcher", [])  # each test's event loop has a watcher of its own
    connmw.undrain()
    yield
    connmw.undrain()


class FakeWebSocket:
    """The server side of one WebSocket: connect, then the client's messages; a close sent by
    the application is answered with a disconnect carrying ``reply_code``."""

    def __init__(self, reply_code: int = 1000) -> None:
        self.inbox: asyncio.Queue[Message] = asyncio.Queue()
        self.inbox.put_nowait({"type": "websocket.connect"})
        self.sent: list[tuple[float, Message]] = []
        self.reply_code = reply_code
        self.closed = False

    async def receive(self) -> Message:
        return await self.inbox.get()

    async def send(self, message: Message) -> None:
        if self.closed:
            raise RuntimeError("send after close")  # what uvicorn and hypercorn do
        self.sent.append((time.monotonic(), message))
        if message["type"] == "websocket.close":
            self.closed = True
            self.inbox.put_nowait({"type": "websocket.disconnect", "code": self.reply_code})


def ws_scope() -> Scope:
    headers = handshake_headers("example.test")
    return {"type": "websocket", "path": "/ws", "headers": headers, "client": ("127.0.0.1", 5)}


class EchoApp:
    """Accepts, then echoes until its disconnect, which it records; sends once more after it."""

    def __init__(self) -> None:
        self.disconnects: list[Message] = []
        self.late_send_errors: list[BaseException] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        assert (await receive())["type"] == "websocket.connect"
        await send({"type": "websocket.accept"})
        while True:
            message = await receive()
            if message["type"] == "websocket.disconnect":
                self.disconnects.append(message)
                break
            await send({"type": "websocket.send", "text": message.get("text")})
        try:
            await send({"type": "websocket.send", "text": "too late"})
            again = await asyncio.wait_for(receive(), 1)
            assert again["type"] == "websocket.disconnect"
        except BaseException as error:
            self.late_send_errors.append(error)


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def test_websockets_leave_with_1001_spread_over_the_window(caplog: pytest.LogCaptureFixture) -> None:
    app = EchoApp()
    middleware = ConnectionMiddleware(app, drain_window=1.0)
    sockets = [FakeWebSocket(reply_code=1006) for _ in range(8)]

    async def main() -> float:
        tasks = [asyncio.create_task(middleware(ws_scope(), ws.receive, ws.send)) for ws in sockets]
        await asyncio.sleep(0.1)
        assert all(ws.sent[0][1]["type"] == "websocket.accept" for ws in sockets)
        began = time.monotonic()
        connmw.drain()
        await asyncio.wait_for(asyncio.gather(*tasks), 5)
        return began

    with caplog.at_level(logging.INFO, logger="connmw"):
        began = run(main())
    sent_closes = [(at, m) for ws in sockets for at, m in ws.sent if m["type"] == "websocket.close"]
    closes = [at for at, _ in sent_closes]
    codes = [message.get("code") for _, message in sent_closes]
    assert codes == [1001] * 8
    assert max(closes) - min(closes) >= 0.5  # spread: at least half the window apart
    assert max(closes) - began <= 1.0 + 1.0 + 0.5  # seen within a second, then the window
    # the application saw every disconnect, with 1001 whatever the server said
    assert [d.get("code") for d in app.disconnects] == [1001] * 8
    assert app.late_send_errors == []  # a send after the close never raises into the app
    assert all(len([m for _, m in ws.sent if m["type"] == "websocket.send"]) == 0 for ws in sockets)
    assert middleware.stats.connections_closed == {"drain": 8}
    drain_lines = [r for r in caplog.records if r.getMessage().startswith("draining:")]
    assert len(drain_lines) == 1
    assert "8 WebSocket connection(s)" in drain_lines[0].getMessage()


def test_window_zero_closes_all_at_once() -> None:
    app = EchoApp()
    middleware = ConnectionMiddleware(app, drain_window=0)
    sockets = [FakeWebSocket() for _ in range(5)]

    async def main() -> None:
        tasks = [asyncio.create_task(middleware(ws_scope(), ws.receive, ws.send)) for ws in sockets]
        await asyncio.sleep(0.05)
        connmw.drain()
        await asyncio.wait_for(asyncio.gather(*tasks), 3)

    run(main())
    closes = [at for ws in sockets for at, message in ws.sent if message["type"] == "websocket.close"]
    assert len(closes) == 5
    assert max(closes) - min(closes) < 0.1


def test_a_websocket_opened_while_draining_closes_after_its_handshake() -> None:
    app = EchoApp()
    middleware = ConnectionMiddleware(app, drain_window=30)
    ws = FakeWebSocket()
    connmw.drain()

    async def main() -> None:
        await asyncio.wait_for(middleware(ws_scope(), ws.receive, ws.send), 2)

    run(main())
    assert [m["type"] for _, m in ws.sent] == ["websocket.accept", "websocket.close"]
    assert ws.sent[1][1]["code"] == 1001
    assert app.disconnects == [{"type": "websocket.disconnect", "code": 1001}]


def test_a_server_that_refuses_1001_gets_1000() -> None:
    """As daphne's autobahn does through ``websocket.close`` (daphne itself has a hook)."""
    app = EchoApp()
    middleware = ConnectionMiddleware(app, drain_window=0)
    ws = FakeWebSocket()
    server_send = ws.send

    async def strict_send(message: Message) -> None:
        if message["type"] == "websocket.close" and message.get("code") not in (None, 1000):
            raise ValueError("invalid close code")
        await server_send(message)

    async def main() -> None:
        task = asyncio.create_task(middleware(ws_scope(), ws.receive, strict_send))
        await asyncio.sleep(0.05)
        connmw.drain()
        await asyncio.wait_for(task, 3)

    run(main())
    sent = [(m["type"], m.get("code")) for _, m in ws.sent]
    assert sent == [("websocket.accept", None), ("websocket.close", 1000)]
    assert app.disconnects == [{"type": "websocket.disconnect", "code": 1001}]


def test_nothing_closes_without_drain_and_no_watcher_outlives_the_streams() -> None:
    app = EchoApp()
    middleware = ConnectionMiddleware(app, drain_window=0)
    ws = FakeWebSocket()

    async def main() -> None:
        task = asyncio.create_task(middleware(ws_scope(), ws.receive, ws.send))
        await asyncio.sleep(1.3)  # the watcher looked at least once
        assert _streams._watcher  # it runs while the WebSocket is open
        assert not ws.closed
        ws.inbox.put_nowait({"type": "websocket.disconnect", "code": 1000})  # the client leaves
        await asyncio.wait_for(task, 2)
        await asyncio.sleep(1.2)
        assert not _streams._watcher  # and stops once nothing is open

    run(main())
    assert app.disconnects == [{"type": "websocket.disconnect", "code": 1000}]
    assert middleware.stats.connections_closed == {}


def test_a_close_waits_for_the_send_under_way() -> None:
    """The application's send is in progress when the close is due: the close follows it,
    never interleaves with it."""
    release = asyncio.Event
    order: list[str] = []

    async def main() -> None:
        gate = release()
        ws = FakeWebSocket()
        server_send = ws.send

        async def slow_send(message: Message) -> None:
            if message["type"] == "websocket.send":
                order.append("send begins")
                await gate.wait()
                order.append("send ends")
            elif message["type"] == "websocket.close":
                order.append("close")
            await server_send(message)

        async def app(scope: Scope, receive: Receive, send: Send) -> None:
            await receive()
            await send({"type": "websocket.accept"})
            await send({"type": "websocket.send", "text": "slow"})
            assert (await receive())["code"] == 1001

        middleware = ConnectionMiddleware(app, drain_window=0)
        task = asyncio.create_task(middleware(ws_scope(), ws.receive, slow_send))
        await asyncio.sleep(0.05)
        connmw.drain()
        await asyncio.sleep(1.3)  # the watcher found the send under way
        gate.set()
        await asyncio.wait_for(task, 2)

    run(main())
    assert order == ["send begins", "send ends", "close"]


# -- event streams ---------------------------------------------------------------------


def http_scope(path: str = "/events") -> Scope:
    return {
        "type": "http",
        "http_version": "1.1",
        "method": "GET",
        "path": path,
        "headers": [(b"host", b"example.test"), (b"accept", b"text/event-stream")],
        "client": ("127.0.0.1", 6),
        "server": ("127.0.0.1", 80),
    }


class FakeHTTP:
    def __init__(self) -> None:
        self.sent: list[Message] = []
        self.complete = asyncio.Event()

    async def receive(self) -> Message:
        await self.complete.wait()
        return {"type": "http.disconnect"}  # as uvicorn and hypercorn do once the response is complete

    async def send(self, message: Message) -> None:
        if self.complete.is_set():
            raise RuntimeError("send after the response completed")
        self.sent.append(message)
        if message["type"] == "http.response.body" and not message.get("more_body", False):
            self.complete.set()


def stream_app(content_type: bytes, chunks: list[bytes], pause: float = 0.2) -> Any:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        headers = [(b"content-type", content_type), (b"cache-control", b"no-cache")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        for chunk in chunks:
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await asyncio.sleep(pause)
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    return app


def body_of(server: FakeHTTP) -> bytes:
    return b"".join(m.get("body", b"") for m in server.sent if m["type"] == "http.response.body")


@pytest.mark.parametrize("options", [{}, {"drain_file": "/nonexistent/connmw-drain"}], ids=["hot", "unusual"])
def test_an_event_stream_ends_at_an_event_boundary(options: dict[str, Any]) -> None:
    # Each event is sent in two halves: the drain must never end between them.
    chunks = [part for n in range(40) for part in (b"id: %d\ndata: " % n, b"x\n\n")]
    server = FakeHTTP()
    app = stream_app(b"text/event-stream", chunks, 0.05)
    middleware = ConnectionMiddleware(app, drain_window=0.5, **options)

    async def main() -> None:
        task = asyncio.create_task(middleware(http_scope(), server.receive, server.send))
        await asyncio.sleep(0.2)
        connmw.drain()
        await asyncio.wait_for(task, 5)

    run(main())
    body = body_of(server)
    assert body.endswith(b"\n\n")
    assert body.count(b"id: ") == body.count(b"x\n\n") < 40  # whole events only, ended early
    assert server.sent[-1] == {"type": "http.response.body", "body": b"", "more_body": False}
    assert middleware.stats.connections_closed.get("drain") == 1


def test_an_event_stream_on_a_warm_hot_path_still_drains() -> None:
    # The same fields served before, as a plain response and as a whole event stream: the
    # hot path knows every name, and still hands each event stream to drain.
    chunks = [b"id: %d\ndata: x\n\n" % n for n in range(40)]
    events, plain = stream_app(b"text/event-stream", chunks, 0.05), stream_app(b"text/plain", [b"ok"], 0)

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await (events if scope["path"] == "/events" else plain)(scope, receive, send)

    middleware = ConnectionMiddleware(app, drain_window=0.3)
    warmup = [FakeHTTP() for _ in range(3)]
    server = FakeHTTP()

    async def main() -> None:
        for path, before in zip(["/plain", "/plain", "/plain"], warmup, strict=True):
            await middleware(http_scope(path), before.receive, before.send)
        task = asyncio.create_task(middleware(http_scope(), server.receive, server.send))
        await asyncio.sleep(0.2)
        connmw.drain()
        await asyncio.wait_for(task, 5)

    run(main())
    assert all(body_of(before) == b"ok" for before in warmup)
    body = body_of(server)
    assert body.endswith(b"\n\n")
    assert body.count(b"id: ") < 40  # ended early, at a boundary
    assert middleware.stats.connections_closed.get("drain") == 1


def test_an_event_stream_ends_with_the_retry_hint() -> None:
    server = FakeHTTP()
    middleware = ConnectionMiddleware(
        stream_app(b"text/event-stream; charset=utf-8", [b"data: %d\n\n" % n for n in range(40)], 0.05),
        drain_window=0,
        drain_stream_retry=2500,
    )

    async def main() -> None:
        task = asyncio.create_task(middleware(http_scope(), server.receive, server.send))
        await asyncio.sleep(0.1)
        connmw.drain()
        await asyncio.wait_for(task, 5)

    run(main())
    assert server.sent[-1] == {"type": "http.response.body", "body": b"retry: 2500\n\n", "more_body": False}


def test_other_streaming_responses_are_left_alone() -> None:
    server = FakeHTTP()
    middleware = ConnectionMiddleware(stream_app(b"text/plain", [b"line\n"] * 8, 0.2), drain_window=0)

    async def main() -> None:
        task = asyncio.create_task(middleware(http_scope("/download"), server.receive, server.send))
        await asyncio.sleep(0.1)
        connmw.drain()
        await asyncio.wait_for(task, 5)

    run(main())
    assert body_of(server) == b"line\n" * 8
    assert middleware.stats.connections_closed.get("drain") is None


def test_a_plain_response_registers_nothing() -> None:
    server = FakeHTTP()
    middleware = ConnectionMiddleware(stream_app(b"text/event-stream", [], 0))

    async def main() -> None:
        await middleware(http_scope(), server.receive, server.send)

    run(main())
    assert not middleware._streams.open
    assert not _streams._watcher


def test_trio_runs_the_watcher_as_a_system_task() -> None:
    trio = pytest.importorskip("trio")
    middleware_app_disconnects: list[Message] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        await send({"type": "websocket.accept"})
        middleware_app_disconnects.append(await receive())

    middleware = ConnectionMiddleware(app, drain_window=0.2)
    sent: list[Message] = []

    async def main() -> None:
        send_inbox, receive_inbox = trio.open_memory_channel(10)
        send_inbox.send_nowait({"type": "websocket.connect"})

        async def send(message: Message) -> None:
            sent.append(message)
            if message["type"] == "websocket.close":
                send_inbox.send_nowait({"type": "websocket.disconnect", "code": 1000})

        with trio.fail_after(4):
            async with trio.open_nursery() as nursery:
                nursery.start_soon(middleware, ws_scope(), receive_inbox.receive, send)
                await trio.sleep(0.05)
                connmw.drain()

    trio.run(main)
    assert [m["type"] for m in sent] == ["websocket.accept", "websocket.close"]
    assert middleware_app_disconnects == [{"type": "websocket.disconnect", "code": 1001}]


# -- the settings ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("5", 5.0), ("2.5", 2.5), ("0", 0.0), (" 0.25 ", 0.25), ("30.", 30.0)],
)
def test_drain_window_reads_seconds(text: str, seconds: float) -> None:
    assert load_config({"CONNMW_DRAIN_WINDOW": text}).drain_window == seconds


@pytest.mark.parametrize("text", ["-1", "nan", "inf", "1e3", "five", "", "1.2.3", "."])
def test_drain_window_refuses_what_is_no_number_of_seconds(text: str) -> None:
    with pytest.raises(ConfigError, match=r"CONNMW_DRAIN_WINDOW=.*expected a number of seconds >= 0"):
        load_config({"CONNMW_DRAIN_WINDOW": text})


@pytest.mark.parametrize("value", [True, -0.5, float("nan"), float("inf"), "x"])
def test_drain_window_keyword_refuses_bad_values(value: object) -> None:
    with pytest.raises(ConfigError, match="drain_window="):
        load_config({}, drain_window=value)


def test_drain_stream_retry_is_optional_milliseconds() -> None:
    assert load_config({}).drain_stream_retry is None
    assert load_config({"CONNMW_DRAIN_STREAM_RETRY": "3000"}).drain_stream_retry == 3000
    assert load_config({"CONNMW_DRAIN_STREAM_RETRY": ""}).drain_stream_retry is None
    with pytest.raises(ConfigError, match="CONNMW_DRAIN_STREAM_RETRY='soon': expected a whole number"):
        load_config({"CONNMW_DRAIN_STREAM_RETRY": "soon"})
