"""What "never worse than the bare server" means, as a pure ordering, and how it is observed.

A server connmw does not recognise gets connmw's fallback (docs/policy.md, "A server connmw
does not recognise"). The promise is that on such a server every response is at least as
good as the same server gives without connmw. This module makes that checkable:

* :data:`CASES`: the requests both are compared on (the three curl requests of the Heroku
  question, HTTP/1.0 keep-alive, the application's own close, a leaked hop-by-hop field,
  HEAD with a body, 204, 304, an unsized body to HTTP/1.0, and drain);
* :func:`observe`: one exchange on the wire, reduced to an :class:`Observed`;
* :func:`worse`: the properties on which one observation is worse than another, empty
  when it is at least as good on every one. Pure: ``tests/test_never_worse.py`` checks the
  ordering on a table of observations, so a reader can check it without a server.

Drain has no bare counterpart (a bare application knows nothing of connmw's drain): its
counterpart is the application closing its own connection, ``/bare/close``, which is what
connmw does on its behalf.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from tests.wire import RawConnection, WireError, request_bytes

__all__ = ["CASES", "HOP_BY_HOP", "Case", "Observed", "observe", "worse"]

HOP_BY_HOP = frozenset({"keep-alive", "proxy-connection", "upgrade", "x-hop", "te", "trailers"})
"""Hop-by-hop names a client must never see from an application (Connection and
Transfer-Encoding are judged by their own properties: lines, and framing)."""


@dataclass(frozen=True)
class Case:
    """One request of the comparison: sent to ``/bare{path}`` and to ``{path}`` behind connmw."""

    id: str
    path: str = "/"
    version: str = "HTTP/1.1"
    method: str = "GET"
    headers: tuple[tuple[str, str], ...] = ()
    bare_path: str | None = None
    """The bare counterpart's path when it differs (drain's is the application's own close)."""
    drain: bool = False
    """Sent while connmw drains (the server's drain file exists)."""


CASES = (
    Case("http11", method="POST"),
    Case("http10", version="HTTP/1.0", method="POST"),
    Case("http11-close", method="POST", headers=(("Connection", "close"),)),
    Case("http10-keep-alive", version="HTTP/1.0", headers=(("Connection", "keep-alive"),)),
    Case("app-close", path="/close"),
    Case("hop-by-hop", path="/hoppy"),
    Case("head-with-body", path="/nocontent?status=200", method="HEAD"),
    Case("204", path="/nocontent?status=204"),
    Case("304", path="/nocontent?status=304"),
    Case("http10-unsized", path="/stream", version="HTTP/1.0"),
    Case("drain", bare_path="/close", drain=True),
)


@dataclass(frozen=True)
class Observed:
    """What a client saw of one response, and what the socket did after it."""

    version: str = "HTTP/1.1"
    """The request's version."""
    status: int = 200
    connection: tuple[str, ...] = ()
    """The Connection lines as sent, lower-case, in order."""
    leaked: frozenset[str] = field(default_factory=frozenset)
    """Hop-by-hop names (:data:`HOP_BY_HOP`) in the response."""
    unreadable: bool = False
    """The response could not be read as RFC 9112 frames it, within the time allowed."""
    closed: bool = False
    """The server closed the socket after the response."""
    stray: bool = False
    """Bytes arrived after a response that has no content (HEAD, 1xx, 204, 304)."""
    chunked: bool = False
    """The body was chunked."""
    reused: bool | None = None
    """A second request on the same socket was answered (``None``: the socket closed)."""

    @property
    def tokens(self) -> frozenset[str]:
        """Every Connection token, across the lines."""
        return frozenset(
            token.strip() for line in self.connection for token in line.split(",") if token.strip()
        )

    @property
    def says_close(self) -> bool:
        return "close" in self.tokens

    @property
    def announced_persistent(self) -> bool:
        """What a client reads: the connection may carry another request (RFC 9112 §9.3)."""
        if self.says_close:
            return False
        return self.version == "HTTP/1.1" or "keep-alive" in self.tokens


def worse(wrapped: Observed, bare: Observed) -> list[str]:
    """The properties on which ``wrapped`` is worse than ``bare``; ``[]``: at least as good on all.

    * a 5xx, or a response that cannot be read, that ``bare`` did not give (nothing is
      worse than a response a client cannot read: against one, anything readable is better);
    * more than one Connection line where ``bare`` had fewer, or ``close`` beside
      ``keep-alive`` where ``bare`` had not both (one line is connmw's promise);
    * where ``bare`` said ``close`` (or said nothing to HTTP/1.0, which a client reads as
      close): not saying it, or keeping a socket ``bare`` closed (unless ``bare`` said so on
      an error page of its own in place of the application's);
    * announcing a persistent connection that then cannot carry a request (closed, or
      answered with stray bytes) where ``bare`` did not;
    * a hop-by-hop field ``bare`` did not leak; body bytes after a response without
      content, or chunked framing to an HTTP/1.0 client, where ``bare`` had none.

    Saying ``close`` on a socket the server keeps is not worse: no client reuses a
    connection that said close (RFC 9112 §9.6), while one that says nothing is reused.
    """
    found: list[str] = []
    if wrapped.status >= 500 and bare.status < 500 and not bare.unreadable:
        found.append(f"status {wrapped.status}, bare {bare.status}")
    if wrapped.unreadable:
        return found if bare.unreadable else [*found, "unreadable"]
    if bare.unreadable:
        return found
    if len(wrapped.connection) > max(1, len(bare.connection)):
        found.append(f"Connection lines {list(wrapped.connection)}, bare {list(bare.connection)}")
    if {"close", "keep-alive"} <= wrapped.tokens and not {"close", "keep-alive"} <= bare.tokens:
        found.append("close beside keep-alive")
    error_page = bare.status >= 500 and wrapped.status < 500  # the server's answer, not the app's
    # What a client concludes, not the field: an HTTP/1.0 response that says nothing closes.
    if not bare.announced_persistent and wrapped.announced_persistent and not error_page:
        found.append("does not say close where bare did")
    if not bare.announced_persistent and bare.closed and not wrapped.closed and not error_page:
        found.append("keeps a connection bare closed")
    if _broken_promise(wrapped) and not _broken_promise(bare):
        found.append("announced persistent, cannot carry the next request")
    if leaked := wrapped.leaked - bare.leaked:
        found.append(f"leaks {sorted(leaked)}")
    if wrapped.stray and not bare.stray:
        found.append("body bytes after a response without content")
    if wrapped.chunked and wrapped.version == "HTTP/1.0" and not bare.chunked:
        found.append("chunked to HTTP/1.0")
    return found


def _broken_promise(seen: Observed) -> bool:
    """It announced a persistent connection, and the next request on it was not answered."""
    return seen.announced_persistent and (seen.closed or seen.reused is False)


def observe(port: int, case: Case, path: str, *, timeout: float = 2.0) -> Observed:
    """Send ``case`` to ``path`` on a new connection; watch the socket; try a second request."""
    body = b"x" if case.method == "POST" else b""
    request = request_bytes(case.method, path, case.version, headers=case.headers, body=body)
    with RawConnection(port, timeout=timeout) as connection:
        try:
            response = connection.send(request, method=case.method)
        except (WireError, OSError):
            return Observed(version=case.version, unreadable=True, closed=True)
        lines = tuple(value.lower() for value in response.header_values("connection"))
        says_close = any("close" in line for line in lines)
        closed = response.closed or connection.is_closed(wait=2.0 if says_close else 0.3)
        stray = bool(connection.unread())
        if not closed and stray:
            closed = connection.is_closed(wait=0.3)  # the stray bytes, then perhaps the close
        reused: bool | None = None
        if not closed:
            try:
                again = connection.send(request_bytes("GET", "/"))
                reused = (again.status, again.body) == (200, b"ok")
            except (WireError, OSError):
                reused = False
        return Observed(
            version=case.version,
            status=response.status,
            connection=lines,
            leaked=frozenset(response.header_names_lower()) & HOP_BY_HOP,
            closed=closed,
            stray=stray,
            chunked=response.chunked,
            reused=reused,
        )
