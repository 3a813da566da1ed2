"""hypercorn: ASGI (asyncio and trio workers, alike on the wire) and its WSGI wrapper.

Honours the application's close (h11, which merges every Connection line into one) and
closes every HTTP/1.0 connection. After ``keep_alive_max_requests`` (default 1000) its
h11 protocol appends its own ``connection: close`` after the application's fields:
:func:`closes_itself` tells that response, so that connmw sends no field beside it.
Its WSGI wrapper gives no ``SERVER_SOFTWARE`` and sends the response's start only with
the iterable's first chunk (an empty iterable is answered 500).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Final

from ..rules import ServerTraits
from ._profile import Markers, ServerProfile
from ._recognise import server_callable

__all__ = ["HYPERCORN", "HYPERCORN_TRIO", "PROFILES", "closes_itself"]


def _owner(call: Any) -> Any:
    return getattr(call, "__self__", None)


def closes_itself(send: Any) -> bool:
    """Whether hypercorn appends its own ``close`` to this response (its request limit).

    ``send`` is the bound ``app_send`` of an HTTPStream, whose ``send`` is its protocol's.
    """
    protocol = _owner(getattr(_owner(server_callable(send, ("hypercorn",))), "send", None))
    count = getattr(protocol, "keep_alive_requests", None)
    config = getattr(protocol, "config", None)
    limit = getattr(config, "keep_alive_max_requests", None)
    return isinstance(count, int) and isinstance(limit, int) and count >= limit


HYPERCORN: Final = ServerProfile(
    "hypercorn",
    frozenset({"asgi", "wsgi"}),
    "one Connection field; at keep_alive_max_requests hypercorn's own close stands alone",
    Markers(owners=("hypercorn",)),
    closes_itself=closes_itself,
    traits=ServerTraits(
        connection_field="app",
    ),
)
HYPERCORN_TRIO: Final = replace(
    HYPERCORN,
    name="hypercorn-trio",
    interfaces=frozenset({"asgi"}),
    summary="as hypercorn, on trio (recognised as hypercorn)",
    markers=Markers(),
)

PROFILES: Final = (HYPERCORN, HYPERCORN_TRIO)
