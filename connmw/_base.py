"""What both middlewares share: building the settings, the rules and the counters once."""

from __future__ import annotations

from typing import Any

from .config import Config, load_config
from .errors import ConfigError
from .lifecycle import Lifecycle
from .report import Reporter, Stats
from .rules import Policy

__all__ = ["MiddlewareBase"]


class MiddlewareBase:
    """Settings, rules core, lifecycle and counters of one middleware instance.

    Everything here is built in ``__init__``, so a bad ``CONNMW_*`` value stops
    start-up (never the first request); the adapters copy the flags they test per
    request into attributes of their own.
    """

    def __init__(self, config: Config | None, options: dict[str, Any]) -> None:
        if config is not None and options:
            raise ConfigError(f"pass either config or keyword options, not both (got {sorted(options)})")
        self._config = config if config is not None else load_config(**options)
        self._policy = self._config.policy()
        self._reporter = Reporter()
        self._lifecycle = Lifecycle(self._config)
        self._lifecycle_on = self._lifecycle.limited or self._config.drain_file is not None
        self._enabled = self._config.enabled
        self._strict = self._config.strict
        self._strip_request = self._config.strip_request_headers
        self._buffer_limit = self._config.http10_buffer_bytes
        self._ready_path = self._config.ready_path if self._enabled else None

    @property
    def config(self) -> Config:
        """The settings this middleware was built with."""
        return self._config

    @property
    def policy(self) -> Policy:
        """The rules core configured by :attr:`config`."""
        return self._policy

    @property
    def stats(self) -> Stats:
        """Counters of corrections, refused handshakes and closed connections."""
        return self._reporter.stats
