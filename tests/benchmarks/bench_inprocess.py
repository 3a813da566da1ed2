"""In-process cost: microseconds a wrapper adds to one request over the bare application.

Method (every candidate of a scenario is timed in the same run, so only ratios matter):

* ASGI: ``await app(dict(scope), receive, send)`` in a loop inside one coroutine (the
  HTTP scope with a fresh copy of its ``state``, as servers give it), with a ``send`` that
  does nothing; nothing suspends, so the event loop is not in the figure.
  WSGI: call the app, iterate the body, call ``close()``, as a server does.
* A batch is ``n`` requests, ``n`` calibrated so that the bare app's batch lasts about
  ``batch_seconds``. Rounds are interleaved: each round times one batch of every
  candidate, in an order rotated by one each round, so drift and the other processes of
  the machine hit every candidate alike. ``gc.collect()`` runs before each batch.
* Per candidate: ``best`` (the fastest round, as timeit advises), ``median`` of the
  rounds and ``spread`` = (median - best) / best, the noise of the run. Added cost is
  ``best - bare best``, and beside it the median of the per-round differences with the
  bare app of the same round.
* Before timing, each candidate answers one request into a recording ``send`` /
  ``start_response``, and a wrapper that broke the response is reported, not timed.

Scenarios: a plain request (the ``plain`` app), a response with 30 headers, a WebSocket
handshake up to ``websocket.accept`` (ASGI only), and a streamed response of 10 000 body
chunks. One more ASGI scenario serves the plain app through uvicorn's own
``HttpToolsProtocol`` on a transport that only counts bytes (ProxyHeadersMiddleware
included, as ``uvicorn --http httptools`` runs it): it adds the server's share of each
wrapper's cost (uvicorn parses every header a middleware adds), and bare / connmw time
there estimates the wrk req/s ratio of a CPU-bound server without the noise of sockets
and a load generator sharing two cores. There, two more candidates split connmw's cost:
a middleware that only appends ``Connection: keep-alive`` and connmw without that field.
"""

from __future__ import annotations

import asyncio
import gc
import statistics
import traceback
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from time import perf_counter
from typing import Any

import connmw

from . import apps

ASGI_SCENARIOS: dict[str, tuple[apps.ASGIApp, dict[str, Any], apps.Receive]] = {
    "plain": (apps.asgi_plain, apps.HTTP_SCOPE, apps.receive_request),
    "30 headers": (apps.asgi_headers30, apps.HTTP_SCOPE, apps.receive_request),
    "websocket handshake": (apps.asgi_websocket, apps.WEBSOCKET_SCOPE, apps.receive_connect),
    "stream 10k chunks": (apps.asgi_stream, apps.HTTP_SCOPE, apps.receive_request),
}
WSGI_SCENARIOS: dict[str, apps.WSGIApp] = {
    "plain": apps.wsgi_plain,
    "30 headers": apps.wsgi_headers30,
    "stream 10k chunks": apps.wsgi_stream,
}

UVICORN_SCENARIO = "plain, uvicorn protocol"  # asgi_plain served by uvicorn's HttpToolsProtocol

# The targets of docs/benchmarks.md for the ratios that have one, by build measured.
TARGETS: dict[str, tuple[float, float]] = {  # name: (accelerated, pure)
    "ASGI connmw / TrustedHost": (0.35, 0.7),
    "WSGI connmw / ProxyFix": (0.15, 0.35),
}

# (name, api, scenario, peer, target): connmw's added cost over the peer's.
RATIOS: list[tuple[str, str, str, str, float | None]] = [
    ("ASGI connmw / TrustedHost", "asgi", "plain", "starlette TrustedHost", None),
    ("WSGI connmw / ProxyFix", "wsgi", "plain", "werkzeug ProxyFix", None),
    ("ASGI connmw / do-nothing", "asgi", "plain", "do-nothing wrapper", None),
    ("WSGI connmw / do-nothing", "wsgi", "plain", "do-nothing wrapper", None),
    ("ASGI connmw / ProxyHeaders", "asgi", "plain", "uvicorn ProxyHeaders", None),
    ("ASGI connmw / GZip", "asgi", "plain", "starlette GZip", None),
    ("ASGI connmw / TrustedHost, 30 headers", "asgi", "30 headers", "starlette TrustedHost", None),
    ("WSGI connmw / ProxyFix, 30 headers", "wsgi", "30 headers", "werkzeug ProxyFix", None),
    ("ASGI connmw / TrustedHost, WebSocket", "asgi", "websocket handshake", "starlette TrustedHost", None),
    ("ASGI connmw / TrustedHost, uvicorn protocol", "asgi", UVICORN_SCENARIO, "starlette TrustedHost", None),
    (
        "ASGI connmw / keep-alive field only, uvicorn protocol",
        "asgi",
        UVICORN_SCENARIO,
        "keep-alive field only",
        None,
    ),
]


@dataclass(frozen=True)
class Settings:
    rounds: int = 15
    batch_seconds: float = 0.025
    fixed_n: int | None = None  # smoke runs: this many requests per batch (streams: 1)

    @classmethod
    def named(cls, mode: str) -> Settings:
        return {
            "full": cls(),
            "quick": cls(rounds=5, batch_seconds=0.01),
            "smoke": cls(rounds=2, fixed_n=20),
        }[mode]


@dataclass
class Row:
    api: str
    scenario: str
    candidate: str
    n: int = 0
    samples: list[float] = field(default_factory=list)  # µs per request, one per round
    error: str | None = None
    best: float = 0.0
    median: float = 0.0
    spread: float = 0.0  # (median - best) / best
    added_best: float | None = None
    added_median: float | None = None


# -- one request, recorded: is the wrapper's answer still the app's? -------------------------


async def _check_asgi(app: apps.ASGIApp, scenario: str, scope: dict[str, Any], receive: apps.Receive) -> None:
    sent: list[apps.Message] = []

    async def record(message: apps.Message) -> None:
        sent.append(message)

    state = scope.get("state")  # a state of its own, as in the timed batches: never shared
    await app(dict(scope) if state is None else {**scope, "state": state.copy()}, receive, record)
    kinds = [m["type"] for m in sent]
    if scenario == "websocket handshake":
        if kinds != ["websocket.accept"]:
            raise AssertionError(f"expected one websocket.accept, got {kinds}")
        return
    if not sent or kinds[0] != "http.response.start" or sent[0]["status"] != 200:
        raise AssertionError(f"expected a 200 response start, got {kinds[:1]}")
    body = b"".join(m.get("body", b"") for m in sent[1:])
    expected = apps.STREAM_CHUNK * apps.STREAM_CHUNKS if scenario.startswith("stream") else b"ok"
    if body != expected:
        raise AssertionError(f"body of {len(body)} bytes, expected {len(expected)}")


def _check_wsgi(app: apps.WSGIApp, scenario: str) -> None:
    status: list[str] = []

    def start_response(
        code: str, headers: list[tuple[str, str]], exc_info: Any = None
    ) -> Callable[[bytes], None]:
        status.append(code)
        return _write

    result = app(dict(apps.WSGI_ENVIRON), start_response)
    try:
        body = b"".join(result)
    finally:
        close = getattr(result, "close", None)
        if close is not None:
            close()
    expected = apps.STREAM_CHUNK * apps.STREAM_CHUNKS if scenario.startswith("stream") else b"ok"
    if status != ["200 OK"] or body != expected:
        raise AssertionError(f"got {status} and {len(body)} bytes, expected 200 OK and {len(expected)}")


def _write(data: bytes) -> None:
    pass


# -- timed batches ------------------------------------------------------------------------------


async def _discard(message: apps.Message) -> None:
    pass


async def _asgi_batch(app: apps.ASGIApp, scope: dict[str, Any], receive: apps.Receive, n: int) -> float:
    send = _discard
    state = scope.get("state")
    start = perf_counter()
    if state is None:
        for _ in range(n):
            await app(dict(scope), receive, send)
    else:
        for _ in range(n):  # a state of its own per request, as servers give it
            await app({**scope, "state": state.copy()}, receive, send)
    return (perf_counter() - start) * 1e6 / n


def _start_response(
    status: str, headers: list[tuple[str, str]], exc_info: Any = None
) -> Callable[[bytes], None]:
    return _write


def _wsgi_batch(app: apps.WSGIApp, environ: dict[str, Any], n: int) -> float:
    start_response = _start_response
    start = perf_counter()
    for _ in range(n):
        result = app(environ.copy(), start_response)
        for _chunk in result:
            pass
        close = getattr(result, "close", None)
        if close is not None:
            close()
    return (perf_counter() - start) * 1e6 / n


Batch = Callable[[str, int], Awaitable[float]]  # (candidate, n) -> µs per request


async def _calibrate(batch: Batch, candidate: str, settings: Settings, stream: bool) -> int:
    """Requests per batch so that one batch of ``candidate`` lasts about ``batch_seconds``."""
    if settings.fixed_n is not None:
        return 1 if stream else settings.fixed_n
    n = 1
    while True:
        per_request = await batch(candidate, n) / 1e6
        if per_request * n >= settings.batch_seconds / 8 or n >= 1 << 20:
            return max(1, round(settings.batch_seconds / per_request))
        n *= 4


async def _measure(rows: list[Row], batch: Batch, settings: Settings) -> None:
    """Warm every live candidate up, then time interleaved rounds of batches."""
    live = [row for row in rows if row.error is None]
    if not live:
        return
    reference = next((row.candidate for row in live if row.candidate == "bare"), live[0].candidate)
    n = await _calibrate(batch, reference, settings, rows[0].scenario.startswith("stream"))
    for row in live:
        row.n = n
        await batch(row.candidate, max(1, n // 4))  # warm-up: caches, specialised bytecode
    for r in range(settings.rounds):
        k = r % len(live)
        for row in live[k:] + live[:k]:
            gc.collect()
            row.samples.append(await batch(row.candidate, n))
    _summarise(rows)


def _summarise(rows: list[Row]) -> None:
    bare = next((row for row in rows if row.candidate == "bare" and row.samples), None)
    for row in rows:
        if not row.samples:
            continue
        row.best = min(row.samples)
        row.median = statistics.median(row.samples)
        row.spread = (row.median - row.best) / row.best
        if bare is not None:
            row.added_best = row.best - bare.best
            row.added_median = statistics.median(
                a - b for a, b in zip(row.samples, bare.samples, strict=True)
            )


async def _asgi_scenario(scenario: str, settings: Settings) -> list[Row]:
    app, scope, receive = ASGI_SCENARIOS[scenario]
    rows: list[Row] = []
    built: dict[str, apps.ASGIApp] = {}
    for name, wrap in apps.ASGI_WRAPPERS.items():
        row = Row("asgi", scenario, name)
        rows.append(row)
        try:
            built[name] = wrap(app)
            await _check_asgi(built[name], scenario, scope, receive)
        except Exception as exc:
            row.error = _error(exc)

    async def batch(candidate: str, n: int) -> float:
        return await _asgi_batch(built[candidate], scope, receive, n)

    await _measure(rows, batch, settings)
    return rows


# -- through uvicorn's own protocol, without sockets ---------------------------------------


class _Transport(asyncio.Transport):
    """What uvicorn's protocol writes to: counts responses, keeps the first."""

    def __init__(self) -> None:
        super().__init__()
        self.responses = 0
        self.first = b""
        self.closed = False

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if bytes(data[:9]) == b"HTTP/1.1 ":
            self.responses += 1
            self.first = self.first or bytes(data)

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"sockname": ("127.0.0.1", 8000), "peername": ("127.0.0.1", 5000)}.get(name, default)

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


UVICORN_REQUEST = b"GET / HTTP/1.1\r\nHost: example.com\r\nUser-Agent: curl/8\r\nAccept: */*\r\n\r\n"


def _uvicorn_connection(app: apps.ASGIApp) -> tuple[Any, _Transport]:
    """A keep-alive connection of uvicorn's httptools protocol (as ``uvicorn --http httptools``
    builds it: ProxyHeadersMiddleware included) on a transport that only counts."""
    from uvicorn.config import Config  # noqa: PLC0415 (only this scenario needs uvicorn)
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol  # noqa: PLC0415
    from uvicorn.server import ServerState  # noqa: PLC0415

    config = Config(app=app, http="httptools", lifespan="off", access_log=False, log_config=None)
    config.load()
    protocol = HttpToolsProtocol(config=config, server_state=ServerState(), app_state={})
    transport = _Transport()
    protocol.connection_made(transport)
    return protocol, transport


async def _uvicorn_batch(protocol: Any, n: int) -> float:
    data_received, request, pause = protocol.data_received, UVICORN_REQUEST, asyncio.sleep
    start = perf_counter()
    for _ in range(n):
        data_received(request)
        await pause(0)  # the request's task runs to completion: nothing in it waits
    return (perf_counter() - start) * 1e6 / n


async def _uvicorn_scenario(settings: Settings) -> list[Row]:
    """The plain app behind uvicorn's protocol: the server's share of connmw's cost included
    (it parses every header connmw adds), without the noise of sockets and a load generator."""
    rows: list[Row] = []
    built: dict[str, Any] = {}
    for name, wrap in {**apps.ASGI_WRAPPERS, **apps.FLOOR_WRAPPERS}.items():
        row = Row("asgi", UVICORN_SCENARIO, name)
        rows.append(row)
        try:
            protocol, transport = _uvicorn_connection(wrap(apps.asgi_plain))
            await _uvicorn_batch(protocol, 1)
            if transport.responses != 1 or not transport.first.startswith(b"HTTP/1.1 200"):
                raise AssertionError(f"expected one 200 response, got {transport.first[:40]!r}")
            built[name] = protocol
        except Exception as exc:
            row.error = _error(exc)

    async def batch(candidate: str, n: int) -> float:
        return await _uvicorn_batch(built[candidate], n)

    await _measure(rows, batch, settings)
    return rows


async def _wsgi_scenario(scenario: str, settings: Settings) -> list[Row]:
    app = WSGI_SCENARIOS[scenario]
    rows: list[Row] = []
    built: dict[str, apps.WSGIApp] = {}
    for name, wrap in apps.WSGI_WRAPPERS.items():
        row = Row("wsgi", scenario, name)
        rows.append(row)
        try:
            built[name] = wrap(app)
            _check_wsgi(built[name], scenario)
        except Exception as exc:
            row.error = _error(exc)

    async def batch(candidate: str, n: int) -> float:
        return _wsgi_batch(built[candidate], apps.WSGI_ENVIRON, n)

    await _measure(rows, batch, settings)
    return rows


def _error(exc: BaseException) -> str:
    last = traceback.extract_tb(exc.__traceback__)[-1:] if exc.__traceback__ else []
    where = f" ({last[0].filename.rsplit('/', 1)[-1]}:{last[0].lineno})" if last else ""
    return f"{type(exc).__name__}: {exc}{where}"


# -- entry points -------------------------------------------------------------------------------


def ratios(rows: list[Row]) -> list[dict[str, Any]]:
    """connmw's added cost over each peer's, from best-of and from paired medians."""
    index = {(row.api, row.scenario, row.candidate): row for row in rows}
    out: list[dict[str, Any]] = []
    build = 0 if connmw.accelerated else 1  # the build measured: the one this process imported
    for name, api, scenario, peer, fixed in RATIOS:
        target = TARGETS[name][build] if name in TARGETS else fixed
        ours, theirs = index.get((api, scenario, "connmw")), index.get((api, scenario, peer))
        best = median = None
        if ours is not None and theirs is not None and ours.samples and theirs.samples:
            best = _ratio(ours.added_best, theirs.added_best)
            median = _ratio(ours.added_median, theirs.added_median)
        met = None if target is None or best is None else best <= target
        out.append({"name": name, "best": best, "median": median, "target": target, "met": met})
    bare, ours = (
        index.get(("asgi", UVICORN_SCENARIO, "bare")),
        index.get(("asgi", UVICORN_SCENARIO, "connmw")),
    )
    if bare is not None and ours is not None and bare.samples and ours.samples:
        # what wrapped / bare req/s would be for a CPU-bound uvicorn serving nothing else
        paired = statistics.median(b / o for b, o in zip(bare.samples, ours.samples, strict=True))
        out.append(
            {
                "name": "uvicorn protocol: bare / connmw time per request (≈ req/s ratio)",
                "best": bare.best / ours.best,
                "median": paired,
                "target": None,
                "met": None,
            }
        )
    return out


def _ratio(ours: float | None, theirs: float | None) -> float | None:
    if ours is None or theirs is None or theirs <= 0:
        return None  # a peer that costs nothing measurable: no ratio
    return max(ours, 0.0) / theirs


def run(mode: str = "full", *, only_api: str | None = None) -> dict[str, Any]:
    """Time every scenario; ``mode`` is ``full``, ``quick`` or ``smoke``."""
    settings = Settings.named(mode)

    async def main() -> list[Row]:
        rows: list[Row] = []
        if only_api in (None, "asgi"):
            for scenario in ASGI_SCENARIOS:
                rows += await _asgi_scenario(scenario, settings)
            rows += await _uvicorn_scenario(settings)
        if only_api in (None, "wsgi"):
            for scenario in WSGI_SCENARIOS:
                rows += await _wsgi_scenario(scenario, settings)
        return rows

    started = perf_counter()
    rows = asyncio.run(main())
    return {
        "settings": asdict(settings),
        "seconds": round(perf_counter() - started, 1),
        "rows": [asdict(row) for row in rows],
        "ratios": ratios(rows),
    }


def markdown(result: dict[str, Any]) -> str:
    """The in-process tables: cost per candidate, then the ratios with their targets."""
    lines = [
        "| API | scenario | candidate | µs/request (best) | added µs (best) | added µs (median) | spread |",
        "|---|---|---|---:|---:|---:|---:|",
    ]
    for row in result["rows"]:
        head = f"| {row['api'].upper()} | {row['scenario']} | {row['candidate']} |"
        if row["error"] is not None:
            lines.append(f"{head} failed: {row['error']} | | | |")
            continue
        added = "" if row["candidate"] == "bare" else _fmt(row["added_best"], "+.2f")
        added_median = "" if row["candidate"] == "bare" else _fmt(row["added_median"], "+.2f")
        lines.append(f"{head} {row['best']:.2f} | {added} | {added_median} | {row['spread']:.0%} |")
    lines += ["", "| ratio of added cost | best-of | median | target | met |", "|---|---:|---:|---:|---|"]
    for ratio in result["ratios"]:
        target = "" if ratio["target"] is None else f"≤ {ratio['target']}"
        met = "" if ratio["met"] is None else ("yes" if ratio["met"] else "**no**")
        best, median = _fmt(ratio["best"], ".2f"), _fmt(ratio["median"], ".2f")
        lines.append(f"| {ratio['name']} | {best} | {median} | {target} | {met} |")
    return "\n".join(lines)


def _fmt(value: float | None, spec: str) -> str:
    return "n/a" if value is None else format(value, spec)


if __name__ == "__main__":
    import sys

    print(markdown(run(sys.argv[1] if len(sys.argv) > 1 else "quick")))
