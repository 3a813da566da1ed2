"""Compile connmw's accelerated modules in place, beside their sources.

Users get the accelerated build as a wheel: ``HATCH_BUILD_HOOK_ENABLE_MYPYC=1 pip install .``
runs the mypyc hook declared in ``pyproject.toml``. Tests and benchmarks import connmw
from the checkout instead, so this compiles the same modules with the same options into
the source tree, where an extension module wins over the ``.py`` beside it::

    python -m tests.build_accelerated           # compile (needs mypy, setuptools, a C compiler)
    python -m tests.build_accelerated --clean   # back to pure Python

The list of modules and the options are read from the hook's table, so the wheel and
this build cannot drift apart.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib


ROOT = Path(__file__).resolve().parent.parent


def pyproject() -> dict[str, Any]:
    """The project's pyproject.toml, parsed."""
    with (ROOT / "pyproject.toml").open("rb") as file:
        return tomllib.load(file)


def hook_table() -> dict[str, Any]:
    """``[tool.hatch.build.targets.wheel.hooks.mypyc]`` of pyproject.toml."""
    wheel: dict[str, Any] = pyproject()["tool"]["hatch"]["build"]["targets"]["wheel"]
    return dict(wheel["hooks"]["mypyc"])


def built_files() -> list[Path]:
    """Extension modules of an in-place build: the compiled modules and mypyc's shared library."""
    return [*ROOT.glob("connmw/**/*.so"), *ROOT.glob("connmw/**/*.pyd"), *ROOT.glob("*__mypyc*")]


def clean() -> None:
    for path in built_files():
        path.unlink()


def build() -> None:
    from mypyc.build import mypycify  # noqa: PLC0415 (a build tool, not a test dependency)
    from setuptools import setup  # noqa: PLC0415

    table = hook_table()
    options = table.get("options", {})
    clean()
    with tempfile.TemporaryDirectory(prefix="connmw-mypyc-") as work:
        modules = mypycify(
            list(table["include"]),
            opt_level=str(options.get("opt_level", "3")),
            debug_level=str(options.get("debug_level", "1")),
            target_dir=work,
        )
        setup(
            name="connmw-accelerated-in-place",
            py_modules=[],
            ext_modules=modules,
            script_args=["--quiet", "build_ext", "--inplace", "--build-temp", work],
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clean", action="store_true", help="remove the compiled modules")
    args = parser.parse_args(argv)
    if args.clean:
        clean()
        print("connmw: pure Python (compiled modules removed)")
        return 0
    os.chdir(ROOT)  # mypycify takes paths relative to the project
    build()
    names = sorted(path.name for path in built_files())
    print("connmw: compiled in place:", ", ".join(names))
    return 0


if __name__ == "__main__":
    sys.exit(main())
