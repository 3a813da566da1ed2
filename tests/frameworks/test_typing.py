"""The middlewares take ``app`` positionally and as ``app=``, at run time and for mypy --strict.

Starlette's ``Middleware``/``add_middleware`` type their factory as ``(app, /, **options)``;
Litestar's ``DefineMiddleware`` calls it with ``app=``. The examples in typing_examples/
are what users write (docs/frameworks.md); mypy must find nothing in them, and must find
the one mistake in a file written to hold one.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from connmw import asgi, wsgi

EXAMPLES = Path(__file__).resolve().parent / "typing_examples"
ROOT = Path(__file__).resolve().parents[2]
NEEDS = {
    "starlette_middleware.py": ("starlette", "fastapi"),
    "litestar_middleware.py": ("litestar",),
    "wrapped_apps.py": ("flask", "quart"),
}
MISTAKE = """\
from connmw.asgi import ConnectionMiddleware

not_an_app = ConnectionMiddleware(42)
"""


async def _asgi_app(scope: Any, receive: Any, send: Any) -> None:
    """An ASGI app that is never called."""


def _wsgi_app(environ: Any, start_response: Any) -> list[bytes]:
    return []


@pytest.mark.parametrize(
    ("middleware", "app"),
    [
        pytest.param(asgi.ConnectionMiddleware, _asgi_app, id="asgi"),
        pytest.param(wsgi.ConnectionMiddleware, _wsgi_app, id="wsgi"),
    ],
)
def test_app_positionally_or_by_keyword(middleware: Any, app: Any) -> None:
    assert middleware(app).app is app
    assert middleware(app=app).app is app
    assert middleware(app=app, strict=True).config.strict
    with pytest.raises(TypeError, match="app"):
        middleware(app, app=app)  # never an option named app, never silently one of two
    with pytest.raises(TypeError, match="app"):
        middleware(strict=True)


def test_asgi_app_none_is_refused() -> None:
    with pytest.raises(TypeError, match="app"):
        asgi.ConnectionMiddleware(app=None)


def test_mypy_strict_accepts_every_framework_way(tmp_path: Path) -> None:
    examples = [
        str(EXAMPLES / name)
        for name, modules in NEEDS.items()
        if all(importlib.util.find_spec(module) is not None for module in modules)
    ]
    if not examples or importlib.util.find_spec("mypy") is None:
        pytest.skip("mypy or the frameworks of the typing examples are not installed")
    mistake = tmp_path / "mistake.py"
    mistake.write_text(MISTAKE, encoding="utf-8")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--strict",
            "--cache-dir",
            str(tmp_path / "cache"),
            *examples,
            str(mistake),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=110,
        check=False,
    )
    errors = [line for line in done.stdout.splitlines() if ": error:" in line]
    assert len(errors) == 1, done.stdout + done.stderr
    assert errors[0].startswith(str(mistake)) and "arg-type" in errors[0], errors[0]
