"""Real servers as subprocesses on loopback, for ``connmw check`` and ``connmw demo``.

connmw behaves differently on every server, so the commands serve applications with
the real thing (uvicorn, werkzeug, …) in a child process on 127.0.0.1 and a free
port, wait until it accepts connections, and always stop it afterwards. Servers
without a command line of their own (werkzeug's dev server in HTTP/1.1 mode,
wsgiref) run through :mod:`connmw.tool._serve_wsgi`.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import inspect
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from ._launchers import HOST, LAUNCHERS, Launcher, command

__all__ = [
    "DEFAULT_SERVER",
    "SERVERS",
    "ServeError",
    "Server",
    "interface_of",
    "load_app",
    "missing_servers",
]

_POSIX = os.name == "posix"


class ServeError(Exception):
    """An application could not be loaded or served; the message is one line."""


SERVERS: Mapping[str, Launcher] = LAUNCHERS
"""The servers ``connmw check --server`` can start (:mod:`connmw.tool._launchers`)."""
DEFAULT_SERVER = {"asgi": "uvicorn", "wsgi": "werkzeug"}


def missing_servers(*names: str) -> list[str]:
    """Which of these servers' packages are not importable here."""
    return [name for name in names if importlib.util.find_spec(SERVERS[name].package) is None]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def load_app(target: str) -> Any:
    """Import ``MODULE:ATTR`` (``ATTR`` defaults to ``app``) with the cwd on ``sys.path``."""
    module_name, _, attr = target.partition(":")
    if not module_name:
        raise ServeError(f"expected MODULE:APP, got {target!r}")
    cwd = os.getcwd()
    if cwd not in sys.path:
        sys.path.insert(0, cwd)
    try:
        obj: Any = importlib.import_module(module_name)
    except Exception as error:  # the app's own import error, whatever it is
        problem = f"cannot import {module_name!r}: {type(error).__name__}: {error}"
        hint = _IMPORT_HINTS.get(type(error).__name__)
        raise ServeError(problem if hint is None else f"{problem.rstrip('.')}; {hint}") from None
    for part in (attr or "app").split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise ServeError(f"module {module_name!r} has no attribute {attr or 'app'!r}") from None
    if not callable(obj):
        hint = _SOCKETIO_HINT if type(obj).__module__.partition(".")[0] in ("socketio", "engineio") else ""
        raise ServeError(f"{target!r} is not callable, so neither an ASGI nor a WSGI application{hint}")
    if _takes_nothing(obj):
        raise ServeError(
            f"{target!r} takes no arguments, so it is no ASGI or WSGI application; if it is an "
            "application factory, point at the application it returns (app = create_app() in a module)"
        )
    return obj


# What to do when a framework needs more than an import to be served (docs/frameworks.md).
_IMPORT_HINTS = {
    "ImproperlyConfigured": "Django: point at the project's asgi.py or wsgi.py (e.g. "
    "mysite.asgi:application), which sets DJANGO_SETTINGS_MODULE, or set that variable",
    "AppRegistryNotReady": "Django: call get_asgi_application() (or get_wsgi_application()) before "
    "importing anything that imports models, such as Channels' routing and consumers",
}
_SOCKETIO_HINT = (
    "; a Socket.IO server is served through its app: socketio.ASGIApp(sio) or socketio.WSGIApp(sio)"
)


def _takes_nothing(app: Any) -> bool:
    """Whether ``app`` takes no positional argument at all (an application factory, say).

    An application takes two (WSGI) or three (ASGI), or ``*args``.
    """
    try:
        parameters = inspect.signature(app).parameters.values()
    except (TypeError, ValueError):  # no signature to read (a builtin, a compiled class): trust it
        return False
    positional = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    return not any(p.kind in positional or p.kind is inspect.Parameter.VAR_POSITIONAL for p in parameters)


def interface_of(app: Any) -> str:
    """``"asgi"`` for a coroutine function or an object with an async ``__call__`` taking
    (scope, receive, send); ``"wsgi"`` for anything else callable."""
    if inspect.iscoroutinefunction(app):
        return "asgi"
    call = getattr(app, "__call__", None)  # noqa: B004 (we want the method, not callable())
    if not inspect.isfunction(app) and call is not None and inspect.iscoroutinefunction(call):
        return "asgi"
    return "wsgi"


def _command(name: str, interface: str, target: str, port: int) -> list[str]:
    if name == "gunicorn" and interface == "asgi" and importlib.util.find_spec("uvicorn_worker") is None:
        raise ServeError(
            "gunicorn serves ASGI apps with uvicorn-worker: python -m pip install uvicorn-worker"
        )
    return command(name, interface, target, port)


def _environment() -> dict[str, str]:
    """The child's environment: ours, with connmw itself importable from a checkout."""
    env = dict(os.environ)
    root = Path(__file__).resolve().parent.parent
    if not {"site-packages", "dist-packages"} & set(root.parts):
        paths = [str(root), *filter(None, env.get("PYTHONPATH", "").split(os.pathsep))]
        env["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(paths))
    return env


class Server:
    """One server process serving one application on ``url``."""

    def __init__(self, name: str, interface: str, target: str, port: int | None = None) -> None:
        kind = SERVERS.get(name)
        if kind is None:
            raise ServeError(f"unknown server {name!r}; known: {', '.join(SERVERS)}")
        if interface not in kind.interfaces:
            raise ServeError(f"{name} does not serve {interface.upper()} applications")
        if missing_servers(name):
            raise ServeError(f"{name} is not installed: {kind.install}")
        problem = kind.problem() if kind.problem is not None else None
        if problem is not None:
            raise ServeError(problem)
        self.name = name
        self.target = target
        self.port = port or free_port()
        self.url = f"http://{HOST}:{self.port}/"
        self._log: IO[bytes] = tempfile.TemporaryFile()  # noqa: SIM115 (closed in stop())
        self.process = subprocess.Popen(  # noqa: S603 (our interpreter, our arguments)
            _command(name, interface, target, self.port),
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env=_environment(),
            # Its own process group (POSIX), so stop() reaches gunicorn's and granian's
            # workers too, and a Ctrl-C at the terminal reaches only us: we stop it.
            start_new_session=_POSIX,
        )

    def wait_ready(self, timeout: float = 15.0) -> None:
        """Return once the port accepts connections; raise :class:`ServeError` if the
        process exits first or ``timeout`` passes."""
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                raise ServeError(
                    f"{self.name} exited ({self.process.returncode}) serving {self.target}: {self.output()}"
                )
            try:
                with socket.create_connection((HOST, self.port), timeout=0.5):
                    return
            except OSError:
                if time.monotonic() > deadline:
                    self.stop()
                    raise ServeError(
                        f"{self.name} did not listen on port {self.port} within {timeout:g}s"
                    ) from None
                time.sleep(0.05)

    def output(self, lines: int = 3) -> str:
        """The last lines the server printed, joined on one line."""
        self._log.seek(0)
        text = self._log.read().decode("utf-8", "replace").strip().splitlines()
        return " / ".join(line.strip() for line in text[-lines:]) or "no output"

    def stop(self, grace: float = 3.0) -> None:
        """SIGTERM the server's process group, SIGKILL whatever is left after ``grace``
        seconds, and release its log. Safe to call twice."""
        self._signal(signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(grace)
        self._signal(signal.SIGKILL if _POSIX else signal.SIGTERM)
        self.process.wait()
        self._log.close()

    def _signal(self, signum: signal.Signals) -> None:
        if not _POSIX:
            if self.process.poll() is None:
                self.process.terminate()
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signum)  # the leader's pid is the group's id


def start(name: str, interface: str, target: str) -> Server:
    """Start a server without waiting for it (start several, then wait on each)."""
    return Server(name, interface, target)


@contextmanager
def serving(name: str, interface: str, target: str, timeout: float = 15.0) -> Iterator[Server]:
    """Serve ``target`` with server ``name`` for the duration of the ``with`` block."""
    server = Server(name, interface, target)
    try:
        server.wait_ready(timeout)
        yield server
    finally:
        server.stop()
