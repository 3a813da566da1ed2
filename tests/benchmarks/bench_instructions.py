"""Instructions per request, counted by callgrind in a real uvicorn: the load figures, minus the noise.

Method: uvicorn as ``bench_load`` runs it (``--http httptools``, uvloop, one worker)
starts under ``valgrind --tool=callgrind`` serving one application; one client sends
sequential ``GET /`` requests on one keep-alive connection and reads each response
whole. Two runs, of ``short`` and ``long`` requests, give instructions per request as
their difference over ``long - short``: start-up, imports and shutdown cancel out.

Why: on a shared machine wrk's req/s moves by ±15 % from one round to the next, far
more than the few per cent a middleware costs. An instruction count does not move
with the machine's other load (repeatable to about 0.1 %), so the ratio bare / wrapped
says what the req/s ratio would be if every instruction cost the same. It counts user
space only: the kernel's share of each request (socket reads and writes) is left out,
so it overstates any wrapper's share of a real request a little, never understates it.

Rows, per application: the bare app; a do-nothing wrapper; ``keep-alive field only``
(:class:`apps.AsgiKeepAliveOnly`, appends ``Connection: keep-alive`` and nothing else:
the floor for any middleware that states persistence on the wire, most of it spent
in uvicorn's parsing of the field); connmw as installed by default; connmw with
``explicit_keep_alive=0``; connmw with each metrics backend on (``metrics=prometheus``,
``metrics=otel``: a plain request never reaches them, so the same count as connmw's).
Needs valgrind (a Debian package).
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from . import apps
from .bench_load import COMPARISONS, ROOT, connection_of, free_port, server_env, uvicorn_loop

VALGRIND = shutil.which("valgrind")
CANDIDATES = (
    "bare",
    "do-nothing wrapper",
    "keep-alive field only",
    "connmw",
    "connmw, explicit_keep_alive=0",
    "connmw, metrics=prometheus",
    "connmw, metrics=otel",
)
APPLICATIONS = {  # served base name → the load comparison whose target it shares
    "asgi_plain": COMPARISONS[0],
    "starlette": COMPARISONS[1],
}
REQUEST = b"GET / HTTP/1.1\r\nHost: example.com\r\nUser-Agent: bench\r\nAccept: */*\r\n\r\n"


@dataclass(frozen=True)
class Settings:
    short: int = 300
    long: int = 2300

    @classmethod
    def named(cls, mode: str) -> Settings:
        return {"full": cls(), "quick": cls(short=200, long=1200)}[mode]


@dataclass
class Row:
    application: str
    candidate: str
    instructions: float | None = None  # per request
    added: float | None = None  # over bare
    ratio: float | None = None  # bare / wrapped
    target: float | None = None
    connection: str | None = None  # the Connection field served
    error: str | None = None


@dataclass
class Count:
    total: int
    head: bytes = field(repr=False)


def _read_response(sock: socket.socket, buffer: bytearray) -> bytes:
    """One whole response (framed by Content-Length) from ``sock``; returns its head."""
    while (end := buffer.find(b"\r\n\r\n")) < 0:
        _receive(sock, buffer)
    head = bytes(buffer[:end])
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    while len(buffer) < end + 4 + length:
        _receive(sock, buffer)
    del buffer[: end + 4 + length]
    return head


def _receive(sock: socket.socket, buffer: bytearray) -> None:
    chunk = sock.recv(65536)
    if not chunk:
        raise ConnectionError("the server closed the connection")
    buffer += chunk


def _connect(port: int, process: subprocess.Popen[bytes], deadline: float) -> socket.socket:
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"uvicorn under valgrind exited with {process.returncode}")
        try:
            return socket.create_connection(("127.0.0.1", port), timeout=30)
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def count(target: str, requests: int, timeout: float = 240.0) -> Count:
    """Instructions callgrind counts in uvicorn serving ``target`` for ``requests`` requests."""
    if VALGRIND is None:
        raise RuntimeError("valgrind is not installed")
    port = free_port()
    env = server_env()
    env["PYTHONHASHSEED"] = "0"  # the same hashes, so the same dict probes, in every run
    with tempfile.TemporaryDirectory() as scratch:
        command = [
            VALGRIND,
            "--tool=callgrind",
            f"--callgrind-out-file={scratch}/callgrind.out",
            sys.executable,
            "-m",
            "uvicorn",
            f"{apps.__name__}:{target}",
            *("--host", "127.0.0.1", "--port", str(port), "--http", "httptools"),
            *("--loop", uvicorn_loop(), "--no-access-log", "--log-level", "warning"),
        ]
        process = subprocess.Popen(
            command,
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        try:
            with _connect(port, process, deadline) as sock:
                buffer = bytearray()
                head = b""
                for _ in range(requests):
                    sock.sendall(REQUEST)
                    head = _read_response(sock, buffer)
                    if not head.startswith(b"HTTP/1.1 200"):
                        raise RuntimeError(f"unexpected answer {head[:80]!r}")
            os.killpg(process.pid, signal.SIGINT)  # uvicorn shuts down; valgrind then reports
            _, err = process.communicate(timeout=max(1.0, deadline - time.monotonic()))
        finally:
            if process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.communicate()
    collected = re.search(rb"Collected : (\d+)", err)
    if collected is None:
        raise RuntimeError(f"no callgrind total in: {err[-300:]!r}")
    return Count(int(collected.group(1)), head)


def _measure(row: Row, settings: Settings) -> Row:
    target = f"{row.application}__{apps.SERVED_NAMES[row.candidate]}"
    try:
        short = count(target, settings.short)
        long = count(target, settings.long)
        row.instructions = (long.total - short.total) / (settings.long - settings.short)
        row.connection = connection_of(long.head)
    except Exception as exc:
        row.error = f"{type(exc).__name__}: {' '.join(str(exc).split())[:300]}"
    return row


def run(mode: str = "full") -> dict[str, Any]:
    """Every candidate for every application; two valgrind runs at a time."""
    settings = Settings.named(mode)
    started = time.perf_counter()
    if VALGRIND is None:
        return {
            "settings": asdict(settings),
            "seconds": 0.0,
            "rows": [],
            "error": "valgrind is not installed",
        }
    rows = [Row(application, candidate) for application in APPLICATIONS for candidate in CANDIDATES]
    workers = max(1, min(2, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1))
    with concurrent.futures.ThreadPoolExecutor(workers) as pool:
        list(pool.map(lambda row: _measure(row, settings), rows))
    for application, comparison in APPLICATIONS.items():
        bare = next(row for row in rows if row.application == application and row.candidate == "bare")
        for row in rows:
            if row.application != application or row.instructions is None or not bare.instructions:
                continue
            row.added = row.instructions - bare.instructions
            row.ratio = bare.instructions / row.instructions
            if row.candidate.startswith("connmw"):
                row.target = comparison.target
    return {
        "settings": asdict(settings),
        "uvicorn": f"--http httptools --loop {uvicorn_loop()}, 1 worker, under callgrind",
        "seconds": round(time.perf_counter() - started, 1),
        "rows": [asdict(row) for row in rows],
    }


def markdown(result: dict[str, Any]) -> str:
    if result.get("error"):
        return f"instruction counts not taken: {result['error']}"
    lines = [
        "| application | wrapper | Connection served | instructions / request | added | bare / wrapped "
        "| load target |",
        "|---|---|---|---:|---:|---:|---:|",
    ]
    for row in result["rows"]:
        head = f"| {row['application']} | {row['candidate']} |"
        if row["error"]:
            lines.append(f"{head} failed: {row['error']} | | | | |")
            continue
        added = "" if row["candidate"] == "bare" else f"{row['added']:+,.0f}"
        target = "" if row["target"] is None else f"≥ {row['target']}"
        ratio = "" if row["candidate"] == "bare" else f"{row['ratio']:.3f}"
        lines.append(
            f"{head} {row['connection'] or '—'} | {row['instructions']:,.0f} | {added} | {ratio} | {target} |"
        )
    settings = result["settings"]
    lines += [
        "",
        f"uvicorn {result['uvicorn']}; one keep-alive connection, instructions per request from "
        f"runs of {settings['short']} and {settings['long']} requests (user space only). "
        "bare / wrapped is the req/s ratio a server bound by these instructions would show.",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    print(markdown(run(sys.argv[1] if len(sys.argv) > 1 else "quick")))
