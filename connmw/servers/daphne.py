"""daphne (ASGI on Twisted and autobahn).

Twisted decides persistence from the request alone and never reads the response's
Connection field, and sets its own ``close`` for a request that said close, beside which
daphne would add the application's. connmw sets the channel's flag and removes Twisted's
field (:func:`persist`), and answers a refused WebSocket handshake through autobahn
(:func:`refuse_handshake`): daphne offers no ``websocket.http.response``. Drain's close
of a WebSocket with 1001 goes through autobahn too (:func:`close_websocket`).
"""

from __future__ import annotations

import functools
from typing import Any, Final

from ..rules import ServerTraits
from ._profile import Fields, Markers, ServerProfile
from ._recognise import server_callable

__all__ = ["DAPHNE", "PROFILES", "close_websocket", "persist", "refuse_handshake"]


def _request(send: Any) -> Any:
    # daphne gives applications functools.partial(Server.handle_reply, protocol).
    raw = server_callable(send, ("daphne",))
    if isinstance(raw, functools.partial) and raw.args:
        return raw.args[0]
    return None


def persist(send: Any, keep: bool) -> None:
    """The channel's ``persistent`` flag and one field, connmw's."""
    request = _request(send)
    channel = getattr(request, "channel", None)
    if channel is None:
        return
    request.responseHeaders.removeHeader(b"connection")
    channel.persistent = keep


def refuse_handshake(send: Any, status: int, headers: Fields) -> bool:
    """autobahn's ``failHandshake(reason, code, responseHeaders)`` with RFC 6455's status.

    ``websocket.close`` would answer 403 whatever the reason; this gives 400, or 426 with
    ``Sec-WebSocket-Version: 13``.
    """
    fail = getattr(_request(send), "failHandshake", None)
    if not callable(fail):
        return False
    reason = {400: "Bad Request", 403: "Forbidden", 426: "Upgrade Required"}.get(status, "Refused")
    extra = [  # it writes no body, so no body's fields either
        (name.decode("latin-1"), value.decode("latin-1"))
        for name, value in headers
        if name not in (b"content-length", b"content-type")
    ]
    fail(reason, status, extra)
    return True


def close_websocket(send: Any, code: int) -> bool:
    """autobahn's ``sendCloseFrame(code)``: the close frame and its state, as daphne's own
    ``websocket.close`` makes them, without its check that admits only 1000 and 3000-4999
    from an application (1001, going away, is the server's code: RFC 6455 §7.4.1)."""
    protocol = _request(send)
    close = getattr(protocol, "sendCloseFrame", None)
    if not callable(close) or getattr(protocol, "state", None) != getattr(protocol, "STATE_OPEN", 0):
        return False
    close(code=code, isReply=False)
    return True


DAPHNE: Final = ServerProfile(
    "daphne",
    frozenset({"asgi"}),
    "one Connection field; the close made real through Twisted's channel",
    Markers(owners=("daphne",)),
    asgi_persist=persist,
    refuse_handshake=refuse_handshake,
    close_websocket=close_websocket,
    traits=ServerTraits(
        keeps_http10=True,
    ),
)

PROFILES: Final = (DAPHNE,)
