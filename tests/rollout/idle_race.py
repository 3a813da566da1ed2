"""Measure the idle keep-alive race behind a balancer (docs/deployment.md, "What else zero loss needs").

An instance closes an idle keep-alive connection after its own timeout; a balancer that
keeps idle upstream connections longer may pick that connection at the very moment the
instance closes it: the request is lost (nginx: 502 for a POST). Two uvicorn + connmw
instances with ``--timeout-keep-alive SERVER`` behind nginx (upstream
``keepalive_timeout BALANCER``) or HAProxy; ``CLIENTS`` keep-alive clients each send a
POST every SERVER seconds (+-3 ms), the worst spacing. Prints every outcome.

    python -m tests.rollout.idle_race nginx --server 1 --balancer 60 --seconds 40
    python -m tests.rollout.idle_race nginx --server 2 --balancer 1 --seconds 40

Not a test: the race window is a few microseconds on loopback, so a run of a minute
loses about one request in a thousand or none, too rare to assert either way.
"""

from __future__ import annotations

import argparse
import http.client
import random
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

from tests import test_rollout as rollout
from tests.wire import LOOPBACK, free_port


def measure(
    balancer: str, server_timeout: int, balancer_timeout: int, seconds: float, clients: int
) -> Counter[str]:
    """Outcome counts of one run (``http_200``, ``http_502``, exception names)."""
    tmp = Path(tempfile.mkdtemp(prefix="connmw-idle-race-"))
    rollout.SERVER_KEEP_ALIVE = server_timeout
    upstreams = [rollout.Upstream(name, "uvicorn", True, free_port(), tmp / f"drain-{name}") for name in "ab"]
    proxy: rollout.Nginx | rollout.HAProxy
    if balancer == "nginx":
        template = tmp / "nginx.conf.template"
        template.write_text(
            rollout.NGINX_TEMPLATE.read_text().replace(
                "keepalive_timeout 4s;", f"keepalive_timeout {balancer_timeout}s;"
            )
        )
        rollout.NGINX_TEMPLATE = template
        proxy = rollout.Nginx(tmp, free_port(), upstreams)
    else:
        proxy = rollout.HAProxy(tmp, free_port(), upstreams, rollout.HTTP_CHECK)
    counts: Counter[str] = Counter()
    lock = threading.Lock()

    def client() -> None:
        connection: http.client.HTTPConnection | None = None
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            try:
                if connection is None or rollout._dropped(connection.sock):
                    connection = http.client.HTTPConnection(LOOPBACK, proxy.port, timeout=5)
                    connection.connect()
                connection.request("POST", "/echo", body=b"x" * 64)
                response = connection.getresponse()
                response.read()
                kind = f"http_{response.status}"
            except (OSError, http.client.HTTPException) as error:
                kind = type(error).__name__
                connection = None
            with lock:
                counts[kind] += 1
            time.sleep(server_timeout + random.uniform(-0.003, 0.003))  # noqa: S311 (jitter, not crypto)

    try:
        for upstream in upstreams:
            upstream.start()
        for upstream in upstreams:
            upstream.wait_listening()
        proxy.start()
        threads = [threading.Thread(target=client) for _ in range(clients)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        proxy.stop()
        for upstream in upstreams:
            upstream.stop()
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("balancer", choices=["nginx", "haproxy"])
    parser.add_argument("--server", type=int, default=1, help="uvicorn --timeout-keep-alive (s)")
    parser.add_argument("--balancer", dest="idle", type=int, default=60, help="nginx keepalive_timeout (s)")
    parser.add_argument("--seconds", type=float, default=40.0)
    parser.add_argument("--clients", type=int, default=32)
    args = parser.parse_args()
    counts = measure(args.balancer, args.server, args.idle, args.seconds, args.clients)
    print(f"{args.balancer} server={args.server}s balancer={args.idle}s: {dict(counts)}")


if __name__ == "__main__":
    main()
