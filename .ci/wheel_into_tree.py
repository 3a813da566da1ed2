"""Put a compiled wheel's extension modules into a checkout, so the test suite runs on them.

Usage: ``python .ci/wheel_into_tree.py WHEEL TREE``. The suite imports connmw from a
checkout (its servers are started from there too), so CI proves the wheel users get by
placing the wheel's extension modules beside the sources, where an extension module wins
over the ``.py`` of the same name. Every Python source the wheel holds must equal the
checkout's, byte for byte: the suite then runs exactly the wheel's code.
"""

from __future__ import annotations

import sys
import zipfile
from pathlib import Path

EXTENSIONS = (".so", ".pyd")


def main(wheel_path: str, tree_path: str) -> int:
    tree = Path(tree_path)
    placed: list[str] = []
    with zipfile.ZipFile(wheel_path) as wheel:
        for name in wheel.namelist():
            if name.endswith(".py") and name.startswith("connmw/"):
                if (tree / name).read_bytes() != wheel.read(name):
                    print(f"{name} differs between the wheel and {tree}", file=sys.stderr)
                    return 1
            elif name.endswith(EXTENSIONS):
                wheel.extract(name, tree)
                placed.append(name)
    if not any(name.startswith("connmw/") for name in placed):
        print(f"{wheel_path} holds no compiled connmw module", file=sys.stderr)
        return 1
    print(f"{len(placed)} extension modules from {Path(wheel_path).name}: {', '.join(sorted(placed))}")
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    sys.exit(main(sys.argv[1], sys.argv[2]))
