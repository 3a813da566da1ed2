"""``python -m connmw``: the ``connmw`` command without the console script."""

from __future__ import annotations

import sys

from .tool.cli import main

if __name__ == "__main__":
    sys.exit(main())
