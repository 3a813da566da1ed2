"""Whether an application ``connmw check`` loaded is wrapped by connmw, and with which settings.

The check serves the application as it is; a clean report from an application that connmw
does not wrap says nothing about connmw. So the loaded object is looked into before it is
served, the way each framework keeps its middleware: Starlette's and FastAPI's
``user_middleware`` (``add_middleware`` records the class and its keywords there and builds
the instances later), Litestar's ``middleware`` list (``DefineMiddleware``), Flask's
``wsgi_app`` and Quart's ``asgi_app``, and the ``.app`` attribute middlewares keep their
application in (connmw's own, Starlette's, werkzeug's ProxyFix). Django's handlers,
Flask's own ``wsgi_app`` and a Starlette application end a chain: behind them there is
no middleware of this kind. Anything else (a function, an object of unknown shape) could
call connmw from inside, so the answer is then "could not tell", never a guess.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, fields
from typing import Any

from ..config import Config, load_config
from ..errors import ConfigError

__all__ = ["Wrapping", "wrapping"]

_ADAPTERS = ("connmw.asgi", "connmw.wsgi")
_DEPTH = 32  # middleware chains are short; a longer one is a cycle we did not see
# The method a framework's application object serves through, which its documentation
# replaces with a middleware around it: Flask's wsgi_app, Quart's asgi_app.
_OWN_APP_METHODS = ("wsgi_app", "asgi_app")


@dataclass(frozen=True)
class Found:
    """One connmw middleware in front of the application, outermost first."""

    via: str
    options: dict[str, Any]
    error: str | None = None


@dataclass(frozen=True)
class Wrapping:
    """``wrapped``: True, False, or None when it cannot be told."""

    wrapped: bool | None
    found: tuple[Found, ...] = ()
    looked: str = ""

    def to_json(self) -> dict[str, Any]:
        """The ``connmw`` object of the ``connmw-check/1`` document."""
        first = self.found[0] if self.found else None
        return {
            "wrapped": self.wrapped,
            "instances": len(self.found),
            "via": first.via if first else None,
            "options": _jsonable(first.options) if first else None,
            "error": first.error if first else None,
        }

    def lines(self) -> list[str]:
        """The text report's lines: what wraps the app, or a warning that nothing does."""
        if self.wrapped is None:
            return [
                f"connmw: could not tell whether connmw wraps this app ({self.looked}); connmw looks "
                "into Starlette, FastAPI and Litestar middleware, Flask's wsgi_app, Quart's asgi_app, "
                "Django's handlers and .app chains"
            ]
        if not self.wrapped:
            return [
                f"warning: connmw does not wrap this app ({self.looked}): what follows is the server's "
                "and the app's own behaviour; add ConnectionMiddleware (README, Quickstart)"
            ]
        first = self.found[0]
        settings = ", ".join(f"{key}={value!r}" for key, value in first.options.items()) or "defaults"
        lines = [f"connmw: wraps this app ({first.via}); settings: {settings}"]
        if first.error is not None:
            lines.append(f"warning: connmw's settings fail: {first.error}")
        if len(self.found) > 1:
            where = "; ".join(found.via for found in self.found)
            lines.append(f"warning: connmw wraps this app {len(self.found)} times ({where}): add it once")
        return lines


def wrapping(app: Any) -> Wrapping:
    """Look into ``app`` for connmw's middlewares (see the module's docstring)."""
    found: list[Found] = []
    certain, looked = _walk(app, "ConnectionMiddleware is the application", found, 0, set())
    if found:
        return Wrapping(True, tuple(found), looked)
    return Wrapping(False if certain else None, (), looked)


def _walk(obj: Any, via: str, found: list[Found], depth: int, seen: set[int]) -> tuple[bool, str]:
    """Follow one chain; ``(whether it ended where nothing more can hide, what ended it)``."""
    if depth > _DEPTH or id(obj) in seen:
        return False, "a chain too deep to follow"
    seen.add(id(obj))
    if _is_connmw(type(obj)):
        found.append(Found(via, _changed(obj.config)))
        return _walk(obj.app, "around another connmw", found, depth + 1, seen)
    kind = type(obj)
    user = getattr(obj, "user_middleware", None)
    if isinstance(user, list) and hasattr(obj, "build_middleware_stack"):  # Starlette, FastAPI
        for middleware in user:  # outermost first, as add_middleware inserts them
            if _is_connmw(getattr(middleware, "cls", None)):
                found.append(_from_keywords(f"{kind.__name__}'s add_middleware", middleware))
        return True, f"{kind.__name__}'s middleware list"
    if kind.__module__.startswith("litestar.") and isinstance(getattr(obj, "middleware", None), list):
        for middleware in obj.middleware:  # DefineMiddleware(cls, **kwargs), or the class itself
            cls = getattr(middleware, "middleware", middleware)
            if _is_connmw(cls):
                found.append(_from_keywords(f"{kind.__name__}'s middleware=[...]", middleware))
        # Litestar runs these around each route handler, after routing (docs/frameworks.md)
        return True, f"{kind.__name__}'s middleware list"
    for name in _OWN_APP_METHODS:
        inner_app = getattr(obj, name, None)
        if callable(inner_app):  # Flask, Quart: their own method, or what replaced it
            if getattr(inner_app, "__self__", None) is obj and getattr(inner_app, "__name__", "") == name:
                return True, f"{kind.__name__}'s own {name}"
            return _walk(inner_app, f"{kind.__name__}'s {name}", found, depth + 1, seen)
    if kind.__module__.startswith("django.core.handlers."):
        return True, f"Django's {kind.__name__}"
    if getattr(obj, "__self__", None) is not None and getattr(obj, "__name__", "") in _OWN_APP_METHODS:
        owner = obj.__self__  # a Flask or Quart app's own method, given as the target
        return True, f"{type(owner).__name__}'s own {obj.__name__}"
    inner = getattr(obj, "app", None)
    if callable(inner) and inner is not obj:
        return _walk(inner, f"inside {kind.__name__}", found, depth + 1, seen)
    what = getattr(obj, "__qualname__", None) or kind.__name__
    return False, f"{what} cannot be looked into"


def _is_connmw(cls: Any) -> bool:
    """Whether ``cls`` is one of connmw's middleware classes (no adapter is imported for it)."""
    return isinstance(cls, type) and any(
        cls is getattr(sys.modules.get(module), "ConnectionMiddleware", None) for module in _ADAPTERS
    )


def _from_keywords(via: str, middleware: Any) -> Found:
    """A middleware ``add_middleware`` recorded but has not built: its settings from its keywords."""
    keywords = dict(getattr(middleware, "kwargs", {}) or {})
    try:
        config = keywords.pop("config", None)
        if config is not None and not keywords:
            return Found(via, _changed(config))
        return Found(via, _changed(load_config(**keywords)))
    except ConfigError as error:
        return Found(via, {}, str(error))


def _changed(config: Config) -> dict[str, Any]:
    """The settings that differ from the defaults (keywords over ``CONNMW_*``)."""
    return {
        option.name: getattr(config, option.name)
        for option in fields(config)
        if getattr(config, option.name) != option.default
    }


def _jsonable(options: dict[str, Any]) -> dict[str, Any]:
    return {key: list(value) if isinstance(value, tuple) else value for key, value in options.items()}
