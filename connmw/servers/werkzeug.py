"""werkzeug's development server (``flask run``), threaded, as ``connmw check`` runs it.

Writes ``Connection: close`` and closes after every response (the application's own
close gives two lines), chunks a body without Content-Length even to HTTP/1.0, sends an
application's ``Transfer-Encoding`` beside its own and writes HEAD bodies.
"""

from __future__ import annotations

from typing import Final

from ..rules import ServerTraits
from ._profile import Markers, ServerProfile

__all__ = ["PROFILES", "WERKZEUG"]

WERKZEUG: Final = ServerProfile(
    "werkzeug",
    frozenset({"wsgi"}),
    "it says close and closes after every response; connmw sends no field",
    Markers(owners=("werkzeug",), environ=("werkzeug.socket",), software=("Werkzeug/",)),
    traits=ServerTraits(
        connection_field="server",
        always_closes=True,
        switches_protocols=True,
    ),
)

PROFILES: Final = (WERKZEUG,)
