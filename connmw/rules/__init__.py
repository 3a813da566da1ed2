"""HTTP connection semantics as pure functions: the one place where connmw decides.

This package holds no networking code and does no I/O: no sockets, no logging, no
environment reads, no framework imports (a test enforces it). The ASGI and WSGI
adapters read a request, ask it what to do, and write the answer. Its modules, by
concern: ``_headers`` (the tables of hop-by-hop and protected names, tokens, versions:
the shared vocabulary), ``_connection`` (the Connection field and a request's facts),
``_names`` (header names as one configuration judges them), ``_responses`` (no
content, framing, close reasons, readiness), ``_finishing`` (responses decided: fields,
removals, close), ``_plan`` (:meth:`Policy.plan_request` and :meth:`Policy.plan_response`:
one request and one response start planned), ``_traits`` (:class:`ServerTraits`, a server's
behaviour as data, and the decisions that need it), ``_websocket`` (judging handshakes,
their verdicts, origins), ``_drain`` (when drain ends a WebSocket or an event stream, and
where a stream may end), ``_policy`` (:class:`Policy`: every decision configured once;
requests read) and ``_forwarding`` (:func:`forwardable_headers`). Public names are
re-exported here; the decisions are written out in the repository's docs/policy.md.

Words used throughout:

* *facts*: :class:`RequestFacts`, what a request's connection fields say; plain data.
* *reading*: a policy's private record of one request: its facts, and the answers the
  adapters' hot path needs, decided once for that policy (never stored on the facts).
* *ordinary response*: final (2xx-5xx), with content, framed, and no reason of the
  server's to close; its Connection fields depend on the request's version and
  persistence only (:meth:`Policy.ordinary_answer`).

Facts every function here relies on:

* A header is a ``(name, value)`` tuple of ``bytes``; a header list keeps order and
  duplicates. Request header names arrive lower-case (ASGI servers guarantee it; the
  WSGI adapter builds them so). Response header names from an application may be in
  any case, so every lookup of a response name goes through :meth:`Policy.kind_of`.
* A response field name is a token (RFC 9110 §5.1, §5.6.2). A name that is not, white
  space around it included (RFC 9112 §5.1), is ``INVALID``: removed from the response,
  and if it reads as ``connection`` once trimmed its tokens still count, so nothing it
  nominates leaves under the disguise (hypercorn trims such names after the middleware).
* ``Connection`` is a comma-separated list (RFC 9110 §5.6.1) that may be spread over
  several lines; its tokens are read across every line, never from ``dict(headers)``.
* HTTP versions are the ASGI spellings ``"1.0"``, ``"1.1"``, ``"2"``, ``"3"``; WSGI's
  ``"HTTP/1.1"`` and friends are accepted too (:func:`normalize_http_version`).

Decisions of policy (each one pinned by a test; docs/policy.md):

* ``Trailer`` (singular) is end-to-end and survives: RFC 9110 §6.6.2 defines it as the
  announcement of trailer fields, and ASGI's ``http.response.trailers`` extension needs
  it. The legacy misspelling ``Trailers`` (RFC 2616 §13.5.1) is stripped.
* ``Proxy-Connection`` is stripped: RFC 9112 §9.6 lists it as a non-standard field
  that must not be forwarded, and RFC 9113 §8.2.2 makes it malformed in HTTP/2.
* ``Proxy-Authenticate`` and ``Proxy-Authorization`` are stripped from responses: they
  belong to a proxy hop (RFC 2616 §13.5.1), an origin application has no business
  sending them, and Werkzeug, wsgiref and Go strip them too.
* ``TE`` is stripped from responses (it is a request field, RFC 9110 §10.1.4). When
  forwarding a request, one ``TE: trailers`` survives if any TE element is
  ``trailers`` (RFC 9113 §8.2.2 allows exactly that value in HTTP/2 requests).
* Every token of a Connection field nominates a header for removal (RFC 9110 §7.6.1)
  except protected end-to-end names (Host, Content-Length, Authorization, Cookie,
  X-Forwarded-*, Sec-WebSocket-* …): such nominations are ignored and reported
  (hop-by-hop header abuse, Go CVE-2021-33197). A field with more tokens than
  ``max_connection_tokens`` nominates nothing and is reported as abuse.
* Several Connection lines are one list (RFC 9110 §5.3), as Go, h11 and websockets
  read them.
* HTTP/1.0 keep-alive is off by default (h11 and so uvicorn always close HTTP/1.0);
  ``http10_keep_alive`` turns on RFC 9112 §9.3's opt-in, answered by an explicit
  ``Connection: keep-alive`` as HTTP/1.0 clients require.
* Invalid tokens (outside RFC 9110 §5.6.2's ``tchar``) are ignored, never raised.
* A configured ``keep_alive_timeout`` hint goes on every persistent HTTP/1.x response,
  with ``Connection: keep-alive`` beside it even when ``explicit_keep_alive`` is off
  (Keep-Alive is connection-specific, RFC 9110 §7.6.1), and never on a closing one.
* A response to HEAD and every 1xx, 204 and 304 response carries no content, whatever
  the application returns (RFC 9110 §6.4.1; RFC 9112 §6.3): the adapters drop body bytes
  (:func:`no_content_reason`), a HEAD response keeps the Content-Length the GET would
  have had (RFC 9110 §9.3.2); a 1xx or 204 loses any Content-Length (RFC 9110 §8.6), and so
  does a 304 (which may carry one: a server that counts it against the absent body fails).
* WebSocket handshakes are same-origin by default: with no ``ws_allowed_origins``, an
  Origin is admitted only when its host and port equal the request's Host, default
  ports made explicit (an Origin without a port is on its scheme's default, 80 or 443;
  a Host without one matches an Origin on that default); ``*`` admits any
  (:class:`OriginPolicy`). No Origin means a non-browser client, admitted; ``null``
  only when listed. The Origin policy holds whether or not the rest of the handshake is
  validated (:meth:`Policy.origin_refusal`).
* A WebSocket handshake's method must be exactly ``GET`` (methods are case-sensitive,
  RFC 9110 §9.1), and it names exactly one valid Host (RFC 9112 §3.2; over HTTP/2 and
  HTTP/3 every ``host`` equals the first, RFC 9113 §8.3.1). Origins follow RFC 6454
  §6.2's serialisation; anything with a path, userinfo, query, fragment, a port above
  65535, or white space other than space and tab around it (RFC 9110 §5.5) is not an
  origin.
"""

from __future__ import annotations

from ._connection import (
    ConnectionTokens,
    RequestFacts,
    parse_connection,
)
from ._drain import (
    AT_BOUNDARY,
    close_offsets,
    ends_event,
    is_event_stream,
    retry_field,
    stream_state,
)
from ._forwarding import forwardable_headers
from ._headers import (
    CONNECTION,
    HOP,
    HOP_BY_HOP,
    INVALID,
    ORDINARY,
    PROTECTED,
    PROTECTED_PREFIXES,
    TE,
    UPGRADE,
    Header,
    is_token,
    normalize_http_version,
)
from ._plan import Interface, PlannedRequest, PlannedResponse
from ._policy import Policy
from ._responses import (
    ANNOUNCE,
    READY_RETRY_AFTER,
    Announce,
    ResponsePlan,
    asks_readiness,
    body_needs_framing,
    close_reason,
    drops_content_length,
    no_content_reason,
    readiness_answer,
)
from ._traits import (
    FieldRoute,
    ServerTraits,
    UnsizedBodiless,
    asks_server,
    fields_reach_client,
    holds_unsized_body,
    keeps_as_connmw_would,
    leaves_http10_keep_alive_to_server,
    offers_websocket,
    server_closes,
    switch_refusal,
    takes_fields,
)
from ._websocket import (
    ACCEPT_H2,
    WEBSOCKET_GUID,
    HandshakeVerdict,
    OriginPolicy,
    check_switching_protocols,
    same_origin,
    websocket_accept,
)

__all__ = [
    "ACCEPT_H2",
    "ANNOUNCE",
    "AT_BOUNDARY",
    "CONNECTION",
    "HOP",
    "HOP_BY_HOP",
    "INVALID",
    "ORDINARY",
    "PROTECTED",
    "PROTECTED_PREFIXES",
    "READY_RETRY_AFTER",
    "TE",
    "UPGRADE",
    "WEBSOCKET_GUID",
    "Announce",
    "ConnectionTokens",
    "FieldRoute",
    "HandshakeVerdict",
    "Header",
    "Interface",
    "OriginPolicy",
    "PlannedRequest",
    "PlannedResponse",
    "Policy",
    "RequestFacts",
    "ResponsePlan",
    "ServerTraits",
    "UnsizedBodiless",
    "asks_readiness",
    "asks_server",
    "body_needs_framing",
    "check_switching_protocols",
    "close_offsets",
    "close_reason",
    "drops_content_length",
    "ends_event",
    "fields_reach_client",
    "forwardable_headers",
    "holds_unsized_body",
    "is_event_stream",
    "is_token",
    "keeps_as_connmw_would",
    "leaves_http10_keep_alive_to_server",
    "no_content_reason",
    "normalize_http_version",
    "offers_websocket",
    "parse_connection",
    "readiness_answer",
    "retry_field",
    "same_origin",
    "server_closes",
    "stream_state",
    "switch_refusal",
    "takes_fields",
    "websocket_accept",
]
