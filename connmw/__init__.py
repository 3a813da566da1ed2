"""connmw: HTTP connection handling that is correct and the same on every server.

Paired middlewares share one rules core:

* :mod:`connmw.asgi` — ``ConnectionMiddleware`` for Starlette, FastAPI, Django's ASGI
  handler or any ASGI application;
* :mod:`connmw.wsgi` — ``ConnectionMiddleware`` for Flask, Django or any WSGI
  application;
* :mod:`connmw.rules` — the pure, I/O-free decisions both adapters follow;
* :mod:`connmw.config` — the settings, from keywords and ``CONNMW_*`` variables.

``connmw.accelerated`` says whether this installation runs the optional compiled build
(the rules, both adapters and the server table compiled with mypyc; docs/install.md): same
code, same behaviour, less time per request. Without it the pure-Python modules run.
"""

from __future__ import annotations

from . import rules as _rules
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
    "undrain",
]

__version__ = "0.1.0"

accelerated: bool = not (_rules.__file__ or "").endswith(".py")
"""Whether the compiled build of :mod:`connmw.rules` and :mod:`connmw.asgi` is running."""
