"""What several test modules build the same way: WebSocket opening handshakes and a fake ASGI server.

The wire harness (servers as subprocesses, raw connections, curl) is ``tests/wire.py``; this
module holds the small pieces that in-process and wire tests share:

* ``WS_KEY`` and ``WS_ACCEPT``: RFC 6455 §1.3's sample nonce and the Sec-WebSocket-Accept it implies;
* :func:`handshake_fields` (str pairs, for raw requests and WSGI) and :func:`handshake_headers`
  (lower-case byte pairs, an ASGI scope's ``headers``): a valid opening handshake, one field
  changed or dropped at will;
* :class:`FakeServer`: ``receive``/``send`` for one ASGI exchange, recording everything sent;
* :func:`hide_connmw_variables` and :func:`server_pool`: no ``CONNMW_*`` variable of the shell
  reaches a test's servers.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from connmw.config import PREFIX
from tests.wire import ServerPool

WS_KEY = "dGhlIHNhbXBsZSBub25jZQ=="
WS_ACCEPT = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="

Message = dict[str, Any]
DISCONNECT: Message = {"type": "http.disconnect"}


def handshake_fields(*hosts: str, origin: str | None = None, **change: str | None) -> list[tuple[str, str]]:
    """The header fields of a valid WebSocket opening handshake (RFC 6455 §4.1), in order.

    Args:
        *hosts: Host lines, first and in this order (none: ``tests.wire.request_bytes`` adds one).
        origin: an Origin line, last, unless None.
        **change: a field to replace, add after the others, or drop (``None``); underscores
            in the keyword read as hyphens (``Sec_WebSocket_Version="8"``).
    """
    fields: dict[str, str | None] = {
        "Upgrade": "websocket",
        "Connection": "Upgrade",
        "Sec-WebSocket-Key": WS_KEY,
        "Sec-WebSocket-Version": "13",
    }
    for name, value in change.items():
        fields[name.replace("_", "-")] = value
    pairs = [("Host", host) for host in hosts]
    pairs += [(name, value) for name, value in fields.items() if value is not None]
    return pairs if origin is None else [*pairs, ("Origin", origin)]


def handshake_headers(
    *hosts: str, origin: str | None = None, **change: str | None
) -> list[tuple[bytes, bytes]]:
    """:func:`handshake_fields` as an ASGI scope's ``headers``: lower-case names, latin-1 bytes."""
    return [
        (name.lower().encode("latin-1"), value.encode("latin-1"))
        for name, value in handshake_fields(*hosts, origin=origin, **change)
    ]


class FakeServer:
    """``receive`` and ``send`` for one ASGI exchange, recording every message sent.

    Args:
        incoming: what ``receive`` answers, in order.
        then: what it answers once those are used up (``http.disconnect``), or None to
            fail the test: the middleware waited on a message this server never sends.
    """

    def __init__(self, incoming: Iterable[Message] = (), *, then: Message | None = DISCONNECT) -> None:
        self.incoming = list(incoming)
        self.then = then
        self.sent: list[Message] = []

    async def receive(self) -> Message:
        if self.incoming:
            return self.incoming.pop(0)
        if self.then is None:
            raise AssertionError("receive() called after the last message this server sends")
        return self.then

    async def send(self, message: Message) -> None:
        self.sent.append(message)


def hide_connmw_variables(patch: pytest.MonkeyPatch) -> None:
    """Remove every ``CONNMW_*`` variable of the shell from ``os.environ`` for this patch's life.

    Servers inherit the environment, and connmw reads its settings there: only the variables
    a test sets may reach what it measures.
    """
    for variable in [name for name in os.environ if name.startswith(PREFIX)]:
        patch.delenv(variable)


@contextmanager
def server_pool() -> Iterator[ServerPool]:
    """A :class:`~tests.wire.ServerPool` whose servers inherit no ``CONNMW_*`` variable of the shell.

    For a module's ``servers`` fixture: every server it started is stopped on leaving, and
    the environment is restored.
    """
    pool = ServerPool()
    with pytest.MonkeyPatch.context() as patch:
        hide_connmw_variables(patch)
        try:
            yield pool
        finally:
            pool.close()
