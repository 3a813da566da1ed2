"""Core.settle: a planned response's close carried out the same way for both adapters."""

from __future__ import annotations

from typing import Any

import pytest

from connmw._core import Core
from connmw.config import load_config
from connmw.rules import PlannedResponse


def _plan(close: bool, reason: str | None, forget: bool, ask: bool) -> PlannedResponse:
    return PlannedResponse(None, (), False, close, (), reason, forget, None, ask)


@pytest.mark.parametrize(
    ("plan", "refused", "counted", "forgotten", "asked"),
    [
        pytest.param(_plan(False, None, False, False), False, {}, False, None, id="keeps-asks-nothing"),
        pytest.param(
            _plan(False, None, False, True), False, {}, False, True, id="keeps-asks-the-hook-to-keep"
        ),
        pytest.param(
            _plan(True, "client", True, True), False, {"client": 1}, True, False,
            id="client-close-counted-forgotten-asked",
        ),
        pytest.param(
            _plan(True, "max-requests", False, False), False, {"max-requests": 1}, False, None,
            id="lifecycle-close-counted-and-remembered",
        ),
        pytest.param(
            _plan(True, None, False, True), False, {}, False, False,
            id="close-connmw-cannot-carry-out-counts-nothing",
        ),
        pytest.param(
            _plan(True, "app", True, True), True, {}, False, True,
            id="field-refused-the-server-keeps-it-nothing-counted",
        ),
    ],
)
def test_settle(
    plan: PlannedResponse, refused: bool, counted: dict[str, int], forgotten: bool, asked: bool | None
) -> None:
    core = Core(load_config(environ={}, max_requests_per_connection=10), {}, "wsgi")
    key = ("127.0.0.1", 5000, 80)
    core.lifecycle.decide(key)
    kept: list[bool] = []

    def persist(keep: bool) -> Any:
        kept.append(keep)
        return "after"

    after = core.settle(plan, key, persist, refused=refused)
    assert dict(core.reporter.stats.connections_closed) == counted
    assert (core.lifecycle.decide(key)[1] == 9) is forgotten  # a forgotten connection starts again
    assert kept == ([] if asked is None else [asked])
    assert after == (None if asked is None else "after")
