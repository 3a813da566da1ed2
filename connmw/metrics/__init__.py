"""connmw's counters as metrics a fleet scrapes: Prometheus or OpenTelemetry (docs/metrics.md).

Off by default, and then nothing here imports ``prometheus_client`` or ``opentelemetry``.
Turn a backend on with ``CONNMW_METRICS=prometheus`` or ``otel`` (keyword ``metrics``;
the first middleware built with it does it), or from code, with your own registry or
meter provider: :func:`use_prometheus`, :func:`use_otel`; :func:`disable` stops counting.

Metrics are process-wide, like :func:`connmw.stats`: one set of counters however many
middlewares the process builds (connmw wrapping connmw registers nothing twice), fed by
:class:`connmw._counters.Reporter` only when connmw changes, refuses or closes something,
so a clean response costs the same with metrics on. Every counter is in :data:`METRICS`,
one per key of ``Stats.as_dict()``, beside the ``connmw_draining`` gauge.

Labels stay bounded whatever clients send: reasons and states come from connmw's own
vocabulary; header names come from the application, and only the first
:data:`NAME_LIMIT` distinct ones (tokens, RFC 9110 §5.6.2) become label values, every
later one (or a name that is no token) is counted as :data:`OTHER`.
"""

from __future__ import annotations

import importlib.util
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from .._counters import set_sink, sink
from ..errors import ConfigError
from ..rules import is_token

__all__ = [
    "BACKENDS",
    "DRAINING",
    "METRICS",
    "NAME_LIMIT",
    "OTHER",
    "Backend",
    "Metric",
    "disable",
    "enable",
    "missing",
    "use_otel",
    "use_prometheus",
]

NAME_LIMIT: Final = 32
"""Distinct header names a process labels ``connmw_headers_stripped_total`` with."""
OTHER: Final = "other"
"""The label of every header name beyond :data:`NAME_LIMIT`, or that is no token."""


@dataclass(frozen=True)
class Metric:
    """One counter: its ``Stats`` key, Prometheus name, label, OpenTelemetry unit and help."""

    key: str
    name: str
    label: str | None
    unit: str
    help: str

    @property
    def otel_name(self) -> str:
        """The instrument's name: ``connmw.`` and the Prometheus name's middle, which
        OpenTelemetry's Prometheus exporter turns back into :attr:`name`."""
        return "connmw." + self.name.removeprefix("connmw_").removesuffix("_total")


METRICS: Final = (
    Metric(
        "headers_stripped",
        "connmw_headers_stripped_total",
        "name",
        "{header}",
        f"Response headers connmw removed, by lower-case name (the first {NAME_LIMIT}, then '{OTHER}')",
    ),
    Metric(
        "handshakes_rejected",
        "connmw_handshakes_rejected_total",
        "reason",
        "{handshake}",
        "WebSocket opening handshakes connmw refused, by reason",
    ),
    Metric(
        "connections_closed",
        "connmw_connections_closed_total",
        "reason",
        "{response}",
        "HTTP/1.x responses that closed their connection, by reason",
    ),
    Metric(
        "request_abuse",
        "connmw_request_abuse_total",
        None,
        "{request}",
        "Requests whose Connection field nominated a protected header, or had too many or invalid tokens",
    ),
    Metric(
        "bodies_dropped",
        "connmw_bodies_dropped_total",
        "reason",
        "{response}",
        "Responses without content (HEAD, 1xx, 204, 304) whose body bytes connmw dropped, by reason",
    ),
    Metric(
        "readiness",
        "connmw_readiness_checks_total",
        "state",
        "{check}",
        "Readiness checks connmw answered, by state (ready or draining)",
    ),
    Metric(
        "unrecognised",
        "connmw_unrecognised_servers_total",
        None,
        "{server}",
        "Middlewares that met a server connmw did not recognise (counted once each; its fallback)",
    ),
)
"""Every counter, in ``Stats.as_dict()``'s order."""

DRAINING: Final = Metric(
    "draining", "connmw_draining", None, "1", "1 while this process drains (connmw.drain() or the drain file)"
)
"""The gauge: the Prometheus gauge (multiprocess mode ``livemax``) and OpenTelemetry's observable gauge."""

BACKENDS: Final = {
    "prometheus": ("prometheus_client", "prometheus"),
    "otel": ("opentelemetry.metrics", "otel"),
}
"""A backend's name (``CONNMW_METRICS``) → the module it needs, and the extra that installs it."""


class _Names:
    """Header names as label values: the first :data:`NAME_LIMIT` distinct tokens, then ``other``."""

    def __init__(self) -> None:
        self._seen: set[str] = set()
        self._lock = threading.Lock()

    def label(self, name: str) -> str:
        if name in self._seen:
            return name
        if not is_token(name.encode("latin-1", "replace")):
            return OTHER
        with self._lock:
            if len(self._seen) < NAME_LIMIT:
                self._seen.add(name)
                return name
        return OTHER


_NAMES = _Names()  # process-wide, so a backend chosen again keeps the same names


class Backend:
    """A :class:`connmw._counters.Sink` feeding one backend: bounds labels, then :meth:`add`."""

    kind = ""

    def count(self, metric: str, label: str | None) -> None:
        if metric == "headers_stripped" and label is not None:
            label = _NAMES.label(label)
        self.add(metric, label)

    def add(self, metric: str, label: str | None) -> None:
        """Count one of ``metric`` (a :data:`METRICS` key) with this label value."""
        raise NotImplementedError

    def draining(self, on: bool) -> None:
        """The process started or stopped draining (a gauge told, or observed later)."""


_BUILT: dict[tuple[str, int], tuple[object, Backend]] = {}  # registry or provider kept alive beside
_built_lock = threading.Lock()


def _install(kind: str, target: object, build: Callable[[Any], Backend]) -> Backend:
    """The backend for ``target`` (built once per registry or provider), now the process's sink."""
    from ..lifecycle import process_draining  # noqa: PLC0415 (lifecycle imports config, which imports this)

    with _built_lock:
        built = _BUILT.get((kind, id(target)))
        backend = built[1] if built is not None else build(target)
        _BUILT[kind, id(target)] = (target, backend)
    set_sink(backend)
    backend.draining(process_draining())
    return backend


def use_prometheus(registry: Any = None) -> Backend:
    """Count in Prometheus: counters and the ``connmw_draining`` gauge in ``registry``.

    ``None``: prometheus_client's default registry, which the exporters you already run
    serve (``make_wsgi_app()``, ``make_asgi_app()``, ``start_http_server``), and which
    multiprocess mode (``PROMETHEUS_MULTIPROC_DIR``) collects from every worker. Called
    again with the same registry, it registers nothing twice.
    """
    _require("prometheus", "use_prometheus()")
    from . import _prometheus  # noqa: PLC0415 (prometheus_client only when asked for)

    target = _prometheus.default_registry() if registry is None else registry
    return _install("prometheus", target, _prometheus.PrometheusBackend)


def use_otel(meter_provider: Any = None) -> Backend:
    """Count in OpenTelemetry: a meter named ``connmw`` from ``meter_provider``.

    ``None``: the global provider (``opentelemetry.metrics.get_meter_provider()``; set
    yours before or after, the API's proxy forwards to it). Its counters and the
    ``connmw.draining`` observable gauge are made once per provider.
    """
    _require("otel", "use_otel()")
    from . import _otel  # noqa: PLC0415 (opentelemetry only when asked for)

    target = _otel.global_provider() if meter_provider is None else meter_provider
    return _install("otel", target, _otel.OtelBackend)


def disable() -> None:
    """Stop counting in any backend (what was registered stays, at its last values)."""
    set_sink(None)


def enable(backend: str) -> None:
    """Turn on the backend ``CONNMW_METRICS`` names, unless one of that kind already counts.

    ``none`` changes nothing: metrics a program turned on from code stay on. Raises
    :class:`~connmw.errors.ConfigError` when the backend's package is not installed.
    """
    if backend == "none":
        return
    current = sink()
    if isinstance(current, Backend) and current.kind == backend:
        return
    if backend == "prometheus":
        use_prometheus()
    elif backend == "otel":
        use_otel()
    else:
        raise ConfigError(f"metrics={backend!r}: expected none, prometheus or otel")


def missing(backend: str) -> str | None:
    """Why ``backend`` cannot count here (its package is not installed), or None."""
    module, extra = BACKENDS[backend]
    try:
        found = importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # a parent package missing, or a module blocked
        found = False
    if found:
        return None
    return (
        f"the {backend} backend needs {module.split('.')[0]}, which is not installed: "
        f"python -m pip install 'connmw[{extra}]' (from a clone: python -m pip install -e '.[{extra}]')"
    )


def _require(backend: str, call: str) -> None:
    problem = missing(backend)
    if problem is not None:
        raise ConfigError(f"{call}: {problem}")
