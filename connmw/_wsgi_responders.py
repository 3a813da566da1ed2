"""The WSGI adapter's responders: what one response still needs once its start went out.

:class:`GuardedBody` drops the body of a response without content and runs the server's
call at its end; :class:`HeldResponse` holds a body no one would delimit until its length is
known. Each is one response's state, made by :mod:`connmw.wsgi` only when a response needs it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from itertools import chain
from typing import TYPE_CHECKING, Final

from ._core import Core, Decided
from .errors import ForbiddenBodyError

if TYPE_CHECKING:
    from _typeshed import OptExcInfo
    from _typeshed.wsgi import WSGIEnvironment

    Write = Callable[[bytes], object]
    Held = tuple[str, list[tuple[str, str]], OptExcInfo | None]  # a held start_response call

# What the rest of a response needs once its start went out: absent before it started (PEP
# 3333 lets an iterable call start_response lazily), None for nothing more, else a PendingResponse.
RESPONSE_KEY: Final = "connmw.response"
NOT_STARTED: Final = "not started"


def write_nothing(core: Core, environ: WSGIEnvironment, data: bytes) -> None:
    """``write()`` of a response without content: the bytes are dropped (and counted)."""
    if data:
        drop_body(core, environ)


def drop_body(core: Core, environ: WSGIEnvironment) -> None:
    """Body bytes of a response without content were dropped: count once, or raise (strict)."""
    pending = environ.get(RESPONSE_KEY)
    if isinstance(pending, PendingResponse) and pending.no_content:
        reason, pending.no_content = pending.no_content, ""
        if core.strict:
            raise ForbiddenBodyError(reason)
        core.reporter.body_dropped(reason)


class PendingResponse:
    """What a response still needs after its start: dropping its body, a call at its end."""

    __slots__ = ("after", "no_content")

    def __init__(self, no_content: str | None, after: Callable[[], None] | None) -> None:
        self.no_content = no_content  # the rules' reason; "" once the dropped body is counted
        self.after = after  # the server's, once the body is written (uWSGI's close)


class GuardedBody:
    """The app's iterable, for a response with something left to do once it started.

    Chunks pass while the response has content, or before it started (PEP 3333 lets a
    generator call ``start_response`` lazily, before its first non-empty chunk). Once the
    start says the response has no content (:func:`connmw.rules.no_content_reason`), the
    first non-empty chunk is dropped and counted and nothing more is read. :meth:`close`
    closes the app's iterable, once (PEP 3333), then runs what the server asked to run
    at the end of the response.
    """

    __slots__ = ("_core", "_environ", "_result")

    def __init__(self, core: Core, environ: WSGIEnvironment, result: Iterable[bytes]) -> None:
        self._core = core
        self._environ = environ
        self._result: Iterable[bytes] | None = result

    @classmethod
    def around(
        cls, core: Core, environ: WSGIEnvironment, result: Iterable[bytes]
    ) -> Iterable[bytes]:
        """``result`` itself when nothing is left to do, else a guard around it.

        A guard when the response started with something left (a body to drop, a call at
        its end) or has not started yet (its iterable will start it lazily); but never
        around a list or tuple of empty chunks when only a body would have been dropped.
        """
        pending = environ.get(RESPONSE_KEY, NOT_STARTED)
        if pending is None:
            return result
        nothing_after = not isinstance(pending, PendingResponse) or pending.after is None
        if nothing_after and type(result) in (list, tuple) and not any(result):
            return result
        return cls(core, environ, result)

    def __iter__(self) -> Iterator[bytes]:
        environ = self._environ
        for chunk in self._result or ():
            pending = environ.get(RESPONSE_KEY)
            if not isinstance(pending, PendingResponse) or pending.no_content is None:
                yield chunk  # with content, or not started yet
            elif chunk:
                drop_body(self._core, environ)
                # A chunk, empty: hypercorn's WSGI wrapper starts the response with the
                # first chunk and answers 500 to an iterable that yields none.
                yield b""
                return

    def close(self) -> None:
        result, self._result = self._result, None
        if result is None:
            return
        try:
            close_iterable(result)
        finally:
            pending = self._environ.get(RESPONSE_KEY)
            if isinstance(pending, PendingResponse) and pending.after is not None:
                pending.after()


class HeldResponse:
    """One response whose body the server would not delimit, held until its length is known.

    HTTP/1.0 has no chunked coding, and some servers do not chunk HTTP/1.1 either.

    The app's ``start_response`` and ``write()`` hold a response whose body needs framing (the
    rules' plan says :attr:`~connmw.rules.PlannedResponse.hold`); :meth:`body` reads the app's iterable and
    starts the response with a Content-Length, or without one once the body outgrows
    ``limit`` (the rest is then streamed). Any other response starts at once, untouched.
    """

    __slots__ = ("_decided", "_held", "_held_write", "_limit", "_parts", "_size", "_start", "_started")

    def __init__(self, start: Callable[..., Write], limit: int) -> None:
        self._start = start  # ConnectionMiddleware._start, bound to the request
        self._limit = limit
        self._decided: Decided | None = None  # the lifecycle's verdict, while a start is held
        self._held_write: Write = self._write  # the app's write() while held: one object, told apart
        self._held: Held | None = None
        self._parts: list[bytes] = []
        self._size = 0
        self._started: Write | None = None  # the server's write(), once the response started

    def start_response(
        self, status: str, headers: list[tuple[str, str]], exc_info: OptExcInfo | None = None
    ) -> Write:
        if self._started is not None:
            return self._start(status, headers, exc_info)  # the server judges a second call
        if self._held is not None:
            if exc_info is None:
                raise AssertionError("start_response called twice without exc_info (PEP 3333)")
            if self._size and exc_info[1] is not None:  # the app saw its body go out: re-raise
                raise exc_info[1].with_traceback(exc_info[2])
            self._parts.clear()
        write = self._start(status, headers, exc_info, held=self, decided=self._decided)  # may say: hold
        if write is self._held_write:  # it did (hold)
            self._held = (status, headers, exc_info)
            return write
        self._held = None
        self._started = write
        return write

    def hold(self, decided: Decided) -> Write:
        """The plan says to hold this start: keep the lifecycle's verdict for the start that
        goes out; the app writes into the held body."""
        self._decided = decided
        return self._held_write

    def _write(self, data: bytes) -> None:
        """The app's ``write()`` for a held response."""
        if self._started is not None:  # outgrew the limit before
            self._started(data)
            return
        self._parts.append(data)
        self._size += len(data)
        if self._size > self._limit and self._held is not None:
            write = self._release(self._held, framed=False)
            for part in self._parts:
                write(part)
            self._parts.clear()

    def _release(self, held: Held, *, framed: bool) -> Write:
        """Start the held response on the server: with the held body's length if ``framed``."""
        status, headers, exc_info = held
        self._held = None
        if framed:
            headers = [*headers, ("Content-Length", str(self._size))]
        self._started = self._start(status, headers, exc_info, framing=not framed, decided=self._decided)
        return self._started

    def body(self, result: Iterable[bytes]) -> Iterable[bytes]:
        """What the server iterates: ``result`` itself unless the response is held."""
        if self._started is not None:
            return result
        try:
            iterator = iter(result)
            for chunk in iterator:
                held = self._held
                if held is None:  # started while iterating, or write() outgrew the limit
                    return HeldThenRest(chain(self._parts, (chunk,), iterator), result)
                self._parts.append(chunk)
                self._size += len(chunk)
                if self._size > self._limit:
                    self._release(held, framed=False)
                    return HeldThenRest(chain(self._parts, iterator), result)
        except BaseException:
            close_iterable(result)
            raise
        close_iterable(result)
        if self._held is None:  # start_response never called: the server will say so
            return self._parts
        self._release(self._held, framed=True)
        return [b"".join(self._parts)]


class HeldThenRest:
    """The held chunks, then the rest of the app's iterable; closes the app's once."""

    __slots__ = ("_chunks", "_result")

    def __init__(self, chunks: Iterator[bytes], result: Iterable[bytes]) -> None:
        self._chunks = chunks
        self._result: Iterable[bytes] | None = result

    def __iter__(self) -> Iterator[bytes]:
        return self._chunks

    def close(self) -> None:
        result, self._result = self._result, None
        if result is not None:
            close_iterable(result)


def close_iterable(result: Iterable[bytes]) -> None:
    close = getattr(result, "close", None)
    if close is not None:
        close()


def status_code(status: str) -> int:
    return int(status[:3]) if status[:3].isdecimal() and status[:3].isascii() else 200
