"""Pure decisions for draining long-lived connections: when each closes, where an event stream may end.

Drain (``connmw.drain()``, the drain file) makes every HTTP/1.x response close its
connection, but a WebSocket or a Server-Sent Events stream never ends by itself. These
rules say how connmw ends them without a reconnect storm and without cutting an event:

* :func:`close_offsets`: N connections leave over a window at about N / window per
  second (stratified: one close in each of N equal slots, at a point inside its slot the
  caller draws, so that two instances draining together do not close in lockstep);
* :func:`stream_state`: where an event stream's bytes stand, so that connmw ends it only
  after a blank line has ended an event (the WHATWG HTML "event stream interpretation":
  an event the stream ends before its blank line is discarded by ``EventSource``);
* :func:`is_event_stream`: whether a response is one (``Content-Type: text/event-stream``);
* :func:`retry_field`: the ``retry:`` hint an ended stream may carry.

No clock and no randomness here: the caller gives the draws and keeps the time.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from ._headers import Pairs

__all__ = [
    "AT_BOUNDARY",
    "close_offsets",
    "ends_event",
    "is_event_stream",
    "retry_field",
    "stream_state",
]

# Where an event stream's bytes stand (WHATWG HTML §9.2.5: lines end with CRLF, LF or a
# lone CR; a blank line dispatches the event). The *_CR states remember a CR that ended
# the last line, so that an LF right after it completes that CRLF and ends no line.
AT_BOUNDARY: Final = 0
"""Nothing pending: the stream's start, or just after the blank line that ended an event."""
_BOUNDARY_CR: Final = 1
_LINE_START: Final = 2
"""A non-blank line has ended: the event it belongs to is not over."""
_LINE_START_CR: Final = 3
_IN_LINE: Final = 4

_BOUNDARIES: Final = frozenset({AT_BOUNDARY, _BOUNDARY_CR})
_TERMINATORS: Final = b"\r\n"


def ends_event(state: int) -> bool:
    """Whether a stream in ``state`` may end here without cutting an event."""
    return state in _BOUNDARIES


def stream_state(state: int, chunk: bytes) -> int:
    """The state of an event stream after ``chunk``, from its state before.

    Only the chunk's trailing run of CR and LF bytes matters (whatever comes before its
    last other byte ends in a line that is not over), so a long chunk costs one scan in C.
    """
    if not chunk:
        return state
    run_start = len(chunk.rstrip(_TERMINATORS))
    if run_start == len(chunk):
        return _IN_LINE
    if run_start > 0:
        line_empty, pending_cr = False, False  # the last line has bytes of its own
    else:
        line_empty = state != _IN_LINE
        pending_cr = state in (_BOUNDARY_CR, _LINE_START_CR)
    boundary = state in _BOUNDARIES and run_start == 0
    i = run_start
    last_cr = False
    while i < len(chunk):
        byte = chunk[i]
        if byte == 10 and pending_cr:  # the LF of a CRLF whose CR ended the line already
            pending_cr = False
            i += 1
            last_cr = False
            continue
        # one line terminator: a blank line (an event's end) if the line was empty
        boundary = line_empty
        line_empty = True
        pending_cr = byte == 13
        last_cr = pending_cr
        i += 1
    if boundary:
        return _BOUNDARY_CR if last_cr else AT_BOUNDARY
    return _LINE_START_CR if last_cr else _LINE_START


def is_event_stream(headers: Pairs) -> bool:
    """Whether response ``headers`` say ``Content-Type: text/event-stream`` (any case, any
    parameters; RFC 9110 §8.3.1: type and subtype are case-insensitive).

    Pairs are read loosely, as ASGI gives them (tuples or lists); a pair that is no two
    byte strings is skipped, and a Content-Type whose value is not bytes is no event stream.
    """
    for pair in headers:
        if type(pair) not in (tuple, list) or len(pair) != 2:
            continue
        name, value = pair[0], pair[1]
        if isinstance(name, bytes) and name.lower() == b"content-type":
            if not isinstance(value, bytes):
                return False
            media = value.split(b";", 1)[0].strip(b" \t").lower()
            return media == b"text/event-stream"
    return False


def retry_field(milliseconds: int) -> bytes:
    """A ``retry:`` field in a block of its own: ``EventSource`` waits this long before it
    reconnects (its reconnection time, WHATWG HTML §9.2.6); the blank line after it
    dispatches no event, since no ``data`` came with it."""
    return b"retry: %d\n\n" % milliseconds


def close_offsets(count: int, window: float, draws: Sequence[float]) -> list[float]:
    """Seconds after the drain began at which each of ``count`` connections closes.

    The window is cut into ``count`` equal slots and the i-th connection closes inside the
    i-th, at the fraction ``draws[i]`` (in [0, 1); 0.5 for the middle) of it: the closes
    come at an even ``count / window`` per second, none two in the same slot, and the
    first and last are at least ``window * (count - 2) / count`` apart. A window of 0 closes
    all at once (offset 0). Raises ``ValueError`` for a draw outside [0, 1) or too few draws.
    """
    if count <= 0:
        return []
    if len(draws) < count:
        raise ValueError(f"{count} connections need {count} draws, got {len(draws)}")
    if window <= 0:
        return [0.0] * count
    slot = window / count
    offsets = []
    for index in range(count):
        draw = draws[index]
        if not 0.0 <= draw < 1.0:
            raise ValueError(f"a draw is a fraction in [0, 1), got {draw!r}")
        offsets.append(min((index + draw) * slot, window))
    return offsets
