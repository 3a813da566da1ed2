"""The Prometheus backend: prometheus_client counters and the ``connmw_draining`` gauge.

Imported only by :func:`connmw.metrics.use_prometheus`. Under a server with several
worker processes, prometheus_client's multiprocess mode (``PROMETHEUS_MULTIPROC_DIR``
set before the workers start) writes each worker's values to files that
``MultiProcessCollector`` sums at scrape time: counters add up over every worker, also
those that have exited, so no count is lost when a worker is replaced.

The gauge's multiprocess mode is ``livemax``: 1 while any live worker drains, and a
worker that exited (``multiprocess.mark_process_dead``, gunicorn's ``child_exit`` hook)
no longer counts, so a replaced worker cannot leave it at 1. One series per instance,
which is what an alert on a draining instance wants; ``liveall`` would give one per pid.
"""

from __future__ import annotations

from typing import Any

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge

from . import DRAINING, METRICS, Backend

__all__ = ["PrometheusBackend", "default_registry"]


def default_registry() -> CollectorRegistry:
    """prometheus_client's default registry, the one exporters serve unless told otherwise."""
    return REGISTRY


class PrometheusBackend(Backend):
    """Every counter of :data:`connmw.metrics.METRICS`, and the gauge, in one registry."""

    kind = "prometheus"

    def __init__(self, registry: CollectorRegistry) -> None:
        self._counters: dict[str, Any] = {}
        for metric in METRICS:
            # prometheus_client adds the "_total" of a counter's samples itself
            self._counters[metric.key] = Counter(
                metric.name.removesuffix("_total"),
                metric.help,
                () if metric.label is None else (metric.label,),
                registry=registry,
            )
        self._gauge = Gauge(DRAINING.name, DRAINING.help, registry=registry, multiprocess_mode="livemax")

    def add(self, metric: str, label: str | None) -> None:
        counter = self._counters[metric]
        (counter if label is None else counter.labels(label)).inc()

    def draining(self, on: bool) -> None:
        self._gauge.set(1 if on else 0)
