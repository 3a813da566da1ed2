"""``connmw check MODULE:APP`` on every framework's app, and what it says when one needs more.

Each app of tests/frameworks/table.py is checked as a user would (``python -m connmw
check``, from the repository root), on its interface's default server, with its
WebSocket path where it has one: no error finding. The mistakes a framework invites
(Django without its settings, Channels' routing imported before Django is set up, an
application factory, a Socket.IO server instead of its app) exit 2 with what to do.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

from tests.frameworks.table import FRAMEWORKS, Framework

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.timeout(90)


def run_check(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    env = {"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}
    return subprocess.run(
        [sys.executable, "-m", "connmw", "check", *args],
        capture_output=True,
        text=True,
        timeout=80,
        env=env,
        cwd=cwd,
        check=False,
    )


@pytest.mark.parametrize("framework", FRAMEWORKS, ids=[f.name for f in FRAMEWORKS])
def test_check_is_clean_on_every_framework(framework: Framework) -> None:
    if importlib.util.find_spec(framework.package) is None:
        pytest.skip(f"{framework.package} is not installed")
    extra = ("--ws-path", framework.websocket) if framework.websocket else ()
    done = run_check(framework.target, *extra)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "-> clean (exit 0)" in done.stdout
    assert f"({framework.interface.upper()} on " in done.stdout


MISTAKES = {
    "django-without-settings": (
        "from django.conf import settings\nX = settings.INSTALLED_APPS\napp = None\n",
        "django",
        "point at the project's asgi.py or wsgi.py",
    ),
    "channels-routing-first": (
        "import os\n"
        "os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'tests.frameworks.django_site.settings')\n"
        "from django.contrib.auth.models import User\napp = None\n",
        "django",
        "call get_asgi_application() (or get_wsgi_application()) before",
    ),
    "factory": (
        "from litestar import Litestar\n\ndef app() -> Litestar:\n    return Litestar(route_handlers=[])\n",
        "litestar",
        "point at the application it returns",
    ),
    "socketio-server": (
        "import socketio\napp = socketio.AsyncServer(async_mode='asgi')\n",
        "socketio",
        "socketio.ASGIApp(sio) or socketio.WSGIApp(sio)",
    ),
}


@pytest.mark.parametrize("case", list(MISTAKES))
def test_check_says_what_a_framework_needs(tmp_path: Path, case: str) -> None:
    source, package, advice = MISTAKES[case]
    if importlib.util.find_spec(package) is None:
        pytest.skip(f"{package} is not installed")
    (tmp_path / "project_app.py").write_text(source, encoding="utf-8")
    done = run_check("project_app:app", cwd=tmp_path)  # the user's project is the working directory
    assert done.returncode == 2, done.stdout + done.stderr
    assert advice in done.stderr


DOC_ROWS = {
    "starlette": "[Starlette]",
    "fastapi": "[FastAPI]",
    "django-asgi": "[Django `asgi.py`]",
    "quart": "[Quart]",
    "litestar": "[Litestar]",
    "falcon-asgi": "[Falcon `falcon.asgi.App`]",
    "blacksheep": "[BlackSheep]",
    "channels": "[Django Channels]",
    "socketio-asgi": "[python-socketio `ASGIApp`]",
    "flask": "[Flask]",
    "django-wsgi": "[Django `wsgi.py`]",
    "falcon-wsgi": "[Falcon `falcon.App`]",
    "pyramid": "[Pyramid]",
    "bottle": "[Bottle]",
    "socketio-wsgi": "[python-socketio `WSGIApp`]",
}


def test_docs_have_a_row_for_every_framework_tested() -> None:
    """docs/frameworks.md's table: one row per framework of the table, with its interface."""
    text = (ROOT / "docs" / "frameworks.md").read_text(encoding="utf-8")
    assert sorted(DOC_ROWS) == sorted(f.name for f in FRAMEWORKS)
    for framework in FRAMEWORKS:
        rows = [line for line in text.splitlines() if line.startswith(f"| {DOC_ROWS[framework.name]}(")]
        assert len(rows) == 1, framework.name
        assert f"| {framework.interface.upper()} |" in rows[0], rows[0]
