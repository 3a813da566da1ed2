"""Apache with mod_wsgi (daemon mode, as ``mod_wsgi-express`` runs it, and embedded mode).

Its ``start_response`` is a method of mod_wsgi's own ``Adapter`` (module ``mod_wsgi``) and
every environ holds ``mod_wsgi.version``; ``SERVER_SOFTWARE`` says only ``Apache``.
Apache passes the application's Connection field, acts on its ``close`` (says it once and
closes), and keeps an HTTP/1.1 connection saying nothing. It answers an HTTP/1.0 request
that asked for keep-alive with its own ``Connection: Keep-Alive`` and keeps it; connmw's
``close`` there is honoured. It passes every hop-by-hop field an application sends, a
``Transfer-Encoding`` over a body it does not chunk too (a client cannot read it); it
chunks a body without Content-Length itself on HTTP/1.1, never to HTTP/1.0, and writes
no body after HEAD, 204 or 304.
"""

from __future__ import annotations

from typing import Final

from ..rules import ServerTraits
from ._profile import Markers, ServerProfile

__all__ = ["MOD_WSGI", "PROFILES"]

MOD_WSGI: Final = ServerProfile(
    "mod_wsgi",
    frozenset({"wsgi"}),
    "Apache: connmw's one Connection field; Apache acts on its close",
    Markers(owners=("mod_wsgi",), environ=("mod_wsgi.version",), software=("Apache",)),
    traits=ServerTraits(
        keeps_http10=True,
        connection_field="app",
    ),
)

PROFILES: Final = (MOD_WSGI,)
