"""The ``connmw`` command (also ``python -m connmw``).

* ``connmw probe URL`` — probe a running server's connection handling.
* ``connmw check MODULE:APP`` — serve an app on a real server on loopback, probe it.
* ``connmw demo`` — bare and wrapped demo apps side by side.

Exit status, for every subcommand: 0 clean, 1 findings, 2 could not probe (the
reason on one line on stderr). Argument errors also exit 2, as argparse does.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from typing import Any, TextIO

from .. import __version__, accelerated
from ._demo import run_demo
from ._devservers import DEFAULT_SERVER, SERVERS, ServeError, Server, interface_of, load_app
from ._tables import render_probe
from ._wrapped import Wrapping, wrapping
from .probe import Case, Report, probe

__all__ = ["main"]

BUILD = " (accelerated build)" if accelerated else " (pure Python build)"
EPILOG = "exit status: 0 clean, 1 findings, 2 could not probe (reason on stderr)"


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0 < value <= 300:
        raise argparse.ArgumentTypeError("must be between 0 and 300 seconds")
    return value


def _probe_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print the connmw-probe/1 JSON document")
    parser.add_argument(
        "--http2",
        action="store_true",
        help="also GET over HTTP/2 (h2c prior knowledge for http://, ALPN h2 for https://)",
    )
    parser.add_argument(
        "--timeout", type=_positive, default=5.0, metavar="S", help="seconds to wait per exchange (default 5)"
    )
    parser.add_argument(
        "--ws-path", metavar="PATH", help="path for the WebSocket handshakes (default: the URL's)"
    )
    parser.add_argument(
        "--strict", action="store_true", help="warnings count as findings for the exit status"
    )


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with its three subcommands."""
    parser = argparse.ArgumentParser(
        prog="connmw",
        description="Check and demonstrate HTTP connection handling (RFC 9112 §9, RFC 9110 §7.6.1, "
        "RFC 6455, RFC 9113 §8.2.2).",
        epilog=EPILOG,
    )
    parser.add_argument("--version", action="version", version=f"connmw {__version__}{BUILD}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    probe_parser = commands.add_parser(
        "probe",
        help="probe a running server over raw sockets",
        description="Send the connection test matrix (the three curl requests of the Heroku question, "
        "HTTP/1.0 keep-alive, HEAD, a nominated header, three WebSocket handshakes, optionally HTTP/2) "
        "to URL and report what the server says and does, with the RFC section behind each finding.",
        epilog=EPILOG,
    )
    probe_parser.add_argument("url", metavar="URL", help="http:// or https:// URL")
    probe_parser.add_argument("--insecure", action="store_true", help="accept any TLS certificate")
    _probe_options(probe_parser)

    check_parser = commands.add_parser(
        "check",
        help="serve MODULE:APP on a real server on loopback and probe it",
        description="Import MODULE:APP (cwd on sys.path), tell ASGI from WSGI, serve it on 127.0.0.1 with "
        "a real server in a subprocess (uvicorn for ASGI, werkzeug's HTTP/1.1 dev server for WSGI), "
        "probe it, stop the server.",
        epilog=EPILOG,
    )
    check_parser.add_argument("app", metavar="MODULE:APP", help="e.g. myproject.asgi:application")
    check_parser.add_argument(
        "--server",
        choices=sorted(SERVERS),
        help="server to use (default: uvicorn for ASGI, werkzeug for WSGI)",
    )
    check_parser.add_argument("--path", default="/", help="path to probe (default /)")
    _probe_options(check_parser)

    commands.add_parser(
        "demo",
        help="bare and wrapped demo apps side by side (needs uvicorn and werkzeug)",
        description="Start demo apps on loopback (raw ASGI on uvicorn, raw WSGI on werkzeug), each bare "
        "and inside ConnectionMiddleware, probe them all and print before and after side by side.",
        epilog="exit status: 0 the wrapped apps are clean, 1 they are not, 2 the demo could not run",
    )
    return parser


class _Progress:
    """One self-erasing line per case on stderr, only when stderr is a terminal."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.active = stream.isatty()

    def __call__(self, index: int, total: int, case: Case) -> None:
        if self.active:
            self.stream.write(f"\r\x1b[K  probing [{index + 1}/{total}] {case.title} ...")
            self.stream.flush()

    def done(self) -> None:
        if self.active:
            self.stream.write("\r\x1b[K")
            self.stream.flush()


def _run_probe(url: str, args: argparse.Namespace, insecure: bool) -> tuple[Report, float]:
    progress = _Progress(sys.stderr)
    started = time.monotonic()
    try:
        report = probe(
            url,
            http2=args.http2,
            insecure=insecure,
            timeout=args.timeout,
            ws_path=args.ws_path,
            on_case=progress,
        )
    finally:
        progress.done()
    return report, time.monotonic() - started


def _emit(
    report: Report,
    args: argparse.Namespace,
    heading: str,
    seconds: float,
    extra: dict[str, Any],
    *,
    notes: Sequence[str] = (),
) -> int:
    code = report.exit_code(strict=args.strict)
    if args.json:
        document = report.to_json(strict=args.strict)
        if extra:
            document = {**extra, "exit_code": code, "reason": report.reason, "probe": document}
        print(json.dumps(document, indent=2, ensure_ascii=False))
    elif report.reason is None:
        print(render_probe(report, code, heading, seconds, notes))
    if report.reason is not None:
        print(f"connmw {args.command}: {report.reason}", file=sys.stderr)
    return code


def _cmd_probe(args: argparse.Namespace) -> int:
    try:
        report, seconds = _run_probe(args.url, args, args.insecure)
    except ValueError as error:
        print(f"connmw probe: {error}", file=sys.stderr)
        return 2
    return _emit(report, args, f"connmw probe {args.url}", seconds, {})


def _check_failed(args: argparse.Namespace, reason: str, extra: dict[str, Any]) -> int:
    if args.json:
        print(json.dumps({**extra, "exit_code": 2, "reason": reason, "probe": None}, indent=2))
    print(f"connmw check: {reason}", file=sys.stderr)
    return 2


def _cmd_check(args: argparse.Namespace) -> int:
    extra: dict[str, Any] = {
        "schema": "connmw-check/1",
        "app": args.app,
        "interface": None,
        "server": None,
        "connmw": None,
    }
    wrapped = Wrapping(None, looked="not loaded")
    try:
        app = load_app(args.app)
        wrapped = wrapping(app)
        extra["connmw"] = wrapped.to_json()
        interface = interface_of(app)
        extra["interface"] = interface
        name = args.server or DEFAULT_SERVER[interface]
        extra["server"] = name
        server = Server(name, interface, args.app)
    except ServeError as error:
        return _check_failed(args, str(error), extra)
    try:
        if sys.stderr.isatty():
            sys.stderr.write(f"\r\x1b[K  starting {name} on 127.0.0.1:{server.port} ...")
            sys.stderr.flush()
        server.wait_ready()
        path = args.path if args.path.startswith("/") else "/" + args.path
        report, seconds = _run_probe(server.url.rstrip("/") + path, args, False)
    except ServeError as error:
        return _check_failed(args, str(error), extra)
    finally:
        server.stop()
    heading = f"connmw check {args.app} ({interface.upper()} on {name}, {server.url.rstrip('/')}{path})"
    return _emit(report, args, heading, seconds, extra, notes=wrapped.lines())


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``connmw`` console script.

    Args:
        argv: the arguments after the command name (default: ``sys.argv[1:]``).

    Returns:
        The exit status: 0 clean, 1 findings, 2 nothing could be probed (or the demo
        could not run, or Ctrl-C stopped it); argument errors exit 2 from argparse.
    """
    args = build_parser().parse_args(argv)
    try:
        if args.command == "probe":
            return _cmd_probe(args)
        if args.command == "check":
            return _cmd_check(args)
        return run_demo(sys.stdout, sys.stderr)
    except KeyboardInterrupt:
        print(f"connmw {args.command}: interrupted", file=sys.stderr)
        return 2
