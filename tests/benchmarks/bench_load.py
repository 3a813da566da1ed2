"""Under load: wrk against real servers serving the bare and the wrapped application.

Method: for each application, servers run side by side on loopback, one serving it
bare and one wrapped by connmw: uvicorn (``--http httptools``, uvloop, one worker, no
access log) for ASGI, gunicorn (``-k gthread --threads 4``, one worker) for WSGI. Each
round runs ``wrk -t1 -c32 -d<seconds>s`` against every server of the application in an
order that rotates from round to round, once with keep-alive and once with
``-H "Connection: close"`` (a new connection per request). After one warm-up run per
server, the req/s ratio wrapped / bare of each round is taken, and the median of the
rounds is reported with their range; idle servers cost nothing while another is measured.

For the ASGI applications two more wrappers are measured with keep-alive (the
``floor``): a middleware that only appends ``Connection: keep-alive`` (what saying so on
the wire costs any middleware, most of it in uvicorn's handling of one more response
field) and connmw with ``explicit_keep_alive=0``. Together they split connmw's cost into
the field it says and the rest.

On a machine with two cores or more the server (with its workers) runs pinned to one
core and wrk to another, so that they never take turns on one core; req/s still moves
with whatever else runs. Beside it, the server's CPU time per request (user +
system, from /proc, gunicorn's worker included) gives a CPU ratio bare / wrapped: what
the req/s ratio is when the server is the bottleneck, and less sensitive to other load.
``bench_instructions`` counts instructions instead, which other load does not move.

Servers are subprocesses in sessions of their own, stopped by their process group id
(their own children only, e.g. gunicorn's worker) when a pair is done.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from . import apps

ROOT = Path(__file__).resolve().parents[2]
MODULE = "tests.benchmarks.apps"
GUNICORN_THREADS = 4
WAITRESS_THREADS = 4


@dataclass
class Server:
    name: str
    pid: int
    port: int
    connection: str | None  # the Connection header of a keep-alive GET /, as served


def uvicorn_loop() -> str:
    return "uvloop" if importlib.util.find_spec("uvloop") else "asyncio"


def command(kind: str, app: str, port: int) -> list[str]:
    """The command line of a ``uvicorn`` (httptools, one worker), ``gunicorn`` (gthread) or
    ``waitress`` (its default four threads) server."""
    target = f"{MODULE}:{app}"
    if kind == "uvicorn":
        options = [
            "--http",
            "httptools",
            "--loop",
            uvicorn_loop(),
            "--no-access-log",
            "--log-level",
            "warning",
        ]
        return [sys.executable, "-m", "uvicorn", target, "--host", "127.0.0.1", "--port", str(port), *options]
    if kind == "gunicorn":
        options = ["-k", "gthread", "--threads", str(GUNICORN_THREADS), "-w", "1", "--keep-alive", "5"]
        return [
            sys.executable,
            "-m",
            "gunicorn",
            *options,
            "-b",
            f"127.0.0.1:{port}",
            "--log-level",
            "warning",
            target,
        ]
    if kind == "waitress":
        return [
            sys.executable,
            "-m",
            "waitress",
            f"--listen=127.0.0.1:{port}",
            f"--threads={WAITRESS_THREADS}",
            target,
        ]
    raise ValueError(kind)


def _split_cpus() -> tuple[set[int] | None, set[int] | None]:
    """(the server's CPUs, wrk's CPUs): one core each when the machine has two or more.

    Pinned apart, the single-threaded server and wrk never take turns on one core, so a
    round measures the server rather than the scheduler; the rest of the machine's load
    still shows in the range of rounds.
    """
    if not hasattr(os, "sched_getaffinity"):
        return None, None
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        return None, None
    return {cpus[-1]}, {cpus[0]}


SERVER_CPUS, WRK_CPUS = _split_cpus()


def _pinned(cpus: set[int] | None) -> Callable[[], None] | None:
    """A ``preexec_fn`` that pins the child (and what it forks, gunicorn's worker) to ``cpus``."""
    if cpus is None:
        return None
    return lambda: os.sched_setaffinity(0, cpus)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def head(port: int, path: str = "/", timeout: float = 2.0) -> bytes:
    """The response head of one keep-alive ``GET path`` (raises while the server is not up)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: example.com\r\n\r\n".encode())
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
        return data.split(b"\r\n\r\n", 1)[0]


def server_env() -> dict[str, str]:
    """A server's environment: this checkout importable, no ``CONNMW_*`` of the shell."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONNMW_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return env


def connection_of(response_head: bytes) -> str | None:
    """The Connection field(s) of a response head, joined; ``None`` if there is none."""
    values = [
        line.split(b":", 1)[1].strip().decode("latin-1")
        for line in response_head.split(b"\r\n")[1:]
        if line.split(b":", 1)[0].strip().lower() == b"connection"
    ]
    return ", ".join(values) if values else None


@contextlib.contextmanager
def serve(kind: str, app: str, *, probe_path: str = "/") -> Iterator[Server]:
    """Start a server for ``apps.<app>``, wait until it answers 200, stop it afterwards."""
    port = free_port()
    # A file, not a pipe: a server that logs under load (waitress's queue warnings) would
    # fill an unread pipe and stall.
    log = tempfile.TemporaryFile()  # noqa: SIM115 (closed below)
    process = subprocess.Popen(
        command(kind, app, port),
        cwd=ROOT,
        env=server_env(),
        stdout=subprocess.DEVNULL,
        stderr=log,
        start_new_session=True,
        preexec_fn=_pinned(SERVER_CPUS),  # noqa: PLW1509 (only sets the CPU affinity)
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            if process.poll() is not None:
                log.seek(0)
                err = log.read().decode(errors="replace")
                raise RuntimeError(f"{kind} serving {app} exited: {err.strip().splitlines()[-1:]}")
            try:
                response = head(port, probe_path)
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
                continue
            if not response.startswith(b"HTTP/1.1 200"):
                raise RuntimeError(f"{kind} serving {app}: {response[:200]!r}")
            break
        yield Server(f"{kind}:{app}", process.pid, port, connection_of(response))
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)
        log.close()


# -- wrk ----------------------------------------------------------------------------------------

WRK = shutil.which("wrk") or "/usr/bin/wrk"
WRK_CONNECTIONS = 32


FLOOR = ("keep-alive field only", "connmw, explicit_keep_alive=0")
"""Served beside connmw with keep-alive (see :data:`apps.FLOOR_WRAPPERS`): what saying
``Connection: keep-alive`` costs any middleware, and connmw without that field."""


@dataclass(frozen=True)
class Comparison:
    name: str
    server: str  # "uvicorn", "gunicorn" or "waitress"
    app: str  # a base name of apps._SERVED
    target: float | None  # wrapped / bare req/s, at least
    floor: tuple[str, ...] = ()  # wrappers also measured with keep-alive


COMPARISONS = [
    Comparison("ASGI plain app, uvicorn httptools", "uvicorn", "asgi_plain", 0.93, FLOOR),
    Comparison("Starlette app with a route, uvicorn httptools", "uvicorn", "starlette", 0.96, FLOOR),
    Comparison("WSGI plain app, gunicorn gthread", "gunicorn", "wsgi_plain", None),
    Comparison("WSGI plain app, waitress", "waitress", "wsgi_plain", None),
]
MODES = {"keep-alive": [], "Connection: close": ["-H", "Connection: close"]}
KEEP_ALIVE = "keep-alive"


@dataclass(frozen=True)
class Settings:
    rounds: int = 5
    seconds: float = 3.0
    warmup: float = 1.0

    @classmethod
    def named(cls, mode: str) -> Settings:
        return {"full": cls(), "quick": cls(rounds=3, seconds=1.0, warmup=0.5)}[mode]


@dataclass
class WrkRun:
    requests_per_second: float
    requests: int
    errors: int  # socket errors and non-2xx/3xx answers
    cpu_us: float = 0.0  # the server's CPU time (user + system) per request


@dataclass
class Result:
    comparison: str
    mode: str
    target: float | None
    wrapper: str = "connmw"
    bare: list[float] = field(default_factory=list)  # req/s per round
    wrapped: list[float] = field(default_factory=list)
    ratios: list[float] = field(default_factory=list)  # wrapped / bare per round
    errors: int = 0
    connection_bare: str | None = None  # the Connection header each server sends
    connection_wrapped: str | None = None
    ratio: float | None = None  # median of the rounds
    bare_cpu_us: list[float] = field(default_factory=list)  # server CPU µs per request, per round
    wrapped_cpu_us: list[float] = field(default_factory=list)
    cpu_ratio: float | None = None  # bare / wrapped median CPU per request: req/s ratio if CPU-bound
    met: bool | None = None
    error: str | None = None


_RPS = re.compile(rb"Requests/sec:\s+([\d.]+)")
_REQUESTS = re.compile(rb"(\d+) requests in")
_SOCKET_ERRORS = re.compile(rb"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)")
_NON_2XX = re.compile(rb"Non-2xx or 3xx responses: (\d+)")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process and its live children (gunicorn's worker)."""
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError):
            text = stat.read_text()
            fields = text[text.rindex(")") + 2 :].split()  # after "pid (comm) "
            if stat.parent.name == str(pid) or fields[1] == str(pid):  # itself, or ppid
                total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / os.sysconf("SC_CLK_TCK")


def wrk(port: int, seconds: float, extra: list[str], pid: int | None = None) -> WrkRun:
    """One wrk run (1 thread, 32 connections) against ``GET /``; ``pid``: the server's, for its CPU time."""
    before = cpu_seconds(pid) if pid is not None else 0.0
    duration = f"{max(1, round(seconds))}s"
    out = subprocess.run(
        [
            WRK,
            "-t1",
            f"-c{WRK_CONNECTIONS}",
            f"-d{duration}",
            "--timeout",
            "2s",
            *extra,
            f"http://127.0.0.1:{port}/",
        ],
        capture_output=True,
        timeout=seconds + 30,
        check=True,
        preexec_fn=_pinned(WRK_CPUS),
    ).stdout
    rps = _RPS.search(out)
    if rps is None:
        raise RuntimeError(f"unexpected wrk output: {out[-500:]!r}")
    errors = sum(int(n) for n in _SOCKET_ERRORS.search(out).groups()) if _SOCKET_ERRORS.search(out) else 0
    non_2xx = _NON_2XX.search(out)
    requests = _REQUESTS.search(out)
    run = WrkRun(
        float(rps.group(1)),
        int(requests.group(1)) if requests else 0,
        errors + (int(non_2xx.group(1)) if non_2xx else 0),
    )
    if pid is not None and run.requests:
        run.cpu_us = (cpu_seconds(pid) - before) / run.requests * 1e6
    return run


def _compare(comparison: Comparison, settings: Settings) -> list[Result]:
    """Results for connmw in both modes, and for the floor wrappers with keep-alive."""
    wrappers = ["connmw", *comparison.floor]
    plan = {
        mode: [
            Result(comparison.name, mode, comparison.target if wrapper == "connmw" else None, wrapper)
            for wrapper in (wrappers if mode == KEEP_ALIVE else ["connmw"])
        ]
        for mode in MODES
    }
    try:
        with contextlib.ExitStack() as stack:
            servers = {
                wrapper: stack.enter_context(
                    serve(comparison.server, f"{comparison.app}__{apps.SERVED_NAMES[wrapper]}")
                )
                for wrapper in ["bare", *wrappers]
            }
            for mode, results in plan.items():
                _rounds(results, servers, MODES[mode], settings)
    except Exception as exc:
        for results in plan.values():
            for result in results:
                if result.ratio is None:
                    result.error = _one_line(exc)
    return [result for results in plan.values() for result in results]


def _rounds(results: list[Result], servers: dict[str, Server], extra: list[str], settings: Settings) -> None:
    """Warm every server up, then run wrk against each in turn, the order rotating by round."""
    bare = servers["bare"]
    measured = [bare, *(servers[result.wrapper] for result in results)]
    for server in measured:
        wrk(server.port, settings.warmup, extra)
    for r in range(settings.rounds):
        shift = r % len(measured)
        runs = {}
        for server in measured[shift:] + measured[:shift]:
            runs[server.name] = wrk(server.port, settings.seconds, extra, server.pid)
        on_bare = runs[bare.name]
        for result in results:
            on_wrapped = runs[servers[result.wrapper].name]
            result.bare.append(on_bare.requests_per_second)
            result.wrapped.append(on_wrapped.requests_per_second)
            result.ratios.append(on_wrapped.requests_per_second / on_bare.requests_per_second)
            result.bare_cpu_us.append(on_bare.cpu_us)
            result.wrapped_cpu_us.append(on_wrapped.cpu_us)
            result.errors += on_wrapped.errors
        results[0].errors += on_bare.errors  # counted once
    for result in results:
        result.connection_bare, result.connection_wrapped = (
            bare.connection,
            servers[result.wrapper].connection,
        )
        result.ratio = statistics.median(result.ratios)
        wrapped_cpu = statistics.median(result.wrapped_cpu_us)
        result.cpu_ratio = statistics.median(result.bare_cpu_us) / wrapped_cpu if wrapped_cpu else None
        result.met = None if result.target is None else result.ratio >= result.target


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text if len(text) <= 300 else '…' + text[-300:]}"


def run(mode: str = "full") -> dict[str, Any]:
    """Every comparison, with keep-alive and with ``Connection: close``."""
    settings = Settings.named(mode)
    started = time.perf_counter()
    results: list[Result] = []
    if not os.path.exists(WRK):
        return {"settings": asdict(settings), "seconds": 0.0, "results": [], "error": "wrk is not installed"}
    for comparison in COMPARISONS:
        results += _compare(comparison, settings)
    return {
        "settings": asdict(settings),
        "wrk": f"-t1 -c{WRK_CONNECTIONS}",
        "uvicorn": f"--http httptools --loop {uvicorn_loop()}, 1 worker",
        "gunicorn": f"-k gthread --threads {GUNICORN_THREADS}, 1 worker",
        "waitress": f"--threads={WAITRESS_THREADS}",
        "seconds": round(time.perf_counter() - started, 1),
        "results": [asdict(result) for result in results],
    }


def markdown(result: dict[str, Any]) -> str:
    if result.get("error"):
        return f"load benchmark not run: {result['error']}"
    lines = [
        "| application, server | connections | wrapper | bare req/s | wrapped req/s "
        "| wrapped / bare (median) | range of rounds | target | met "
        "| server CPU µs/req, bare → wrapped | CPU ratio |",
        "|---|---|---|---:|---:|---:|---|---:|---|---:|---:|",
    ]
    for row in result["results"]:
        head = f"| {row['comparison']} | {row['mode']} | {row['wrapper']} |"
        if row["error"]:
            lines.append(f"{head} failed: {row['error']} | | | | | | | |")
            continue
        target = "" if row["target"] is None else f"≥ {row['target']}"
        met = "" if row["met"] is None else ("yes" if row["met"] else "**no**")
        errors = f" ({row['errors']} errors)" if row["errors"] else ""
        bare, wrapped = statistics.median(row["bare"]), statistics.median(row["wrapped"])
        spread = f"{min(row['ratios']):.3f} to {max(row['ratios']):.3f}"
        cpu = f"{statistics.median(row['bare_cpu_us']):.1f} → {statistics.median(row['wrapped_cpu_us']):.1f}"
        cpu_ratio = "n/a" if row["cpu_ratio"] is None else f"{row['cpu_ratio']:.3f}"
        lines.append(
            f"{head} {bare:,.0f} | {wrapped:,.0f}{errors} | {row['ratio']:.3f} | {spread} | {target} | {met} "
            f"| {cpu} | {cpu_ratio} |"
        )
    settings = result["settings"]
    lines += [
        "",
        f"wrk {result['wrk']}, {settings['rounds']} rounds of {settings['seconds']:g} s, each against every "
        f"server of the row's application in an order rotating by round; uvicorn {result['uvicorn']}; "
        f"gunicorn {result['gunicorn']}; waitress {result.get('waitress', '')} (it refuses any "
        "Connection field from an application, so connmw sends none there). `keep-alive field only`: "
        "a middleware that appends `Connection: keep-alive` and does nothing else, the floor of any "
        "middleware that says so on the wire. CPU ratio: the server's CPU time per request, bare / "
        "wrapped (what the req/s ratio would be if the server were the only thing running): less "
        "sensitive than req/s to other processes.",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    print(markdown(run(sys.argv[1] if len(sys.argv) > 1 else "quick")))
