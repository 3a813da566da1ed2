"""A server connmw does not recognise: never worse than that server without connmw.

Chosen from the measured behaviour of every server connmw knows (docs/policy.md, "A
server connmw does not recognise"), and checked on the wire by running each of them
with recognition switched off (``CONNMW_SERVER=unknown``):

* WSGI: every hop-by-hop field the application sends is removed (PEP 3333), and connmw
  sends one ``Connection: close`` only when the response must close for a reason the
  server cannot know: the application's own close, drain, connection limits, a body
  nothing delimits. Every server answers the request's own close (and HTTP/1.0) itself;
  ``keep-alive`` is never sent, the server decides persistence. A server that refuses the
  field in ``start_response`` (PEP 3333 lets it) is called again without it.
* ASGI: one Connection field, ``keep-alive`` included (every ASGI server measured passes
  an application's fields and keeps HTTP/1.1 connections), but not the close the request
  asked for, which daphne writes itself (two lines) and granian contradicts on HTTP/1.0.
* HTTP/1.0 is never kept alive (``http10_keep_alive`` has no effect), and a 101 through
  ``start_response`` passes (eventlet's and gevent's servers hand sockets over).
"""

from __future__ import annotations

from typing import Final

from ..rules import ServerTraits
from ._profile import ServerProfile

__all__ = ["UNKNOWN"]

UNKNOWN: Final = ServerProfile(
    "unknown",
    frozenset({"asgi", "wsgi"}),
    "not recognised: never worse than the server alone; one close for the app's reasons",
    traits=ServerTraits(
        connection_field="app",
        announce_wsgi="closes-beyond-request",
        may_refuse_field=True,
        switches_protocols=True,
        announce_asgi="beyond-request",
    ),
)
