"""A WSGI application behind connmw that serves its own Prometheus metrics on ``/metrics``.

``metrics_app`` is prometheus_client's exporter: under a server with several worker
processes (``PROMETHEUS_MULTIPROC_DIR`` set, docs/metrics.md) it sums every worker's files
at each scrape, whichever worker answers; in a single process it serves the default
registry. Mount it in any framework (Flask: werkzeug's ``DispatcherMiddleware``; Django: a
view calling it; Starlette and FastAPI: ``prometheus_client.make_asgi_app`` the same way).

Try it::

    PROMETHEUS_MULTIPROC_DIR=/tmp/connmw-prometheus CONNMW_METRICS=prometheus \\
        gunicorn -c example_apps/gunicorn_prometheus.py --workers 3 example_apps.prometheus_app:app
    curl http://127.0.0.1:8000/metrics
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from typing import Any

from prometheus_client import REGISTRY, CollectorRegistry, make_wsgi_app, multiprocess

from connmw.wsgi import ConnectionMiddleware

StartResponse = Callable[..., Any]


def metrics_app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
    """Every worker's metrics in multiprocess mode (a registry per scrape), else this process's."""
    if "PROMETHEUS_MULTIPROC_DIR" in os.environ:
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        registry = REGISTRY
    return make_wsgi_app(registry)(environ, start_response)


def hello(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"hello\n"]


def routes(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
    if environ.get("PATH_INFO") == "/metrics":
        return metrics_app(environ, start_response)
    return hello(environ, start_response)


app = ConnectionMiddleware(routes)  # CONNMW_METRICS=prometheus, or metrics="prometheus" here
