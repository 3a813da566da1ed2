"""The layout is the architecture: the middleware never depends on the tool, nor on the tests.

``connmw/`` is the middleware, which runs on every request; ``connmw/tool/`` is the
``connmw`` command, a diagnostic tool that runs on a developer's machine. The tool
imports the middleware, never the reverse, so importing connmw or an adapter loads none
of the tool's sockets, subprocesses and argument parsing. One file is the exception:
``connmw/__main__.py`` is the command's ``python -m connmw`` door and nothing imports it.
And nothing outside ``tests/`` (the package, the example apps) imports the test suite.

Imports are read with ``ast``, anywhere in a file (also inside functions, which a plain
import would never run), relative ones resolved against the file's own package; a
fresh interpreter then imports every middleware module for real. Each check is shown
able to fail.
"""

from __future__ import annotations

import ast
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "connmw"
ENTRY_POINT = "connmw.__main__"
"""``python -m connmw``: delegates to the tool's ``main``; no module imports it."""

TOOL = "connmw.tool"
TESTS = "tests"
IMPORT_FUNCTIONS = frozenset({"import_module", "__import__"})


def module_name(path: Path, root: Path) -> str:
    """The dotted name of the module in ``path``, a file under ``root``."""
    parts = path.relative_to(root).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(source: str, module: str, *, is_package: bool = False) -> set[str]:
    """Every module an import anywhere in ``source`` names, relative ones resolved.

    ``module`` is the dotted name of the file the source comes from (its package when
    ``is_package``). ``from a import b`` names both ``a`` and ``a.b`` (``b`` may be a
    module). ``importlib.import_module("x")`` and ``__import__("x")`` with a literal name
    count as imports; a string that only names a module (a subprocess's ``-m`` argument)
    does not.
    """
    package = module.split(".") if is_package else module.split(".")[:-1]
    names: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level > len(package):
                raise ImportError(f"{module}: relative import beyond the top-level package")
            base = package[: len(package) - node.level + 1] if node.level else []
            target = ".".join([*base, *([node.module] if node.module else [])])
            names.add(target)
            names.update(f"{target}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Call) and node.args:
            function = node.func
            called = function.attr if isinstance(function, ast.Attribute) else getattr(function, "id", "")
            first = node.args[0]
            if (
                called in IMPORT_FUNCTIONS
                and isinstance(first, ast.Constant)
                and isinstance(first.value, str)
            ):
                names.add(first.value)
    return names


def within(names: set[str], package: str) -> list[str]:
    """The names that are ``package`` or inside it."""
    return sorted(name for name in names if name == package or name.startswith(package + "."))


def imports_by_module(directory: Path, root: Path) -> dict[str, set[str]]:
    """For every ``.py`` file under ``directory``: its dotted name and what it imports."""
    found: dict[str, set[str]] = {}
    for path in sorted(directory.rglob("*.py")):
        name = module_name(path, root)
        found[name] = imported_modules(
            path.read_text(encoding="utf-8"), name, is_package=path.stem == "__init__"
        )
    return found


def tool_imports_outside_the_tool(package: Path) -> dict[str, list[str]]:
    """Modules of the package at ``package`` (outside its tool and entry point) that import the tool."""
    imports = imports_by_module(package, package.parent)
    return {
        module: within(names, TOOL)
        for module, names in imports.items()
        if within({module}, TOOL) == [] and module != ENTRY_POINT and within(names, TOOL)
    }


def outside_tests() -> dict[str, set[str]]:
    """What every module outside ``tests/`` imports: the package and the example apps."""
    return {**imports_by_module(PACKAGE, ROOT), **imports_by_module(ROOT / "example_apps", ROOT)}


# --------------------------------------------------------------------------------------
# The real tree
# --------------------------------------------------------------------------------------


def test_the_checker_reads_both_sides_of_the_package() -> None:
    imports = imports_by_module(PACKAGE, ROOT)
    assert {"connmw", "connmw.asgi", "connmw.wsgi", "connmw.servers", ENTRY_POINT} <= set(imports)
    assert {"connmw.tool", "connmw.tool.cli", "connmw.tool.probe"} <= set(imports)
    # relative imports resolve against the real files: the command's own, and the tool's
    # of the middleware
    assert {"connmw.tool.probe", "connmw.tool._devservers"} <= imports["connmw.tool.cli"]
    assert "connmw.tool._launchers" in imports["connmw.tool._devservers"]
    assert "connmw.rules" in imports["connmw.tool._findings"]


def test_no_middleware_module_imports_the_tool() -> None:
    assert tool_imports_outside_the_tool(PACKAGE) == {}


def test_only_the_entry_point_imports_the_tool_and_nothing_imports_the_entry_point() -> None:
    imports = {
        **imports_by_module(PACKAGE, ROOT),
        **imports_by_module(ROOT / "example_apps", ROOT),
        **imports_by_module(ROOT / "tests", ROOT),
    }
    assert within(imports[ENTRY_POINT], TOOL) == ["connmw.tool.cli", "connmw.tool.cli.main"]
    assert {module for module, names in imports.items() if ENTRY_POINT in names} == set()


def test_importing_the_middleware_loads_nothing_of_the_tool() -> None:
    modules = [
        module
        for module in imports_by_module(PACKAGE, ROOT)
        if module != ENTRY_POINT and within({module}, TOOL) == []
    ]
    assert "connmw.asgi" in modules
    script = (
        "import importlib, json, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=60, check=True
    )
    loaded = set(json.loads(done.stdout))
    assert set(modules) <= loaded
    assert within(loaded, TOOL) == []


def test_nothing_outside_tests_imports_the_tests() -> None:
    imports = outside_tests()
    assert "example_apps.flask_app" in imports
    assert {module: within(names, TESTS) for module, names in imports.items() if within(names, TESTS)} == {}


# --------------------------------------------------------------------------------------
# The checks can fail
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "module", "is_package", "found"),
    [
        pytest.param("import connmw.tool.cli\n", "connmw.asgi", False, ["connmw.tool.cli"], id="absolute"),
        pytest.param(
            "from connmw.tool.probe import probe\n",
            "connmw.wsgi",
            False,
            ["connmw.tool.probe", "connmw.tool.probe.probe"],
            id="absolute-from",
        ),
        pytest.param(
            "from connmw import tool\n", "connmw.servers", False, ["connmw.tool"], id="the-subpackage"
        ),
        pytest.param("from . import tool\n", "connmw.asgi", False, ["connmw.tool"], id="relative"),
        pytest.param(
            "from .tool.cli import main\n",
            "connmw",
            True,
            ["connmw.tool.cli", "connmw.tool.cli.main"],
            id="relative-from-the-package-init",
        ),
        pytest.param(
            "from ..tool import probe\n",
            "connmw.rules._policy",
            False,
            ["connmw.tool", "connmw.tool.probe"],
            id="relative-from-a-subpackage",
        ),
        pytest.param(
            "def later():\n    from .tool import _devservers\n",
            "connmw.lifecycle",
            False,
            ["connmw.tool", "connmw.tool._devservers"],
            id="lazy-inside-a-function",
        ),
        pytest.param(
            "import importlib\nimportlib.import_module('connmw.tool.cli')\n",
            "connmw.config",
            False,
            ["connmw.tool.cli"],
            id="import-module",
        ),
        pytest.param(
            "from .rules import parse_connection\n", "connmw.asgi", False, [], id="the-rules-are-fine"
        ),
        pytest.param("import connmw.toolbox\n", "connmw.asgi", False, [], id="a-longer-name-is-not-the-tool"),
        pytest.param(
            "ARGV = ['python', '-m', 'connmw.tool._serve_wsgi']\n",
            "connmw.servers",
            False,
            [],
            id="a-string-naming-a-module-is-not-an-import",
        ),
    ],
)
def test_the_checker_finds_imports_of_the_tool(
    source: str, module: str, is_package: bool, found: list[str]
) -> None:
    assert within(imported_modules(source, module, is_package=is_package), TOOL) == found


@pytest.mark.parametrize(
    ("source", "found"),
    [
        pytest.param("from tests.wire import LOOPBACK\n", ["tests.wire", "tests.wire.LOOPBACK"], id="from"),
        pytest.param("import tests.apps.bare_asgi\n", ["tests.apps.bare_asgi"], id="import"),
        pytest.param("import testsuite\n", [], id="a-longer-name-is-not-the-tests"),
    ],
)
def test_the_checker_finds_imports_of_the_tests(source: str, found: list[str]) -> None:
    assert within(imported_modules(source, "example_apps.flask_app"), TESTS) == found


def test_a_relative_import_beyond_the_package_is_an_error() -> None:
    with pytest.raises(ImportError, match="beyond the top-level package"):
        imported_modules("from ... import tool\n", "connmw.asgi")


@pytest.mark.parametrize(
    ("module", "line", "found"),
    [
        pytest.param("asgi.py", "from .tool import cli", ["connmw.tool", "connmw.tool.cli"], id="an-adapter"),
        pytest.param("__init__.py", "from . import tool", ["connmw.tool"], id="the-package-init"),
    ],
)
def test_a_doctored_package_is_caught(tmp_path: Path, module: str, line: str, found: list[str]) -> None:
    doctored = tmp_path / "connmw"
    shutil.copytree(PACKAGE, doctored, ignore=shutil.ignore_patterns("__pycache__", "*.so"))
    path = doctored / module
    path.write_text(path.read_text(encoding="utf-8") + f"\n{line}\n", encoding="utf-8")
    name = module_name(path, tmp_path)
    assert tool_imports_outside_the_tool(doctored) == {name: found}
