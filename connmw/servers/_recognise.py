"""Recognising the server behind a WSGI call or an ASGI ``send``, from what each module declares.

One generic reading of every profile's :class:`~connmw.servers._profile.Markers`, in the
registry's order, never a hand-written chain: the owner of the callable the server hands
the application (the class behind a bound method, a function's module), looked for
through wrappers that close over it; then, for WSGI, environ keys only one server sets.
``SERVER_SOFTWARE`` alone never recognises a server (another may borrow it). Nothing
matches: the unknown profile.

WSGI recognition runs on every request that is not remembered, so its answers are
cached by what identifies the callable (the class of a bound method's owner, a
function's code object), when the callable itself, not one it wraps, was recognised.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Mapping, Sequence
from types import BuiltinFunctionType, FunctionType, ModuleType
from typing import Any, Final, final

from ._profile import ServerProfile

__all__ = ["Recogniser", "identity", "module_of", "server_callable"]

_UNWRAP_LIMIT: Final = 16


def module_of(call: Any) -> str:
    """The module that made ``call``: its owner's class's for a bound method, a function's
    own, a callable object's class's; through ``functools.partial`` to the function."""
    while isinstance(call, functools.partial):
        call = call.func
    owner = getattr(call, "__self__", None)
    if owner is not None:
        return owner.__name__ if isinstance(owner, ModuleType) else type(owner).__module__
    if isinstance(call, (FunctionType, BuiltinFunctionType)):
        # Read loosely: a built-in of no module has None (uWSGI's), which a typed read rejects
        # in the compiled build.
        module: object = getattr(call, "__module__", None)
        return module if isinstance(module, str) else ""
    return type(call).__module__


def _within(module: str, owners: Sequence[str]) -> bool:
    return any(module == owner or module.startswith(owner + ".") for owner in owners)


def server_callable(call: Any, owners: Sequence[str]) -> Any:
    """``call`` or the first callable it wraps that one of ``owners`` made, or ``None``.

    Middlewares close over the server's callable (Starlette's ServerErrorMiddleware wraps
    ``send`` in a closure; wsgiref.validate wraps ``start_response``): this looks through
    closures and ``functools.partial`` arguments, breadth first, at no more than 16 callables.
    """
    queue = [call]
    for _ in range(_UNWRAP_LIMIT):
        if not queue:
            return None
        candidate = queue.pop(0)
        if _within(module_of(candidate), owners):
            return candidate
        if isinstance(candidate, functools.partial):
            queue.append(candidate.func)
            queue.extend(arg for arg in candidate.args if callable(arg) and not isinstance(arg, type))
            continue
        for cell in getattr(candidate, "__closure__", None) or ():
            with contextlib.suppress(ValueError):  # an empty cell
                value = cell.cell_contents
                if callable(value) and not isinstance(value, type):
                    queue.append(value)
    return None


def identity(call: Any) -> object:
    """What identifies a callable across requests: its owner's class, its code, or itself."""
    owner = getattr(call, "__self__", None)
    if owner is not None and not isinstance(owner, ModuleType):
        return type(owner)
    code = getattr(call, "__code__", None)
    if code is not None:
        return code
    return call if owner is not None or isinstance(call, BuiltinFunctionType) else type(call)


@final
class _Seen:
    """What a WSGI callable's identity told: the profile its owner names, or ``None``."""

    __slots__ = ("profile",)

    def __init__(self, profile: ServerProfile | None) -> None:
        self.profile = profile


@final
class Recogniser:
    """Recognises servers by the markers of ``profiles`` (in order); else ``unknown``."""

    def __init__(self, profiles: Sequence[ServerProfile], unknown: ServerProfile) -> None:
        self.unknown = unknown
        self._wsgi = tuple(p for p in profiles if "wsgi" in p.interfaces)
        self._asgi = tuple(p for p in profiles if "asgi" in p.interfaces)
        self._environ = tuple((key, p) for p in self._wsgi for key in p.markers.environ)
        self._wsgi_owners = tuple(owner for p in self._wsgi for owner in p.markers.owners)
        self._asgi_owners = tuple(owner for p in self._asgi for owner in p.markers.owners)
        self._seen: dict[object, _Seen] = {}

    # -- WSGI ----------------------------------------------------------------------

    def wsgi(self, environ: Mapping[str, Any], start_response: Any) -> ServerProfile:
        """The server behind this environ and ``start_response``, or the unknown profile."""
        seen = self._seen.get(identity(start_response))
        if seen is None:
            seen = self._learn(start_response)
        profile = seen.profile
        if profile is None:
            profile = self.unknown
            for key, candidate in self._environ:
                if key in environ:
                    profile = candidate
                    break
        kind = profile.kind
        return profile if kind is None else kind(environ)

    def _learn(self, start_response: Any) -> _Seen:
        """Read the owner of ``start_response``; remember it when nothing was unwrapped."""
        found = server_callable(start_response, self._wsgi_owners)
        seen = _Seen(None if found is None else _by_owner(self._wsgi, module_of(found)))
        wraps = isinstance(start_response, functools.partial) or bool(
            getattr(start_response, "__closure__", None)
        )
        if (found is start_response or not wraps) and len(self._seen) < 64:
            self._seen[identity(start_response)] = seen
        return seen

    def describe_wsgi(self, environ: Mapping[str, Any], start_response: Any) -> str:
        """How :meth:`wsgi` decided, in words for the log."""
        found = server_callable(start_response, self._wsgi_owners)
        if found is not None:
            return f"start_response of {module_of(found)}"
        for key, _ in self._environ:
            if key in environ:
                return f"environ key {key}"
        software = environ.get("SERVER_SOFTWARE")
        claims = [
            p.name for p in self._wsgi if software and str(software).startswith(p.markers.software or ("\0",))
        ]
        claim = f", which {claims[0]} sends, but nothing only {claims[0]} has confirmed it" if claims else ""
        return f"SERVER_SOFTWARE {software!r}{claim}; start_response of {module_of(start_response)}"

    # -- ASGI ----------------------------------------------------------------------

    def asgi(self, send: Any) -> ServerProfile:
        """The server behind an ASGI ``send`` (or a wrapper of it), or the unknown profile."""
        found = server_callable(send, self._asgi_owners)
        return (None if found is None else _by_owner(self._asgi, module_of(found))) or self.unknown

    def describe_asgi(self, send: Any) -> str:
        """How :meth:`asgi` decided, in words for the log."""
        found = server_callable(send, self._asgi_owners)
        return f"send of {module_of(send if found is None else found)}"


def _by_owner(profiles: Sequence[ServerProfile], module: str) -> ServerProfile | None:
    for profile in profiles:
        if _within(module, profile.markers.owners):
            return profile
    return None
