"""What every framework app under tests/frameworks answers, so one wire test reads them all.

Each app module builds the same routes with its framework's own API and exposes ``app``
(connmw added the framework's idiomatic way, docs/frameworks.md) and ``bare`` (the same
app without connmw, for comparison):

* ``/``: ``ok`` as text/plain, for GET, HEAD and POST;
* ``/close``: ``closing``, with ``Connection: close`` set the framework's own way;
* ``/leak``: ``leaky``, with hop-by-hop fields an app must not send (:data:`LEAK`);
* ``/empty``: a 204;
* ``/facts``: what connmw published, read the framework's way (:func:`facts_text`);
* ``/ws``: a WebSocket echo through the framework's own WebSocket API, where it has one
  (one text message back as ``echo:<message>``).
"""

from __future__ import annotations

from connmw import RequestFacts

BODY = "ok"
CLOSING = "closing"
LEAKY = "leaky"
LEAK: tuple[tuple[str, str], ...] = (
    ("Connection", "x-custom"),
    ("X-Custom", "secret"),
    ("Keep-Alive", "timeout=5"),
    ("Transfer-Encoding", "chunked"),
)
"""Hop-by-hop fields (RFC 9110 §7.6.1) and one the app's Connection field nominates."""
LEAK_NO_TE = LEAK[:3]
""":data:`LEAK` for frameworks that refuse or rewrite an app's Transfer-Encoding."""


def facts_text(facts: RequestFacts | None) -> str:
    """``/facts``'s body: ``1.1 persistent``, ``1.0 closing``, or ``none`` without connmw."""
    if facts is None:
        return "none"
    return f"{facts.http_version} {'persistent' if facts.persistent else 'closing'}"


def echo(message: str) -> str:
    """The WebSocket echo's answer."""
    return "echo:" + message
