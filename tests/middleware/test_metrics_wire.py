"""connmw's metrics read the way an operator reads them: a real Prometheus, an OpenTelemetry reader.

* **Prometheus**, summed over workers: gunicorn with three sync workers serves
  tests/apps/metrics_apps.py in prometheus_client's multiprocess mode, with the docs' own
  gunicorn settings (example_apps/gunicorn_prometheus.py) and exporter
  (example_apps/prometheus_app.py). A real Prometheus server (Debian's ``prometheus``;
  ``.ci/run`` installs it), started here on loopback with a scrape interval of 1 s, scrapes
  ``/metrics``. After a known number of requests that close their connection, that get a
  hop-by-hop header stripped and that are refused handshakes, spread over at least two
  workers (counted by the pid each answer names), Prometheus's HTTP API answers exactly
  those totals; after one worker is killed (gunicorn replaces it, ``child_exit`` marks it
  dead) and more requests, still exactly the totals, the dead worker's counts included;
  with the drain file in place, ``connmw_draining`` is 1.
* **OpenTelemetry**: uvicorn serves the ASGI app with ``CONNMW_METRICS=otel`` and the SDK's
  in-memory reader as the global meter provider: the same requests give the same totals,
  and ``connmw.draining`` follows ``connmw.drain()``.

Every wait is bounded: servers must listen within 20 s, Prometheus must see the totals
within 20 s of the last request.
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
import signal
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import handshake_fields
from tests.wire import (
    LOOPBACK,
    REPO_ROOT,
    RawResponse,
    Server,
    exchange,
    free_port,
    gunicorn_cmd,
    request_bytes,
    serve,
    start_server,
    uvicorn_cmd,
)

WORKERS = 3
SCRAPE_WAIT = 20.0
CLOSE = request_bytes(headers=[("Connection", "close")])
LEAK = request_bytes(path="/leak")
HANDSHAKE = request_bytes(
    path="/ws",
    headers=[
        *handshake_fields(),
        ("Origin", "https://elsewhere.example"),  # not this host's: 403 (RFC 6455 §10.2)
    ],
)
PLAIN = request_bytes()


def prometheus_binary() -> str:
    """Prometheus's path, or skip saying why; CI (``.ci/run``) installs Debian's ``prometheus``
    and sets ``PROMETHEUS_REQUIRED=1``, which makes its absence a failure."""
    found = shutil.which("prometheus")
    if found is None:
        reason = "prometheus is not installed (.ci/run: apt-get install prometheus)"
        if os.environ.get("PROMETHEUS_REQUIRED") == "1":
            pytest.fail(f"PROMETHEUS_REQUIRED=1, but {reason}")
        pytest.skip(reason)
    return found


def send_all(port: int, requests: list[bytes]) -> list[RawResponse]:
    """Each request on its own connection, three at a time (so they spread over workers)."""
    with ThreadPoolExecutor(3) as pool:
        return list(pool.map(lambda raw: exchange(port, raw, check_closed=False, timeout=10), requests))


def batch(closing: int, leaking: int, refused: int) -> list[bytes]:
    """Requests interleaved, so that every worker gets some of each kind."""
    groups = [[CLOSE] * closing, [LEAK] * leaking, [HANDSHAKE] * refused]
    return [raw for row in itertools.zip_longest(*groups) for raw in row if raw is not None]


def workers_of(responses: list[RawResponse]) -> set[int]:
    return {int(value) for response in responses for value in response.header_values("x-worker")}


@pytest.fixture
def prometheus_stack(tmp_path: Path) -> Iterator[tuple[Server, Server, Path]]:
    """gunicorn (3 sync workers, multiprocess mode) and Prometheus scraping it every second."""
    binary = prometheus_binary()
    app_port, prometheus_port = free_port(), free_port()
    drain_file = tmp_path / "drain"
    env = {
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "multiproc"),
        "CONNMW_METRICS": "prometheus",
        "CONNMW_DRAIN_FILE": str(drain_file),
    }
    config = REPO_ROOT / "example_apps" / "gunicorn_prometheus.py"
    app = start_server(
        gunicorn_cmd(
            "tests.apps.metrics_apps:wsgi_app",
            app_port,
            worker="sync",
            extra=["--workers", str(WORKERS), "--config", str(config)],
        ),
        app_port,
        env=env,
    )
    (tmp_path / "prometheus.yml").write_text(
        "global:\n"
        "  scrape_interval: 1s\n"
        "  scrape_timeout: 1s\n"
        "scrape_configs:\n"
        "  - job_name: connmw\n"
        "    metrics_path: /metrics\n"
        "    static_configs:\n"
        f"      - targets: ['{LOOPBACK}:{app_port}']\n"
    )
    prometheus = start_server(
        [
            binary,
            f"--config.file={tmp_path / 'prometheus.yml'}",
            f"--storage.tsdb.path={tmp_path / 'data'}",
            f"--web.listen-address={LOOPBACK}:{prometheus_port}",
            "--log.level=warn",
        ],
        prometheus_port,
        cwd=tmp_path,
    )
    try:
        app.wait_ready(20)
        prometheus.wait_ready(20)
        yield app, prometheus, drain_file
    finally:
        for server in (prometheus, app):
            server.stop()
            server.log_path.unlink(missing_ok=True)


def query(prometheus: Server, promql: str) -> dict[str, float]:
    """Prometheus's ``/api/v1/query`` of ``promql`` now: each series' labels (as text) → value."""
    url = f"{prometheus.url}/api/v1/query?{urllib.parse.urlencode({'query': promql})}"
    with urllib.request.urlopen(url, timeout=5) as answer:  # noqa: S310 (loopback http)
        document = json.load(answer)
    assert document["status"] == "success", document
    found: dict[str, float] = {}
    for series in document["data"]["result"]:
        labels = {k: v for k, v in series["metric"].items() if k not in ("__name__", "instance", "job")}
        found[",".join(f"{k}={v}" for k, v in sorted(labels.items()))] = float(series["value"][1])
    return found


EXPECTED_QUERIES = {
    "closed": 'connmw_connections_closed_total{reason="client"}',
    "stripped": 'connmw_headers_stripped_total{name="keep-alive"}',
    "refused": 'connmw_handshakes_rejected_total{reason="forbidden-origin"}',
    "abuse": "connmw_request_abuse_total",
}


def totals(prometheus: Server) -> dict[str, float | None]:
    """The four totals as Prometheus has them now (None: no such series yet)."""
    found: dict[str, float | None] = {}
    for key, promql in EXPECTED_QUERIES.items():
        series = query(prometheus, promql)
        assert len(series) <= 1, series  # multiprocess mode sums the workers into one series
        found[key] = next(iter(series.values()), None)
    return found


def await_totals(prometheus: Server, expected: dict[str, float]) -> dict[str, float | None]:
    """Totals once Prometheus has them, then again two scrapes later (nothing more counted)."""
    deadline = time.monotonic() + SCRAPE_WAIT
    seen = totals(prometheus)
    while seen != expected and time.monotonic() < deadline:
        time.sleep(0.5)
        seen = totals(prometheus)
    if seen == expected:
        time.sleep(2.5)
        seen = totals(prometheus)
    return seen


def test_a_real_prometheus_reads_the_totals_of_every_worker(
    prometheus_stack: tuple[Server, Server, Path],
) -> None:
    app, prometheus, drain_file = prometheus_stack

    answers = send_all(app.port, batch(closing=9, leaking=12, refused=6))
    assert [answer.status for answer in answers].count(403) == 6  # the refused handshakes
    assert all(answer.header_values("keep-alive") == [] for answer in answers)
    workers = workers_of(answers)
    assert len(workers) >= 2, f"every request reached one worker: {workers}"
    expected = {"closed": 9.0, "stripped": 12.0, "refused": 6.0, "abuse": 0.0}
    assert await_totals(prometheus, expected) == expected

    # A worker that counted dies; gunicorn starts another. Its counts stay in the sums.
    victim = min(workers)
    os.kill(victim, signal.SIGKILL)
    more = send_all(app.port, batch(closing=3, leaking=3, refused=3) + [PLAIN] * 6)
    assert victim not in workers_of(more)
    expected = {"closed": 12.0, "stripped": 15.0, "refused": 9.0, "abuse": 0.0}
    assert await_totals(prometheus, expected) == expected

    # Draining: a worker that answers a request sees the drain file and says so.
    assert query(prometheus, "connmw_draining") == {"": 0.0}
    drain_file.touch()
    time.sleep(1.2)  # the drain file is looked at once a second
    send_all(app.port, [PLAIN] * 6)
    deadline = time.monotonic() + SCRAPE_WAIT
    while query(prometheus, "connmw_draining") != {"": 1.0} and time.monotonic() < deadline:
        time.sleep(0.5)
    assert query(prometheus, "connmw_draining") == {"": 1.0}
    assert "Traceback" not in app.log_text(), app.log_text()[-3000:]


# --------------------------------------------------------------------------------------
# OpenTelemetry
# --------------------------------------------------------------------------------------


@pytest.fixture
def otel_server() -> Iterator[Server]:
    port = free_port()
    argv = uvicorn_cmd("tests.apps.metrics_apps:otel_app", port)
    with serve(argv, port, env={"CONNMW_METRICS": "otel"}) as server:
        yield server


def otel_totals(server: Server) -> dict[str, Any]:
    answer = exchange(server.port, request_bytes(path="/otel"), check_closed=False)
    assert answer.status == 200, answer
    totals: dict[str, Any] = json.loads(answer.body)
    return totals


def test_an_opentelemetry_reader_reads_the_same_totals(otel_server: Server) -> None:
    answers = send_all(otel_server.port, batch(closing=9, leaking=12, refused=6))
    assert [answer.status for answer in answers].count(403) == 6
    assert all(answer.header_values("keep-alive") == [] for answer in answers)
    totals = otel_totals(otel_server)
    assert totals["connmw.connections_closed"] == {"reason=client": 9}
    assert totals["connmw.headers_stripped"] == {"name=keep-alive": 12}
    assert totals["connmw.handshakes_rejected"] == {"reason=forbidden-origin": 6}
    assert totals["connmw.draining"] == {"": 0}
    assert "connmw.request_abuse" not in totals  # a counter never added to has no point

    exchange(otel_server.port, request_bytes(path="/drain"), check_closed=False)
    totals = otel_totals(otel_server)
    assert totals["connmw.draining"] == {"": 1}
    # /drain's own answer closed, for drain (/otel's body was read before its own close counted)
    assert totals["connmw.connections_closed"] == {"reason=client": 9, "reason=drain": 1}
