"""The package as built: no runtime dependency, and the accelerated build's switch.

The accelerated build compiles the modules named in pyproject.toml's mypyc hook; CI runs
the whole suite once more against them (``.ci/run``). These checks hold for either build.
"""

from __future__ import annotations

import importlib

import connmw
from tests.build_accelerated import ROOT, hook_table, pyproject


def test_connmw_has_no_runtime_dependency() -> None:
    assert pyproject()["project"]["dependencies"] == []


def test_the_accelerated_build_is_opt_in_and_adds_no_runtime_dependency() -> None:
    table = hook_table()
    assert table["enable-by-default"] is False
    assert table["require-runtime-dependencies"] is False


def test_the_hook_names_modules_that_exist_and_were_written_for_it() -> None:
    # Compiled classes cannot be subclassed or patched from Python: only the hot-path
    # modules are compiled, and the lifecycle (patched by tests, extended by users) is not.
    included = hook_table()["include"]
    rules = sorted(str(path.relative_to(ROOT)) for path in (ROOT / "connmw" / "rules").glob("*.py"))
    servers = sorted(str(path.relative_to(ROOT)) for path in (ROOT / "connmw" / "servers").glob("*.py"))
    # every rules module, and the modules on a request's path: both adapters, their
    # responders and helpers, what they share, the drain flag they read, every server module
    # (profiles, recognition, the hooks a response calls)
    adapters = ["connmw/asgi.py", "connmw/_asgi_responders.py", "connmw/wsgi.py"]
    wsgi_parts = ["connmw/_wsgi_headers.py", "connmw/_wsgi_responders.py", "connmw/_wsgi_servers.py"]
    on_path = [*adapters, *wsgi_parts, "connmw/_core.py", "connmw/_drain_flag.py", *servers]
    assert sorted(included) == sorted([*rules, *on_path])
    assert all((ROOT / path).is_file() for path in included)


def test_accelerated_says_which_build_runs() -> None:
    modules = [
        importlib.import_module(path.removesuffix(".py").removesuffix("/__init__").replace("/", "."))
        for path in hook_table()["include"]
    ]
    compiled = {not (module.__file__ or "").endswith(".py") for module in modules}
    assert len(compiled) == 1, "half a build: rebuild, or clean it"
    assert connmw.accelerated is compiled.pop()


def test_every_release_wheel_is_built_compiled() -> None:
    # A platform's table replaces the global one in cibuildwheel (it is not merged), so a
    # platform that sets its own environment must repeat the hook's switch.
    cibuildwheel = pyproject()["tool"]["cibuildwheel"]
    assert cibuildwheel["build"].split() == [f"cp3{minor}-*" for minor in range(10, 15)]
    for platform in ("linux", "macos", "windows"):
        environment = cibuildwheel.get(platform, {}).get("environment", cibuildwheel["environment"])
        assert environment["HATCH_BUILD_HOOK_ENABLE_MYPYC"] == "1", platform
    # Linux keeps libc a dependency of mypyc's per-module extensions (auditwheel, CPython 3.10).
    assert cibuildwheel["linux"]["environment"]["LDFLAGS"] == "-Wl,--no-as-needed"


def test_one_version_names_the_build_the_changelog_and_the_command() -> None:
    # hatch reads the version from connmw.__version__ (one source); the CHANGELOG's newest
    # release heading is that version, so a user can tell which behaviour they have.
    project = pyproject()
    assert "version" not in project["project"]
    assert project["project"]["dynamic"] == ["version"]
    assert project["tool"]["hatch"]["version"]["path"] == "connmw/__init__.py"
    changelog = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    headings = [line for line in changelog.splitlines() if line.startswith("## [")]
    newest = next(line for line in headings if not line.startswith("## [Unreleased]"))
    assert newest.startswith(f"## [{connmw.__version__}] - "), newest
