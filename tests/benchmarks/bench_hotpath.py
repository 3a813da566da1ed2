"""Instructions per request of the middleware alone, in process (callgrind): the exact gauge.

Method: a child process (:mod:`tests.benchmarks.hotpath_child`) serves sequential
requests to a minimal application, bare or wrapped, through a fake server that does
nothing, under ``valgrind --tool=callgrind`` with ``PYTHONHASHSEED=0``. Two runs, of
``short`` and ``long`` requests, give instructions per request as their difference over
``long - short``. With no server, socket or event loop between runs, the count is the
same in every run, to the instruction: a change to the hot path shows its exact cost,
where the uvicorn count (:mod:`bench_instructions`) moves by several hundred
instructions from one run to the next.

Rows: the ASGI application bare and wrapped (uvicorn's profile, ``CONNMW_SERVER=uvicorn``:
the plain request's hot path), the WSGI application bare and wrapped (gunicorn's
profile: the remembered path) and wrapped on granian's profile (the full path: connmw's
field goes in every response). The request carries three header fields and no
Connection field; the response a Content-Type and a Content-Length. Which build is
measured is the one importable (the header above the table says which).

The in-process ratios of :mod:`bench_inprocess` (connmw's added cost over TrustedHost's
and ProxyFix's, ``plain`` scenario) are counted the same way, from the timed batches
themselves: timed, one run's best ratio moves by about ±5 % with the machine's state;
counted, it is the same in every run.
"""

from __future__ import annotations

import concurrent.futures
import os
import re
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from typing import Any

from .bench_instructions import VALGRIND
from .bench_load import ROOT, server_env

CANDIDATES = (
    "asgi bare",
    "asgi connmw",
    "wsgi bare",
    "wsgi connmw",
    "granian connmw",
    *(f"{api}-inprocess {wrapper}" for api in ("asgi", "wsgi") for wrapper in ("bare", "connmw", "peer")),
)
# (label, the in-process candidates' interface, the ratio's name in bench_inprocess)
INPROCESS_RATIOS = (
    ("ASGI connmw / TrustedHost", "asgi-inprocess"),
    ("WSGI connmw / ProxyFix", "wsgi-inprocess"),
)


@dataclass(frozen=True)
class Settings:
    short: int = 200
    long: int = 5200

    @classmethod
    def named(cls, mode: str) -> Settings:
        return {"full": cls(), "quick": cls(short=200, long=2200)}[mode]


def count(candidate: str, requests: int) -> int:
    """Instructions callgrind counts in the child serving ``requests`` requests."""
    if VALGRIND is None:
        raise RuntimeError("valgrind is not installed")
    env = server_env()
    env["PYTHONHASHSEED"] = "0"  # the same hashes, so the same dict probes, in every run
    interface, wrapper = candidate.split()
    command = [
        VALGRIND,
        "--tool=callgrind",
        "--callgrind-out-file=/dev/null",
        sys.executable,
        "-m",
        "tests.benchmarks.hotpath_child",
        interface,
        wrapper,
        str(requests),
    ]
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, timeout=300, check=False)
    collected = re.search(rb"Collected : (\d+)", done.stderr)
    if done.returncode != 0 or collected is None:
        raise RuntimeError(f"callgrind run failed ({done.returncode}): {done.stderr[-300:]!r}")
    return int(collected.group(1))


def run(mode: str = "full") -> dict[str, Any]:
    settings = Settings.named(mode)
    started = time.perf_counter()
    if VALGRIND is None:
        return {
            "settings": asdict(settings),
            "seconds": 0.0,
            "rows": [],
            "error": "valgrind is not installed",
        }
    runs = [(candidate, requests) for candidate in CANDIDATES for requests in (settings.short, settings.long)]
    with concurrent.futures.ThreadPoolExecutor(2) as pool:  # two callgrind runs at a time
        totals = dict(zip(runs, pool.map(lambda run: count(*run), runs), strict=True))
    rows = {
        candidate: (totals[candidate, settings.long] - totals[candidate, settings.short])
        / (settings.long - settings.short)
        for candidate in CANDIDATES
    }
    return {
        "settings": asdict(settings),
        "compiled": _compiled(),
        "seconds": round(time.perf_counter() - started, 1),
        "rows": rows,
    }


def _compiled() -> bool:
    import connmw.asgi  # noqa: PLC0415 (the build the children import: this checkout's)

    return not connmw.asgi.__file__.endswith(".py") if connmw.asgi.__file__ else False


def markdown(result: dict[str, Any]) -> str:
    if result.get("error"):
        return f"instruction counts not taken: {result['error']}"
    rows = result["rows"]
    lines = [
        f"connmw {'accelerated' if result['compiled'] else 'pure Python'}, in process, no server.",
        "",
        "| interface | bare app | with connmw | connmw's own |",
        "|---|---:|---:|---:|",
    ]
    for label, bare, wrapped in (
        ("ASGI (uvicorn)", rows["asgi bare"], rows["asgi connmw"]),
        ("WSGI (gunicorn)", rows["wsgi bare"], rows["wsgi connmw"]),
        ("WSGI (granian)", rows["wsgi bare"], rows["granian connmw"]),
    ):
        lines.append(f"| {label} | {bare:,.0f} | {wrapped:,.0f} | {wrapped - bare:+,.0f} |")
    lines += [
        "",
        "The in-process ratios (`--only inprocess`, `plain`), counted: connmw's added instructions",
        "over the peer's, in its timed batches.",
        "",
        "| ratio | bare | connmw's own | peer's own | ratio |",
        "|---|---:|---:|---:|---:|",
    ]
    for label, interface in INPROCESS_RATIOS:
        bare = rows[f"{interface} bare"]
        ours, theirs = rows[f"{interface} connmw"] - bare, rows[f"{interface} peer"] - bare
        lines.append(f"| {label} | {bare:,.0f} | {ours:+,.0f} | {theirs:+,.0f} | {ours / theirs:.3f} |")
    settings = result["settings"]
    lines += [
        "",
        f"Instructions per request from runs of {settings['short']} and {settings['long']} requests "
        "under callgrind (PYTHONHASHSEED=0): the same figures in every run.",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    os.chdir(ROOT)
    print(markdown(run(sys.argv[1] if len(sys.argv) > 1 else "quick")))
