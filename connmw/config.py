"""connmw's settings: one immutable object, read once, shared by both middlewares.

This is the only module that reads ``CONNMW_*`` environment variables. Every option is
a keyword argument of the middlewares and a variable ``CONNMW_<NAME>`` (the keyword
in upper case). A keyword wins over the environment, the environment over the default.
Values are parsed strictly when the middleware is built, so a deployment with a typo
fails at start-up with a message naming the variable, the value and what is accepted,
never at the first request. The environment alone is checked earlier still, when
:mod:`connmw.asgi` or :mod:`connmw.wsgi` is imported (:func:`check_environment`): that is
the moment an application hands the middleware class to its framework, before any server
runs, so a typo stops every server, also one that builds its middleware lazily.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, fields
from typing import Any

from .errors import ConfigError
from .metrics import BACKENDS as METRICS_BACKENDS
from .metrics import missing as metrics_missing
from .rules import OriginPolicy, Policy, is_token
from .servers import NAMES as SERVER_NAMES

__all__ = ["PREFIX", "Config", "check_environment", "load_config"]

PREFIX = "CONNMW_"

_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})


# -- parsers: text (from the environment) or a Python value (from a keyword) -----------


def _boolean(value: object) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise ValueError


def _whole(minimum: int) -> Callable[[object], int]:
    def parse(value: object) -> int:
        if isinstance(value, bool):
            raise ValueError
        if isinstance(value, int):
            number = value
        elif isinstance(value, str) and value.strip().isdigit() and value.strip().isascii():
            number = int(value.strip())
        else:
            raise ValueError
        if number < minimum:
            raise ValueError
        return number

    return parse


def _seconds(value: object) -> float:
    """A finite number of seconds >= 0: an int or float, or its decimal text (``2``, ``0.5``)."""
    if isinstance(value, bool):
        raise ValueError
    if isinstance(value, (int, float)):
        number = float(value)
    elif isinstance(value, str) and value.strip() and all(c in "0123456789." for c in value.strip()):
        number = float(value.strip())  # ValueError for "1.2.3" or "."
    else:
        raise ValueError
    if not 0.0 <= number < float("inf"):
        raise ValueError
    return number


def _optional(parse: Callable[[object], Any]) -> Callable[[object], Any]:
    def parse_optional(value: object) -> Any:
        if value is None or (isinstance(value, str) and value.strip().lower() in ("", "none", "off")):
            return None
        return parse(value)

    return parse_optional


def _names(value: object) -> tuple[str, ...]:
    """Header names; no prefixes (a stripped ``x-acme-*`` would match nothing)."""
    items = _items(value)
    for item in items:
        if not is_token(item.encode("latin-1", "replace")) or item.endswith("*"):
            raise ValueError
    return tuple(item.lower() for item in items)


def _names_or_prefixes(value: object) -> tuple[str, ...]:
    """Header names, or prefixes written ``x-acme-*``."""
    items = _items(value)
    for item in items:
        name = item[:-1] if item.endswith("*") else item
        if not is_token(name.encode("latin-1", "replace")):
            raise ValueError
    return tuple(item.lower() for item in items)


def _origins(value: object) -> tuple[str, ...]:
    items = _items(value)
    OriginPolicy(items)  # raises ValueError with the offending pattern
    return items


def _items(value: object) -> tuple[str, ...]:
    if isinstance(value, str):
        parts: Iterable[object] = value.split(",")
    elif isinstance(value, (list, tuple, set, frozenset)):
        parts = value
    else:
        raise ValueError
    items: list[str] = []
    for part in parts:
        if not isinstance(part, str):
            raise ValueError
        if part.strip():
            items.append(part.strip())
    return tuple(items)


def _url_path(value: object) -> str:
    """An absolute URL path: ``/`` first, no query, fragment, white space or control."""
    if (
        isinstance(value, str)
        and value.startswith("/")
        and value.isprintable()
        and not any(char in value for char in " ?#\t")
    ):
        return value
    raise ValueError


def _server(value: object) -> str:
    """``auto``, ``unknown`` or a server's name (connmw.servers)."""
    if isinstance(value, str) and value.strip().lower() in SERVER_NAMES:
        return value.strip().lower()
    raise ValueError


class _UnusableError(ValueError):
    """A value connmw accepts that cannot work here (its message says why and what to do)."""


def _metrics(value: object) -> str:
    """``none``, or a metrics backend whose package is installed (connmw.metrics)."""
    if not isinstance(value, str) or value.strip().lower() not in ("none", *METRICS_BACKENDS):
        raise ValueError
    backend = value.strip().lower()
    problem = None if backend == "none" else metrics_missing(backend)
    if problem is not None:
        raise _UnusableError(problem)
    return backend


def _path(value: object) -> str:
    if isinstance(value, os.PathLike):
        value = os.fspath(value)
    if isinstance(value, str) and value.strip():
        return value
    raise ValueError


@dataclass(frozen=True)
class _Option:
    parse: Callable[[object], Any]
    accepted: str


_OPTIONS: dict[str, _Option] = {
    "enabled": _Option(_boolean, "a boolean: 1/0, true/false, yes/no, on/off"),
    "strict": _Option(_boolean, "a boolean: 1/0, true/false, yes/no, on/off"),
    "explicit_keep_alive": _Option(_boolean, "a boolean: 1/0, true/false, yes/no, on/off"),
    "http10_keep_alive": _Option(_boolean, "a boolean: 1/0, true/false, yes/no, on/off"),
    "strip_headers": _Option(_names, "comma-separated header names (not protected ones)"),
    "protected_headers": _Option(_names_or_prefixes, "comma-separated header names; 'x-acme-*' for a prefix"),
    "strip_request_headers": _Option(_boolean, "a boolean: 1/0, true/false, yes/no, on/off"),
    "max_connection_tokens": _Option(_whole(1), "a whole number >= 1"),
    "ws_validate": _Option(_boolean, "a boolean: 1/0, true/false, yes/no, on/off"),
    "ws_allowed_origins": _Option(
        _origins, "comma-separated origins: scheme://host[:port], scheme://*.domain, '*' or 'null'"
    ),
    "http10_buffer_bytes": _Option(_whole(0), "a whole number of bytes >= 0 (0: never buffer)"),
    "drain_file": _Option(_optional(_path), "a file path (empty for none)"),
    "drain_window": _Option(_seconds, "a number of seconds >= 0, such as 5 or 2.5 (0: all at once)"),
    "drain_stream_retry": _Option(
        _optional(_whole(0)), "a whole number of milliseconds >= 0 (empty for none)"
    ),
    "keep_alive_timeout": _Option(_optional(_whole(1)), "a whole number of seconds >= 1 (empty for none)"),
    "max_requests_per_connection": _Option(_optional(_whole(1)), "a whole number >= 1 (empty for none)"),
    "max_connection_age": _Option(_optional(_whole(1)), "a whole number of seconds >= 1 (empty for none)"),
    "ready_path": _Option(_optional(_url_path), "a URL path starting with '/', no query (empty for none)"),
    "server": _Option(_server, "auto (recognise it), unknown, or one of: " + ", ".join(SERVER_NAMES[2:])),
    "metrics": _Option(_metrics, "none, or a metrics backend: " + ", ".join(METRICS_BACKENDS)),
}


@dataclass(frozen=True)
class Config:
    """Every connmw setting, validated. Build it with :func:`load_config`.

    Each field is a keyword of :func:`load_config` and of both middlewares, and the
    variable ``CONNMW_<FIELD>``; the README's configuration table says what each does and
    :func:`describe_options` lists what each accepts. Immutable: one is shared by every
    request of a middleware.
    """

    enabled: bool = True
    strict: bool = False
    explicit_keep_alive: bool = True
    http10_keep_alive: bool = False
    strip_headers: tuple[str, ...] = ()
    protected_headers: tuple[str, ...] = ()
    strip_request_headers: bool = False
    max_connection_tokens: int = 16
    ws_validate: bool = True
    ws_allowed_origins: tuple[str, ...] = ()
    http10_buffer_bytes: int = 1 << 20
    drain_file: str | None = None
    drain_window: float = 5.0
    drain_stream_retry: int | None = None
    keep_alive_timeout: int | None = None
    max_requests_per_connection: int | None = None
    max_connection_age: int | None = None
    ready_path: str | None = None
    server: str = "auto"
    metrics: str = "none"

    def policy(self) -> Policy:
        """The rules core configured by these settings."""
        return Policy(
            explicit_keep_alive=self.explicit_keep_alive,
            http10_keep_alive=self.http10_keep_alive,
            strip_headers=self.strip_headers,
            protected_headers=self.protected_headers,
            max_connection_tokens=self.max_connection_tokens,
            keep_alive_timeout=self.keep_alive_timeout,
            allowed_origins=self.ws_allowed_origins,
        )


def load_config(environ: Mapping[str, str] | None = None, **options: object) -> Config:
    """Build a :class:`Config` from keyword options over ``CONNMW_*`` variables.

    Args:
        environ: where the ``CONNMW_*`` variables are read; ``os.environ`` when None.
        **options: any setting of :class:`Config` by its name; a keyword wins over its
            variable, a variable over the default.

    Returns:
        The validated settings, with the :class:`~connmw.rules.Policy` they configure
        already built once (so that a protected name in ``strip_headers`` fails here).

    Raises:
        ConfigError: for an unknown option or variable (with the closest known name) and
            for any value that does not parse, naming the setting, the value and the
            accepted forms.
    """
    env = os.environ if environ is None else environ
    for key in options:
        if key not in _OPTIONS:
            raise ConfigError(f"unknown connmw option {key!r}{_did_you_mean(key)}")
    for variable in env:
        if variable.startswith(PREFIX) and variable[len(PREFIX) :].lower() not in _OPTIONS:
            raise ConfigError(
                f"unknown variable {variable}{_did_you_mean(variable[len(PREFIX) :].lower(), env=True)}"
            )

    values: dict[str, Any] = {}
    labels: dict[str, str] = {}
    for key, option in _OPTIONS.items():
        variable = PREFIX + key.upper()
        if key in options:
            raw: object = options[key]
            label = f"{key}={raw!r}"
        elif variable in env:
            raw = env[variable]
            label = f"{variable}={raw!r}"
        else:
            continue
        labels[key] = label
        try:
            values[key] = option.parse(raw)
        except _UnusableError as error:
            raise ConfigError(f"{label}: {error}") from None
        except ValueError as error:
            detail = f" ({error})" if str(error) else ""
            raise ConfigError(f"{label}: expected {option.accepted}{detail}") from None
    config = Config(**values)
    try:
        config.policy()
    except ValueError as error:  # a protected name in strip_headers
        label = labels.get("strip_headers", "strip_headers")
        raise ConfigError(f"{label}: expected {_OPTIONS['strip_headers'].accepted} ({error})") from None
    return config


def check_environment(environ: Mapping[str, str] | None = None) -> None:
    """Raise :class:`~connmw.errors.ConfigError` for any ``CONNMW_*`` variable connmw cannot use.

    Importing :mod:`connmw.asgi` or :mod:`connmw.wsgi` calls it, so that a typo stops
    start-up before any framework builds a middleware; ``import connmw`` and the ``connmw``
    command do not, so that they can report it. Every variable is checked, also one a
    keyword argument will override.

    Args:
        environ: the variables to check; ``os.environ`` when None.

    Raises:
        ConfigError: for an unknown name (with the closest known one) or a value that
            does not parse, with the message :func:`load_config` gives.
    """
    load_config(os.environ if environ is None else environ)


def _did_you_mean(name: str, *, env: bool = False) -> str:
    close = difflib.get_close_matches(name, list(_OPTIONS), n=1)
    if not close:
        return f"; known: {', '.join(sorted(_OPTIONS))}"
    return f"; did you mean {PREFIX + close[0].upper() if env else close[0]!r}?"


def describe_options() -> list[tuple[str, str, str, str]]:
    """The settings as rows for documentation and ``--help``.

    Returns:
        One ``(variable, keyword, default, accepted)`` tuple per setting: ``default`` as
        ``repr`` gives it, ``accepted`` the forms a bad value's error message names.
    """
    defaults = {f.name: f.default for f in fields(Config)}
    return [
        (PREFIX + key.upper(), key, repr(defaults[key]), option.accepted) for key, option in _OPTIONS.items()
    ]
