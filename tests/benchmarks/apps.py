"""The applications and wrappers the benchmarks time, and how servers import them.

Every benchmark compares one application bare and behind a wrapper, so this module has
the applications (ASGI and WSGI, one per scenario), the wrappers by name (connmw, a
do-nothing pass-through, and the peers), and the request each scenario sends.

Servers started by ``bench_load`` and ``bench_stream`` import ``NAME__WRAPPER`` from
here, e.g. ``tests.benchmarks.apps:asgi_plain__connmw``: the module's ``__getattr__``
builds it on first use, so a server process only imports what it serves.

connmw is built with ``load_config(environ={})``: every setting at its default whatever
``CONNMW_*`` variables the shell has, so the figures are those of a default install; ASGI
names its server (``server="uvicorn"``, the server of every ASGI benchmark here), because
the in-process benchmarks' fake ``send`` is no server connmw recognises, and on one it
does not recognise connmw counts every request off its hot path.
"""

from __future__ import annotations

import io
import sys
from collections.abc import Awaitable, Callable, Iterable, Iterator, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
WSGIApp = Callable[..., Iterable[bytes]]

ASGI_SERVER = "uvicorn"
"""The profile connmw is told for ASGI (see above); WSGI's is recognised (``gunicorn.socket``)."""

STREAM_CHUNKS = 10_000
"""Body messages (ASGI) or iterated chunks (WSGI) of the streaming scenario."""
STREAM_CHUNK = b"data: tick\n\n"  # an SSE-sized event

# -- requests -----------------------------------------------------------------------------

# One in-process request, the same for every peer, so that their figures can be compared.
HTTP_SCOPE: dict[str, Any] = {
    "type": "http",
    "asgi": {"version": "3.0"},
    "http_version": "1.1",
    "method": "GET",
    "scheme": "http",
    "path": "/",
    "raw_path": b"/",
    "query_string": b"",
    "root_path": "",
    "headers": [
        (b"host", b"example.com"),
        (b"user-agent", b"curl/8"),
        (b"accept", b"*/*"),
        (b"connection", b"keep-alive"),
    ],
    "client": ("127.0.0.1", 5000),
    "server": ("127.0.0.1", 8000),
    "state": {},  # uvicorn, hypercorn and granian give each request a copy of the lifespan state
}

WEBSOCKET_SCOPE: dict[str, Any] = {
    "type": "websocket",
    "asgi": {"version": "3.0"},
    "http_version": "1.1",
    "scheme": "ws",
    "path": "/ws",
    "raw_path": b"/ws",
    "query_string": b"",
    "root_path": "",
    "headers": [
        (b"host", b"example.com"),
        (b"user-agent", b"Mozilla/5.0"),
        (b"upgrade", b"websocket"),
        (b"connection", b"Upgrade"),
        (b"sec-websocket-key", b"dGhlIHNhbXBsZSBub25jZQ=="),
        (b"sec-websocket-version", b"13"),
        (b"origin", b"http://example.com"),
    ],
    "client": ("127.0.0.1", 5000),
    "server": ("127.0.0.1", 8000),
    "subprotocols": [],
}

WSGI_ENVIRON: dict[str, Any] = {
    "REQUEST_METHOD": "GET",
    "SCRIPT_NAME": "",
    "PATH_INFO": "/",
    "QUERY_STRING": "",
    "SERVER_PROTOCOL": "HTTP/1.1",
    "SERVER_NAME": "example.com",
    "SERVER_PORT": "80",
    "SERVER_SOFTWARE": "gunicorn/27.0.1",  # the WSGI server of bench_load
    "gunicorn.socket": None,  # what recognises gunicorn, whose every environ has it
    "REMOTE_ADDR": "127.0.0.1",
    "HTTP_HOST": "example.com",
    "HTTP_CONNECTION": "keep-alive",
    "HTTP_USER_AGENT": "curl/8",
    "HTTP_X_FORWARDED_FOR": "1.2.3.4",  # so that ProxyFix has work to do
    "wsgi.version": (1, 0),
    "wsgi.url_scheme": "http",
    "wsgi.input": io.BytesIO(b""),
    "wsgi.errors": sys.stderr,
    "wsgi.multithread": False,
    "wsgi.multiprocess": False,
    "wsgi.run_once": False,
}


async def receive_request() -> Message:
    return {"type": "http.request", "body": b"", "more_body": False}


async def receive_connect() -> Message:
    return {"type": "websocket.connect"}


# -- ASGI applications ----------------------------------------------------------------------

_PLAIN_HEADERS = [(b"content-type", b"text/plain"), (b"content-length", b"2")]
_HEADERS_30 = [*_PLAIN_HEADERS, *((b"x-header-%02d" % i, b"value %02d" % i) for i in range(28))]


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        else:
            await send({"type": "lifespan.shutdown.complete"})
            return


async def asgi_plain(scope: Scope, receive: Receive, send: Send) -> None:
    """The ``plain`` app of tests/apps/bare_*.py: two headers, body ``ok``."""
    if scope["type"] != "http":
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
        return
    while (await receive()).get("more_body"):
        pass
    await send({"type": "http.response.start", "status": 200, "headers": _PLAIN_HEADERS})
    await send({"type": "http.response.body", "body": b"ok"})


async def asgi_headers30(scope: Scope, receive: Receive, send: Send) -> None:
    """A response with 30 headers (none of them hop-by-hop)."""
    while (await receive()).get("more_body"):
        pass
    await send({"type": "http.response.start", "status": 200, "headers": _HEADERS_30})
    await send({"type": "http.response.body", "body": b"ok"})


async def asgi_stream(scope: Scope, receive: Receive, send: Send) -> None:
    """A streamed response without Content-Length: 10 000 small body messages."""
    while (await receive()).get("more_body"):
        pass
    await send(
        {"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/event-stream")]}
    )
    for _ in range(STREAM_CHUNKS - 1):
        await send({"type": "http.response.body", "body": STREAM_CHUNK, "more_body": True})
    await send({"type": "http.response.body", "body": STREAM_CHUNK})


async def asgi_websocket(scope: Scope, receive: Receive, send: Send) -> None:
    """A WebSocket handshake up to the accept (the connection is then left alone)."""
    if (await receive())["type"] == "websocket.connect":
        await send({"type": "websocket.accept"})


def asgi_bulk(total: int, chunk: int, *, length: bool) -> ASGIApp:
    """An app streaming ``total`` bytes in fresh ``chunk``-byte messages.

    Every message is a new bytes object (``bytes(template)`` copies), so a wrapper that
    kept references to them would show in the RSS; ``length`` sends Content-Length.
    """
    template = bytearray(b"x" * chunk)
    headers = [(b"content-type", b"application/octet-stream")]
    if length:
        headers.append((b"content-length", b"%d" % total))

    async def bulk(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            if scope["type"] == "lifespan":
                await _lifespan(receive, send)
            return
        while (await receive()).get("more_body"):
            pass
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        left = total
        while left > chunk:
            await send({"type": "http.response.body", "body": bytes(template), "more_body": True})
            left -= chunk
        await send({"type": "http.response.body", "body": bytes(template[:left])})

    return bulk


async def asgi_sized(scope: Scope, receive: Receive, send: Send) -> None:
    """``GET /<n>``: ``n`` bytes with Content-Length, in fresh 64 KiB messages (for servers)."""
    if scope["type"] == "http":
        size = int(scope["path"].strip("/") or 2)
        scope = {**scope, "path": "/"}
        await asgi_bulk(size, 1 << 16, length=True)(scope, receive, send)
    elif scope["type"] == "lifespan":
        await _lifespan(receive, send)


def starlette_app() -> ASGIApp:
    """A Starlette application with one route answering ``ok``."""
    from starlette.applications import Starlette  # noqa: PLC0415 (only servers need it)
    from starlette.requests import Request  # noqa: PLC0415
    from starlette.responses import PlainTextResponse, Response  # noqa: PLC0415
    from starlette.routing import Route  # noqa: PLC0415

    async def home(request: Request) -> Response:
        return PlainTextResponse("ok")

    return Starlette(routes=[Route("/", home)])


# -- WSGI applications ----------------------------------------------------------------------

_WSGI_PLAIN_HEADERS = [("Content-Type", "text/plain"), ("Content-Length", "2")]
_WSGI_HEADERS_30 = [*_WSGI_PLAIN_HEADERS, *((f"X-Header-{i:02d}", f"value {i:02d}") for i in range(28))]


def wsgi_plain(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    """The ``plain`` app of tests/apps/bare_*.py: two headers, body ``ok``."""
    start_response("200 OK", _WSGI_PLAIN_HEADERS)
    return [b"ok"]


def wsgi_headers30(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    """A response with 30 headers (none of them hop-by-hop)."""
    start_response("200 OK", _WSGI_HEADERS_30)
    return [b"ok"]


def wsgi_stream(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    """A streamed response without Content-Length: a generator of 10 000 small chunks."""
    start_response("200 OK", [("Content-Type", "text/event-stream")])
    return _chunks()


def _chunks() -> Iterator[bytes]:
    for _ in range(STREAM_CHUNKS):
        yield STREAM_CHUNK


def wsgi_bulk(total: int, chunk: int, *, length: bool) -> WSGIApp:
    """A WSGI app streaming ``total`` bytes in fresh ``chunk``-byte pieces (see asgi_bulk)."""
    template = bytearray(b"x" * chunk)
    headers = [("Content-Type", "application/octet-stream")]
    if length:
        headers.append(("Content-Length", str(total)))

    def pieces() -> Iterator[bytes]:
        left = total
        while left > chunk:
            yield bytes(template)
            left -= chunk
        yield bytes(template[:left])

    def bulk(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        start_response("200 OK", headers)
        return pieces()

    return bulk


# -- wrappers -------------------------------------------------------------------------------


class AsgiPassThrough:
    """The cheapest possible ASGI middleware: the floor connmw is compared with."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)


class AsgiKeepAliveOnly:
    """The cheapest middleware that says ``Connection: keep-alive`` on every response.

    It appends the field to each response start (in a new message, as connmw does) and
    does nothing else: not one check. Served beside connmw it shows the floor any
    middleware that states persistence on the wire pays, most of it in the server
    (uvicorn parses every field of the response head, and a Connection field more
    than most), so that connmw's own share can be told apart from it.
    """

    FIELD = (b"connection", b"keep-alive")

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        def send_with_field(message: Message) -> Awaitable[None]:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", ()), self.FIELD]}
            return send(message)

        await self.app(scope, receive, send_with_field)


class WsgiPassThrough:
    """The cheapest possible WSGI middleware."""

    def __init__(self, app: WSGIApp) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        return self.app(environ, start_response)


def _connmw_asgi(app: ASGIApp) -> ASGIApp:
    from connmw.asgi import ConnectionMiddleware  # noqa: PLC0415 (a broken connmw fails one row)
    from connmw.config import load_config  # noqa: PLC0415

    return ConnectionMiddleware(app, config=load_config(environ={}, server=ASGI_SERVER))


def _connmw_with(label: str) -> Callable[[ASGIApp], ASGIApp]:
    """connmw (ASGI) with the options of ``label`` in :data:`_CONNMW_OPTIONS`."""

    def wrap(app: ASGIApp) -> ASGIApp:
        from connmw.asgi import ConnectionMiddleware  # noqa: PLC0415
        from connmw.config import load_config  # noqa: PLC0415

        return ConnectionMiddleware(
            app, config=load_config(environ={}, server=ASGI_SERVER, **_CONNMW_OPTIONS[label])
        )

    return wrap


_connmw_quiet = _connmw_with("connmw, explicit_keep_alive=0")
"""connmw with ``explicit_keep_alive`` off: nothing said on persistent HTTP/1.1 responses."""


def _connmw_wsgi(app: WSGIApp) -> WSGIApp:
    from connmw.config import load_config  # noqa: PLC0415
    from connmw.wsgi import ConnectionMiddleware  # noqa: PLC0415

    middleware: WSGIApp = ConnectionMiddleware(app, config=load_config(environ={}))
    return middleware


def _proxy_headers(app: ASGIApp) -> ASGIApp:
    from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware  # noqa: PLC0415

    return ProxyHeadersMiddleware(app, trusted_hosts="*")


def _trusted_host(app: ASGIApp) -> ASGIApp:
    from starlette.middleware.trustedhost import TrustedHostMiddleware  # noqa: PLC0415

    return TrustedHostMiddleware(app, allowed_hosts=["example.com"])


def _gzip(app: ASGIApp) -> ASGIApp:
    from starlette.middleware.gzip import GZipMiddleware  # noqa: PLC0415

    return GZipMiddleware(app)


def _proxy_fix(app: WSGIApp) -> WSGIApp:
    from werkzeug.middleware.proxy_fix import ProxyFix  # noqa: PLC0415

    return ProxyFix(app, x_for=1)


def _bare(app: Any) -> Any:
    return app


ASGI_WRAPPERS: dict[str, Callable[[ASGIApp], ASGIApp]] = {
    "bare": _bare,
    "do-nothing wrapper": AsgiPassThrough,
    "connmw": _connmw_asgi,
    "uvicorn ProxyHeaders": _proxy_headers,
    "starlette TrustedHost": _trusted_host,
    "starlette GZip": _gzip,
}
FLOOR_WRAPPERS: dict[str, Callable[[ASGIApp], ASGIApp]] = {
    "keep-alive field only": AsgiKeepAliveOnly,
    "connmw, explicit_keep_alive=0": _connmw_quiet,
}
"""Served under load and counted by callgrind beside connmw, to split its cost (ASGI)."""
METRICS_WRAPPERS: dict[str, Callable[[ASGIApp], ASGIApp]] = {
    "connmw, metrics=prometheus": _connmw_with("connmw, metrics=prometheus"),
    "connmw, metrics=otel": _connmw_with("connmw, metrics=otel"),
}
"""Counted by callgrind beside connmw: a plain request costs the same with metrics on (ASGI)."""
WSGI_WRAPPERS: dict[str, Callable[[WSGIApp], WSGIApp]] = {
    "bare": _bare,
    "do-nothing wrapper": WsgiPassThrough,
    "connmw": _connmw_wsgi,
    "werkzeug ProxyFix": _proxy_fix,
}

# -- what servers import ----------------------------------------------------------------------

_SERVED: dict[str, Callable[[], Any]] = {
    "asgi_plain": lambda: asgi_plain,
    "starlette": starlette_app,
    "wsgi_plain": lambda: wsgi_plain,
    "asgi_sized": lambda: asgi_sized,
}
_SERVED_WRAPPERS = {
    "bare": "bare",
    "connmw": "connmw",
    "passthrough": "do-nothing wrapper",
    "keepalive_only": "keep-alive field only",
    "connmw_quiet": "connmw, explicit_keep_alive=0",
    "connmw_prometheus": "connmw, metrics=prometheus",
    "connmw_otel": "connmw, metrics=otel",
}
_CONNMW_OPTIONS: dict[str, dict[str, Any]] = {
    "connmw": {},
    "connmw, explicit_keep_alive=0": {"explicit_keep_alive": False},
    "connmw, metrics=prometheus": {"metrics": "prometheus"},
    "connmw, metrics=otel": {"metrics": "otel"},
}
SERVED_NAMES = {label: suffix for suffix, label in _SERVED_WRAPPERS.items()}
"""A wrapper's label → the suffix servers import it by (``asgi_plain__<suffix>``)."""
_BUILT: dict[str, Any] = {}


def __getattr__(name: str) -> Any:
    """``APP__WRAPPER`` (``asgi_plain__connmw``, ``starlette__bare``…), built once.

    A Starlette application gets its wrapper the documented way, ``add_middleware``
    (inside Starlette's ServerErrorMiddleware), any other application is wrapped directly.
    """
    if name in _BUILT:
        return _BUILT[name]
    base, sep, wrapper = name.partition("__")
    label = _SERVED_WRAPPERS.get(wrapper)
    if not sep or base not in _SERVED or label is None:
        raise AttributeError(name)
    wrappers: dict[str, Any] = (
        WSGI_WRAPPERS if base.startswith("wsgi") else {**ASGI_WRAPPERS, **FLOOR_WRAPPERS, **METRICS_WRAPPERS}
    )
    if label not in wrappers:
        raise AttributeError(name)
    if base == "starlette" and label != "bare":
        app = starlette_app()
        if label in _CONNMW_OPTIONS:
            from connmw.asgi import ConnectionMiddleware  # noqa: PLC0415
            from connmw.config import load_config  # noqa: PLC0415

            config = load_config(environ={}, server=ASGI_SERVER, **_CONNMW_OPTIONS[label])
            app.add_middleware(ConnectionMiddleware, config=config)  # type: ignore[attr-defined]
        else:
            app.add_middleware(wrappers[label])  # type: ignore[attr-defined]
    else:
        app = wrappers[label](_SERVED[base]())
    _BUILT[name] = app
    return app
