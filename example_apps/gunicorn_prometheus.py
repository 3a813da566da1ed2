"""gunicorn settings for connmw's Prometheus metrics summed over every worker (docs/metrics.md).

prometheus_client's multiprocess mode: with ``PROMETHEUS_MULTIPROC_DIR`` set for gunicorn,
each worker writes its counts to files there, and the exporter
(``example_apps.prometheus_app``) sums them at every scrape::

    PROMETHEUS_MULTIPROC_DIR=/tmp/connmw-prometheus CONNMW_METRICS=prometheus \\
        gunicorn -c example_apps/gunicorn_prometheus.py --workers 3 example_apps.prometheus_app:app

Two hooks: the directory starts empty (an earlier run's files would count again), and a
worker that exits is marked dead, so its live gauge (``connmw_draining``) stops counting;
its counters stay in the sums, so no count is lost when gunicorn replaces a worker.
"""

from __future__ import annotations

import glob
import os
from typing import Any

from prometheus_client import multiprocess


def on_starting(server: Any) -> None:
    """Before the first worker: create the directory, or empty it of an earlier run's files."""
    directory = os.environ["PROMETHEUS_MULTIPROC_DIR"]
    os.makedirs(directory, exist_ok=True)
    for path in glob.glob(os.path.join(directory, "*.db")):
        os.remove(path)


def child_exit(server: Any, worker: Any) -> None:
    """A worker exited: prometheus_client drops its live gauges from the sums."""
    multiprocess.mark_process_dead(worker.pid)
