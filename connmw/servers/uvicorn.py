"""uvicorn (ASGI; its h11 and httptools stacks alike here), and gunicorn's uvicorn worker.

Says nothing on a persistent HTTP/1.1 response and ``close`` for HTTP/1.0 and a client's
close; honours the application's close; passes every field an application sends. It
closes every HTTP/1.0 connection whatever it was told (h11 merges connmw's
``keep-alive`` into its own ``close``; httptools writes ``close`` beside it).
"""

from __future__ import annotations

from typing import Final

from ._profile import Markers, ServerProfile

__all__ = ["PROFILES", "UVICORN"]

UVICORN: Final = ServerProfile(
    "uvicorn",
    frozenset({"asgi"}),
    "one Connection field; its own close honoured",
    Markers(owners=("uvicorn",)),
)

PROFILES: Final = (UVICORN,)
