"""One response start, planned: everything an adapter must do with it, decided at once.

:meth:`Policy.plan_response` composes the rules' decisions for one response start (RFC 9110
§7.6.1 hop-by-hop fields, RFC 9112 §9.3 persistence, RFC 9110 §6.4.1 no content, the
server's traits) into one :class:`PlannedResponse`; the adapters only apply it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ._headers import Header


@dataclass(frozen=True, slots=True)
class PlannedResponse:
    """What an adapter must do with one response start.

    :param headers: the header list to send (the application's own list when nothing changed).
    :param close: whether the connection closes after this response.
    :param removed: lower-case names taken out as corrections (to count, or raise in strict mode).
    :param close_reason: the counter's reason when it closes (:func:`close_reason`), else ``None``.
    :param forget: the close is not the lifecycle's own: the connection's count is dropped.
    :param no_content: why the body must be dropped (``head``, ``1xx``, ``204``, ``304``), or ``None``.
    :param ask_server: ask the server's hook to keep (``not close``) or close the connection.
    """

    headers: Sequence[Header]
    close: bool
    removed: tuple[bytes, ...]
    close_reason: str | None
    forget: bool
    no_content: str | None
    ask_server: bool
