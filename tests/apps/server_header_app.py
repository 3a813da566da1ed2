"""An ASGI application that names itself in ``Server`` and ``X-Powered-By``, behind connmw.

For ``CONNMW_STRIP_HEADERS=server,x-powered-by`` on a real server: connmw removes what the
application sends; a field the server writes itself (uvicorn's ``server: uvicorn``) never
passes through connmw, so only the server's own option removes it.
"""

from __future__ import annotations

from typing import Any

from connmw.asgi import ConnectionMiddleware

__all__ = ["app"]


async def _named(scope: Any, receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    headers = [(b"content-length", b"2"), (b"server", b"app/1.0"), (b"x-powered-by", b"app")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": b"ok"})


app = ConnectionMiddleware(_named)
