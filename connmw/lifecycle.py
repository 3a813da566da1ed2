"""Connection lifecycle controls: drain, per-connection request and age limits.

* **Drain** moves clients off an instance before it stops: while draining, every
  HTTP/1.x response says ``Connection: close`` and the server closes. Turn it on with
  :func:`drain` (from a SIGTERM handler) or by creating ``drain_file`` (a Kubernetes
  preStop hook can ``touch`` it). The file is looked at no more than once a second,
  never once per request.
* **Limits** stop keep-alive connections from pinning clients to one instance after a
  scale-out: a connection closes on its ``max_requests_per_connection``-th response,
  or on the first response after it is ``max_connection_age`` seconds old.

An ASGI connection is known only by its address pair (``scope["client"]`` and
``scope["server"]``), which the operating system may reuse once a connection has
ended. The table therefore forgets an entry when connmw closes its connection and
treats an entry idle for longer than ``IDLE_FORGET`` seconds as a new connection; it
holds at most ``TABLE_LIMIT`` entries, evicting the least recently used, so memory stays
bounded whatever the number of connections. Without a client port (a Unix socket; a
forwarded address, port 0, as uvicorn's ``--proxy-headers`` sets it; a WSGI server
without ``REMOTE_PORT``) nothing names the connection: limits do not apply to it, and
a WARNING says so once per process. Over HTTP/2 and HTTP/3 many requests share a
connection that only the server can end (GOAWAY), so limits do not apply there.

Whether the process drains, as its middlewares last saw it (:func:`process_draining`), is
told to the metrics sink whenever it changes (:func:`connmw._counters.draining_changed`):
at once for :func:`drain` and :func:`undrain`, and for a drain file when a middleware next
looks at it (on a request, at most once a second).
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import Callable, Hashable

from ._counters import draining_changed, logger
from ._drain_flag import DRAIN
from .config import Config

__all__ = [
    "DRAIN",
    "TABLE_LIMIT",
    "DrainSwitch",
    "Lifecycle",
    "drain",
    "draining",
    "process_draining",
    "undrain",
]

TABLE_LIMIT = 65536
IDLE_FORGET = 300.0
CHECK_INTERVAL = 1.0

_unidentified_warned: list[bool] = []  # once per process, like every connmw warning


def drain() -> None:
    """Close every HTTP/1.x connection after its current response, in this process."""
    DRAIN.on = True
    draining_changed(True)


def undrain() -> None:
    """Stop draining (the drain file, if configured, still counts)."""
    DRAIN.on = False
    draining_changed(process_draining())


def draining() -> bool:
    """Whether :func:`drain` is in force in this process."""
    return DRAIN.on


_switches: weakref.WeakSet[DrainSwitch] = weakref.WeakSet()  # those with a drain file, alive
_switches_lock = threading.Lock()


def process_draining() -> bool:
    """Whether this process drains, as last seen: :func:`drain`, or a drain file a middleware
    found present the last time it looked (it looks on a request, at most once a second)."""
    if DRAIN.on:
        return True
    with _switches_lock:
        switches = list(_switches)
    return any(switch.present for switch in switches)


class DrainSwitch:
    """Whether to drain now: :func:`drain` was called, or ``path`` exists.

    The file is stat-ed at most once per ``interval`` seconds of ``clock``.
    """

    __slots__ = ("__weakref__", "_clock", "_interval", "_next_check", "_path", "present")

    def __init__(
        self,
        path: str | None,
        *,
        interval: float = CHECK_INTERVAL,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._path = path
        self._interval = interval
        self._clock = clock
        self._next_check = float("-inf")
        self.present = False
        """Whether the file existed when last looked at."""
        if path is not None:
            with _switches_lock:
                _switches.add(self)

    def active(self) -> bool:
        """True while draining."""
        if DRAIN.on:
            return True
        if self._path is None:
            return False
        now = self._clock()
        if now >= self._next_check:
            self._next_check = now + self._interval
            present = os.path.exists(self._path)
            if present != self.present:
                self.present = present
                draining_changed(process_draining())
        return self.present


class Lifecycle:
    """Per-process connection decisions for one middleware: why to close, what to announce.

    :meth:`decide` is called once per HTTP/1.x response with a key naming the
    connection and answers ``(close_reason, requests_left)``: a reason string
    (``"drain"``, ``"max-requests"``, ``"max-age"``) when the connection must close,
    and how many more requests it may carry (for ``Keep-Alive: max=N``), or ``None``.
    """

    __slots__ = ("_clock", "_drain", "_max_age", "_max_requests", "_table", "limited")

    def __init__(self, config: Config, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._drain = DrainSwitch(config.drain_file, clock=clock)
        self._max_requests = config.max_requests_per_connection
        self._max_age = config.max_connection_age
        self._clock = clock
        # key -> [first seen, last seen, count], least recently used first
        self._table: OrderedDict[Hashable, list[float]] = OrderedDict()
        self.limited = self._max_requests is not None or self._max_age is not None

    def __len__(self) -> int:
        return len(self._table)

    def draining(self) -> bool:
        """Whether this process drains now: :func:`drain`, or the drain file exists."""
        return self._drain.active()

    def decide(self, key: Hashable | None) -> tuple[str | None, int | None]:
        """Close reason and requests left for the next response on connection ``key``."""
        if self._drain.active():
            if key is not None:
                self._table.pop(key, None)
            return "drain", None
        if not self.limited:
            return None, None
        if key is None:
            if not _unidentified_warned:
                _unidentified_warned.append(True)
                logger.warning(
                    "connection limits not applied: the server named no connection (no client "
                    "port: a Unix socket, a forwarded address, a WSGI server without REMOTE_PORT)"
                )
            return None, None
        now = self._clock()
        table = self._table
        # Taken out and put back last, so the table runs from least to most recently
        # used: eviction drops a connection long gone, never a busy long-lived one (the
        # very ones limits are for). An OrderedDict, because evicting from the front
        # of a plain dict leaves holes that every later eviction scans again (300 000
        # new connections took seconds). Tolerant pops: WSGI servers call from threads.
        entry = table.pop(key, None)
        if entry is None or now - entry[1] > IDLE_FORGET:
            if len(table) >= TABLE_LIMIT:
                with contextlib.suppress(KeyError):
                    table.popitem(last=False)
            entry = [now, now, 0.0]
        entry[1] = now
        entry[2] += 1
        count = int(entry[2])
        if self._max_requests is not None and count >= self._max_requests:
            return "max-requests", 0
        if self._max_age is not None and now - entry[0] >= self._max_age:
            return "max-age", None
        table[key] = entry
        left = None if self._max_requests is None else self._max_requests - count
        return None, left

    def forget(self, key: Hashable | None) -> None:
        """The connection closed for another reason: drop what is known of it."""
        if key is not None:
            self._table.pop(key, None)
