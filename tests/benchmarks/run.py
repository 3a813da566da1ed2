"""Run connmw's benchmarks and print docs/benchmarks.md's tables.

    python -m tests.benchmarks.run [--quick] [--only inprocess|load|stream|instructions|hotpath] [--json FILE]
    python -m tests.benchmarks.run --smoke --only inprocess

Absolute figures depend on the machine; every table gives ratios measured in one run,
with the machine, the versions and the load average printed above them.
"""

from __future__ import annotations

import argparse
import datetime
import importlib.metadata
import json
import os
import platform
import sys
import time
from collections.abc import Callable
from typing import Any

import connmw

from . import bench_hotpath, bench_inprocess, bench_instructions, bench_load, bench_stream

SUITES: dict[str, tuple[str, Callable[[str], dict[str, Any]], Callable[[dict[str, Any]], str]]] = {
    "inprocess": ("In-process cost per request", bench_inprocess.run, bench_inprocess.markdown),
    "load": ("Under load (wrk)", bench_load.run, bench_load.markdown),
    "stream": ("Streaming", bench_stream.run, bench_stream.markdown),
    "instructions": (
        "Instructions per request in uvicorn (callgrind)",
        bench_instructions.run,
        bench_instructions.markdown,
    ),
    "hotpath": ("Instructions per request in process (callgrind)", bench_hotpath.run, bench_hotpath.markdown),
}
PACKAGES = ("uvicorn", "httptools", "uvloop", "starlette", "werkzeug", "gunicorn", "waitress")


def machine() -> dict[str, Any]:
    """What the figures were measured on."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as info:
            cpu = next(line.split(":", 1)[1].strip() for line in info if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    versions = {}
    for package in PACKAGES:
        try:
            versions[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            versions[package] = "not installed"
    return {
        "date": datetime.date.today().isoformat(),
        "connmw_build": "accelerated (mypyc)" if connmw.accelerated else "pure Python",
        "nproc": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "cpu": cpu,
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "platform": platform.platform(),
        "packages": versions,
        "load_average": _load(),
    }


def _load() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def header(info: dict[str, Any]) -> str:
    packages = ", ".join(f"{name} {version}" for name, version in info["packages"].items())
    return (
        f"connmw {info['connmw_build']}. "
        f"Measured {info['date']} on {info['nproc']} CPUs ({info['cpu']}), {info['python']}, "
        f"{info['platform']}; {packages}. Load average at start {info['load_average']}."
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.benchmarks.run", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--quick", action="store_true", help="shorter runs (about 3 minutes in all)")
    parser.add_argument(
        "--smoke", action="store_true", help="with --only inprocess: a few requests, proves it runs (1 s)"
    )
    parser.add_argument("--only", choices=sorted(SUITES), action="append", help="run this suite (repeatable)")
    parser.add_argument("--json", metavar="FILE", help="also write every figure to FILE as JSON")
    args = parser.parse_args(argv)
    mode = "smoke" if args.smoke else "quick" if args.quick else "full"
    chosen = args.only or list(SUITES)
    if mode == "smoke" and chosen != ["inprocess"]:
        parser.error("--smoke only applies to --only inprocess")

    info = machine()
    out: dict[str, Any] = {"machine": info, "mode": mode}
    print(f"## connmw benchmarks ({mode})\n\n{header(info)}\n", flush=True)
    started = time.perf_counter()
    for name in chosen:
        title, run, markdown = SUITES[name]
        out[name] = run(mode)
        print(f"### {title}\n\n{markdown(out[name])}\n\n({out[name]['seconds']:g} s)\n", flush=True)
    out["seconds"] = round(time.perf_counter() - started, 1)
    out["load_average_end"] = _load()
    print(f"Total {out['seconds']:g} s; load average at the end {out['load_average_end']}.")
    if args.json:
        with open(args.json, "w") as file:
            json.dump(out, file, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
