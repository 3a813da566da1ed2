"""What a server does that the rules decide from, as data; and the decisions that need it.

Each server module (``connmw.servers``) writes its server's :class:`ServerTraits`; the
rules cannot import those modules (they import the rules), so the traits are plain data
defined here and given to the functions below and to :meth:`Policy.for_server`.
RFC 9112 §9.3 (persistence), §6.3 (message body length), §7 (chunked is HTTP/1.1 only);
RFC 9110 §15.2.2 (101 Switching Protocols).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Final, Literal

from ._connection import RequestFacts, _upgrade_protocols
from ._headers import AnyName, _as_bytes, _as_lower_bytes
from ._responses import Announce, drops_content_length

FieldRoute = Literal["app", "hook", "server", "none"]
"""WSGI: how connmw's ``Connection`` (and ``Keep-Alive``) fields reach the client.

* ``"app"``: in the application's headers; the server passes them on and acts on ``close``;
* ``"hook"``: set through the server's own objects (the profile's ``wsgi_persist``);
* ``"server"``: never; the server writes its own field (and may refuse the application's);
* ``"none"``: never, and the server says nothing either (wsgiref answers as HTTP/1.0;
  behind a proxy the proxy speaks).
"""

UnsizedBodiless = Literal["never", "head", "always"]
"""WSGI: after which responses without content and without Content-Length the server
closes, saying nothing beside connmw's ``keep-alive``: ``"head"`` (a response to HEAD) or
``"always"`` (HEAD, 1xx, 204, 304); connmw then says ``close`` itself."""


@dataclass(frozen=True, slots=True)
class ServerTraits:
    """A server's behaviour the rules decide from. Fields named for an interface apply to it alone.

    :param keeps_http10: it keeps an HTTP/1.0 connection alive that connmw answered with
        ``keep-alive`` (``http10_keep_alive`` works there); where not, HTTP/1.0 is never persistent.
    :param connection_field: WSGI: how connmw's fields reach the client (:data:`FieldRoute`).
    :param announce_wsgi: WSGI: which of connmw's Connection fields it is given (:data:`Announce`).
    :param announce_asgi: ASGI: likewise.
    :param may_refuse_field: WSGI: it may refuse connmw's field in ``start_response`` (PEP 3333
        lets it: wsgiref asserts, waitress raises); connmw then calls it once more without.
    :param always_closes: it closes every connection after one response, whatever was asked.
    :param chunks_unsized: HTTP/1.1: it frames a body without Content-Length itself (chunked);
        if not, connmw holds such a body and sends it with a length.
    :param closes_unsized_bodiless: WSGI: after which bodiless responses without a length it
        closes, saying nothing (:data:`UnsizedBodiless`).
    :param says_http10_keep_alive: it answers an HTTP/1.0 request that asked for keep-alive
        with its own ``keep-alive`` beside the application's Connection field (granian).
    :param switches_protocols: WSGI: an application's ``101`` through ``start_response`` can
        hand the connection over (flask-sock); where not, connmw refuses the 101.
    """

    keeps_http10: bool = False
    connection_field: FieldRoute = "none"
    announce_wsgi: Announce = "every"
    announce_asgi: Announce = "every"
    may_refuse_field: bool = False
    always_closes: bool = False
    chunks_unsized: bool = True
    closes_unsized_bodiless: UnsizedBodiless = "never"
    says_http10_keep_alive: bool = False
    switches_protocols: bool = False


DEFAULT_TRAITS: Final = ServerTraits()
"""A server that does nothing connmw must know of."""


def holds_unsized_body(request: RequestFacts, traits: ServerTraits) -> bool:
    """Whether a body without Content-Length must be held and sent with one: HTTP/1.0 has no
    chunked coding (RFC 9112 §7), and a server that does not chunk would leave it undelimited
    (RFC 9112 §6.3 item 8)."""
    return request.http_version == "1.0" or not traits.chunks_unsized


def server_closes(
    request: RequestFacts, traits: ServerTraits, status: int, no_content: str | None, headers: Iterable[Any]
) -> bool:
    """Whether the server closes the connection after this WSGI response on its own, and would
    not say so beside connmw's ``keep-alive`` (so connmw must say ``close``, RFC 9112 §9.3).

    :param no_content: :func:`no_content_reason` for the response (``None``: it has content).
    :param headers: the application's header pairs (str or bytes names).
    """
    if traits.always_closes and traits.connection_field == "app":
        return True  # it closes every connection (uWSGI's --http-socket): say so
    unsized = traits.closes_unsized_bodiless
    return (
        no_content is not None
        and request.persistent
        and (unsized == "always" or (unsized == "head" and no_content == "head"))
        and (drops_content_length(status) or not _names_content_length(headers))
    )


def leaves_http10_keep_alive_to_server(request: RequestFacts, traits: ServerTraits) -> bool:
    """The server writes its own ``keep-alive`` on this HTTP/1.0 keep-alive request's answer
    (granian), so a ``close`` from connmw would read ``close, keep-alive`` (RFC 9110 §7.6.1:
    one field): connmw sends nothing, and the server keeps the connection."""
    return traits.says_http10_keep_alive and request.http_version == "1.0" and request.tokens.keep_alive


def switch_refusal(traits: ServerTraits, status: int) -> bool:
    """An application's 101 (RFC 9110 §15.2.2) on a server that cannot hand the connection
    over: refused (the server answers 500) rather than sent and left hanging."""
    return status == 101 and not traits.switches_protocols


def asks_server(request: RequestFacts, traits: ServerTraits, status: int, close: bool) -> bool:
    """Whether to ask the server, through its hook, to keep or close the connection after this
    response: when it closes, on HTTP/1.0 (kept only where granted, RFC 9112 §9.3), and on
    every response where connmw's field reaches the client only through the hook. Never on
    an interim (1xx) response: the final response decides (RFC 9110 §15.2)."""
    return status >= 200 and (close or request.http_version == "1.0" or traits.connection_field == "hook")


def takes_fields(traits: ServerTraits) -> bool:
    """WSGI: whether connmw's Connection fields reach the client at all on this server (in the
    application's headers or through its hook); a server that writes its own, or none, decides
    persistence alone."""
    return traits.connection_field in ("app", "hook")


def fields_reach_client(traits: ServerTraits, status: int) -> bool:
    """WSGI: whether connmw's fields go in the application's headers for this response: on a
    server that passes them, and on a 101 where the server hands the connection over (its
    Upgrade and ``Connection: upgrade`` are the application's to send, RFC 9110 §7.8)."""
    return traits.connection_field == "app" or (status == 101 and traits.switches_protocols)


def keeps_as_connmw_would(request: RequestFacts, traits: ServerTraits) -> bool:
    """WSGI: a server that takes no field keeps this connection (HTTP/1.1 or later) exactly when
    connmw would (RFC 9112 §9.3: persistent unless ``close``), so nothing need be asked of it
    (unless connmw drains, or its lifecycle limits the connection). HTTP/1.0 is kept only
    where connmw grants it, so it is always asked."""
    return not takes_fields(traits) and request.persistent and request.http_version != "1.0"


def offers_websocket(upgrade: AnyName | None) -> bool:
    """Whether an Upgrade field's list names the WebSocket protocol (RFC 9110 §7.8, RFC 6455
    §4.1), read as the rules read every Upgrade field (case-insensitive, versions dropped)."""
    value = _as_bytes(upgrade)
    return value is not None and b"websocket" in _upgrade_protocols(value)


def _names_content_length(headers: Iterable[Any]) -> bool:
    """Whether any well-formed pair is named Content-Length, in any case, str or bytes."""
    return any(
        type(pair) is tuple
        and len(pair) > 0
        and isinstance(pair[0], (str, bytes))
        and _as_lower_bytes(pair[0]) == b"content-length"
        for pair in headers
    )
