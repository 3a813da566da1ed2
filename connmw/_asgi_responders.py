"""The ASGI adapter's responders: one response's state off the hot path, as a named object.

Each is the ``send`` the application gets for a response that needs more than its start
changed: :class:`BodilessResponse` drops the body bytes of a response the rules' plan says has
no content; :class:`HeldHttp10Response` holds an HTTP/1.0 body until its length is known.
:mod:`connmw.asgi` makes one only when a request or a response needs it; the plain request's
send stays a closure (docs/benchmarks.md).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any, final

from ._core import Core, Decided
from .errors import ForbiddenBodyError
from .rules import Header, PlannedResponse

Message = MutableMapping[str, Any]
Send = Callable[[Message], Awaitable[None]]
Start = Callable[..., tuple[Message, PlannedResponse, Decided]]
"""The adapter's ``_start`` bound to one request: ``(message, *, framing, hold, decided)``."""

_FILE_SENDS = ("http.response.pathsend", "http.response.zerocopysend")


@final
class BodilessResponse:
    """``send`` for the rest of a response without content: its body bytes are dropped.

    A response to HEAD and a 1xx, 204 or 304 response end with their header section
    (:func:`connmw.rules.no_content_reason`); bytes sent after it would be read by a persistent
    client as the next response. The first dropped bytes are counted in ``stats.bodies_dropped``
    (strict mode raises :class:`connmw.ForbiddenBodyError` instead). Trailers and unknown
    messages pass; a file to send (pathsend, zerocopysend) becomes an empty body.

    :param core: the middleware's settings and counters.
    :param reason: the rules' reason the response has no content.
    :param send: the send this one wraps.
    """

    __slots__ = ("_core", "_reason", "_send")

    def __init__(self, core: Core, reason: str, send: Send) -> None:
        self._core = core
        self._reason = reason  # "" once counted
        self._send = send

    def __call__(self, message: Message) -> Awaitable[None]:
        kind = message["type"]
        if kind == "http.response.body":
            if not message.get("body"):
                return self._send(message)
        elif kind not in _FILE_SENDS:
            return self._send(message)
        reason = self._reason
        if reason:
            if self._core.strict:
                raise ForbiddenBodyError(reason)
            self._core.reporter.body_dropped(reason)
            self._reason = ""
        more = kind != "http.response.pathsend" and bool(message.get("more_body", False))
        return self._send({"type": "http.response.body", "body": b"", "more_body": more})


@final
class HeldHttp10Response:
    """``send`` that holds an HTTP/1.0 response without Content-Length until it is complete.

    HTTP/1.0 has no chunked coding (RFC 9112 §7), yet some servers chunk any body without a
    length (docs/servers.md). A held response starts with its body's length; one whose body
    outgrows ``limit`` goes out streamed, after a start saying ``close`` (``framing=True``).

    :param start: the adapter's start for this request: ``start(message, framing=..., hold=...,
        decided=...)`` returns the start message as it must go out, the rules' plan for it and
        the lifecycle's verdict; asked with ``hold=True`` first, its plan says whether to hold.
    :param core: the middleware's settings and counters.
    :param limit: the most body bytes held (``http10_buffer_bytes``).
    :param send: the send this one wraps.
    """

    __slots__ = ("_core", "_decided", "_held", "_limit", "_parts", "_send", "_size", "_start")

    def __init__(self, start: Start, core: Core, limit: int, send: Send) -> None:
        self._start = start
        self._core = core
        self._limit = limit
        self._send = send
        self._held: Message | None = None
        self._decided: Decided | None = None  # the lifecycle's verdict, given when the start goes out
        self._parts: list[bytes] = []
        self._size = 0

    async def __call__(self, message: Message) -> None:
        send = self._send
        held = self._held
        if held is None:
            if message["type"] == "http.response.start":
                message, plan, decided = self._start(message, hold=True)
                if plan.hold:
                    self._held, self._decided = message, decided
                    return
                if plan.no_content is not None:  # HEAD, 1xx, 204, 304: its bytes are dropped
                    self._send = BodilessResponse(self._core, plan.no_content, send)
            await send(message)
            return
        parts = self._parts
        if message["type"] == "http.response.body":
            body = message.get("body", b"")
            if not message.get("more_body", False):
                parts.append(body)
                whole = b"".join(parts)
                length: Header = (b"content-length", b"%d" % len(whole))
                self._held = None
                start = dict(held, headers=[*held.get("headers", ()), length])
                await send(self._start(start, decided=self._decided)[0])
                await send({"type": "http.response.body", "body": whole, "more_body": False})
                return
            parts.append(body)
            self._size += len(body)
            if self._size <= self._limit:
                return
        self._held = None
        await send(self._start(held, framing=True, decided=self._decided)[0])
        if parts:
            await send({"type": "http.response.body", "body": b"".join(parts), "more_body": True})
            parts.clear()
        if message["type"] != "http.response.body":
            await send(message)  # trailers, pathsend, …: not ours to hold back
