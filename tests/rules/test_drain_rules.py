"""The pure drain rules (connmw.rules._drain): the spread of close times, the event
stream's message boundary, the ``retry:`` hint, and which responses are event streams.

Tables for the clauses; hypothesis for the properties: the boundary of any split of a
stream into chunks equals that of a byte-by-byte reading of the WHATWG line rules, and
N closes fall one per slot of the window.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from connmw.rules import (
    AT_BOUNDARY,
    Policy,
    close_offsets,
    ends_event,
    is_event_stream,
    retry_field,
    stream_state,
)


def reference_ends_event(stream: bytes) -> bool:
    """Whether ``stream`` ends right after a blank line (or is empty), read one byte at a
    time as WHATWG HTML §9.2.5 reads lines: CRLF, LF or a lone CR ends a line."""
    line_empty, boundary, after_cr = True, True, False
    for byte in stream:
        if byte == 10 and after_cr:
            after_cr = False
            continue
        after_cr = byte == 13
        if byte in (10, 13):
            boundary = line_empty
            line_empty = True
        else:
            line_empty, boundary = False, False
    return boundary


def state_after(*chunks: bytes) -> int:
    state = AT_BOUNDARY
    for chunk in chunks:
        state = stream_state(state, chunk)
    return state


@pytest.mark.parametrize(
    ("chunks", "boundary"),
    [
        pytest.param((), True, id="nothing-sent"),
        pytest.param((b"",), True, id="empty-chunk"),
        pytest.param((b"data: a\n\n",), True, id="lf-event"),
        pytest.param((b"data: a\r\n\r\n",), True, id="crlf-event"),
        pytest.param((b"data: a\r\r",), True, id="cr-event"),
        pytest.param((b"data: a\n",), False, id="line-not-event"),
        pytest.param((b"data: a",), False, id="mid-line"),
        pytest.param((b"data: a\r\n",), False, id="crlf-line-not-event"),
        pytest.param((b"data: a\r", b"\n"), False, id="crlf-split-is-one-terminator"),
        pytest.param((b"data: a\r", b"\n", b"\n"), True, id="crlf-split-then-lf"),
        pytest.param((b"data: a\n", b"\n"), True, id="blank-line-in-own-chunk"),
        pytest.param((b"data: a\n\n", b"data: b"), False, id="second-event-begun"),
        pytest.param((b": keep-alive\n\n",), True, id="comment-block"),
        pytest.param((b"data: a\n\n\n",), True, id="extra-blank-line"),
        pytest.param((b"data: a\n\r",), True, id="lf-then-cr"),
        pytest.param((b"data: a\n\r", b"\n"), True, id="lf-cr-then-lf-completes-crlf"),
        pytest.param((b"\n",), True, id="blank-line-alone"),
        pytest.param((b"id: 7\ndata: x\n\n",), True, id="id-and-data"),
    ],
)
def test_message_boundary(chunks: tuple[bytes, ...], boundary: bool) -> None:
    assert ends_event(state_after(*chunks)) is boundary
    assert reference_ends_event(b"".join(chunks)) is boundary


@given(st.lists(st.sampled_from([b"a", b":", b"\r", b"\n", b"\r\n"]), max_size=40), st.data())
def test_any_split_reads_like_one_byte_at_a_time(pieces: list[bytes], data: st.DataObject) -> None:
    stream = b"".join(pieces)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=6)))
    chunks = [stream[a:b] for a, b in zip([0, *cuts], [*cuts, len(stream)], strict=True)]
    assert ends_event(state_after(*chunks)) is reference_ends_event(stream)
    # one byte at a time too: each byte is its own chunk
    assert ends_event(state_after(*(stream[i : i + 1] for i in range(len(stream))))) is (
        reference_ends_event(stream)
    )


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        pytest.param([(b"content-type", b"text/event-stream")], True, id="plain"),
        pytest.param([(b"content-type", b"text/event-stream; charset=utf-8")], True, id="parameter"),
        pytest.param([(b"Content-Type", b"Text/Event-Stream")], True, id="any-case"),
        pytest.param([(b"content-type", b" text/event-stream ;x=1")], True, id="white-space"),
        pytest.param([(b"content-type", b"text/plain")], False, id="other-type"),
        pytest.param([(b"content-type", b"text/event-streams")], False, id="longer-subtype"),
        pytest.param([], False, id="no-type"),
        pytest.param([(b"x-type", b"text/event-stream")], False, id="other-field"),
    ],
)
def test_is_event_stream(headers: list[tuple[bytes, bytes]], expected: bool) -> None:
    assert is_event_stream(headers) is expected


def test_retry_field_is_a_block_of_its_own() -> None:
    assert retry_field(3000) == b"retry: 3000\n\n"
    assert ends_event(stream_state(AT_BOUNDARY, retry_field(0)))


@pytest.mark.parametrize(
    ("count", "window", "draws", "expected"),
    [
        pytest.param(0, 5.0, [], [], id="none"),
        pytest.param(1, 4.0, [0.5], [2.0], id="one-in-the-middle"),
        pytest.param(4, 4.0, [0.0, 0.0, 0.0, 0.0], [0.0, 1.0, 2.0, 3.0], id="slot-starts"),
        pytest.param(4, 2.0, [0.5] * 4, [0.25, 0.75, 1.25, 1.75], id="even"),
        pytest.param(3, 0.0, [0.9, 0.1, 0.5], [0.0, 0.0, 0.0], id="window-0-all-at-once"),
    ],
)
def test_close_offsets(count: int, window: float, draws: list[float], expected: list[float]) -> None:
    assert close_offsets(count, window, draws) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("count", "draws"),
    [
        pytest.param(2, [0.5], id="too-few-draws"),
        pytest.param(1, [1.0], id="draw-1"),
        pytest.param(1, [-0.1], id="negative-draw"),
    ],
)
def test_close_offsets_refuses_bad_draws(count: int, draws: list[float]) -> None:
    with pytest.raises(ValueError, match="draw"):
        close_offsets(count, 3.0, draws)


@given(
    st.integers(1, 200),
    st.floats(0.01, 600, allow_nan=False),
    st.lists(st.floats(0, 1, exclude_max=True), min_size=200, max_size=200),
)
def test_one_close_per_slot(count: int, window: float, draws: list[float]) -> None:
    offsets = close_offsets(count, window, draws)
    slot = window / count
    assert len(offsets) == count
    assert offsets == sorted(offsets)
    for index, offset in enumerate(offsets):
        assert 0.0 <= offset < window + 1e-9
        assert index * slot - 1e-9 <= offset <= (index + 1) * slot + 1e-9
    if count >= 2:
        # first and last at least (count - 2) / count of the window apart
        assert offsets[-1] - offsets[0] >= window * (count - 2) / count - 1e-9


# -- the quick path never passes an event stream ------------------------------------------

PLAIN = (b"content-type", b"text/plain; charset=utf-8")
LENGTH = (b"content-length", b"2")


@pytest.mark.parametrize(
    "content_type",
    [
        pytest.param(b"text/event-stream", id="bare"),
        pytest.param(b"text/event-stream; charset=utf-8", id="parameters"),
        pytest.param(b"Text/Event-Stream", id="any-case"),
    ],
)
def test_the_quick_path_declines_an_event_stream_every_time(content_type: bytes) -> None:
    # Drain must see every event stream: after the same names (and that very pair) were
    # seen, the quick path still hands the start to the full decision.
    policy = Policy()
    reading = policy.read("1.1", [])
    stream = [(b"content-type", content_type), (b"cache-control", b"no-cache")]
    policy.finish_response(reading.facts, 200, [PLAIN, LENGTH, (b"cache-control", b"no-cache")])
    for _ in range(3):
        assert policy.quick_finish_reading(reading, 200, stream) is None
        assert is_event_stream(policy.finish_response(reading.facts, 200, stream)[0])


def test_the_quick_path_passes_a_known_content_type_after_one_look() -> None:
    policy = Policy()
    reading = policy.read("1.1", [])
    app = [PLAIN, LENGTH]
    policy.finish_response(reading.facts, 200, app)  # learns the names
    expected = [*app, (b"connection", b"keep-alive")]
    assert policy.quick_finish_reading(reading, 200, app) == expected  # learns the pair
    assert policy.quick_finish_reading(reading, 200, [(b"content-type", bytes(PLAIN[1])), LENGTH]) == expected
    listed = [[b"content-type", PLAIN[1]], LENGTH]  # a pair as a list (ASGI allows it): decided in full
    assert policy.quick_finish_reading(reading, 200, listed) is None


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        pytest.param([[b"content-type", b"text/event-stream"]], True, id="a-pair-as-a-list"),
        pytest.param([(b"content-type", "text/event-stream")], False, id="a-str-value"),
        pytest.param([("content-type", b"text/event-stream")], False, id="a-str-name"),
        pytest.param([(b"content-type",), (b"x", b"1", b"2")], False, id="not-pairs"),
        pytest.param([None, 7, (b"content-type", b"text/event-stream")], True, id="junk-then-the-field"),
    ],
)
def test_is_event_stream_reads_loose_pairs_and_never_raises(headers: list[Any], expected: bool) -> None:
    # ASGI allows [name, value] lists; anything else an application sends is skipped, never raised on.
    assert is_event_stream(headers) is expected
