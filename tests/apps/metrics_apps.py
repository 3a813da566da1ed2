"""Apps behind connmw for the metrics tests on the wire (tests/middleware/test_metrics_wire.py).

Built with no keyword options when this module is imported: ``CONNMW_METRICS`` and the
other settings come from the server's environment, as in a deployment.

* ``wsgi_app`` (gunicorn, Prometheus in multiprocess mode): ``/metrics`` is the exporter of
  ``example_apps.prometheus_app`` (every worker's files summed); ``/`` answers ``ok`` and
  ``/leak`` also sends ``Keep-Alive`` (hop-by-hop: connmw removes it). Both name the worker
  that answered (``X-Worker: <pid>``) and take 50 ms, so that concurrent requests spread
  over gunicorn's sync workers.
* ``otel_app`` (ASGI, OpenTelemetry): the SDK's meter provider with an in-memory reader is
  set as the global one before connmw is built; ``/``, ``/leak`` as above, ``/drain`` calls
  :func:`connmw.drain`, ``/otel`` answers the reader's cumulative sums as JSON:
  ``{instrument: {"attr=value": total}}``.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterable
from typing import Any

from opentelemetry.metrics import set_meter_provider
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

import connmw
from connmw import asgi, wsgi
from example_apps.prometheus_app import metrics_app
from tests.apps import bare_asgi

StartResponse = Callable[..., Any]
PAUSE = 0.05
LEAKED = ("Keep-Alive", "timeout=5")


def _wsgi_routes(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
    path = environ.get("PATH_INFO", "/")
    if path == "/metrics":
        return metrics_app(environ, start_response)
    time.sleep(PAUSE)
    headers = [("Content-Type", "text/plain"), ("Content-Length", "2"), ("X-Worker", str(os.getpid()))]
    if path == "/leak":
        headers.append(LEAKED)
    start_response("200 OK", headers)
    return [b"ok"]


wsgi_app = wsgi.ConnectionMiddleware(_wsgi_routes)

READER = InMemoryMetricReader()
set_meter_provider(MeterProvider(metric_readers=[READER]))


def otel_totals() -> dict[str, dict[str, float]]:
    """The reader's data points now: instrument name → ``"key=value"`` (or ``""``) → value."""
    totals: dict[str, dict[str, float]] = {}
    data = READER.get_metrics_data()
    for resource in data.resource_metrics if data is not None else ():
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                points = totals.setdefault(metric.name, {})
                for point in metric.data.data_points:
                    key = ",".join(f"{k}={v}" for k, v in sorted((point.attributes or {}).items()))
                    points[key] = point.value  # type: ignore[union-attr]
    return totals


async def _drain_now(scope: asgi.Scope, receive: asgi.Receive, send: asgi.Send) -> None:
    connmw.drain()
    await bare_asgi.plain(scope, receive, send)


async def _otel(scope: asgi.Scope, receive: asgi.Receive, send: asgi.Send) -> None:
    await bare_asgi.drain(receive)
    body = json.dumps(otel_totals()).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


_LEAK = bare_asgi._respond(
    [(b"content-type", b"text/plain"), (b"content-length", b"2"), (b"keep-alive", LEAKED[1].encode())], b"ok"
)
otel_app = asgi.ConnectionMiddleware(
    bare_asgi.router({"/": bare_asgi.plain, "/leak": _LEAK, "/drain": _drain_now, "/otel": _otel})
)
