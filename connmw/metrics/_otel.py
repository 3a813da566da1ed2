"""The OpenTelemetry backend: counters of a meter named ``connmw``, and an observable gauge.

Imported only by :func:`connmw.metrics.use_otel`. Needs only the API
(``opentelemetry-api``): the SDK, its readers and exporters are the application's, set as
the global meter provider or given. Instrument names are the Prometheus names in
OpenTelemetry's style (``connmw.headers_stripped``; no ``_total``, units as annotations such
as ``{header}``), which OpenTelemetry's own Prometheus exporter turns back into exactly
the Prometheus backend's names. Attributes are the same bounded labels (``name``,
``reason``, ``state``).

Each process exports its own counts: summing over the workers of one instance is the
pipeline's job (the collector, or the backend's query over the ``service.instance.id`` or
``process.pid`` resource attributes the SDK adds).
"""

from __future__ import annotations

from collections.abc import Iterable

from opentelemetry.metrics import CallbackOptions, Counter, MeterProvider, Observation, get_meter_provider

from .. import __version__
from ..lifecycle import process_draining
from . import DRAINING, METRICS, Backend

__all__ = ["OtelBackend", "global_provider"]


def global_provider() -> MeterProvider:
    """The global meter provider (the API's proxy until the application sets one)."""
    return get_meter_provider()


def _observe_draining(options: CallbackOptions) -> Iterable[Observation]:
    """The gauge's value at each collection: 1 while this process drains, as last seen."""
    return (Observation(1 if process_draining() else 0),)


class OtelBackend(Backend):
    """Every counter of :data:`connmw.metrics.METRICS`, and the draining gauge, on one meter."""

    kind = "otel"

    def __init__(self, provider: MeterProvider) -> None:
        meter = provider.get_meter("connmw", __version__)
        self._counters: dict[str, tuple[Counter, str | None]] = {
            metric.key: (
                meter.create_counter(metric.otel_name, unit=metric.unit, description=metric.help),
                metric.label,
            )
            for metric in METRICS
        }
        meter.create_observable_gauge(
            DRAINING.otel_name, callbacks=[_observe_draining], unit=DRAINING.unit, description=DRAINING.help
        )

    def add(self, metric: str, label: str | None) -> None:
        counter, key = self._counters[metric]
        counter.add(1, None if key is None or label is None else {key: label})
