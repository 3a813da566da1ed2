"""The rules core (the package connmw/rules/) stays pure: no I/O, no environment, no
logging, no event loop, no framework.

Two independent checks, both shown able to fail on doctored copies of the package:

* every module's import statements, read with ``ast`` (anywhere in the file, including
  imports inside functions that a plain import would never run);
* a real import of the package, alone, in a fresh interpreter, recording both the
  modules its own code asks for (even ones already loaded, such as ``os``) and every
  module the import adds to ``sys.modules`` (what its dependencies drag in), beyond what
  the standard-library modules it may name load by themselves on this Python version.
"""

from __future__ import annotations

import ast
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

RULES = Path(__file__).resolve().parents[2] / "connmw" / "rules"
MODULES = sorted(RULES.glob("*.py"))


def rules_source(package: Path = RULES) -> str:
    """Every module of the rules package, one after another (for the source checks)."""
    return "\n".join(path.read_text(encoding="utf-8") for path in sorted(package.glob("*.py")))


FORBIDDEN = frozenset(
    {
        # I/O, environment, processes, clocks and randomness
        "os",
        "posix",
        "nt",
        "io",
        "pathlib",
        "shutil",
        "tempfile",
        "subprocess",
        "signal",
        "time",
        "random",
        "secrets",
        "logging",
        "warnings",
        # networking and concurrency
        "socket",
        "selectors",
        "ssl",
        "asyncio",
        "threading",
        "concurrent",
        "http.server",
        "http.client",
        "socketserver",
        "wsgiref",
        "urllib.request",
        # frameworks, servers and protocol libraries
        "starlette",
        "fastapi",
        "django",
        "flask",
        "werkzeug",
        "uvicorn",
        "hypercorn",
        "gunicorn",
        "granian",
        "h11",
        "h2",
        "wsproto",
        "websockets",
        "httptools",
        "anyio",
        "sniffio",
        "asgiref",
        "httpx",
        "requests",
        "urllib3",
        # connmw's own impure modules
        "connmw.config",
        "connmw.asgi",
        "connmw.wsgi",
        "connmw.tool",
        "connmw.servers",
        "connmw.lifecycle",
        "connmw._counters",
    }
)

NOT_DIRECTLY = FORBIDDEN | {
    # the rules may not reach around the checks with dynamic imports or interpreter state;
    # the standard library itself loads some of these (inspect loads importlib.machinery).
    "importlib",
    "sys",
    "builtins",
    "ctypes",
}

IO_BUILTINS = frozenset({"open", "print", "input", "breakpoint", "eval", "exec", "compile", "__import__"})


def forbidden_among(modules: list[str] | set[str], forbidden: frozenset[str] = NOT_DIRECTLY) -> list[str]:
    """The modules that are, or live inside, a forbidden one."""
    return sorted(
        module
        for module in modules
        if any(module == bad or module.startswith(bad + ".") for bad in forbidden)
    )


def imports_in_source(source: str) -> set[str]:
    """Every module an import statement anywhere in ``source`` names (relative imports are
    read from connmw.rules: ``.`` is the package, ``..`` connmw)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = {0: "", 1: "connmw.rules"}.get(node.level, "connmw")
            module = ".".join(part for part in (base, node.module or "") if part)
            names.add(module)
            names.update(f"{module}.{alias.name}" for alias in node.names)
    return names


CHECKER = r"""
import builtins, importlib, importlib.util, json, sys

path = sys.argv[1]
direct = []
real_import = builtins.__import__

def spy(name, globals=None, locals=None, fromlist=(), level=0):
    if globals is not None and str(globals.get("__name__")).startswith("rules_under_test"):
        if not level:  # relative imports stay inside the package under test
            direct.append(name)
            direct.extend(f"{name}.{item}" for item in fromlist or ())
    return real_import(name, globals, locals, fromlist, level)

# The standard-library modules the rules may name, loaded first: what they load by
# themselves is the interpreter's business and differs between versions (3.13's
# dataclasses loads os through inspect; 3.11 has os loaded before any import).
for allowed in sys.argv[2:]:
    try:
        importlib.import_module(allowed)
    except ImportError:  # a name imported from a module ("dataclasses.dataclass")
        pass
before = set(sys.modules)
builtins.__import__ = spy
try:
    spec = importlib.util.spec_from_file_location(
        "rules_under_test", path + "/__init__.py", submodule_search_locations=[path]
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules["rules_under_test"] = module
    spec.loader.exec_module(module)
finally:
    builtins.__import__ = real_import
gained = sorted(m for m in set(sys.modules) - before if not m.startswith("rules_under_test"))
print(json.dumps({"direct": direct, "gained": gained, "policy": hasattr(module, "Policy")}))
"""


def allowed_standard_library(path: Path) -> list[str]:
    """The standard-library modules the sources at ``path`` name and may name."""
    names = imports_in_source(rules_source(path))
    return sorted(
        name
        for name in names
        if name.split(".")[0] in sys.stdlib_module_names and not forbidden_among([name])
    )


def import_in_fresh_interpreter(path: Path) -> dict[str, list[str]]:
    """Import the rules package at ``path`` alone, as top-level ``rules_under_test``.

    ``gained`` lists what the import adds beyond what the standard-library modules the
    package may name load by themselves (those are imported first).
    """
    # -I: no environment, no user site, no current directory; -S: no site packages,
    # so the rules can only lean on the standard library.
    done = subprocess.run(
        [sys.executable, "-I", "-S", "-c", CHECKER, str(path), *allowed_standard_library(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    result: dict[str, list[str]] = json.loads(done.stdout)
    return result


# --------------------------------------------------------------------------------------
# The real rules package
# --------------------------------------------------------------------------------------


def test_the_package_has_its_modules() -> None:
    assert {path.name for path in MODULES} >= {"__init__.py", "_policy.py"}


def test_the_source_imports_nothing_impure() -> None:
    names = imports_in_source(rules_source())
    assert names, "no imports found: the checker is reading the wrong files"
    assert forbidden_among(names) == []


def test_the_source_imports_only_the_standard_library_and_itself() -> None:
    names = imports_in_source(rules_source())
    roots = {name.split(".")[0] for name in names if not name.startswith("connmw.rules")}
    assert roots <= set(sys.stdlib_module_names) | {"__future__"}


def test_the_source_calls_no_io_builtin() -> None:
    tree = ast.parse(rules_source())
    used = {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)}
    assert sorted(used & IO_BUILTINS) == []


def sources_only(tmp_path: Path, package: Path = RULES) -> Path:
    """A copy of the package's sources alone (a compiled build leaves extension modules
    beside them, which the import machinery would load first)."""
    copy = tmp_path / "rules"
    shutil.copytree(package, copy, ignore=shutil.ignore_patterns("__pycache__", "*.so", "*.pyd"))
    return copy


def test_importing_rules_loads_nothing_impure(tmp_path: Path) -> None:
    result = import_in_fresh_interpreter(sources_only(tmp_path))
    assert result["policy"], "the checker did not really import rules.py"
    assert "hashlib" in result["direct"]  # the spy sees rules.py's own imports
    assert forbidden_among(result["direct"]) == []
    assert forbidden_among(result["gained"], FORBIDDEN) == []


# --------------------------------------------------------------------------------------
# The checks can fail: doctored copies of the rules package
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("extra", "by_ast", "by_import"),
    [
        pytest.param("import logging\n", ["logging"], ["logging"], id="a-logging-import-is-caught-both-ways"),
        pytest.param(
            "import os\n", ["os"], ["os"], id="an-os-import-is-caught-even-though-os-was-already-loaded"
        ),
        pytest.param(
            "from os import environ\n",
            ["os", "os.environ"],
            ["os", "os.environ"],
            id="reading-the-environment-is-caught",
        ),
        pytest.param("import asyncio\n", ["asyncio"], ["asyncio"], id="an-asyncio-import-is-caught"),
        pytest.param(
            "import http.server\n",
            ["http.server"],
            ["http.server", "socket", "socketserver"],
            id="a-server-import-is-caught-with-what-it-drags-in",
        ),
        pytest.param(
            "import importlib\n",
            ["importlib"],
            ["importlib"],
            id="a-dynamic-import-machinery-import-is-caught",
        ),
        pytest.param(
            "def later():\n    import socket\n",
            ["socket"],
            [],
            id="a-lazy-import-inside-a-function-is-caught-by-the-source-check",
        ),
        pytest.param(
            "from .. import config\n",
            ["connmw.config"],
            None,
            id="importing-connmws-own-config-is-caught",
        ),
    ],
)
def test_the_checks_catch_an_impure_rules_module(
    tmp_path: Path, extra: str, by_ast: list[str], by_import: list[str] | None
) -> None:
    doctored = sources_only(tmp_path)
    policy = doctored / "_policy.py"
    policy.write_text(policy.read_text(encoding="utf-8") + "\n" + extra, encoding="utf-8")
    assert forbidden_among(imports_in_source(rules_source(doctored))) == by_ast
    if by_import is None:
        # A relative import cannot even run outside the package: the import check fails too.
        with pytest.raises(subprocess.CalledProcessError):
            import_in_fresh_interpreter(doctored)
        return
    result = import_in_fresh_interpreter(doctored)
    found = set(forbidden_among(result["direct"])) | set(forbidden_among(result["gained"], FORBIDDEN))
    assert set(by_import) <= found
    assert bool(found) is bool(by_import)


def test_the_builtin_check_catches_io(tmp_path: Path) -> None:
    source = rules_source() + "\ndef dump(x):\n    print(open('/dev/null'))\n"
    used = {node.id for node in ast.walk(ast.parse(source)) if isinstance(node, ast.Name)}
    assert sorted(used & IO_BUILTINS) == ["open", "print"]
