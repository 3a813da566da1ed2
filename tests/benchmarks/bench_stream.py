"""Streaming: 1 GiB through the middleware, peak RSS growth and throughput against bare.

Two paths, each run bare and behind connmw:

* in-process (ASGI and WSGI): the application streams 1 GiB in fresh 64 KiB chunks
  (``bytes(template)``: a wrapper that kept references to them would grow the RSS) into
  a ``send`` / body loop that only counts bytes. This isolates the middleware: throughput
  there is the middleware's per-message cost against the bare app's, with no I/O. One row
  sends an HTTP/1.0 request, where connmw holds a response without Content-Length up to
  ``http10_buffer_bytes`` (1 MiB by default) and then streams it: its growth is bounded
  by that buffer, not by the body.
* over uvicorn (httptools, one worker): a raw-socket client reads 1 GiB (with
  Content-Length) from the server; the growth is the server process's.

Each measurement runs in a fresh process (``--child``), after a warm-up stream of 8 MiB:
the kernel's peak-RSS mark is reset (``/proc/PID/clear_refs``, value 5), the body is
streamed, and growth = VmHWM after - VmRSS before. Runs are interleaved over the
candidates; throughput is the best run, growth the largest.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import os
import socket
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from . import apps
from .bench_load import ROOT, serve

GIB = 1 << 30
MIB = 1 << 20
CHUNK = 1 << 16
WARMUP = 8 * MIB
TARGET_GROWTH_MIB = 5.0

# name: (path, reference for the throughput ratio)
CANDIDATES: dict[str, tuple[str, str]] = {
    "ASGI bare": ("in-process", "ASGI bare"),
    "ASGI connmw": ("in-process", "ASGI bare"),
    "ASGI connmw, HTTP/1.0 client": ("in-process", "ASGI bare"),
    "WSGI bare": ("in-process", "WSGI bare"),
    "WSGI connmw": ("in-process", "WSGI bare"),
    "uvicorn bare": ("uvicorn", "uvicorn bare"),
    "uvicorn connmw": ("uvicorn", "uvicorn bare"),
}


@dataclass(frozen=True)
class Settings:
    total: int = GIB
    runs: int = 5

    @classmethod
    def named(cls, mode: str) -> Settings:
        return {"full": cls(), "quick": cls(total=64 * MIB, runs=3)}[mode]


@dataclass
class Row:
    candidate: str
    path: str
    reference: str
    seconds: list[float] = field(default_factory=list)
    growth_kib: list[int] = field(default_factory=list)
    throughput_mib_s: float | None = None
    ratio: float | None = None
    growth_mib: float | None = None
    met: bool | None = None
    error: str | None = None


# -- memory ---------------------------------------------------------------------------------


def _status(pid: int | str, key: str) -> int:
    """A ``kB`` figure of /proc/PID/status (VmRSS, VmHWM)."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    raise KeyError(key)


def _reset_peak(pid: int | str) -> None:
    with open(f"/proc/{pid}/clear_refs", "w") as refs:
        refs.write("5")  # reset the peak RSS (VmHWM) to the current RSS


# -- in a child process -------------------------------------------------------------------------


def _stream_asgi(app: apps.ASGIApp, http_version: str) -> int:
    received = 0

    async def send(message: apps.Message) -> None:
        nonlocal received
        received += len(message.get("body", b""))

    scope = {**apps.HTTP_SCOPE, "http_version": http_version}
    asyncio.run(app(scope, apps.receive_request, send))
    return received


def _stream_wsgi(app: apps.WSGIApp) -> int:
    received = 0
    result = app(dict(apps.WSGI_ENVIRON), lambda status, headers, exc_info=None: None)
    try:
        for chunk in result:
            received += len(chunk)
    finally:
        close = getattr(result, "close", None)
        if close is not None:
            close()
    return received


def child(candidate: str, total: int) -> dict[str, Any]:
    """Stream ``total`` bytes in this process: seconds and peak RSS growth in KiB."""
    api = candidate.split(maxsplit=1)[0].lower()
    wrapper = "connmw" if "connmw" in candidate else "bare"
    version = "1.0" if "HTTP/1.0" in candidate else "1.1"

    def once(size: int) -> int:
        if api == "asgi":
            app = apps.ASGI_WRAPPERS[wrapper](apps.asgi_bulk(size, CHUNK, length=False))
            return _stream_asgi(app, version)
        return _stream_wsgi(apps.WSGI_WRAPPERS[wrapper](apps.wsgi_bulk(size, CHUNK, length=False)))

    once(WARMUP)
    gc.collect()
    _reset_peak("self")
    before = _status("self", "VmRSS")
    started = time.perf_counter()
    received = once(total)
    seconds = time.perf_counter() - started
    if received != total:
        raise AssertionError(f"received {received} bytes of {total}")
    return {"seconds": seconds, "growth_kib": _status("self", "VmHWM") - before}


def _in_child(candidate: str, total: int) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONNMW_")}
    out = subprocess.run(
        [sys.executable, "-m", "tests.benchmarks.bench_stream", "--child", candidate, str(total)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if out.returncode != 0:
        raise RuntimeError(" ".join(out.stderr.strip().splitlines()[-1:]))
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


# -- over uvicorn -------------------------------------------------------------------------------


def _download(port: int, total: int) -> None:
    """GET /<total> and read exactly ``total`` body bytes."""
    buffer = bytearray(MIB)
    view = memoryview(buffer)
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(f"GET /{total} HTTP/1.1\r\nHost: example.com\r\n\r\n".encode())
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(65536)
            if not chunk:
                raise ConnectionError("closed before the response head")
            data += chunk
        head, body = data.split(b"\r\n\r\n", 1)
        if not head.startswith(b"HTTP/1.1 200"):
            raise AssertionError(head[:100])
        left = total - len(body)
        while left > 0:
            n = sock.recv_into(view, min(left, MIB))
            if not n:
                raise ConnectionError(f"closed with {left} bytes left")
            left -= n


def _over_uvicorn(rows: dict[str, Row], settings: Settings) -> None:
    names = [name for name, (path, _) in CANDIDATES.items() if path == "uvicorn"]
    with contextlib.ExitStack() as stack:
        servers = {}
        for name in names:
            try:
                servers[name] = stack.enter_context(serve("uvicorn", f"asgi_sized__{name.split()[1]}"))
            except Exception as exc:
                rows[name].error = f"{type(exc).__name__}: {exc}"
        for server in servers.values():
            _download(server.port, WARMUP)
        for _ in range(settings.runs):
            for name, server in servers.items():
                gc.collect()
                _reset_peak(server.pid)
                before = _status(server.pid, "VmRSS")
                started = time.perf_counter()
                _download(server.port, settings.total)
                rows[name].seconds.append(time.perf_counter() - started)
                rows[name].growth_kib.append(_status(server.pid, "VmHWM") - before)


# -- entry points -------------------------------------------------------------------------------


def run(mode: str = "full") -> dict[str, Any]:
    settings = Settings.named(mode)
    started = time.perf_counter()
    rows = {name: Row(name, path, reference) for name, (path, reference) in CANDIDATES.items()}
    in_process = [row for row in rows.values() if row.path == "in-process"]
    for _ in range(settings.runs):
        for row in in_process:
            if row.error is not None:
                continue
            try:
                measured = _in_child(row.candidate, settings.total)
            except Exception as exc:
                row.error = f"{type(exc).__name__}: {exc}"
                continue
            row.seconds.append(measured["seconds"])
            row.growth_kib.append(measured["growth_kib"])
    try:
        _over_uvicorn(rows, settings)
    except Exception as exc:
        for row in rows.values():
            if row.path == "uvicorn" and row.error is None:
                row.error = f"{type(exc).__name__}: {exc}"
    for row in rows.values():
        if row.seconds and row.error is None:
            row.throughput_mib_s = settings.total / MIB / min(row.seconds)
            row.growth_mib = max(row.growth_kib) / 1024
            row.met = row.growth_mib < TARGET_GROWTH_MIB if "connmw" in row.candidate else None
    for row in rows.values():
        reference = rows[row.reference]
        if row.throughput_mib_s and reference.throughput_mib_s:
            row.ratio = row.throughput_mib_s / reference.throughput_mib_s
    return {
        "settings": asdict(settings),
        "seconds": round(time.perf_counter() - started, 1),
        "rows": [asdict(row) for row in rows.values()],
    }


def markdown(result: dict[str, Any]) -> str:
    total = result["settings"]["total"]
    size = f"{total / GIB:g} GiB" if total >= GIB else f"{total / MIB:g} MiB"
    lines = [
        f"| {size} streamed | path | MiB/s (best) | throughput vs bare | peak RSS growth | target < 5 MiB |",
        "|---|---|---:|---:|---:|---|",
    ]
    for row in result["rows"]:
        head = f"| {row['candidate']} | {row['path']} |"
        if row["error"] is not None:
            lines.append(f"{head} failed: {row['error']} | | | |")
            continue
        met = "" if row["met"] is None else ("yes" if row["met"] else "**no**")
        speed, ratio, growth = (
            f"{row['throughput_mib_s']:,.0f}",
            f"{row['ratio']:.3f}",
            f"{row['growth_mib']:.2f}",
        )
        lines.append(f"{head} {speed} | {ratio} | {growth} MiB | {met} |")
    return "\n".join(lines)


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--child":
        print(json.dumps(child(sys.argv[2], int(sys.argv[3]))))
    else:
        print(markdown(run(sys.argv[1] if len(sys.argv) > 1 else "quick")))
