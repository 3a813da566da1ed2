"""``connmw check`` and ``connmw demo``, end to end, as a user runs them.

Every command runs as ``python -m connmw`` in a subprocess; the servers it starts are
real (uvicorn, werkzeug, wsgiref) and listen on 127.0.0.1 only. Test apps are written
to a temporary directory that becomes the working directory, as a user's project is.
"""

from __future__ import annotations

import importlib.util
import io
import json
import re
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import connmw
from connmw.tool import _demo
from connmw.tool._devservers import ServeError, interface_of, load_app
from connmw.tool._schema import CHECK_SCHEMA, validate

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "example_apps"
HAVE_ADAPTERS = all(importlib.util.find_spec(m) is not None for m in ("connmw.asgi", "connmw.wsgi"))

HOPPY_ASGI = """
async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200, "headers": [
        (b"content-type", b"text/plain"), (b"content-length", b"2"),
        (b"connection", b"keep-alive, x-hop"), (b"x-hop", b"secret"), (b"keep-alive", b"timeout=5")]})
    await send({"type": "http.response.body", "body": b"ok"})
"""
PLAIN_ASGI = """
class App:
    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-length", b"2"), (b"connection", b"close")]})
        await send({"type": "http.response.body", "body": b"ok"})

app = App()
"""
HOPPY_WSGI = """
def app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "2"),
                              ("Connection", "keep-alive, X-Hop"), ("X-Hop", "secret")])
    return [b"ok" if environ["REQUEST_METHOD"] != "HEAD" else b""]
"""
FAILING_ASGI = """
async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        await receive()
        await send({"type": "lifespan.startup.failed", "message": "database is down"})
"""


def run_cli(*args: str, cwd: Path = ROOT, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    env = {"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}
    return subprocess.run(
        [sys.executable, "-m", "connmw", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        cwd=cwd,
        check=False,
    )


@pytest.fixture
def project(tmp_path: Path) -> Callable[[str, str], Path]:
    """Write ``name.py`` into a fresh project directory and return the directory."""

    def write(name: str, source: str) -> Path:
        (tmp_path / f"{name}.py").write_text(source, encoding="utf-8")
        return tmp_path

    return write


def probed_port(output: str) -> int:
    match = re.search(r"http://127\.0\.0\.1:(\d+)/", output)
    assert match, output
    return int(match.group(1))


def assert_port_closed(port: int) -> None:
    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
        pass


# --------------------------------------------------------------------------------------
# Telling ASGI from WSGI
# --------------------------------------------------------------------------------------


async def _asgi_function(scope: Any, receive: Any, send: Any) -> None:
    """An ASGI app as a coroutine function."""


class _AsgiClass:
    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        """An ASGI app as an object with an async __call__."""


def _wsgi_function(environ: Any, start_response: Any) -> list[bytes]:
    return []


class _WsgiClass:
    def __call__(self, environ: Any, start_response: Any) -> list[bytes]:
        return []


@pytest.mark.parametrize(
    ("app", "interface"),
    [
        pytest.param(_asgi_function, "asgi", id="coroutine-function"),
        pytest.param(_AsgiClass(), "asgi", id="async-call-method"),
        pytest.param(_wsgi_function, "wsgi", id="wsgi-function"),
        pytest.param(_WsgiClass(), "wsgi", id="wsgi-object"),
    ],
)
def test_interface_of(app: object, interface: str) -> None:
    assert interface_of(app) == interface


def test_interface_of_framework_apps() -> None:
    starlette = pytest.importorskip("starlette.applications")
    flask = pytest.importorskip("flask")
    assert interface_of(starlette.Starlette()) == "asgi"
    assert interface_of(flask.Flask("x")) == "wsgi"


def test_load_app_reports_what_is_wrong(project: Callable[[str, str], Path], monkeypatch: Any) -> None:
    monkeypatch.chdir(project("half", "x = 1\nimport nonexistent_module_xyz\n"))
    with pytest.raises(ServeError, match="cannot import 'half': ModuleNotFoundError"):
        load_app("half:app")
    (Path.cwd() / "whole.py").write_text("value = 3\n")
    with pytest.raises(ServeError, match="no attribute 'app'"):
        load_app("whole")
    with pytest.raises(ServeError, match="not callable"):
        load_app("whole:value")


# --------------------------------------------------------------------------------------
# connmw check
# --------------------------------------------------------------------------------------


def test_check_finds_an_asgi_apps_hop_by_hop_fields(project: Callable[[str, str], Path]) -> None:
    done = run_cli("check", "hoppy_asgi:app", cwd=project("hoppy_asgi", HOPPY_ASGI))
    assert done.returncode == 1, done.stderr
    assert done.stdout.startswith("connmw check hoppy_asgi:app (ASGI on uvicorn, http://127.0.0.1:")
    assert "hop-by-hop-leak" in done.stdout and "x-hop" in done.stdout
    assert done.stdout.rstrip().endswith("-> findings (exit 1)")
    # a function might call connmw inside: no guess either way
    assert done.stdout.splitlines()[1].startswith("connmw: could not tell whether connmw wraps this app (")
    assert_port_closed(probed_port(done.stdout))


BARE_STARLETTE = """
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route

async def home(request):
    return PlainTextResponse("ok")

app = Starlette(routes=[Route("/", home, methods=["GET", "POST", "HEAD"])])
"""


def test_check_warns_when_connmw_does_not_wrap_the_app(project: Callable[[str, str], Path]) -> None:
    cwd = project("bare_starlette", BARE_STARLETTE)
    done = run_cli("check", "bare_starlette:app", cwd=cwd)
    assert done.stdout.splitlines()[1] == (
        "warning: connmw does not wrap this app (Starlette's middleware list): what follows is the "
        "server's and the app's own behaviour; add ConnectionMiddleware (README, Quickstart)"
    )
    document = json.loads(run_cli("check", "bare_starlette:app", "--json", cwd=cwd).stdout)
    assert validate(document, CHECK_SCHEMA) == []
    nothing = {"wrapped": False, "instances": 0, "via": None, "options": None, "error": None}
    assert document["connmw"] == nothing


def test_check_finds_a_wsgi_apps_hop_by_hop_fields(project: Callable[[str, str], Path]) -> None:
    done = run_cli("check", "hoppy_wsgi:app", "--json", cwd=project("hoppy_wsgi", HOPPY_WSGI))
    assert done.returncode == 1, done.stderr
    document = json.loads(done.stdout)
    assert (document["interface"], document["server"], document["exit_code"]) == ("wsgi", "werkzeug", 1)
    first = document["probe"]["cases"][0]
    assert "x-hop" in first["leaked"]
    assert_port_closed(document["probe"]["target"]["port"])


def test_check_json_of_a_clean_app(project: Callable[[str, str], Path]) -> None:
    done = run_cli("check", "plain_asgi:app", "--json", cwd=project("plain_asgi", PLAIN_ASGI))
    assert done.returncode == 0, done.stdout + done.stderr
    document = json.loads(done.stdout)
    errors = validate(document, CHECK_SCHEMA)
    assert errors == []
    assert document["schema"] == "connmw-check/1"
    assert (document["app"], document["interface"], document["server"]) == (
        "plain_asgi:app",
        "asgi",
        "uvicorn",
    )
    assert document["probe"]["outcome"] == "clean"
    assert document["connmw"]["wrapped"] is None  # an object of unknown shape: could not tell


def test_check_with_wsgiref_shows_its_500(project: Callable[[str, str], Path]) -> None:
    done = run_cli("check", "hoppy_wsgi:app", "--server", "wsgiref", cwd=project("hoppy_wsgi", HOPPY_WSGI))
    assert done.returncode == 1
    assert "server-error" in done.stdout and "answered 500" in done.stdout


@pytest.mark.parametrize(
    ("args", "source", "reason"),
    [
        pytest.param(("nowhere:app",), None, "cannot import 'nowhere'", id="no-module"),
        pytest.param(
            ("hoppy_wsgi:app", "--server", "uvicorn"),
            HOPPY_WSGI,
            "uvicorn does not serve WSGI",
            id="wrong-server",
        ),
        pytest.param(("failing:app",), FAILING_ASGI, "uvicorn exited", id="server-does-not-start"),
    ],
)
def test_check_exit_2(
    project: Callable[[str, str], Path], args: tuple[str, ...], source: str | None, reason: str
) -> None:
    name = args[0].split(":")[0]
    cwd = project(name, source) if source else project("unrelated", "")
    done = run_cli("check", *args, "--json", cwd=cwd)
    assert done.returncode == 2
    assert done.stderr.startswith("connmw check: ") and reason in done.stderr
    assert done.stderr.count("\n") == 1
    document = json.loads(done.stdout)
    assert validate(document, CHECK_SCHEMA) == []
    assert document["exit_code"] == 2 and document["probe"] is None and reason in document["reason"]


def _django_targets() -> list[tuple[str, str, tuple[str, ...]]]:
    """``django_app``'s asgi.py and wsgi.py, wherever the project keeps them."""
    targets: list[tuple[str, str, tuple[str, ...]]] = []
    for path in sorted((EXAMPLES / "django_app").glob("**/[aw]sgi.py")):
        module = ".".join(path.relative_to(ROOT).with_suffix("").parts)
        # Django leaves dropping a HEAD response's body to the server (RFC 9110 §9.3.2);
        # werkzeug's dev server writes it, gunicorn does not. The README runs the WSGI
        # example on gunicorn, so it is checked there.
        extra = ("--server", "gunicorn") if path.name == "wsgi.py" else ()
        targets.append((str(path.relative_to(EXAMPLES)), f"{module}:application", extra))
    return targets or [("django_app/asgi.py", "example_apps.django_app.asgi:application", ())]


EXAMPLE_TARGETS: list[tuple[str, str, tuple[str, ...]]] = [
    ("starlette_app.py", "example_apps.starlette_app:app", ("--ws-path", "/ws")),
    ("fastapi_app.py", "example_apps.fastapi_app:app", ("--ws-path", "/ws")),
    ("flask_app.py", "example_apps.flask_app:app", ("--ws-path", "/ws")),
    *_django_targets(),
]


@pytest.mark.parametrize(("path", "target", "extra"), EXAMPLE_TARGETS, ids=[t for _, t, _ in EXAMPLE_TARGETS])
def test_check_passes_on_every_example_app(path: str, target: str, extra: tuple[str, ...]) -> None:
    """Every example app, run from the repository root as the examples' docstrings say,
    on its interface's default server, has no error finding."""
    if not (EXAMPLES / path).exists():
        pytest.skip(f"example_apps/{path} does not exist")
    done = run_cli("check", target, *extra, cwd=ROOT)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "-> clean (exit 0)" in done.stdout
    assert done.stdout.splitlines()[1].startswith("connmw: wraps this app ("), done.stdout
    assert done.stdout.splitlines()[1].endswith("; settings: defaults"), done.stdout


# --------------------------------------------------------------------------------------
# connmw demo
# --------------------------------------------------------------------------------------


@pytest.mark.skipif(not HAVE_ADAPTERS, reason="connmw.asgi and connmw.wsgi are not both there yet")
def test_demo_end_to_end() -> None:
    started = time.monotonic()
    done = run_cli("demo")
    elapsed = time.monotonic() - started
    out = done.stdout
    assert done.stderr == ""  # progress only on a terminal
    assert elapsed < 20
    # Exit 0: every wrapped app is free of errors (a warning is no error).
    wrapped = re.findall(r"findings, with connmw: (.*)", out)
    assert len(wrapped) == 4
    assert set(wrapped) <= {"none", "ws-version-not-advertised (warn)"}, wrapped
    assert done.returncode == 0, out + done.stderr
    assert out.startswith("connmw demo: the same apps on real servers, bare and inside ConnectionMiddleware")
    for section in ("-- uvicorn (ASGI), GET /hoppy", "-- werkzeug dev server, HTTP/1.1 (WSGI), GET /hoppy"):
        assert section in out
    summary = re.search(r"errors: bare (\d+), with connmw (\d+)", out)
    assert summary and int(summary.group(1)) > int(summary.group(2))
    assert "hop-by-hop-leak" in out and "chunked-to-http10" in out


def test_demo_names_commands_that_install_the_missing_servers(monkeypatch: Any) -> None:
    # Not "pip install 'connmw[examples]'": connmw is not on PyPI yet, so that finds nothing.
    monkeypatch.setattr(_demo, "missing_servers", lambda *names: ["uvicorn", "werkzeug"])
    err = io.StringIO()
    assert _demo.run_demo(io.StringIO(), err) == 2
    assert err.getvalue() == (
        "connmw demo: uvicorn and werkzeug not installed: python -m pip install uvicorn werkzeug "
        "(in a clone of connmw, python -m pip install -e '.[examples]' installs every example's)\n"
    )


# --------------------------------------------------------------------------------------
# connmw --version
# --------------------------------------------------------------------------------------


def test_version_names_the_build_that_runs() -> None:
    done = run_cli("--version")
    build = "accelerated build" if connmw.accelerated else "pure Python build"
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"connmw {connmw.__version__} ({build})\n"
