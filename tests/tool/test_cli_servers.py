"""``connmw check --server NAME`` on the WSGI servers of the launcher table, end to end.

Each run is ``python -m connmw check tests.apps.wrapped_wsgi:routed --server NAME --json``
in a subprocess from the repository root, as a user runs it: connmw starts the server
itself on a loopback port, probes the wrapped app and stops it. The wrapped app is
correct, so every check must come back clean: exit 0, a document that validates, and
no error finding in any case.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest

from connmw.tool._launchers import LAUNCHERS, closed_to_others
from connmw.tool._schema import CHECK_SCHEMA, validate
from tests.wire import REPO_ROOT, mod_wsgi_python, readable_checkout

pytestmark = pytest.mark.timeout(120)

APP = "tests.apps.wrapped_wsgi:routed"
# connmw check's default WSGI server (werkzeug), wsgiref and gunicorn run in
# test_cli_check_demo.py; every other WSGI server of the launcher table runs here.
ELSEWHERE = {"werkzeug", "wsgiref", "gunicorn"}
SERVERS = {
    name: launcher.package
    for name, launcher in LAUNCHERS.items()
    if "wsgi" in launcher.interfaces and name not in ELSEWHERE
}
"""--server NAME -> the package the server needs (connmw.tool._launchers)."""


def check(server: str) -> subprocess.CompletedProcess[str]:
    """``connmw check`` of the wrapped app on ``server``, without the caller's CONNMW_* settings.

    mod_wsgi embeds the Python that runs ``connmw check`` (tests/wire.py, ``mod_wsgi_python``),
    and serves as www-data when started as root: ``connmw check`` then runs from a copy of the
    checkout www-data can read (``readable_checkout``).
    """
    env = {key: value for key, value in os.environ.items() if not key.startswith("CONNMW_")}
    python, root = sys.executable, REPO_ROOT
    if server == "mod_wsgi":  # served as www-data when run as root: from files it can read
        python, root = mod_wsgi_python(), readable_checkout()
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(root), env.get("PYTHONPATH", "")]))
    return subprocess.run(
        [python, "-m", "connmw", "check", APP, "--server", server, "--json"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=100,
        check=False,
    )


def findings(document: dict[str, Any], severity: str) -> list[tuple[str, str]]:
    """Every finding of ``severity`` in the probe's cases, as (case id, code)."""
    return [
        (case["id"], finding["code"])
        for case in document["probe"]["cases"]
        for finding in case["findings"]
        if finding["severity"] == severity
    ]


@pytest.mark.parametrize("server", list(SERVERS))
def test_check_wrapped_app_is_clean(server: str) -> None:
    if server != "mod_wsgi" and importlib.util.find_spec(SERVERS[server]) is None:
        pytest.skip(f"{SERVERS[server]} is not installed, so --server {server} cannot run")
    done = check(server)
    assert done.returncode == 0, done.stderr[-2000:]
    document = json.loads(done.stdout)
    assert validate(document, CHECK_SCHEMA) == []
    assert (document["server"], document["interface"], document["exit_code"]) == (server, "wsgi", 0)
    assert document["probe"]["summary"]["error"] == 0
    assert findings(document, "error") == []
    assert findings(document, "warning") == []


def test_mod_wsgi_says_why_it_cannot_serve_from_an_unreadable_python(monkeypatch: pytest.MonkeyPatch) -> None:
    """Started as root, Apache serves as www-data: a Python under a private directory (a pyenv
    under root's home) is refused before Apache starts, not answered with silence."""
    base = Path(tempfile.mkdtemp())  # pytest's own temporary directories are private
    base.chmod(0o755)
    monkeypatch.setattr(os, "getcwd", lambda: str(base))
    private = base / "home"
    (private / "python").mkdir(parents=True)
    private.chmod(0o700)
    assert closed_to_others(private / "python") == private
    monkeypatch.setattr(os, "geteuid", lambda: 0, raising=False)
    monkeypatch.setattr(sys, "prefix", str(private / "python"))
    problem = LAUNCHERS["mod_wsgi"].problem
    assert problem is not None
    assert problem() == (
        f"mod_wsgi, started as root, serves as www-data, who cannot enter {private} (on the way to "
        f"{private / 'python'}): run it as another user, or from a Python and a directory www-data can read"
    )
    monkeypatch.setattr(os, "geteuid", lambda: 1000, raising=False)
    assert problem() is None  # it then serves as the user who started it
    shutil.rmtree(base)
