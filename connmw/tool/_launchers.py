"""How to start each server on loopback: the one launcher table of ``connmw`` and the tests.

The middleware needs to know servers only as they behave (``connmw.servers``); starting
one is the tool's business: which package must be installed, the line that installs it
from a clone of this repository, and the argv that serves ``MODULE:APP`` on 127.0.0.1 and
a port. ``connmw check --server``, ``connmw demo`` and the test harness (``tests/wire.py``)
all build their commands here, so that what the tests run is what a user runs. Options
that matter (an HTTP stack, a worker class, a socket kind) are keyword arguments of the
builders; their defaults are what ``connmw check`` starts.

This module is data and argv lists: no sockets, no subprocesses, no middleware.
"""

from __future__ import annotations

import os
import stat
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

__all__ = ["HOST", "LAUNCHERS", "Launcher", "closed_to_others", "command"]

HOST: Final = "127.0.0.1"
_EXAMPLES: Final = "python -m pip install -e '.[examples]'"  # from a clone of this repository
_UWSGI: Final = "python -m pip install pyuwsgi"

Builder = Callable[..., list[str]]
"""``(python, interface, MODULE:APP, port, **options)`` → argv."""


@dataclass(frozen=True)
class Launcher:
    """How to start one server."""

    name: str
    interfaces: frozenset[str]
    package: str
    """A module importable where the server is installed (to say what is missing)."""
    install: str
    """One line that installs it, from a clone of this repository."""
    build: Builder
    problem: Callable[[], str | None] | None = None
    """Why it cannot serve from this Python here, in one line, or ``None``."""


def _python_m(python: str, module: str) -> list[str]:
    return [python, "-m", module]


def uvicorn(
    python: str,
    interface: str,
    target: str,
    port: int,
    *,
    http: str = "auto",
    ws: str = "auto",
    lifespan: str = "auto",
    extra: Sequence[str] = (),
) -> list[str]:
    """uvicorn; ``http``: ``h11``/``httptools``, ``ws``: ``websockets``, ``websockets-sansio``,
    ``wsproto`` or ``none`` (``auto``: uvicorn's choice)."""
    return [
        *_python_m(python, "uvicorn"), target, "--host", HOST, "--port", str(port),
        "--http", http, "--ws", ws, "--lifespan", lifespan,
        "--log-level", "warning", "--no-access-log", "--timeout-graceful-shutdown", "1", *extra,
    ]  # fmt: skip


def hypercorn(
    python: str,
    interface: str,
    target: str,
    port: int,
    *,
    worker: str = "asyncio",
    certfile: str | None = None,
    keyfile: str | None = None,
    extra: Sequence[str] = (),
) -> list[str]:
    """hypercorn: HTTP/1.1 and h2c on one plain port; TLS with ALPN ``h2`` given both files.

    ``worker``: ``asyncio`` (its default), ``uvloop`` or ``trio``.
    """
    argv = [
        *_python_m(python, "hypercorn"), target, "--bind", f"{HOST}:{port}",
        "--log-level", "warning", "--graceful-timeout", "1",
    ]  # fmt: skip
    if worker != "asyncio":
        argv += ["--worker-class", worker]
    if certfile is not None or keyfile is not None:
        if certfile is None or keyfile is None:
            raise ValueError("hypercorn TLS needs both certfile and keyfile")
        argv += ["--certfile", certfile, "--keyfile", keyfile]
    return [*argv, *extra]


def _hypercorn_trio(python: str, interface: str, target: str, port: int, **options: Any) -> list[str]:
    return hypercorn(python, interface, target, port, worker="trio", **options)


def granian(
    python: str,
    interface: str,
    target: str,
    port: int,
    *,
    websockets: bool | None = None,
    extra: Sequence[str] = (),
) -> list[str]:
    """granian with one worker (HTTP/1 and h2c); ``websockets`` defaults to ASGI's (its WSGI has none)."""
    argv = [
        *_python_m(python, "granian"), "--interface", interface, "--host", HOST, "--port", str(port),
        "--workers", "1", "--log-level", "warning", "--no-access-log",
    ]  # fmt: skip
    if not (interface == "asgi" if websockets is None else websockets):
        argv.append("--no-ws")
    return [*argv, *extra, target]


def gunicorn(
    python: str,
    interface: str,
    target: str,
    port: int,
    *,
    worker: str = "gthread",
    threads: int = 4,
    extra: Sequence[str] = (),
) -> list[str]:
    """gunicorn with one worker: ``gthread`` (``threads``) or ``sync`` for WSGI; uvicorn's for ASGI.

    ``--threads`` goes only to gthread: gunicorn silently turns ``sync`` with more than
    one thread into gthread.
    """
    if interface == "asgi":
        worker = "uvicorn_worker.UvicornWorker"
    argv = [
        *_python_m(python, "gunicorn"), "--bind", f"{HOST}:{port}", "--workers", "1",
        "--worker-class", worker, "--log-level", "warning", "--graceful-timeout", "1",
    ]  # fmt: skip
    if worker == "gthread":
        argv += ["--threads", str(threads)]
    return [*argv, *extra, target]


def daphne(python: str, interface: str, target: str, port: int, *, extra: Sequence[str] = ()) -> list[str]:
    """daphne (no h2c, no lifespan); ``-v 0`` logs warnings and errors only."""
    return [*_python_m(python, "daphne"), "-b", HOST, "-p", str(port), "-v", "0", *extra, target]


def waitress(python: str, interface: str, target: str, port: int, *, extra: Sequence[str] = ()) -> list[str]:
    """waitress (4 threads by default)."""
    return [*_python_m(python, "waitress"), f"--listen={HOST}:{port}", *extra, target]


def cheroot(python: str, interface: str, target: str, port: int, *, extra: Sequence[str] = ()) -> list[str]:
    """cheroot's own command line, a thread pool of 10."""
    return [*_python_m(python, "cheroot"), "--bind", f"{HOST}:{port}", *extra, target]


def twisted(python: str, interface: str, target: str, port: int) -> list[str]:
    """``twist web --wsgi``; it takes a dotted name, so ``module:attr`` becomes ``module.attr``."""
    module, _, attr = target.partition(":")
    return [
        *_python_m(python, "twisted"), "web", "--listen", f"tcp:{port}:interface={HOST}",
        "--wsgi", f"{module}.{attr or 'app'}",
    ]  # fmt: skip


UWSGI_MODES: Final = ("http11-socket", "http-socket", "http", "socket")
"""uWSGI's listeners: HTTP/1.1 keep-alive socket, one-request HTTP socket, the HTTP router
(in front of its worker, with ``--http-keepalive``), the uwsgi protocol (behind a proxy)."""


def uwsgi(
    python: str,
    interface: str,
    target: str,
    port: int,
    *,
    mode: str = "http11-socket",
    threads: int | None = 4,
    extra: Sequence[str] = (),
) -> list[str]:
    """uWSGI from the pyuwsgi wheel: master and one worker (``threads`` threads), ``mode`` one of
    :data:`UWSGI_MODES`.

    ``python -m pyuwsgi`` does not work (an extension module), hence ``-c``;
    ``--die-on-term`` makes SIGTERM end master, worker and router; ``--need-app`` makes a
    failed import exit instead of answering 500 forever. With one thread, an idle
    keep-alive client holds the worker for ``--socket-timeout``.
    """
    if mode not in UWSGI_MODES:
        raise ValueError(f"uWSGI mode {mode!r}; expected one of {UWSGI_MODES}")
    listen = [f"--{mode}", f"{HOST}:{port}"]
    if mode == "http":
        listen.append("--http-keepalive")
    argv = [
        python, "-c", "import sys, pyuwsgi; pyuwsgi.run(*sys.argv[1:])", *listen,
        "--module", target, "--master", "--die-on-term", "--processes", "1",
        "--disable-logging", "--need-app",
    ]  # fmt: skip
    if threads is not None:
        argv += ["--threads", str(threads)]
    return [*argv, *extra]


def _uwsgi_mode(mode: str) -> Builder:
    def build(python: str, interface: str, target: str, port: int, **options: Any) -> list[str]:
        return uwsgi(python, interface, target, port, mode=mode, **options)

    return build


_MOD_WSGI_EXPRESS: Final = """import sys
try:
    from mod_wsgi.express.cli import main  # mod_wsgi 6
except ImportError:
    from mod_wsgi.server import main
sys.exit(main())"""


def mod_wsgi(
    python: str,
    interface: str,
    target: str,
    port: int,
    *,
    embedded: bool = False,
    user: str = "www-data",
    server_root: str | None = None,
    extra: Sequence[str] = (),
) -> list[str]:
    """Apache with mod_wsgi through ``mod_wsgi-express start-server``, as mod_wsgi's docs run it.

    Daemon mode (one process, 5 threads) unless ``embedded``. ``python`` must be the one
    mod_wsgi was built for (``pip install --no-cache-dir mod-wsgi``, with Apache's ``apxs``),
    and it embeds that Python. Started as root, Apache serves as ``user`` (and its group),
    who must be able to read that Python and the application (not under root's home).
    """
    module, _, attr = target.partition(":")
    argv = [
        python, "-c", _MOD_WSGI_EXPRESS, "start-server", "--host", HOST, "--port", str(port),
        "--application-type", "module", "--callable-object", attr or "app",
        "--locale", "C.UTF-8", "--log-to-terminal", "--log-level", "warn",
    ]  # fmt: skip
    if embedded:
        argv.append("--embedded-mode")
    if getattr(os, "geteuid", lambda: 1)() == 0:  # it refuses to start as root without them
        argv += ["--user", user, "--group", user]
    if server_root is not None:
        argv += ["--server-root", server_root]
    return [*argv, *extra, module]


def closed_to_others(path: Path) -> Path | None:
    """The first directory on the way to ``path`` that other users may not enter, if any."""
    resolved = path.resolve()
    for directory in [*reversed(resolved.parents), resolved]:
        if directory.is_dir() and not directory.stat().st_mode & stat.S_IXOTH:
            return directory
    return None


def _mod_wsgi_problem() -> str | None:
    """Started as root, Apache serves as www-data, who must read this Python and the app."""
    if getattr(os, "geteuid", lambda: 1)() != 0:
        return None
    for path in (sys.prefix, sys.base_prefix, os.getcwd()):
        closed = closed_to_others(Path(path))
        if closed is not None:
            return (
                f"mod_wsgi, started as root, serves as www-data, who cannot enter {closed} (on the way to "
                f"{path}): run it as another user, or from a Python and a directory www-data can read"
            )
    return None


def via_serve_wsgi(kind: str) -> Builder:
    """Servers without a command line of their own, served by :mod:`connmw.tool._serve_wsgi`."""

    def build(python: str, interface: str, target: str, port: int, *, http10: bool = False) -> list[str]:
        name = f"{kind}-http10" if http10 else kind
        return [*_python_m(python, "connmw.tool._serve_wsgi"), name, target, HOST, str(port)]

    return build


_WSGI: Final = frozenset({"wsgi"})
_ASGI: Final = frozenset({"asgi"})
_BOTH: Final = frozenset({"asgi", "wsgi"})

LAUNCHERS: Final[Mapping[str, Launcher]] = {
    launcher.name: launcher
    for launcher in (
        Launcher("uvicorn", _ASGI, "uvicorn", _EXAMPLES, uvicorn),
        Launcher("hypercorn", _BOTH, "hypercorn", "python -m pip install hypercorn", hypercorn),
        Launcher("hypercorn-trio", _ASGI, "trio", "python -m pip install hypercorn trio", _hypercorn_trio),
        Launcher("granian", _BOTH, "granian", "python -m pip install granian", granian),
        Launcher("daphne", _ASGI, "daphne", "python -m pip install daphne", daphne),
        Launcher("gunicorn", _BOTH, "gunicorn", _EXAMPLES, gunicorn),
        Launcher("werkzeug", _WSGI, "werkzeug", _EXAMPLES, via_serve_wsgi("werkzeug")),
        Launcher("django", _WSGI, "django", _EXAMPLES, via_serve_wsgi("django")),
        Launcher("wsgiref", _WSGI, "wsgiref", "(standard library)", via_serve_wsgi("wsgiref")),
        Launcher("waitress", _WSGI, "waitress", "python -m pip install waitress", waitress),
        Launcher("cheroot", _WSGI, "cheroot", "python -m pip install cheroot", cheroot),
        Launcher("twisted", _WSGI, "twisted", "python -m pip install twisted", twisted),
        Launcher("uwsgi", _WSGI, "pyuwsgi", _UWSGI, uwsgi),
        Launcher("uwsgi-http-socket", _WSGI, "pyuwsgi", _UWSGI, _uwsgi_mode("http-socket")),
        Launcher("uwsgi-router", _WSGI, "pyuwsgi", _UWSGI, _uwsgi_mode("http")),
        Launcher(
            "mod_wsgi",
            _WSGI,
            "mod_wsgi",
            "apt-get install apache2 apache2-dev; python -m pip install --no-cache-dir mod-wsgi",
            mod_wsgi,
            _mod_wsgi_problem,
        ),
    )
}
"""Every server ``connmw check --server`` can start, by name."""


def command(
    name: str, interface: str, target: str, port: int, *, python: str = sys.executable, **options: Any
) -> list[str]:
    """The argv that serves ``target`` (``MODULE:APP``) with server ``name`` on 127.0.0.1:``port``."""
    return LAUNCHERS[name].build(python, interface, target, port, **options)
