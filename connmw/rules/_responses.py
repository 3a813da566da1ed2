"""Response framing facts both adapters need: no content, framing, close reasons, readiness.

RFC 9110 §6.4.1 (no content), §8.6 (Content-Length); RFC 9112 §6.3 (message body length).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Final, Literal

from ._connection import (
    RequestFacts,
)
from ._headers import (
    Header,
    _has_content_length,
)

# --------------------------------------------------------------------------------------
# Responses
# --------------------------------------------------------------------------------------

ResponsePlan = tuple[Sequence[Header], bool, tuple[bytes, ...]]
"""``(headers, close, removed)`` from :meth:`Policy.finish_response`.

``headers`` is the list to send (the application's own list, untouched, when nothing
had to change); ``close`` whether the connection must close after this response;
``removed`` the lower-case names taken out as corrections (an honoured
``Connection: close`` or ``keep-alive`` wish, or ``Connection: upgrade`` on a legitimate
101, is not a correction).
"""

CLOSE_FIELDS: Final[tuple[Header, ...]] = ((b"connection", b"close"),)
KEEP_ALIVE_FIELDS: Final[tuple[Header, ...]] = ((b"connection", b"keep-alive"),)
UPGRADE_FIELDS: Final[tuple[Header, ...]] = ((b"connection", b"upgrade"),)

Announce = Literal["every", "beyond-request", "closes-beyond-request"]
"""Which of its Connection fields connmw sends through a server: a trait of the server,
passed to :class:`Policy` as data (``Policy.for_server``).

* ``"every"``: all of them (the server carries an application's field and acts on it);
* ``"beyond-request"``: all but the close the request itself asked for (HTTP/1.0 without
  keep-alive, or the client's ``close``): every server answers that one itself, and a
  second ``close`` beside its own is one field too many;
* ``"closes-beyond-request"``: only a ``close`` for a reason the server cannot know (the
  application's own close, drain, connection limits, a body nothing delimits); never
  ``keep-alive`` nor a ``Keep-Alive`` hint, which a server that decides persistence alone
  may contradict. A client never reuses a connection that said ``close`` (RFC 9112 §9.6),
  even where the server keeps the socket.
"""
ANNOUNCE: Final[tuple[Announce, ...]] = ("every", "beyond-request", "closes-beyond-request")

# Statuses whose responses carry no body, so no framing question (RFC 9110 §6.4.1).
NO_BODY_STATUSES: Final[frozenset[int]] = frozenset({101, 204, 304})


def no_content_reason(method: str | None, status: int) -> str | None:
    """Why this response carries no content, or ``None`` when it may carry a body.

    RFC 9110 §6.4.1: a response to HEAD (§9.3.2) and every 1xx (§15.2), 204 (§15.3.5)
    and 304 (§15.4.5) response ends with its header section (RFC 9112 §6.3 items 1-2),
    whatever the application returns. Body bytes written after such a header section
    are read by a persistent client as the start of the next response (a desync), so
    both adapters drop them. The answer is the counter's key: ``"head"``, ``"1xx"``,
    ``"204"`` or ``"304"``. A 2xx answer to CONNECT starts a tunnel, not a body; it is
    not a framing question and gets ``None``.
    """
    if method == "HEAD":
        return "head"
    if status < 200:
        return "1xx"
    if status == 204:
        return "204"
    if status == 304:
        return "304"
    return None


def drops_content_length(status: int) -> bool:
    """Whether a response with this status goes out without Content-Length.

    RFC 9110 §8.6: never in a 1xx or 204 response, which has no content to measure. A 304
    may carry the 200's length and loses it too: uvicorn's httptools protocol counts it
    against the body a 304 never has, and caches do not update it from a 304.
    """
    return status < 200 or status in {204, 304}


def body_needs_framing(status: int, method: str | None, headers: Iterable[Header]) -> bool:
    """Whether a response has a body but no Content-Length to delimit it.

    Such a body is chunked on HTTP/1.1 and close-delimited on HTTP/1.0 (RFC 9112 §6.3);
    chunked framing to an HTTP/1.0 client is forbidden (RFC 9112 §6.1), so the ASGI
    adapter holds such a body for HTTP/1.0 and sends it with a length. Responses to
    HEAD and 1xx/204/304 have no body (:func:`no_content_reason`).
    """
    if no_content_reason(method, status) is not None:
        return False
    return not _has_content_length(headers)


READY_RETRY_AFTER: Final = 5
"""Seconds a draining instance's readiness answer asks a client to wait before asking again."""
_READY_HEADERS: Final[tuple[Header, ...]] = (
    (b"content-type", b"text/plain; charset=utf-8"),
    (b"cache-control", b"no-store"),  # RFC 9111 §5.2.2.5: a probe must never be answered from a cache
)


def asks_readiness(method: str | None, path: str | None, ready_path: str | None) -> bool:
    """Whether a request is a readiness check connmw answers itself: GET or HEAD of exactly
    ``ready_path`` (the query string, not part of ``path``, is ignored)."""
    return ready_path is not None and path == ready_path and method in ("GET", "HEAD")


def readiness_answer(method: str | None, draining: bool) -> tuple[int, list[Header], bytes]:
    """The answer to a readiness check: ``(status, headers, body)``, Connection fields aside.

    ``200 ready`` while serving; ``503 draining`` with ``Retry-After`` (RFC 9110 §10.2.3,
    §15.6.4) while the instance drains, so that a load balancer's health check takes it
    out of rotation before it stops: closing keep-alive connections alone does not stop a
    balancer from opening new ones. The adapters add the connection fields
    (:meth:`Policy.finish_response` with ``server_close=draining``: ``close`` while
    draining). A HEAD answer has the GET's Content-Length and no body (RFC 9110 §9.3.2).
    """
    status, body = (503, b"draining\n") if draining else (200, b"ready\n")
    headers = [*_READY_HEADERS, (b"content-length", b"%d" % len(body))]
    if draining:
        headers.append((b"retry-after", b"%d" % READY_RETRY_AFTER))
    return status, headers, b"" if method == "HEAD" else body


def close_reason(request: RequestFacts, server_reason: str | None = None, *, framing: bool = False) -> str:
    """Why a response closes its connection, for counters and logs.

    ``server_reason`` (drain, a limit) first; then ``client`` when the request itself
    was not persistent (RFC 9112 §9.3); ``framing`` when the body could not be
    delimited; else ``app`` (the application's own ``Connection: close``).
    """
    if server_reason is not None:
        return server_reason
    if not request.persistent:
        return "client"
    return "framing" if framing else "app"
