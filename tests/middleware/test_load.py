"""Load with wrk: 1000 concurrent keep-alive connections against uvicorn + connmw, loopback only.

Run with ``python -m pytest -m load tests/middleware/test_load.py -s`` (about a minute: two 20 s
wrk runs plus start-up). uvicorn (httptools, one worker) serves
``tests.apps.hardening_apps:asgi_app`` with a drain file and
``CONNMW_MAX_REQUESTS_PER_CONNECTION`` set, so the per-connection lifecycle table is in
use for every request.

1. Steady: ``wrk -c 1000 -t 2 -d 20s``: no socket error of any kind and no non-2xx answer.
2. Drain flipped every second for 20 s by a helper thread (bounded: one flip a second,
   stopped with the run): while it exists every response says ``Connection: close``
   and wrk reconnects; still no error and no non-2xx, so no request is lost.
3. After each run ``/stats`` reports how many connections the lifecycle table tracks:
   connmw forgets every connection it closes, so what remains is at most one entry per
   connection wrk left open at the end of a run (1000 per run), never ``TABLE_LIMIT``.

wrk's ``--timeout`` is raised to 30 s: one uvicorn worker serving 1000 connections on a
two-core machine answers a few requests seconds late, without connmw too (measured: a
bare app's slowest request took 9.9 s, connmw's 4 to 10 s, averages equal); that is
uvicorn's fairness under overload, not a lost request. The figures are printed (``-s``).
"""

from __future__ import annotations

import json
import os
import re
import resource
import shutil
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from connmw.lifecycle import TABLE_LIMIT
from tests.wire import ServerPool, exchange, request_bytes, uvicorn_cmd

pytestmark = pytest.mark.timeout(180)

APP = "tests.apps.hardening_apps:asgi_app"
CONNECTIONS = 1000
THREADS = 2
DURATION = 20
MAX_REQUESTS = 100
FILES_NEEDED = 2 * CONNECTIONS + 1024  # wrk's sockets, uvicorn's, and room for both processes


@dataclass
class WrkResult:
    """What wrk printed: totals, errors by kind, non-2xx/3xx answers, and the text itself."""

    requests: int
    rate: float
    connect: int
    read: int
    write: int
    timeout: int
    non_2xx: int
    text: str

    @property
    def errors(self) -> int:
        return self.connect + self.read + self.write + self.timeout


def parse_wrk(text: str) -> WrkResult:
    """Parse wrk's summary; the error lines appear only when there were errors."""
    total = re.search(r"(\d+) requests in ", text)
    rate = re.search(r"Requests/sec:\s+([\d.]+)", text)
    if total is None or rate is None:
        raise AssertionError(f"wrk printed no summary:\n{text}")
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    connect, read, write, timeout = (int(n) for n in errors.groups()) if errors else (0, 0, 0, 0)
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    return WrkResult(
        requests=int(total.group(1)),
        rate=float(rate.group(1)),
        connect=connect,
        read=read,
        write=write,
        timeout=timeout,
        non_2xx=int(non_2xx.group(1)) if non_2xx else 0,
        text=text,
    )


def test_parse_wrk_with_and_without_errors() -> None:
    clean = "  120000 requests in 20.01s, 15.00MB read\nRequests/sec:   5997.00\n"
    assert parse_wrk(clean).errors == 0
    broken = parse_wrk(
        clean + "  Socket errors: connect 0, read 3, write 1, timeout 7\n  Non-2xx or 3xx responses: 5\n"
    )
    assert (broken.read, broken.write, broken.timeout, broken.non_2xx, broken.errors) == (3, 1, 7, 5, 11)


def wrk(url: str, *extra: str) -> WrkResult:
    binary = shutil.which("wrk")
    if binary is None:
        pytest.skip("wrk is not installed and could not be (.ci/run: apt-get install wrk)")
    command = [binary, "-c", str(CONNECTIONS), "-t", str(THREADS), "-d", f"{DURATION}s", "--timeout", "30s"]
    done = subprocess.run(
        [*command, *extra, url], capture_output=True, text=True, timeout=DURATION + 60, check=False
    )
    assert done.returncode == 0, done.stderr
    result = parse_wrk(done.stdout)
    print(f"\n$ {' '.join(command)} {url}\n{done.stdout}")  # the figures are the point
    return result


def raise_open_file_limit() -> None:
    """Raise this process' soft RLIMIT_NOFILE (inherited by wrk and uvicorn) if it is too low."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < FILES_NEEDED:
        if hard != resource.RLIM_INFINITY and hard < FILES_NEEDED:
            pytest.skip(f"ulimit -Hn is {hard}; {CONNECTIONS} connections on both ends need {FILES_NEEDED}")
        resource.setrlimit(resource.RLIMIT_NOFILE, (FILES_NEEDED, hard))


def stats(port: int) -> dict[str, Any]:
    """The app's /stats: lifecycle table size and connmw's counters (printed too)."""
    report: dict[str, Any] = json.loads(
        exchange(port, request_bytes("GET", "/stats"), check_closed=False).body
    )
    print(f"lifecycle table: {report['table']} entries; stats: {report['stats']}")
    return report


def table_size(port: int) -> int:
    return int(stats(port)["table"])


def rss_kib(pid: int) -> int:
    """Resident memory of a process in KiB (Linux), for the printed report; 0 if unknown."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    found = re.search(r"VmRSS:\s+(\d+) kB", status)
    return int(found.group(1)) if found else 0


class DrainFlipper(threading.Thread):
    """Create and remove ``path`` every ``period`` seconds, at most ``limit`` times, until stopped."""

    def __init__(self, path: Path, period: float = 1.0, limit: int = 2 * DURATION + 10) -> None:
        super().__init__(daemon=True)
        self.path = path
        self.period = period
        self.limit = limit
        self.flips = 0
        self.stop = threading.Event()

    def run(self) -> None:
        while self.flips < self.limit and not self.stop.wait(self.period):
            if self.path.exists():
                self.path.unlink()
            else:
                self.path.touch()
            self.flips += 1
        self.path.unlink(missing_ok=True)


@pytest.mark.load
def test_thousand_keep_alive_connections_lose_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    raise_open_file_limit()
    for variable in [v for v in os.environ if v.startswith("CONNMW_")]:
        monkeypatch.delenv(variable)
    drain_file = tmp_path / "drain"
    env = {"CONNMW_DRAIN_FILE": str(drain_file), "CONNMW_MAX_REQUESTS_PER_CONNECTION": str(MAX_REQUESTS)}
    pool = ServerPool()
    try:
        server = pool(
            lambda port: uvicorn_cmd(APP, port, http="httptools", ws="none", extra=["--backlog", "4096"]),
            env=env,
        )
        url = f"http://127.0.0.1:{server.port}/"
        print(f"uvicorn RSS before: {rss_kib(server.process.pid)} KiB")

        steady = wrk(url)
        assert steady.errors == 0, steady.text
        assert steady.non_2xx == 0, steady.text
        assert steady.requests > 0
        assert table_size(server.port) <= CONNECTIONS + 1  # wrk's 1000, and this request's

        flipper = DrainFlipper(drain_file)
        flipper.start()
        try:
            flipping = wrk(url)
        finally:
            flipper.stop.set()
            flipper.join(timeout=5)
        assert flipper.flips >= DURATION // 2, flipper.flips  # the drain really came and went
        assert flipping.errors == 0, flipping.text
        assert flipping.non_2xx == 0, flipping.text

        time.sleep(1.2)  # the drain file is gone; let connmw see it
        report = stats(server.port)
        print(f"uvicorn RSS after both runs: {rss_kib(server.process.pid)} KiB")
        assert report["table"] <= 2 * CONNECTIONS + 1, report  # left open by either run, at most
        assert report["table"] <= TABLE_LIMIT
        closed = report["stats"]["connections_closed"]
        assert closed.get("drain", 0) > 0, closed
        assert closed.get("max-requests", 0) > 0, closed
        assert "Traceback" not in server.log_text(), server.log_text()[-3000:]
    finally:
        pool.close()
