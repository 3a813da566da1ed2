"""Shared pytest setup: markers, and fixtures that start real servers and always stop them.

Fixtures (the harness itself is ``tests/wire.py``):

* ``serve``: function-scoped ``ServerPool``; ``serve(lambda port: uvicorn_cmd(app, port))``
  starts a server on a free port and returns a ``Server``; all are stopped after the test.
* ``serve_module``: the same, module-scoped, with ``serve_module.shared(key, command)`` to
  start one server per key for the whole module (fast baseline and integration tests).
* ``tls_files``: session-scoped throw-away CA and server certificate (``TLSFiles``).

Markers: ``slow``, ``load`` and ``benchmark`` tests are left out unless selected with ``-m``.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

# Test modules import the harness as ``tests.wire`` and servers import ``tests.apps.*``: both
# need the repository root on sys.path even when pytest is run as ``pytest`` (not ``python -m``).
_ROOT = str(Path(__file__).resolve().parent.parent)
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

from tests.wire import ServerPool, TLSFiles, make_tls_files  # noqa: E402 (needs the path above)

_OPT_IN_MARKERS = {
    "slow": "long runs (many examples, big payloads); run with -m slow",
    "load": "load tests against real servers; run with -m load",
    "benchmark": "cost measurements; run with -m benchmark",
}


def pytest_configure(config: pytest.Config) -> None:
    """Register the opt-in markers (and ``timeout`` when pytest-timeout is missing)."""
    for name, text in _OPT_IN_MARKERS.items():
        config.addinivalue_line("markers", f"{name}: {text}")
    if importlib.util.find_spec("pytest_timeout") is None:
        config.addinivalue_line("markers", "timeout(seconds): per-test limit (pytest-timeout not installed)")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Leave out slow, load and benchmark tests when no ``-m`` expression was given."""
    if config.getoption("markexpr", default=""):
        return
    kept: list[pytest.Item] = []
    dropped: list[pytest.Item] = []
    for item in items:
        (dropped if any(item.get_closest_marker(name) for name in _OPT_IN_MARKERS) else kept).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept


@pytest.fixture
def serve() -> Iterator[ServerPool]:
    """Start servers for one test; every server it started is stopped afterwards."""
    pool = ServerPool()
    try:
        yield pool
    finally:
        pool.close()


@pytest.fixture(scope="module")
def serve_module() -> Iterator[ServerPool]:
    """Start servers shared by a test module (``serve_module.shared(key, command)``)."""
    pool = ServerPool()
    try:
        yield pool
    finally:
        pool.close()


@pytest.fixture(scope="session")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> TLSFiles:
    """A CA and a server certificate for 127.0.0.1/localhost, as PEM files."""
    return make_tls_files(tmp_path_factory.mktemp("tls"))
