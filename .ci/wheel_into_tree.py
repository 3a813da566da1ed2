"""Tie a built wheel to a checkout, so that the test suite run there runs the wheel's code.

Usage: ``python .ci/wheel_into_tree.py WHEEL TREE`` for a compiled wheel, or
``python .ci/wheel_into_tree.py --pure WHEEL TREE`` for the pure one.

The suite imports connmw from a checkout (its servers are started from there too). Every
Python module of the package must be in the wheel and equal the checkout's, byte for byte.
A compiled wheel's extension modules are then placed beside those sources, where an
extension module wins over the ``.py`` of the same name, and the suite runs exactly the
wheel's code; a pure wheel must hold no extension module, and the checkout's suite already
ran its code.
"""

from __future__ import annotations

import sys
import zipfile
from pathlib import Path

EXTENSIONS = (".so", ".pyd")


def main(wheel_path: str, tree_path: str, *, pure: bool) -> str | None:
    """Check (and for a compiled wheel, place) the wheel's modules; the failure, if any."""
    tree = Path(tree_path)
    with zipfile.ZipFile(wheel_path) as wheel:
        names = wheel.namelist()
        sources = {name for name in names if name.startswith("connmw/") and name.endswith(".py")}
        in_tree = {str(path.relative_to(tree)) for path in (tree / "connmw").rglob("*.py")}
        if sources != in_tree:
            return f"the wheel's modules are not the checkout's: {sorted(sources ^ in_tree)}"
        for name in sorted(sources):
            if (tree / name).read_bytes() != wheel.read(name):
                return f"{name} differs between the wheel and {tree}"
        extensions = sorted(name for name in names if name.endswith(EXTENSIONS))
        if pure:
            return f"the pure wheel holds extension modules: {extensions}" if extensions else None
        if not any(name.startswith("connmw/") for name in extensions):
            return "the wheel holds no compiled connmw module"
        for name in extensions:
            wheel.extract(name, tree)
    print(f"{len(extensions)} extension modules from {Path(wheel_path).name}: {', '.join(extensions)}")
    return None


if __name__ == "__main__":
    arguments = sys.argv[1:]
    pure = "--pure" in arguments
    paths = [argument for argument in arguments if argument != "--pure"]
    if len(paths) != 2:
        raise SystemExit(__doc__)
    failure = main(paths[0], paths[1], pure=pure)
    if failure is not None:
        raise SystemExit(f"{paths[0]}: {failure}")
