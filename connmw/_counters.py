"""Visibility: the ``connmw`` logger and the counters behind ``middleware.stats``.

Corrections (an application sent a header connmw removed) are logged at WARNING once
per kind and header name per process, so a busy server does not flood its log;
handshake rejections are logged at INFO. Header values and bodies are never logged:
they may carry credentials. No handler is configured here (the application's logging
setup decides where records go).

Counting happens only when something is corrected, rejected or closed, so a clean
response costs nothing here. Every middleware's counters are also reachable without the
middleware itself, which a framework may build out of reach (Starlette's
``add_middleware``): :func:`stats` sums them over every live instance of the process.
Where a metrics backend is on (:mod:`connmw.metrics`), each count also goes to its
:class:`Sink`, at the same moments, so a clean response never reaches it either.
"""

from __future__ import annotations

import logging
import threading
import weakref
from collections.abc import Callable, Iterable
from typing import Protocol

from .rules import is_token

__all__ = ["Reporter", "Sink", "Stats", "draining_changed", "logger", "set_sink", "sink", "stats"]

logger = logging.getLogger("connmw")

_already_warned: set[tuple[str, bytes]] = set()

_live: weakref.WeakSet[Reporter] = weakref.WeakSet()  # one per middleware alive in this process
_live_lock = threading.Lock()


class Sink(Protocol):
    """Where counts go besides :class:`Stats`: a metrics backend (:mod:`connmw.metrics`).

    ``count`` is called once per count, with the ``Stats`` key (``"headers_stripped"``,
    ``"connections_closed"``, …) and its label (the header name, reason or state; ``None``
    for ``request_abuse`` and ``unrecognised``); ``draining`` when this process starts or
    stops draining (:mod:`connmw.lifecycle`).
    """

    def count(self, metric: str, label: str | None) -> None: ...

    def draining(self, on: bool) -> None: ...


_sink: Sink | None = None  # process-wide, like the metrics it feeds


def set_sink(new: Sink | None) -> None:
    """Send every later count of every middleware in this process to ``new`` (``None``: nowhere)."""
    global _sink
    _sink = new


def sink() -> Sink | None:
    """The sink counts go to, if any."""
    return _sink


def draining_changed(on: bool) -> None:
    """This process started (``on``) or stopped draining: the sink's gauge says so."""
    current = _sink
    if current is not None:
        current.draining(on)


class Stats:
    """Counters of one middleware instance; read them as ``middleware.stats``.

    * ``headers_stripped``: lower-case header name → responses it was removed from (a
      name that is no token, such as ``connection `` with a space before the colon,
      counts under its name trimmed of space and tab);
    * ``handshakes_rejected``: rejection code (``bad-key``, ``bad-version``,
      ``forbidden-origin``, …) → count;
    * ``connections_closed``: reason (``client``, ``app``, ``drain``,
      ``max-requests``, ``max-age``, ``framing``) → responses that closed their
      connection;
    * ``request_abuse``: requests whose Connection field nominated a protected header,
      had too many tokens or invalid tokens;
    * ``bodies_dropped``: why a response has no content (``head``, ``1xx``, ``204``,
      ``304``) → responses whose body bytes connmw dropped;
    * ``readiness``: ``ready`` or ``draining`` → readiness checks connmw answered;
    * ``unrecognised``: times this middleware recognised a server as none connmw knows
      (once per middleware and server met; then its fallback, docs/policy.md, serves every
      request; ``CONNMW_SERVER`` names the server, if it is one connmw knows).
    """

    __slots__ = (
        "bodies_dropped",
        "connections_closed",
        "handshakes_rejected",
        "headers_stripped",
        "readiness",
        "request_abuse",
        "unrecognised",
    )

    def __init__(self) -> None:
        self.headers_stripped: dict[str, int] = {}
        self.handshakes_rejected: dict[str, int] = {}
        self.connections_closed: dict[str, int] = {}
        self.request_abuse: int = 0
        self.bodies_dropped: dict[str, int] = {}
        self.readiness: dict[str, int] = {}
        self.unrecognised: int = 0

    def as_dict(self) -> dict[str, object]:
        """A snapshot fit for JSON (a metrics endpoint, a health check)."""
        return {
            "headers_stripped": dict(self.headers_stripped),
            "handshakes_rejected": dict(self.handshakes_rejected),
            "connections_closed": dict(self.connections_closed),
            "request_abuse": self.request_abuse,
            "bodies_dropped": dict(self.bodies_dropped),
            "readiness": dict(self.readiness),
            "unrecognised": self.unrecognised,
        }

    def add(self, other: Stats) -> None:
        """Add ``other``'s counts to these (for :func:`stats`)."""
        for mine, theirs in (
            (self.headers_stripped, other.headers_stripped),
            (self.handshakes_rejected, other.handshakes_rejected),
            (self.connections_closed, other.connections_closed),
            (self.bodies_dropped, other.bodies_dropped),
            (self.readiness, other.readiness),
        ):
            for name, count in dict(theirs).items():  # a copy: requests may count meanwhile
                mine[name] = mine.get(name, 0) + count
        self.request_abuse += other.request_abuse
        self.unrecognised += other.unrecognised

    def __repr__(self) -> str:
        return f"Stats({self.as_dict()!r})"


class Reporter:
    """Counts and logs what a middleware corrected; one per middleware instance.

    ``why`` names the table a removed response header came from (``Policy.why_removed``:
    ``"hop-by-hop"``, ``"Connection-nominated"``, ``"strip_headers"``, ``"framing"``), for
    the one log line per name. Each reporter is registered (weakly) for :func:`stats`.
    """

    __slots__ = ("__weakref__", "_why", "stats")

    def __init__(self, why: Callable[[bytes], str] | None = None) -> None:
        self.stats = Stats()
        self._why = why
        with _live_lock:
            _live.add(self)

    def stripped(self, names: Iterable[bytes], where: str = "app") -> None:
        """Headers removed from a response (``where='app'``) or a request."""
        counts = self.stats.headers_stripped
        for name in names:
            invalid = not is_token(name)
            text = (name.strip(b" \t") if invalid else name).decode("latin-1")
            counts[text] = counts.get(text, 0) + 1
            _count("headers_stripped", text)
            if (where, name) not in _already_warned:
                _already_warned.add((where, name))
                self._warn_stripped(where, name)

    def _warn_stripped(self, where: str, name: bytes) -> None:
        """The one log line for a removed name, saying which table removed it."""
        why = self._why(name) if self._why is not None else "hop-by-hop"
        title = _title(name.decode("latin-1"))
        if not is_token(name):  # "invalid" to the rules: the name as sent, white space shown; never its value
            logger.warning(
                "%s sent invalid field name %r (RFC 9110 §5.1: a name is a token); removed",
                where,
                name.decode("latin-1"),
            )
        elif why == "framing":  # Content-Length: protected, so never hop-by-hop
            logger.warning(
                "%s sent Content-Length on a 1xx, 204 or 304 response (RFC 9110 §8.6); removed", where
            )
        elif why == "strip_headers":
            logger.warning("%s sent %s; removed by strip_headers (CONNMW_STRIP_HEADERS)", where, title)
        elif why == "Connection-nominated":
            logger.warning("%s sent %s, nominated by its Connection field; removed", where, title)
        else:
            logger.warning("%s sent hop-by-hop header %s; removed", where, title)

    def rejected(self, code: str, reason: str) -> None:
        """A WebSocket handshake was refused."""
        counts = self.stats.handshakes_rejected
        counts[code] = counts.get(code, 0) + 1
        _count("handshakes_rejected", code)
        if code == "forbidden-origin":
            logger.info(
                "WebSocket handshake refused: %s; to admit an origin, list it in "
                "CONNMW_WS_ALLOWED_ORIGINS or ws_allowed_origins ('*' admits any)",
                reason,
            )
        else:
            logger.info("WebSocket handshake refused: %s", reason)

    def closed(self, reason: str) -> None:
        """A response closed its connection, for ``reason``."""
        counts = self.stats.connections_closed
        counts[reason] = counts.get(reason, 0) + 1
        _count("connections_closed", reason)

    def body_dropped(self, reason: str) -> None:
        """Body bytes of a response without content (``reason`` from the rules) were dropped."""
        counts = self.stats.bodies_dropped
        counts[reason] = counts.get(reason, 0) + 1
        _count("bodies_dropped", reason)
        if ("body", reason.encode()) not in _already_warned:
            _already_warned.add(("body", reason.encode()))
            what = "a response to HEAD" if reason == "head" else f"a {reason} response"
            logger.warning("app sent body bytes in %s (RFC 9110 §6.4.1); dropped", what)

    def readiness(self, draining: bool) -> None:
        """A readiness check was answered (never logged: load balancers ask every second)."""
        counts = self.stats.readiness
        key = "draining" if draining else "ready"
        counts[key] = counts.get(key, 0) + 1
        _count("readiness", key)

    def server(self, name: str, how: str, *, recognised: bool) -> None:
        """The server profile a middleware uses, logged once per process and profile."""
        if ("server", f"{name} {how}".encode()) in _already_warned:
            return
        _already_warned.add(("server", f"{name} {how}".encode()))
        if recognised:
            logger.info("server profile %s (%s)", name, how)
        else:
            logger.warning(
                "server not recognised (%s): connmw uses its fallback, never worse than the server "
                "alone (docs/policy.md); set CONNMW_SERVER if it is a server connmw knows, or report it",
                how,
            )

    def refused(self, name: str, error: BaseException) -> None:
        """The server refused connmw's Connection field in ``start_response``; logged once."""
        if ("refused", name.encode()) not in _already_warned:
            _already_warned.add(("refused", name.encode()))
            logger.warning(
                "the %s server refused connmw's Connection field (%s: %s); it is not sent there again",
                name,
                type(error).__name__,
                error,
            )

    def unrecognised(self) -> None:
        """A middleware met a server connmw did not recognise (counted once, not per request)."""
        self.stats.unrecognised += 1
        _count("unrecognised", None)

    def abuse(self, what: str) -> None:
        """A request's Connection field tried to nominate what it may not."""
        self.stats.request_abuse += 1
        _count("request_abuse", None)
        if ("abuse", what.encode()) not in _already_warned:
            _already_warned.add(("abuse", what.encode()))
            logger.warning("client Connection field %s; ignored", what)


def stats() -> dict[str, object]:
    """Every live middleware's counters in this process, summed: ``Stats.as_dict()``'s keys.

    However connmw was added (``app.add_middleware``, where Starlette builds the instance
    itself; Flask's ``wsgi_app``; Django's ``asgi.py`` or ``wsgi.py``), this reaches its
    counters. Per process: under a server with several worker processes, each has its
    own. A middleware that was garbage-collected no longer counts.
    """
    with _live_lock:
        reporters = list(_live)
    total = Stats()
    for reporter in reporters:
        total.add(reporter.stats)
    return total.as_dict()


def _count(metric: str, label: str | None) -> None:
    """One count to the sink, if one is set (called only where ``Stats`` counts)."""
    current = _sink
    if current is not None:
        current.count(metric, label)


def _title(name: str) -> str:
    return "-".join(part.capitalize() for part in name.split("-"))
