"""The exceptions connmw raises.

Every error derives from :class:`ConnmwError`. Configuration mistakes are found when a
middleware is built (never at the first request) and raise :class:`ConfigError`.
Protocol problems carry ``status_hint``: the HTTP status a server would answer with,
in the manner of h11's ``error_status_hint``.
"""

from __future__ import annotations

__all__ = [
    "ConfigError",
    "ConnmwError",
    "ForbiddenBodyError",
    "ForbiddenHeaderError",
    "ProtocolError",
    "SwitchingProtocolsError",
]


class ConnmwError(Exception):
    """Base class of every exception raised by connmw."""


class ConfigError(ConnmwError, ValueError):
    """A keyword argument or ``CONNMW_*`` variable has a value connmw cannot accept.

    The message names the setting, the value given and the accepted forms, e.g.
    ``CONNMW_KEEP_ALIVE_TIMEOUT='soon': expected a whole number of seconds >= 1``.
    """


class ProtocolError(ConnmwError):
    """An HTTP message breaks a rule connmw enforces.

    ``status_hint`` is the status the exchange should be answered with.
    """

    status_hint: int = 500

    def __init__(self, message: str, *, status_hint: int | None = None) -> None:
        super().__init__(message)
        if status_hint is not None:
            self.status_hint = status_hint


class ForbiddenHeaderError(ProtocolError):
    """Strict mode: the application itself sent a header connmw would have removed.

    ``header`` is the lower-case name of the first offending header.
    """

    def __init__(self, header: str, why: str) -> None:
        if why == "strip_headers":
            message = f"app sent header {header!r}, which strip_headers (CONNMW_STRIP_HEADERS) removes"
        else:
            message = f"app sent {why} header {header!r}"
        super().__init__(message, status_hint=500)
        self.header = header


class ForbiddenBodyError(ProtocolError):
    """Strict mode: the application sent body bytes in a response that has no content.

    A response to HEAD and every 1xx, 204 and 304 response end with their header section
    (RFC 9110 §6.4.1); ``reason`` is ``"head"``, ``"1xx"``, ``"204"`` or ``"304"``.
    """

    def __init__(self, reason: str) -> None:
        what = "a response to HEAD" if reason == "head" else f"a {reason} response"
        super().__init__(f"app sent body bytes in {what}, which has no content (RFC 9110 §6.4.1)")
        self.reason = reason


class SwitchingProtocolsError(ProtocolError):
    """The application answered 101 where RFC 9110 §7.8 does not allow it.

    A 101 to a request that asked for no upgrade, or to a protocol the client did not
    offer, or a WebSocket 101 whose Sec-WebSocket-Accept does not match the key.
    """
