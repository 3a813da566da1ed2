"""What both middlewares share: building the settings, the rules and the counters once.

The adapters hold a :class:`Core` rather than inherit from one: mypyc (the accelerated
build) crashes calling an instance of a compiled class that defines ``__call__`` when its
compiled base class does not (docs/benchmarks.md, "Spellings the hot path keeps"), and
a compiled class with a Python base is no native class at all (its attributes then live
in a ``__dict__``, looked up by name on every request).
"""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable, Hashable, MutableMapping, Sequence
from typing import Any, TypeVar, final

from . import metrics
from ._counters import Reporter, logger
from ._drain_flag import DRAIN
from .config import Config, load_config
from .errors import ConfigError, ForbiddenHeaderError
from .lifecycle import Lifecycle
from .rules import PlannedResponse, Policy, RequestFacts
from .servers import ServerProfile, profile

__all__ = ["Core", "Decided", "built_by_a_running_server", "refuse_to_run", "warn_nested", "wrapped_app"]

Decided = tuple["str | None", "int | None"]
"""The lifecycle's verdict for one response (:meth:`Core.limits`): why it closes, requests left."""

App = TypeVar("App")
Done = TypeVar("Done")

_warned_nested: list[bool] = []  # once per process, like every connmw warning


@final
class Core:
    """Settings, rules core, lifecycle and counters of one middleware instance (and the
    process's metrics backend, turned on by the first middleware configured with one).

    Everything here is built in ``__init__``, so a bad ``CONNMW_*`` value stops
    start-up (never the first request); the adapters copy the flags they test per
    request into attributes of their own.
    """

    def __init__(self, config: Config | None, options: dict[str, Any], interface: str) -> None:
        if config is not None and options:
            raise ConfigError(f"pass either config or keyword options, not both (got {sorted(options)})")
        self.config: Config = config if config is not None else load_config(**options)
        self.policy: Policy = self.config.policy()
        self.reporter = Reporter(self.policy.why_removed)
        metrics.enable(self.config.metrics)  # process-wide; "none" leaves it as it is
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

    def limits(self, facts: RequestFacts, key: Hashable | None) -> Decided:
        """Why connmw's lifecycle closes this request's connection (drain, a limit), if it does,
        and how many requests are left on it: asked only where drain or limits are on (an
        HTTP/2 or HTTP/3 connection is the server's alone).

        :param facts: the request's facts.
        :param key: the connection, as the lifecycle knows it (``None``: unknown).
        """
        if facts.multiplexed or not (self.lifecycle_on or DRAIN.on):
            return None, None
        return self.lifecycle.decide(key)

    def removed(self, names: Sequence[bytes], *, may_raise: bool = True) -> None:
        """Headers the rules removed as corrections: counted and logged, or in strict mode
        (and when ``may_raise``: never over the application's own error) raised."""
        if self.strict and may_raise:
            name = names[0]
            raise ForbiddenHeaderError(name.decode("latin-1"), self.policy.why_removed(name))
        self.reporter.stripped(names)

    def settle(
        self,
        plan: PlannedResponse,
        key: Hashable | None,
        persist: Callable[[bool], Done] | None = None,
        *,
        refused: bool = False,
    ) -> Done | None:
        """Carry out a planned response's close once it started, the same way on both
        interfaces: count the close by its reason, forget the connection's count when the
        close is not the lifecycle's own, and ask the server's hook to keep or close.

        :param plan: the rules' plan for this response (:meth:`Policy.plan_response`).
        :param key: the connection, as the lifecycle knows it (``None``: unknown).
        :param persist: the server's hook, given whether to keep the connection; ``None``: none.
        :param refused: the server refused connmw's field (WSGI): it keeps or closes the
            connection as it does alone, so connmw counts no close.

        Returns what the hook returned (``None`` when not asked).
        """
        close = plan.close and not refused
        reason = plan.close_reason
        if close and reason is not None:
            self.reporter.closed(reason)
            if plan.forget and self.lifecycle_on:
                self.lifecycle.forget(key)
        if persist is not None and plan.ask_server:
            return persist(not close)
        return None


def wrapped_app(given: App | None, keyword: App | None) -> App:
    """The application to wrap, given positionally (``given``) or as ``app=`` (``keyword``).

    Frameworks build middlewares both ways: Starlette's ``add_middleware`` positionally,
    Litestar's ``DefineMiddleware`` with ``app=``. Both at once, or neither, is the
    caller's mistake: a ``TypeError``, as Python raises for any function.
    """
    if given is not None and keyword is not None:
        raise TypeError("ConnectionMiddleware() got two applications: one positionally and one as app=")
    app = keyword if given is None else given
    if app is None:
        raise TypeError("ConnectionMiddleware() missing the application to wrap: 'app'")
    return app


def built_by_a_running_server() -> bool:
    """Whether an event loop runs in this thread: asyncio's (uvicorn, hypercorn, granian,
    daphne through Twisted's asyncio reactor) or trio's.

    Starlette and FastAPI build their middleware stack on the application's first ASGI
    call (``add_middleware`` only records the class and its keywords); that call is the
    lifespan startup, or the first request when the server sends no lifespan. A
    middleware built there cannot stop start-up by raising, since the server reads an
    exception from the lifespan call as "lifespan not supported" and goes on serving.
    Outside a running loop (an application module imported by gunicorn, daphne,
    hypercorn) a bad setting raises at once. Modules are looked up, not imported: when
    neither library is loaded, no loop of theirs can be running.
    """
    asyncio = sys.modules.get("asyncio")
    if asyncio is not None:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            pass
        else:
            return True
    trio = sys.modules.get("trio")
    if trio is not None:
        try:
            trio.lowlevel.current_trio_token()
        except RuntimeError:
            pass
        else:
            return True
    return False


def warn_nested(how: str) -> None:
    """Log once per process that connmw wraps connmw (``how`` says where it was seen).

    Two instances each decide the connection's fields, and the inner one with its own
    settings: its Origin check, for one, refuses what the outer one's allow-list admits.
    """
    if not _warned_nested:
        _warned_nested.append(True)
        logger.warning(
            "connmw wraps connmw (%s): each instance applies its own settings, and the inner "
            "one's defaults may refuse what the outer one allows; add ConnectionMiddleware once",
            how,
        )


async def refuse_to_run(
    failure: str,
    scope: MutableMapping[str, Any],
    receive: Callable[[], Awaitable[MutableMapping[str, Any]]],
    send: Callable[[MutableMapping[str, Any]], Awaitable[None]],
) -> None:
    """How an ASGI middleware built with a bad setting inside a running server answers.

    Never by passing a call on to the application: the lifespan startup fails with the
    message (uvicorn and hypercorn log it and exit); every other call raises
    :class:`connmw.ConfigError` (the server logs it and answers 500).
    """
    if scope["type"] == "lifespan":
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.failed", "message": f"connmw.ConfigError: {failure}"})
        else:
            await send({"type": "lifespan.shutdown.complete"})
        return
    raise ConfigError(failure)
