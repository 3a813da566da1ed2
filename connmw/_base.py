"""What both middlewares share: building the settings, the rules and the counters once.

The adapters hold a :class:`Core` rather than inherit from one: mypyc (the accelerated
build) crashes calling an instance of a compiled class that defines ``__call__`` when its
compiled base class does not (mypy 2.4, reproduced with a five-line pair of classes), and
a compiled class with a Python base is no native class at all (its attributes then live
in a ``__dict__``, looked up by name on every request).
"""

from __future__ import annotations

from typing import Any, final

from .config import Config, load_config
from .errors import ConfigError
from .lifecycle import Lifecycle
from .report import Reporter
from .rules import Policy
from .servers import ServerProfile, profile

__all__ = ["Core"]


@final
class Core:
    """Settings, rules core, lifecycle and counters of one middleware instance.

    Everything here is built in ``__init__``, so a bad ``CONNMW_*`` value stops
    start-up (never the first request); the adapters copy the flags they test per
    request into attributes of their own.
    """

    def __init__(self, config: Config | None, options: dict[str, Any], interface: str) -> None:
        if config is not None and options:
            raise ConfigError(f"pass either config or keyword options, not both (got {sorted(options)})")
        self.config: Config = config if config is not None else load_config(**options)
        self.policy: Policy = self.config.policy()
        self.reporter = Reporter()
        self.lifecycle = Lifecycle(self.config)
        self.lifecycle_on: bool = self.lifecycle.limited or self.config.drain_file is not None
        self.enabled: bool = self.config.enabled
        self.strict: bool = self.config.strict
        self.strip_request: bool = self.config.strip_request_headers
        self.buffer_limit: int = self.config.http10_buffer_bytes
        self.ready_path: str | None = self.config.ready_path if self.enabled else None
        self.forced: ServerProfile | None = profile(self.config.server)
        """The profile ``CONNMW_SERVER`` names; ``None``: recognise the server."""
        if self.forced is not None and interface not in self.forced.interfaces:
            raise ConfigError(
                f"server={self.config.server!r} (CONNMW_SERVER) serves no {interface.upper()} "
                "application: expected auto, unknown, or a server of that interface (docs/servers.md)"
            )
