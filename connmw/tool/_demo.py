"""``connmw demo``: the same small apps on real servers, bare and wrapped, compared.

Starts four servers on loopback (uvicorn serving the raw ASGI demo app, werkzeug's
dev server in HTTP/1.1 mode serving the raw WSGI one, each bare and inside
``ConnectionMiddleware``), probes a plain route and one that sets hop-by-hop fields
on each, prints the results side by side and stops every server, also on errors
and Ctrl-C.
"""

from __future__ import annotations

import importlib.util
import time
from concurrent.futures import ThreadPoolExecutor
from importlib.metadata import PackageNotFoundError, version
from typing import TextIO

from ._devservers import ServeError, Server, missing_servers
from ._findings import ERROR
from ._tables import codes, side_by_side
from .probe import CASES, Report, probe

__all__ = ["run_demo"]

_APPS = "connmw.tool._demo_apps"
_WRAPPED = "connmw.tool._demo_apps_wrapped"
STACKS = (
    ("uvicorn", "asgi", "uvicorn (ASGI)", f"{_APPS}:asgi_app", f"{_WRAPPED}:asgi_wrapped"),
    (
        "werkzeug",
        "wsgi",
        "werkzeug dev server, HTTP/1.1 (WSGI)",
        f"{_APPS}:wsgi_app",
        f"{_WRAPPED}:wsgi_wrapped",
    ),
)
ROUTES = (
    ("", ("GET /", "the app sends Content-Type, Content-Length and 'ok'")),
    ("hoppy", ("GET /hoppy", "the app also sends Connection: keep-alive, X-Hop; Keep-Alive; X-Hop;\n"
               "    Upgrade: foo; Proxy-Connection; Transfer-Encoding: chunked (hop-by-hop fields)")),
)  # fmt: skip
SERVER_FIRST = (
    "ws-version-not-advertised: uvicorn's WebSocket stack (websockets) refuses version 8 with a bare 400\n"
    "  itself, before the application or any middleware runs; --ws wsproto answers 426 as RFC 6455 asks."
)


def _version(package: str) -> str:
    try:
        return version(package)
    except PackageNotFoundError:
        return "?"


def _say(err: TextIO, text: str) -> None:
    if err.isatty():
        err.write(f"\r\x1b[K{text}")
        err.flush()


def run_demo(out: TextIO, err: TextIO, timeout: float = 3.0) -> int:
    """Run the demo; 0 when every wrapped probe is free of errors, 1 if not, 2 if it
    could not run (missing servers, a server that does not start)."""
    missing = missing_servers("uvicorn", "werkzeug")
    if missing:
        err.write(
            f"connmw demo: {' and '.join(missing)} not installed: python -m pip install {' '.join(missing)}"
            " (in a clone of connmw, python -m pip install -e '.[examples]' installs every example's)\n"
        )
        return 2
    for adapter in ("connmw.asgi", "connmw.wsgi"):
        if importlib.util.find_spec(adapter) is None:
            err.write(f"connmw demo: {adapter} is missing from this installation of connmw\n")
            return 2
    started = time.monotonic()
    servers: dict[tuple[str, bool], Server] = {}
    try:
        _say(err, "starting 4 servers on 127.0.0.1 ...")
        for name, interface, _, bare, wrapped in STACKS:
            servers[(name, False)] = Server(name, interface, bare)
            servers[(name, True)] = Server(name, interface, wrapped)
        for server in servers.values():
            server.wait_ready()
        _say(err, "probing 8 targets ...")
        jobs = {(key, route): server.url + route for key, server in servers.items() for route, _ in ROUTES}
        with ThreadPoolExecutor(len(jobs)) as pool:
            futures = {job: pool.submit(probe, url, timeout=timeout) for job, url in jobs.items()}
            reports = {job: future.result() for job, future in futures.items()}
    except ServeError as error:
        _say(err, "")
        err.write(f"connmw demo: {error}\n")
        return 2
    finally:
        for server in servers.values():
            server.stop()
    _say(err, "")
    out.write(_render(reports, time.monotonic() - started) + "\n")
    wrapped_errors = sum(report.count(ERROR) for ((_, wrapped), _), report in reports.items() if wrapped)
    return 1 if wrapped_errors else 0


def _render(reports: dict[tuple[tuple[str, bool], str], Report], seconds: float) -> str:
    titles = [(case.id, case.title) for case in CASES if case.kind != "h2"]
    lines = [
        "connmw demo: the same apps on real servers, bare and inside ConnectionMiddleware",
        f"(uvicorn {_version('uvicorn')}, werkzeug {_version('werkzeug')}; "
        "each cell: status, Connection received, what the socket did, verdict)",
    ]
    server_first = False
    for name, _, label, _, _ in STACKS:
        for route, (request, description) in ROUTES:
            wrapped = reports.get(((name, True), route))
            lines.append("")
            lines += side_by_side(
                [f"-- {label}, {request}", f"  {description}"],
                reports.get(((name, False), route)),
                wrapped,
                titles,
            )
            server_first = server_first or "ws-version-not-advertised" in codes(wrapped)
    bare = [report for ((_, wrapped), _), report in reports.items() if not wrapped]
    fixed = [report for ((_, wrapped), _), report in reports.items() if wrapped]
    lines += [
        "",
        f"errors: bare {sum(r.count(ERROR) for r in bare)}, with connmw {sum(r.count(ERROR) for r in fixed)}"
        f"  ({len(reports)} probes in {seconds:.1f} s)",
        "ERROR breaks an RFC's MUST; warn is risky or against a SHOULD. Details: connmw probe URL",
    ]
    if server_first:
        lines.append(SERVER_FIRST)
    return "\n".join(lines)
