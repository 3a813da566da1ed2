"""Visibility: the ``connmw`` logger and the counters behind ``middleware.stats``.

Corrections (an application sent a header connmw removed) are logged at WARNING once
per kind and header name per process, so a busy server does not flood its log;
handshake rejections are logged at INFO. Header values and bodies are never logged:
they may carry credentials. No handler is configured here (the application's logging
setup decides where records go).

Counting happens only when something is corrected, rejected or closed, so a clean
response costs nothing here.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

__all__ = ["Reporter", "Stats", "logger"]

logger = logging.getLogger("connmw")

_already_warned: set[tuple[str, bytes]] = set()


class Stats:
    """Counters of one middleware instance; read them as ``middleware.stats``.

    * ``headers_stripped``: lower-case header name → responses it was removed from;
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
    * ``unrecognised``: requests served on a server connmw did not recognise (its
      fallback, docs/policy.md; ``CONNMW_SERVER`` names the server, if it is one connmw knows).
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

    def __repr__(self) -> str:
        return f"Stats({self.as_dict()!r})"


class Reporter:
    """Counts and logs what a middleware corrected; one per middleware instance."""

    __slots__ = ("stats",)

    def __init__(self) -> None:
        self.stats = Stats()

    def stripped(self, names: Iterable[bytes], where: str = "app") -> None:
        """Headers removed from a response (``where='app'``) or a request."""
        counts = self.stats.headers_stripped
        for name in names:
            text = name.decode("latin-1")
            counts[text] = counts.get(text, 0) + 1
            if (where, name) not in _already_warned:
                _already_warned.add((where, name))
                if name == b"content-length":  # protected, so never hop-by-hop: the rules' framing
                    logger.warning(
                        "%s sent Content-Length on a 1xx, 204 or 304 response (RFC 9110 §8.6); removed", where
                    )
                else:
                    logger.warning("%s sent hop-by-hop header %s; removed", where, _title(text))

    def rejected(self, code: str, reason: str) -> None:
        """A WebSocket handshake was refused."""
        counts = self.stats.handshakes_rejected
        counts[code] = counts.get(code, 0) + 1
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

    def body_dropped(self, reason: str) -> None:
        """Body bytes of a response without content (``reason`` from the rules) were dropped."""
        counts = self.stats.bodies_dropped
        counts[reason] = counts.get(reason, 0) + 1
        if ("body", reason.encode()) not in _already_warned:
            _already_warned.add(("body", reason.encode()))
            what = "a response to HEAD" if reason == "head" else f"a {reason} response"
            logger.warning("app sent body bytes in %s (RFC 9110 §6.4.1); dropped", what)

    def readiness(self, draining: bool) -> None:
        """A readiness check was answered (never logged: load balancers ask every second)."""
        counts = self.stats.readiness
        key = "draining" if draining else "ready"
        counts[key] = counts.get(key, 0) + 1

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
        """A request was served on a server connmw did not recognise."""
        self.stats.unrecognised += 1

    def abuse(self, what: str) -> None:
        """A request's Connection field tried to nominate what it may not."""
        self.stats.request_abuse += 1
        if ("abuse", what.encode()) not in _already_warned:
            _already_warned.add(("abuse", what.encode()))
            logger.warning("client Connection field %s; ignored", what)


def _title(name: str) -> str:
    return "-".join(part.capitalize() for part in name.split("-"))
