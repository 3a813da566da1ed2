"""The process-wide drain flag, read by both adapters on every request.

A native class in the compiled build, so that ``DRAIN.on`` is a field read there, not a
Python attribute lookup. :mod:`connmw.lifecycle` turns it on and off (:func:`connmw.drain`).
"""

from __future__ import annotations

from typing import Final, final

__all__ = ["DRAIN", "DrainFlag"]


@final  # compiled in the accelerated build
class DrainFlag:
    """Whether :func:`connmw.drain` is in force in this process (``on``)."""

    __slots__ = ("on",)

    def __init__(self) -> None:
        self.on = False


DRAIN: Final = DrainFlag()
"""The one flag every middleware of the process reads."""
