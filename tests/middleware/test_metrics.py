"""connmw's metrics in process: every counter of ``Stats`` in Prometheus and OpenTelemetry.

* The metric table is the ``Stats`` table: one counter per key of ``Stats.as_dict()``.
* A workload that makes every counter count, through a real middleware: the Prometheus
  registry and the OpenTelemetry SDK's in-memory reader hold exactly what
  ``middleware.stats`` holds, label by label.
* Labels stay bounded: the first 32 distinct header names, then ``other``; a name that is
  no token is ``other`` too.
* The draining gauge follows ``connmw.drain()``, ``undrain()`` and the drain file.
* Process-wide: many middlewares (connmw wrapping connmw too) register nothing twice;
  ``metrics=none`` leaves metrics turned on from code as they are.
* Start-up: a bad ``CONNMW_METRICS``, or a backend whose package is missing, stops it
  naming the variable, the value and the extra to install.
* Off (the default), importing connmw and serving requests imports neither
  ``prometheus_client`` nor ``opentelemetry`` (a fresh interpreter's ``sys.modules``).

The real Prometheus server and the multi-worker sums: test_metrics_wire.py.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from prometheus_client import REGISTRY, CollectorRegistry

import connmw
from connmw import _counters, lifecycle, metrics
from connmw._counters import Reporter, Stats
from connmw.asgi import ConnectionMiddleware as AsgiMiddleware
from connmw.config import load_config
from connmw.errors import ConfigError
from connmw.lifecycle import DrainSwitch
from connmw.metrics import METRICS, NAME_LIMIT, OTHER
from connmw.rules import _websocket as websocket_rules
from connmw.rules._websocket import HandshakeVerdict
from connmw.wsgi import ConnectionMiddleware as WsgiMiddleware

ROOT = Path(__file__).resolve().parent.parent.parent
Totals = dict[tuple[str, str], float]  # (Stats key, label value or "") → count


@pytest.fixture(autouse=True)
def _metrics_off(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Each test starts as a new process would: no CONNMW_*, no sink, no label seen, not draining."""
    for variable in [v for v in os.environ if v.startswith("CONNMW_")]:
        monkeypatch.delenv(variable)
    monkeypatch.setattr(_counters, "_already_warned", set())
    monkeypatch.setattr(metrics, "_NAMES", metrics._Names())
    connmw.undrain()
    metrics.disable()
    yield
    metrics.disable()
    connmw.undrain()


# -- a workload that makes every counter count -------------------------------------------


def _app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
    path = environ["PATH_INFO"]
    if path == "/hop":
        start_response("200 OK", [("Content-Type", "text/plain"), ("Keep-Alive", "timeout=5")])
    elif path == "/204":
        start_response("204 No Content", [])
    else:
        start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"body"]  # also after HEAD and 204: connmw drops it


def _request(middleware: WsgiMiddleware, path: str = "/", method: str = "GET", **headers: str) -> bytes:
    environ = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "SERVER_PROTOCOL": "HTTP/1.1",
        "wsgi.input": io.BytesIO(),
        "HTTP_HOST": "example.com",
        **{"HTTP_" + name.upper(): value for name, value in headers.items()},
    }
    return b"".join(middleware(environ, lambda status, headers, exc_info=None: None))


def workload() -> WsgiMiddleware:
    """A fresh middleware after requests that make every counter of Stats count."""
    middleware = WsgiMiddleware(_app, ready_path="/ready")
    for _ in range(2):
        _request(middleware, connection="close")  # connections_closed{client}
    for _ in range(3):
        _request(middleware, "/hop")  # headers_stripped{keep-alive}
    _request(middleware, method="HEAD")  # bodies_dropped{head}
    _request(middleware, "/204")  # bodies_dropped{204}
    _request(middleware, "/ready")  # readiness{ready}
    handshake = {"upgrade": "websocket", "connection": "Upgrade", "sec_websocket_version": "13"}
    _request(middleware, "/ws", sec_websocket_key="?", **handshake)  # handshakes_rejected{bad-key}
    _request(middleware, connection="keep-alive, authorization")  # request_abuse
    return middleware  # and unrecognised, once (no server connmw knows)


def from_stats(stats: Stats) -> Totals:
    totals: Totals = {}
    for key, value in stats.as_dict().items():
        if isinstance(value, dict):
            totals.update({(key, label): float(count) for label, count in value.items()})
        elif value:
            totals[key, ""] = float(value)  # type: ignore[arg-type]
    return totals


def from_registry(registry: CollectorRegistry) -> Totals:
    names = {metric.name: metric for metric in METRICS}
    totals: Totals = {}
    for family in registry.collect():
        for sample in family.samples:
            metric = names.get(sample.name)
            if metric is not None and sample.value:
                totals[metric.key, sample.labels.get(metric.label or "", "")] = sample.value
    return totals


def from_reader(reader: InMemoryMetricReader) -> tuple[Totals, dict[str, float]]:
    """The counters, and every gauge's value, from the SDK's reader."""
    names = {metric.otel_name: metric for metric in METRICS}
    totals: Totals = {}
    gauges: dict[str, float] = {}
    data = reader.get_metrics_data()
    for resource in data.resource_metrics if data is not None else ():
        for scope in resource.scope_metrics:
            assert scope.scope.name == "connmw"
            for item in scope.metrics:
                for point in item.data.data_points:
                    value = float(point.value)  # type: ignore[union-attr]
                    metric = names.get(item.name)
                    if metric is None:
                        gauges[item.name] = value
                    else:
                        totals[metric.key, str((point.attributes or {}).get(metric.label or "", ""))] = value
    return totals, gauges


def test_every_counter_of_stats_has_a_metric() -> None:
    assert [metric.key for metric in METRICS] == list(Stats().as_dict())
    assert len({metric.name for metric in METRICS}) == len(METRICS)
    assert all(metric.name.startswith("connmw_") and metric.name.endswith("_total") for metric in METRICS)
    assert METRICS[0].otel_name == "connmw.headers_stripped"
    assert metrics.DRAINING.otel_name == "connmw.draining"


def test_prometheus_counts_exactly_what_stats_count() -> None:
    registry = CollectorRegistry()
    metrics.use_prometheus(registry)
    middleware = workload()
    expected = from_stats(middleware.stats)
    assert {key for key, _ in expected} == {metric.key for metric in METRICS}  # every counter counted
    assert from_registry(registry) == expected
    assert registry.get_sample_value("connmw_headers_stripped_total", {"name": "keep-alive"}) == 3
    assert registry.get_sample_value("connmw_draining") == 0


def test_opentelemetry_counts_exactly_what_stats_count() -> None:
    reader = InMemoryMetricReader()
    metrics.use_otel(MeterProvider(metric_readers=[reader]))
    middleware = workload()
    totals, gauges = from_reader(reader)
    assert totals == from_stats(middleware.stats)
    assert totals["connections_closed", "client"] == 2
    assert gauges == {"connmw.draining": 0}


def test_counts_go_to_the_backend_in_use_only() -> None:
    registry = CollectorRegistry()
    metrics.use_prometheus(registry)
    reporter = Reporter()
    reporter.closed("drain")
    metrics.disable()
    reporter.closed("drain")
    assert registry.get_sample_value("connmw_connections_closed_total", {"reason": "drain"}) == 1
    metrics.use_prometheus(registry)  # the same registry again: the same counters, nothing registered twice
    reporter.closed("drain")
    assert registry.get_sample_value("connmw_connections_closed_total", {"reason": "drain"}) == 2


def test_header_names_beyond_the_limit_are_other() -> None:
    registry = CollectorRegistry()
    metrics.use_prometheus(registry)
    reporter = Reporter()
    names = [f"x-leak-{number}".encode() for number in range(NAME_LIMIT + 8)]
    reporter.stripped(names)
    reporter.stripped([names[0], b"x-bad name", b"x-\xff"])  # a name seen already; two that are no token
    labels = {
        sample.labels["name"]: sample.value
        for family in registry.collect()
        for sample in family.samples
        if sample.name == "connmw_headers_stripped_total"
    }
    assert len(labels) == NAME_LIMIT + 1
    assert labels[OTHER] == 8 + 2
    assert labels["x-leak-0"] == 2
    assert sum(labels.values()) == NAME_LIMIT + 8 + 3  # every removal counted, only labels bounded


def test_the_draining_gauge_follows_drain_and_the_drain_file(tmp_path: Path) -> None:
    registry = CollectorRegistry()
    metrics.use_prometheus(registry)
    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader])
    metrics.use_otel(provider)  # OpenTelemetry observes at collection time; Prometheus is told

    def both() -> tuple[float | None, float]:
        metrics.use_prometheus(registry)  # told while it is the backend in use
        prometheus = registry.get_sample_value("connmw_draining")
        metrics.use_otel(provider)
        return prometheus, from_reader(reader)[1]["connmw.draining"]

    assert both() == (0, 0)
    connmw.drain()
    assert both() == (1, 1)
    connmw.undrain()
    assert both() == (0, 0)

    now = [0.0]
    drain_file = tmp_path / "drain"
    switch = DrainSwitch(str(drain_file), clock=lambda: now[0])
    metrics.use_prometheus(registry)
    assert switch.active() is False
    drain_file.touch()
    assert switch.active() is False  # looked at once a second, not yet
    now[0] = 1.0
    assert switch.active() is True
    assert registry.get_sample_value("connmw_draining") == 1
    assert lifecycle.process_draining() is True
    drain_file.unlink()
    now[0] = 2.0
    assert switch.active() is False
    assert registry.get_sample_value("connmw_draining") == 0


def test_one_set_of_metrics_however_many_middlewares() -> None:
    inner = WsgiMiddleware(_app, metrics="prometheus")
    outer = WsgiMiddleware(inner, metrics="prometheus")  # connmw in connmw
    backend = _counters.sink()
    assert isinstance(backend, metrics.Backend) and backend.kind == "prometheus"
    AsgiMiddleware(lambda scope, receive, send: None, metrics="prometheus")  # type: ignore[arg-type,return-value]
    assert load_config(environ={"CONNMW_METRICS": "prometheus"}).metrics == "prometheus"
    assert _counters.sink() is backend  # nothing registered again in the default registry
    assert metrics.use_prometheus() is backend
    before = REGISTRY.get_sample_value("connmw_headers_stripped_total", {"name": "keep-alive"}) or 0
    _request(outer, "/hop")
    assert REGISTRY.get_sample_value("connmw_headers_stripped_total", {"name": "keep-alive"}) == before + 1


def test_none_leaves_metrics_turned_on_from_code_as_they_are() -> None:
    registry = CollectorRegistry()
    mine = metrics.use_prometheus(registry)
    WsgiMiddleware(_app)  # metrics=none: the default
    WsgiMiddleware(_app, metrics="prometheus")  # a Prometheus backend already counts: keep mine
    assert _counters.sink() is mine
    WsgiMiddleware(_app, metrics="otel")  # another kind asked for: it replaces
    replaced = _counters.sink()
    assert isinstance(replaced, metrics.Backend) and replaced.kind == "otel"


@pytest.mark.parametrize(
    ("value", "parsed"),
    [
        pytest.param("none", "none", id="none"),
        pytest.param("Prometheus", "prometheus", id="prometheus-any-case"),
        pytest.param(" otel ", "otel", id="otel-spaced"),
    ],
)
def test_metrics_setting_accepts(value: str, parsed: str) -> None:
    assert load_config(environ={"CONNMW_METRICS": value}).metrics == parsed
    assert load_config(environ={}, metrics=value).metrics == parsed


@pytest.mark.parametrize("value", ["statsd", "", "prometheus,otel", "1"])
def test_a_bad_metrics_value_names_the_variable_and_what_is_accepted(value: str) -> None:
    with pytest.raises(ConfigError) as raised:
        load_config(environ={"CONNMW_METRICS": value})
    assert str(raised.value) == (
        f"CONNMW_METRICS={value!r}: expected none, or a metrics backend: prometheus, otel"
    )


def documented() -> dict[str, tuple[str, str]]:
    """docs/metrics.md's table: metric → (its label, what it counts)."""
    text = (ROOT / "docs" / "metrics.md").read_text()
    table = text.split("<!-- metrics-table -->", 1)[1].split("<!-- end metrics-table -->", 1)[0]
    rows: dict[str, tuple[str, str]] = {}
    for line in (line for line in table.splitlines() if line.startswith("| `")):
        metric, label, counts = (cell.strip() for cell in line.strip().strip("|").split("|"))
        rows[metric.split("`")[1]] = (label.strip("`"), counts)
    return rows


def test_the_docs_table_is_the_code_s() -> None:
    rows = documented()
    assert list(rows) == [metric.name for metric in (*METRICS, metrics.DRAINING)]
    assert [label for label, _ in rows.values()] == [m.label or "" for m in (*METRICS, metrics.DRAINING)]
    codes = {
        verdict.code
        for verdict in vars(websocket_rules).values()
        if isinstance(verdict, HandshakeVerdict) and not verdict.accepted
    }
    assert codes and all(f"`{code}`" in rows["connmw_handshakes_rejected_total"][1] for code in codes)
    assert f"first {NAME_LIMIT} distinct names" in rows["connmw_headers_stripped_total"][1]


def run_python(code: str, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("CONNMW_")}
    environ["PYTHONPATH"] = os.pathsep.join([str(ROOT), *filter(None, [environ.get("PYTHONPATH")])])
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=ROOT,
        env={**environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize(
    ("backend", "blocked", "module"),
    [
        pytest.param("prometheus", "prometheus_client", "prometheus_client", id="prometheus"),
        pytest.param("otel", "opentelemetry", "opentelemetry", id="otel"),
    ],
)
def test_a_backend_whose_package_is_missing_stops_start_up(backend: str, blocked: str, module: str) -> None:
    done = run_python(
        f"""
        import sys
        sys.modules[{blocked!r}] = None  # as if it were not installed
        import connmw.metrics
        try:
            connmw.metrics.use_{"otel" if backend == "otel" else "prometheus"}()
        except connmw.ConfigError as error:
            print(error)
        import connmw.wsgi  # checks CONNMW_*: the start-up of any server
        """,
        CONNMW_METRICS=backend,
    )
    assert done.returncode == 1, done
    hint = (
        f"the {backend} backend needs {module}, which is not installed: python -m pip install "
        f"'connmw[{backend}]' (from a clone: python -m pip install -e '.[{backend}]')"
    )
    assert done.stdout.strip() == f"use_{'otel' if backend == 'otel' else 'prometheus'}(): {hint}"
    assert f"connmw.errors.ConfigError: CONNMW_METRICS='{backend}': {hint}" in done.stderr, done.stderr


SERVE_BOTH = """
    import asyncio, io, json, sys
    import connmw, connmw.asgi, connmw.wsgi

    def app(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/plain"), ("Keep-Alive", "timeout=5")])
        return [b"ok"]

    async def asgi_app(scope, receive, send):
        await send({"type": "http.response.start", "status": 200, "headers": [(b"keep-alive", b"x")]})
        await send({"type": "http.response.body", "body": b"ok"})

    async def receive():
        return {"type": "http.request"}

    async def sent(message):
        pass

    environ = {"REQUEST_METHOD": "GET", "SERVER_PROTOCOL": "HTTP/1.1", "wsgi.input": io.BytesIO()}
    wsgi = connmw.wsgi.ConnectionMiddleware(app)
    b"".join(wsgi(environ, lambda *a: None))
    scope = {"type": "http", "http_version": "1.1", "method": "GET", "headers": [], "path": "/"}
    asgi = connmw.asgi.ConnectionMiddleware(asgi_app)
    asyncio.run(asgi(scope, receive, sent))
    assert connmw.stats()["headers_stripped"] == {"keep-alive": 2}, connmw.stats()
    print(json.dumps(sorted(
        name for name in sys.modules
        if name.split(".")[0] in ("prometheus_client", "opentelemetry")
    )))
"""


@pytest.mark.parametrize(
    ("env", "loaded"),
    [
        pytest.param({}, [], id="default"),
        pytest.param({"CONNMW_METRICS": "none"}, [], id="none"),
        pytest.param({"CONNMW_METRICS": "prometheus"}, ["prometheus_client"], id="prometheus"),
        pytest.param({"CONNMW_METRICS": "otel"}, ["opentelemetry"], id="otel"),
    ],
)
def test_without_metrics_neither_package_is_imported(env: dict[str, str], loaded: list[str]) -> None:
    done = run_python(SERVE_BOTH, **env)
    assert done.returncode == 0, done.stderr
    imported = json.loads(done.stdout)
    assert sorted({name.split(".")[0] for name in imported}) == loaded
