"""connmw: HTTP connection handling that is correct and the same on every server.

Paired middlewares share one rules core:

* :mod:`connmw.asgi` — ``ConnectionMiddleware`` for Starlette, FastAPI, Django's ASGI
  handler or any ASGI application;
* :mod:`connmw.wsgi` — ``ConnectionMiddleware`` for Flask, Django or any WSGI
  application;
* :mod:`connmw.rules` — the pure, I/O-free decisions both adapters follow;
* :mod:`connmw.config` — the settings, from keywords and ``CONNMW_*`` variables;
* :func:`connmw.stats` — every middleware's counters in this process, however it was added;
* :mod:`connmw.metrics` — the same counters as Prometheus or OpenTelemetry metrics
  (``CONNMW_METRICS``; optional extras, imported only when turned on).

``import connmw`` never checks the environment; importing :mod:`connmw.asgi` or
:mod:`connmw.wsgi` does (:func:`connmw.config.check_environment`), so that a
``CONNMW_*`` typo stops start-up before a framework builds the middleware.

``connmw.accelerated`` says whether this installation runs the optional compiled build
(docs/install.md): every module on a request's path compiled with mypyc (the rules, both
adapters and what they share, the server modules: the list is pyproject.toml's mypyc hook),
same code, same behaviour, less time per request. Without it the pure-Python modules run.
"""

from __future__ import annotations

from . import rules as _rules
from ._counters import stats
from .config import Config, load_config
from .errors import (
    ConfigError,
    ConnmwError,
    ForbiddenBodyError,
    ForbiddenHeaderError,
    ProtocolError,
    SwitchingProtocolsError,
)
from .lifecycle import drain, draining, undrain
from .rules import Policy, RequestFacts, forwardable_headers

__all__ = [
    "Config",
    "ConfigError",
    "ConnmwError",
    "ForbiddenBodyError",
    "ForbiddenHeaderError",
    "Policy",
    "ProtocolError",
    "RequestFacts",
    "SwitchingProtocolsError",
    "__version__",
    "accelerated",
    "drain",
    "draining",
    "forwardable_headers",
    "load_config",
    "stats",
    "undrain",
]

__version__ = "0.2.0"

accelerated: bool = not (_rules.__file__ or "").endswith(".py")
"""Whether the compiled build is running (every module of pyproject.toml's mypyc hook is
compiled, or none: ``tests/test_build.py``); read from :mod:`connmw.rules`."""
