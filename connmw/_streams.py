"""Draining what stays open: WebSockets and event streams leave a draining instance gradually.

Drain (:func:`connmw.drain`, the drain file) closes every HTTP/1.x connection after its
current response, but a WebSocket or a ``text/event-stream`` response never ends by itself:
left alone, all of them end together when the server stops, and every client reconnects
at the same moment. So each ASGI middleware keeps a :class:`Streams` registry of the ones
it wrapped, and while they are open one watcher task per process looks at drain once a
second (:data:`connmw.lifecycle.CHECK_INTERVAL`, the drain file's own rate). When a drain
begins, the streams open then leave over ``drain_window`` seconds, one in each of N equal
slots at a random point inside it (:func:`connmw.rules._drain.close_offsets`), in a random
order:

* a WebSocket gets ``websocket.close`` with code 1001 (going away, RFC 6455 §7.4.1) on the
  application's behalf; the application's ``receive`` then gives ``websocket.disconnect``
  with code 1001, and its later ``send`` calls are swallowed (the server would raise);
  one accepted while draining is closed the same way right after its handshake;
* an event stream ends with a final empty body (or a ``retry:`` hint,
  ``drain_stream_retry``) at its next message boundary, never inside an event; its later
  ``send`` calls are swallowed, and the server tells the application ``http.disconnect``.

Other streaming responses are left alone: their clients have no way to resume. Each close
counts as ``connections_closed["drain"]``; each drain is logged once (INFO), never per
connection. Nothing here runs for a plain HTTP request, and no watcher runs while nothing
is open. The watcher runs on asyncio (uvicorn, hypercorn, granian, daphne) and on trio
(hypercorn ``-k trio``, as a system task).
"""

from __future__ import annotations

import random
import sys
import time
import weakref
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from ._counters import Reporter, logger
from .config import Config
from .lifecycle import CHECK_INTERVAL, Lifecycle
from .rules import AT_BOUNDARY, close_offsets, ends_event, retry_field, stream_state

__all__ = ["GOING_AWAY", "Streams"]

Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
App = Callable[[Any, Any, Any], Awaitable[None]]
Closer = Callable[[Any, int], bool]
Spawn = Callable[[Callable[[], Awaitable[None]]], None]
"""Run an async function in a task of its own on the watcher's event loop."""

GOING_AWAY = 1001
"""RFC 6455 §7.4.1: the endpoint is going away (a server going down)."""

_ASKED = float("inf")
"""A stream's ``due`` once it was asked to end and ends by itself at its next send."""


class Streams:
    """One middleware's open WebSockets and event streams, and how they leave when it drains."""

    __slots__ = ("__weakref__", "_draining", "_lifecycle", "_reporter", "_retry", "_window", "open")

    def __init__(self, config: Config, lifecycle: Lifecycle, reporter: Reporter) -> None:
        self._lifecycle = lifecycle
        self._reporter = reporter
        self._window = config.drain_window
        self._retry = None if config.drain_stream_retry is None else retry_field(config.drain_stream_retry)
        self._draining = False  # as the watcher last saw it
        self.open: weakref.WeakSet[_WebSocket | _EventStream] = weakref.WeakSet()
        """The streams open now (weakly: a request its server dropped takes its stream along)."""

    async def websocket(
        self,
        app: App,
        scope: Any,
        receive: Receive,
        send: Send,
        *,
        closer: Closer | None = None,
        server_send: Any = None,
    ) -> None:
        """Run ``app`` on a WebSocket connection whose sends and receives drain can end.

        ``closer`` is the server profile's ``close_websocket``, given ``server_send`` (the
        server's own ``send``), for a server whose ``websocket.close`` refuses 1001 (daphne).
        """
        stream = _WebSocket(self, receive, send, None if closer is None else (closer, server_send))
        try:
            await app(scope, stream.receive, stream.send)
        finally:
            self.forget(stream)

    def event_stream(self, send: Send) -> Send:
        """The ``send`` for an event stream's response (its start included), which drain can
        end: the rules' plan says which response is one (``PlannedResponse.event_stream``).
        The adapters ask only for a start the rules' quick path declined, and the quick path
        declines every event stream."""
        stream = _EventStream(self, send)
        if self.add(stream):
            stream.due = time.monotonic()  # begun on a draining instance: ends at the next look
        return stream.send

    def add(self, stream: _WebSocket | _EventStream) -> bool:
        """``stream`` is open: drain may end it; the watcher runs. Returns whether this
        middleware drains now."""
        self.open.add(stream)
        _groups.add(self)
        _ensure_watcher()
        draining = self._lifecycle.draining()
        if not draining:
            self._draining = False  # an undrain the watcher did not see: the next drain spreads again
        return draining

    def forget(self, stream: _WebSocket | _EventStream) -> None:
        """``stream`` ended (by its application, its client or connmw)."""
        self.open.discard(stream)

    def closed(self) -> None:
        """connmw ended one stream because of drain: count it."""
        self._reporter.closed("drain")

    def tick(self, now: float, spawn: Spawn) -> float | None:
        """The watcher's look: start or stop a drain, end the streams due, each in a task of
        its own (``spawn``: a close may wait for the client's answer). Returns when the next
        stream is due, if one is."""
        draining = self._lifecycle.draining()
        if draining != self._draining:
            self._draining = draining
            streams = list(self.open)
            if draining:
                self._spread(streams, now)
            else:
                for stream in streams:
                    stream.due = None
        if not draining:
            return None
        wake: float | None = None
        for stream in list(self.open):
            due = stream.due
            if due is None:  # opened while draining, and not ended on the way in
                stream.due = due = now
            if due <= now:
                stream.due = _ASKED  # asked once: it ends now, or at its next send
                spawn(stream.end)
            elif due != _ASKED and (wake is None or due < wake):
                wake = due
        return wake

    def _spread(self, streams: list[_WebSocket | _EventStream], now: float) -> None:
        """A drain began: give each open stream its moment in the window, and say so once."""
        # Not for security: the order and the draws only keep instances out of lockstep.
        random.shuffle(streams)
        draws = [random.random() for _ in streams]  # noqa: S311
        for stream, offset in zip(streams, close_offsets(len(streams), self._window, draws), strict=True):
            stream.due = now + offset
        sockets = sum(isinstance(stream, _WebSocket) for stream in streams)
        logger.info(
            "draining: %d WebSocket connection(s) close with 1001 and %d event stream(s) end at an "
            "event boundary, spread over %g s (CONNMW_DRAIN_WINDOW)",
            sockets,
            len(streams) - sockets,
            self._window,
        )


class _WebSocket:
    """One WebSocket connection's ``receive`` and ``send``, as the application gets them."""

    __slots__ = (
        "__weakref__",
        "_busy",
        "_closer",
        "_group",
        "_pending",
        "_receive",
        "_send",
        "_told",
        "closed",
        "due",
    )

    def __init__(
        self, group: Streams, receive: Receive, send: Send, closer: tuple[Closer, Any] | None
    ) -> None:
        self._group = group
        self._closer = closer
        self._receive = receive
        self._send = send
        self._busy = False  # a send of the application's is under way
        self._pending = False  # drain asked to close during that send
        self._told = False  # the application got its disconnect
        self.closed = False  # connmw closed it
        self.due: float | None = None

    async def receive(self) -> Message:
        if self._told:  # the server has nothing more; ASGI servers may block for ever here
            return {"type": "websocket.disconnect", "code": GOING_AWAY}
        message = await self._receive()
        if message["type"] == "websocket.disconnect":
            self._group.forget(self)
            if self.closed:
                self._told = True
                return {**message, "code": GOING_AWAY}
        return message

    async def send(self, message: Message) -> None:
        if self.closed:
            return  # connmw closed the connection: the server would raise into the application
        kind = message["type"]
        if kind not in ("websocket.send", "websocket.accept"):
            self._group.forget(self)  # the application closes, or answers the handshake with HTTP
            await self._send(message)
            return
        self._busy = True
        try:
            await self._send(message)
        finally:
            self._busy = False
        if kind == "websocket.accept":
            if self._group.add(self):
                await self._close()  # opened on a draining instance: right after the handshake
        elif self._pending:
            await self._close()

    async def end(self) -> None:
        """Drain's turn for this connection: close it now, or after the send under way."""
        if self._busy:
            self._pending = True
            self.due = _ASKED
        else:
            await self._close()

    async def _close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self._group.forget(self)
        self._group.closed()
        closer = self._closer
        try:
            if closer is not None and closer[0](closer[1], GOING_AWAY):
                return
            await self._send({"type": "websocket.close", "code": GOING_AWAY})
        except Exception as error:  # the client left first, or the server refuses 1001
            logger.debug("drain: closing a WebSocket with 1001 failed: %r", error)
        else:
            return
        try:  # a server that takes only 1000 (and 3000-4999) from an application, as autobahn
            await self._send({"type": "websocket.close", "code": 1000})
        except Exception as error:  # the client left first: nothing to close
            logger.debug("drain: closing a WebSocket failed: %r", error)


class _EventStream:
    """One ``text/event-stream`` response's ``send``, ending only at an event boundary."""

    __slots__ = ("__weakref__", "_busy", "_group", "_pending", "_send", "_state", "due", "ended")

    def __init__(self, group: Streams, send: Send) -> None:
        self._group = group
        self._send = send
        self._state = AT_BOUNDARY
        self._busy = False
        self._pending = False  # drain asked to end it: at the next boundary
        self.ended = False
        self.due: float | None = None

    async def send(self, message: Message) -> None:
        if self.ended:
            return  # connmw ended the response: the server would raise into the application
        if message["type"] != "http.response.body":  # the start (drain waits for it), trailers
            self._busy = True
            try:
                await self._send(message)
            finally:
                self._busy = False
            return
        if not message.get("more_body", False):
            self.ended = True  # the application ends it itself
            self._group.forget(self)
            await self._send(message)
            return
        self._state = stream_state(self._state, bytes(message.get("body", b"")))
        self._busy = True
        try:
            await self._send(message)
        finally:
            self._busy = False
        if self._pending and ends_event(self._state):
            await self._finish()

    async def end(self) -> None:
        """Drain's turn for this stream: end it now if an event just ended, else after the
        application's next send that ends one."""
        if self._busy or not ends_event(self._state):
            self._pending = True
            self.due = _ASKED
        else:
            await self._finish()

    async def _finish(self) -> None:
        if self.ended:
            return
        self.ended = True
        self._group.forget(self)
        self._group.closed()
        body = self._group._retry or b""  # the group's setting
        try:
            await self._send({"type": "http.response.body", "body": body, "more_body": False})
        except Exception as error:  # the client left first
            logger.debug("drain: ending an event stream failed: %r", error)


# -- the watcher: one per process and event loop, while a stream is open -------------------

_groups: weakref.WeakSet[Streams] = weakref.WeakSet()
_watcher: list[object] = []  # the loop (asyncio) or trio token a watcher runs on, if one does
_tasks: set[Any] = set()  # asyncio keeps only weak references to tasks


def _ensure_watcher() -> None:
    """Start the watcher on the running event loop, unless one runs there."""
    asyncio = sys.modules.get("asyncio")
    if asyncio is not None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            pass
        else:
            if not _watcher or _watcher[0] is not loop:
                _watcher[:] = [loop]

                def spawn(function: Callable[[], Awaitable[None]]) -> None:
                    task = loop.create_task(function())
                    _tasks.add(task)
                    task.add_done_callback(_tasks.discard)

                spawn(lambda: _watch(asyncio.sleep, spawn, loop))
            return
    trio = sys.modules.get("trio")
    if trio is not None:
        try:
            token = trio.lowlevel.current_trio_token()
        except RuntimeError:
            return
        if not _watcher or _watcher[0] is not token:
            _watcher[:] = [token]

            def spawn_trio(function: Callable[[], Awaitable[None]]) -> None:
                trio.lowlevel.spawn_system_task(function)

            spawn_trio(lambda: _watch(trio.sleep, spawn_trio, token))


async def _watch(sleep: Callable[[float], Awaitable[Any]], spawn: Spawn, owner: object) -> None:
    """Look at drain once a second and end the streams due, while any is open."""
    try:
        while _watcher and _watcher[0] is owner:
            now = time.monotonic()
            wake = now + CHECK_INTERVAL
            busy = False
            for group in list(_groups):
                if not group.open:
                    continue
                busy = True
                try:
                    due = group.tick(now, spawn)
                except Exception:  # never let one failure stop the drain of the others
                    logger.exception("drain: ending open streams failed")
                    due = None
                if due is not None and due < wake:
                    wake = due
            if not busy:
                return
            await sleep(max(0.0, wake - time.monotonic()))
    finally:
        if _watcher and _watcher[0] is owner:
            _watcher.clear()
