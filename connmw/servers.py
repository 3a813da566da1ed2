"""What each server does, and what connmw may ask of it: the one table of server facts.

connmw decides HTTP in :mod:`connmw.rules`; what reaches the wire depends on the server
in between. This module knows servers, and nothing else does: how to recognise one
from what a WSGI environ or an ASGI call shows, whether connmw's own ``Connection``
field reaches the client through it, how to ask it to keep or close a connection
when it cannot be told with a header, and what it does by itself. Both adapters,
``connmw check --server`` and the documentation's server tables read :data:`SERVERS`;
adding a server is one row here plus its wire tests. A server nobody recognises gets
:data:`UNKNOWN`, the safest behaviour: nothing PEP 3333 forbids an application to send,
no request to keep a connection the server may not keep.

The measurements behind every row (which versions, which bytes) are in the repository's
``docs/servers.md``; the row keeps only what connmw acts on.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import os
import socket
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

__all__ = [
    "FIELD_APP",
    "FIELD_HOOK",
    "FIELD_NONE",
    "FIELD_SERVER",
    "SERVERS",
    "UNKNOWN",
    "ServerProfile",
    "recognise_asgi",
    "recognise_wsgi",
]

FIELD_APP: Final = "app"
FIELD_HOOK: Final = "hook"
FIELD_SERVER: Final = "server"
FIELD_NONE: Final = "none"

Fields = tuple[tuple[bytes, bytes], ...]
Persist = Callable[[Any, bool, Fields], "Callable[[], None] | None"]
"""Ask a server to keep (``True``) or close (``False``) the connection after this response.

WSGI: given the ``write`` callable the server's ``start_response`` returned (its
``__self__`` is the server's response object); ASGI: given the server's ``send``; and
the fields connmw decided (``Connection``, ``Keep-Alive``), for servers where they can
only be set through the server. May return a callback to run once the response body is
over (``close()`` of the iterable).
"""


@dataclass(frozen=True)
class ServerProfile:
    """One server, as connmw meets it. Fields not named for an interface apply to both."""

    name: str
    """The name ``connmw check --server`` takes and the docs use."""
    interfaces: frozenset[str]
    package: str
    """A module importable where the server is installed (to say what is missing)."""
    install: str
    software: tuple[str, ...] = ()
    """WSGI: prefixes of ``SERVER_SOFTWARE`` that name this server."""
    connection_field: str = "none"
    """WSGI: how connmw's ``Connection`` (and ``Keep-Alive``) fields reach the client:
    ``"app"`` in the application's headers (the server passes them on and acts on
    ``close``); ``"hook"`` set by :attr:`persist`; ``"server"`` never, the server writes
    its own (and refuses the application's); ``"none"`` never, and the server says
    nothing either (wsgiref answers as HTTP/1.0; behind a proxy the proxy speaks)."""
    persist: Persist | None = None
    """How to make the connection do what connmw decided, when a field alone cannot."""
    always_closes: bool = False
    """It closes every connection after one response, whatever was asked."""
    chunks_unsized: bool = True
    """HTTP/1.1: it frames a body without Content-Length itself (chunked); if not, connmw
    holds such a body (``http10_buffer_bytes``) and sends it with a length."""
    closes_unsized_bodiless: str = "never"
    """WSGI: it closes after a response without content that carries no Content-Length,
    saying nothing beside connmw's ``keep-alive``: ``"never"``, ``"head"`` (a HEAD
    response: cheroot's send_headers, waitress's build_response_header) or ``"always"``
    (uWSGI's HTTP router, plugins/http/keepalive.c): connmw then says close itself."""
    keeps_http10_keep_alive: bool = False
    """WSGI: it answers an HTTP/1.0 request that asked for keep-alive with its own
    ``keep-alive`` beside the application's Connection field (granian): connmw sends no
    ``close`` there, which would read ``close, keep-alive``."""
    switches_protocols: bool = False
    """WSGI: an application's ``101`` through ``start_response`` can hand the connection over
    (flask-sock); where it cannot, connmw refuses the 101 (the server answers 500)."""
    closes_itself: Callable[[Any], bool] | None = None
    """ASGI: given ``send``, whether the server will add its own ``close`` to this response."""
    refuse_handshake: Callable[[Any, int, tuple[tuple[bytes, bytes], ...]], bool] | None = None
    """ASGI: answer a refused WebSocket handshake with this status and headers where the
    server offers no ``websocket.http.response``; ``False`` if it could not."""
    summary: str = ""
    """One line for the docs and ``connmw check``: what connmw does there."""
    command: Callable[[str, str, str, int], list[str]] | None = field(default=None, repr=False)
    """``(python, interface, MODULE:APP, port)`` → the argv that serves it on 127.0.0.1."""


# --------------------------------------------------------------------------------------
# How to ask each server to keep or close a connection
# --------------------------------------------------------------------------------------


def _owner(call: Any) -> Any:
    """The object a bound method belongs to (``write.__self__``), or ``None``."""
    return getattr(call, "__self__", None)


def _gunicorn_persist(write: Any, keep: bool, fields: Fields) -> None:
    # gunicorn's Response.force_close(): it then says "Connection: close" and closes.
    closer = getattr(_owner(write), "force_close", None)
    if not keep and callable(closer):
        closer()


def _waitress_persist(write: Any, keep: bool, fields: Fields) -> Callable[[], None] | None:
    # waitress decides from the request's Connection value when it writes the head
    # (task.py build_response_header): "close" makes it say close once and close. Its
    # set_close_on_finish() would add "Connection: Keep-Alive" beside it on HTTP/1.0.
    task = _owner(write)
    request = getattr(task, "request", None)
    headers = getattr(request, "headers", None)
    if keep or getattr(task, "wrote_header", True) or not isinstance(headers, dict):
        return None
    headers["CONNECTION"] = "close"
    if getattr(request, "command", None) == "HEAD" and getattr(task, "content_length", 0) is None:
        return functools.partial(_waitress_head_only, task)
    return None


def _waitress_head_only(task: Any) -> None:
    # An HTTP/1.1 HEAD response without Content-Length is framed as chunked and, once the
    # application is done, waitress writes the last chunk "0\r\n\r\n" after its head
    # (task.py finish(), which never looks at the method): the head goes out now, alone.
    if sys.exc_info()[1] is not None:
        return  # the application failed: waitress answers 500 with its own head
    if not task.wrote_header:
        task.write(b"")
    task.chunked_response = False


def _cheroot_persist(write: Any, keep: bool, fields: Fields) -> None:
    # cheroot's HTTPRequest.close_connection, read when it sends the head and at the end.
    request = getattr(_owner(write), "req", None)
    if request is not None and hasattr(request, "close_connection"):
        request.close_connection = not keep


def _twisted_persist(write: Any, keep: bool, fields: Fields) -> None:
    # twisted.web.wsgi: the channel's persistent flag decides at the end of the response;
    # the field is set (replacing Twisted's own "close") so exactly one goes out. Both in
    # the reactor thread, scheduled before the application's first write.
    response = _owner(write)
    request = getattr(response, "request", None)
    reactor = getattr(response, "reactor", None)
    if request is None or reactor is None:
        return
    reactor.callFromThread(_twisted_set, request, keep, fields)


def _twisted_set(request: Any, keep: bool, fields: Fields) -> None:
    request.responseHeaders.removeHeader(b"connection")
    for name, value in fields:
        request.responseHeaders.setRawHeaders(name, [value])
    request.channel.persistent = keep


def _uwsgi_http11_persist(write: Any, keep: bool, fields: Fields) -> Callable[[], None] | None:
    # uWSGI's http11-socket keeps every HTTP/1.1 connection ("Connection: close is not
    # honoured", proto/http.c). Shutting the client socket down once the body is written
    # ends it cleanly: uWSGI then reads EOF and closes its descriptor itself.
    if keep:
        return None
    descriptor = importlib.import_module("uwsgi").connection_fd()  # only inside a uWSGI worker

    def shut() -> None:
        # uWSGI writes a head no body followed (HEAD, 204) only after close(): write it now.
        with contextlib.suppress(OSError):
            write(b"")
        with contextlib.suppress(OSError), socket.socket(fileno=os.dup(descriptor)) as connection:
            connection.shutdown(socket.SHUT_RDWR)

    return shut


_SERVER_MODULES: Final = ("daphne.", "hypercorn.", "uvicorn.")
_UNWRAP_LIMIT: Final = 16


def _server_send(send: Any) -> Any:
    """The server's own ``send`` under middlewares that close over it, or ``None``.

    Starlette's ``add_middleware`` puts an application's middlewares inside its own
    (ServerErrorMiddleware wraps ``send`` in a closure), so the ``send`` connmw is given
    may not be the server's. This looks through closures, breadth first, at no more than
    16 callables, for one a server made: daphne's ``functools.partial`` of its reply
    handler, or a bound method of a hypercorn or uvicorn protocol object.
    """
    queue = [send]
    for _ in range(_UNWRAP_LIMIT):
        if not queue:
            return None
        candidate = queue.pop(0)
        if isinstance(candidate, functools.partial):
            if candidate.args and type(candidate.args[0]).__module__.startswith(_SERVER_MODULES):
                return candidate
            queue.append(candidate.func)
            continue
        owner = _owner(candidate)
        if owner is not None and type(owner).__module__.startswith(_SERVER_MODULES):
            return candidate
        for cell in getattr(candidate, "__closure__", None) or ():
            with contextlib.suppress(ValueError):  # an empty cell
                value = cell.cell_contents
                if callable(value) and not isinstance(value, type):
                    queue.append(value)
    return None


def _daphne_request(send: Any) -> Any:
    # daphne gives applications functools.partial(Server.handle_reply, protocol).
    raw = _server_send(send)
    if isinstance(raw, functools.partial) and raw.args:
        return raw.args[0]
    return None


def _daphne_persist(send: Any, keep: bool, fields: Fields) -> None:
    # Twisted decides persistence from the request alone and never reads the response's
    # Connection field; it also sets its own "close" for a request that said close, beside
    # which daphne would add connmw's. The channel's flag and one field, connmw's.
    request = _daphne_request(send)
    channel = getattr(request, "channel", None)
    if channel is None:
        return
    request.responseHeaders.removeHeader(b"connection")
    channel.persistent = keep


def _daphne_refuse(send: Any, status: int, headers: tuple[tuple[bytes, bytes], ...]) -> bool:
    # autobahn's WebSocketServerProtocol.failHandshake(reason, code, responseHeaders):
    # daphne offers no websocket.http.response, and websocket.close answers 403 whatever
    # the reason; this gives RFC 6455's own status (426 with Sec-WebSocket-Version: 13).
    fail = getattr(_daphne_request(send), "failHandshake", None)
    if not callable(fail):
        return False
    reason = {400: "Bad Request", 403: "Forbidden", 426: "Upgrade Required"}.get(status, "Refused")
    extra = [  # it writes no body, so no body's fields either
        (name.decode("latin-1"), value.decode("latin-1"))
        for name, value in headers
        if name not in (b"content-length", b"content-type")
    ]
    fail(reason, status, extra)
    return True


def _hypercorn_closes_itself(send: Any) -> bool:
    # hypercorn's H11Protocol appends its own "connection: close" once a connection has
    # carried keep_alive_max_requests requests (default 1000), after the application's
    # fields: connmw's "keep-alive" would stand beside it.
    protocol = _owner(getattr(_owner(_server_send(send)), "send", None))
    count = getattr(protocol, "keep_alive_requests", None)
    config = getattr(protocol, "config", None)
    limit = getattr(config, "keep_alive_max_requests", None)
    return isinstance(count, int) and isinstance(limit, int) and count >= limit


# --------------------------------------------------------------------------------------
# How `connmw check` starts each server
# --------------------------------------------------------------------------------------

_HOST: Final = "127.0.0.1"


def _uvicorn(python: str, interface: str, target: str, port: int) -> list[str]:
    return [python, "-m", "uvicorn", target, "--host", _HOST, "--port", str(port), "--log-level", "warning"]


def _hypercorn(python: str, interface: str, target: str, port: int) -> list[str]:
    return [python, "-m", "hypercorn", target, "-b", f"{_HOST}:{port}", "--log-level", "WARNING"]


def _hypercorn_trio(python: str, interface: str, target: str, port: int) -> list[str]:
    return [*_hypercorn(python, interface, target, port), "-k", "trio"]


def _granian(python: str, interface: str, target: str, port: int) -> list[str]:
    return [
        python, "-m", "granian", "--interface", interface, "--host", _HOST, "--port", str(port),
        "--log-level", "warning", target,
    ]  # fmt: skip


def _gunicorn(python: str, interface: str, target: str, port: int) -> list[str]:
    worker = ["-k", "gthread", "--threads", "4"]
    if interface == "asgi":
        worker = ["-k", "uvicorn_worker.UvicornWorker"]
    return [python, "-m", "gunicorn", *worker, "-b", f"{_HOST}:{port}", "--log-level", "warning", target]


def _daphne(python: str, interface: str, target: str, port: int) -> list[str]:
    return [python, "-m", "daphne", "-b", _HOST, "-p", str(port), target]


def _waitress(python: str, interface: str, target: str, port: int) -> list[str]:
    return [python, "-m", "waitress", f"--listen={_HOST}:{port}", target]


def _cheroot(python: str, interface: str, target: str, port: int) -> list[str]:
    return [python, "-m", "cheroot", "--bind", f"{_HOST}:{port}", target]


def _twisted(python: str, interface: str, target: str, port: int) -> list[str]:
    module, _, attr = target.partition(":")
    return [
        python, "-m", "twisted", "web", "--listen", f"tcp:{port}:interface={_HOST}",
        "--wsgi", f"{module}.{attr or 'app'}",
    ]  # fmt: skip


def _uwsgi(mode: str) -> Callable[[str, str, str, int], list[str]]:
    def command(python: str, interface: str, target: str, port: int) -> list[str]:
        listen = [f"--{mode}", f"{_HOST}:{port}"]
        if mode == "http":  # the router, in front of a worker on a socket of its own
            listen += ["--http-keepalive"]
        return [
            python, "-c", "import sys, pyuwsgi; pyuwsgi.run(*sys.argv[1:])", *listen,
            "--module", target, "--master", "--die-on-term", "--processes", "1", "--threads", "4",
            "--disable-logging", "--need-app",
        ]  # fmt: skip

    return command


def _runner(name: str) -> Callable[[str, str, str, int], list[str]]:
    # Servers without a command line of their own (werkzeug's, wsgiref) run through
    # connmw's tool, which imports the application and serves it.
    def command(python: str, interface: str, target: str, port: int) -> list[str]:
        return [python, "-m", "connmw.tool._runner", name, target, _HOST, str(port)]

    return command


# --------------------------------------------------------------------------------------
# The table
# --------------------------------------------------------------------------------------

_WSGI: Final = frozenset({"wsgi"})
_ASGI: Final = frozenset({"asgi"})
_BOTH: Final = frozenset({"asgi", "wsgi"})
_EXAMPLES: Final = "python -m pip install 'connmw[examples]'"

UNKNOWN: Final = ServerProfile(
    "unknown",
    _BOTH,
    "",
    "",
    switches_protocols=True,  # eventlet's and gevent's servers hand sockets over; never break one
    summary="held to PEP 3333: every hop-by-hop field removed, no Connection field sent",
)

SERVERS: Final[Mapping[str, ServerProfile]] = {
    profile.name: profile
    for profile in (
        ServerProfile(
            "uvicorn",
            _ASGI,
            "uvicorn",
            _EXAMPLES,
            summary="one Connection field; its own close honoured",
            command=_uvicorn,
        ),
        ServerProfile(
            "hypercorn",
            _BOTH,
            "hypercorn",
            "python -m pip install hypercorn",
            closes_itself=_hypercorn_closes_itself,
            summary="one Connection field; at keep_alive_max_requests hypercorn's own close stands alone",
            command=_hypercorn,
        ),
        ServerProfile(
            "hypercorn-trio",
            _ASGI,
            "trio",
            "python -m pip install hypercorn trio",
            closes_itself=_hypercorn_closes_itself,
            summary="as hypercorn, on trio",
            command=_hypercorn_trio,
        ),
        ServerProfile(
            "granian",
            _BOTH,
            "granian",
            "python -m pip install granian",
            software=("Granian",),
            connection_field=FIELD_APP,
            keeps_http10_keep_alive=True,
            switches_protocols=True,
            summary="connmw's one Connection field; granian acts on its close",
            command=_granian,
        ),
        ServerProfile(
            "daphne",
            _ASGI,
            "daphne",
            "python -m pip install daphne",
            persist=_daphne_persist,
            refuse_handshake=_daphne_refuse,
            summary="one Connection field; the close made real through Twisted's channel",
            command=_daphne,
        ),
        ServerProfile(
            "gunicorn",
            _BOTH,
            "gunicorn",
            "python -m pip install gunicorn",
            software=("gunicorn/",),
            connection_field=FIELD_SERVER,
            persist=_gunicorn_persist,
            switches_protocols=True,
            summary="gunicorn writes its own Connection field; connmw asks it to close",
            command=_gunicorn,
        ),
        ServerProfile(
            "werkzeug",
            _WSGI,
            "werkzeug",
            _EXAMPLES,
            software=("Werkzeug/",),
            connection_field=FIELD_SERVER,
            always_closes=True,
            switches_protocols=True,
            summary="it says close and closes after every response; connmw sends no field",
            command=_runner("werkzeug"),
        ),
        ServerProfile(
            "wsgiref",
            _WSGI,
            "wsgiref",
            "(standard library)",
            software=("WSGIServer/",),
            always_closes=True,
            summary="HTTP/1.0 answers, every connection closed; connmw sends no field (it asserts on one)",
            command=_runner("wsgiref"),
        ),
        ServerProfile(
            "waitress",
            _WSGI,
            "waitress",
            "python -m pip install waitress",
            software=("waitress",),
            connection_field=FIELD_SERVER,
            persist=_waitress_persist,
            closes_unsized_bodiless="head",
            summary="no Connection field (it answers 500 to one); connmw asks it to close",
            command=_waitress,
        ),
        ServerProfile(
            "cheroot",
            _WSGI,
            "cheroot",
            "python -m pip install cheroot",
            software=("Cheroot/",),
            connection_field=FIELD_APP,
            persist=_cheroot_persist,
            closes_unsized_bodiless="head",
            summary="connmw's one Connection field, and the close made real through cheroot's request",
            command=_cheroot,
        ),
        ServerProfile(
            "twisted",
            _WSGI,
            "twisted",
            "python -m pip install twisted",
            connection_field=FIELD_HOOK,
            persist=_twisted_persist,
            summary="connmw's one Connection field, set and made real through Twisted's request",
            command=_twisted,
        ),
        ServerProfile(
            "uwsgi",
            _WSGI,
            "pyuwsgi",
            "python -m pip install pyuwsgi",
            connection_field=FIELD_APP,
            persist=_uwsgi_http11_persist,
            chunks_unsized=False,
            summary="--http11-socket: connmw's one field; a close made real by shutting the socket down",
            command=_uwsgi("http11-socket"),
        ),
        ServerProfile(
            "uwsgi-http-socket",
            _WSGI,
            "pyuwsgi",
            "python -m pip install pyuwsgi",
            connection_field=FIELD_APP,
            always_closes=True,
            summary="--http-socket closes every connection: connmw says close",
            command=_uwsgi("http-socket"),
        ),
        ServerProfile(
            "uwsgi-router",
            _WSGI,
            "pyuwsgi",
            "python -m pip install pyuwsgi",
            connection_field=FIELD_APP,
            chunks_unsized=False,
            closes_unsized_bodiless="always",
            summary="the --http router with --http-keepalive acts on connmw's one Connection field",
            command=_uwsgi("http"),
        ),
        ServerProfile(
            "uwsgi-socket",
            _WSGI,
            "pyuwsgi",
            "python -m pip install pyuwsgi",
            summary="behind a proxy (nginx uwsgi_pass): the proxy owns the client's connection",
        ),
    )
}


# --------------------------------------------------------------------------------------
# Recognising the server
# --------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=64)
def _by_software(software: str) -> ServerProfile | None:
    for profile in SERVERS.values():
        if software.startswith(profile.software or ("\0",)):
            return profile
    return None


def recognise_wsgi(environ: Mapping[str, Any]) -> ServerProfile:
    """The server behind this WSGI environ, or :data:`UNKNOWN`.

    ``SERVER_SOFTWARE`` first (cached); then what a server puts in every environ:
    uWSGI its ``uwsgi.version`` (and ``UWSGI_ROUTER`` behind its router; its socket kind
    is read once from ``uwsgi.opt``), waitress ``waitress.client_disconnected``, Twisted
    its own ``wsgi.errors`` type. uWSGI is looked at first: its environ may carry another
    server's ``SERVER_SOFTWARE`` forwarded by a proxy.
    """
    if "uwsgi.version" in environ:
        return SERVERS["uwsgi-router"] if environ.get("UWSGI_ROUTER") == "http" else _uwsgi_mode()
    software = environ.get("SERVER_SOFTWARE")
    if isinstance(software, str):
        profile = _by_software(software)
        if profile is not None:
            return profile
    if "waitress.client_disconnected" in environ:
        return SERVERS["waitress"]
    if type(environ.get("wsgi.errors")).__module__ == "twisted.web.wsgi":
        return SERVERS["twisted"]
    return UNKNOWN


@functools.lru_cache(maxsize=1)
def _uwsgi_mode() -> ServerProfile:
    """Which of its sockets a uWSGI worker serves (one process serves one kind here)."""
    try:
        options = importlib.import_module("uwsgi").opt  # only importable inside a uWSGI worker
    except (ImportError, AttributeError):
        return SERVERS["uwsgi-socket"]
    if "http11-socket" in options:
        return SERVERS["uwsgi"]
    if "http-socket" in options:
        return SERVERS["uwsgi-http-socket"]
    return SERVERS["uwsgi-socket"]


def recognise_asgi(send: Any) -> ServerProfile:
    """The server behind an ASGI ``send``, or :data:`UNKNOWN` (only hooks differ in ASGI).

    ``send`` may be a wrapper of the server's own (:func:`_server_send`).
    """
    raw = _server_send(send)
    if isinstance(raw, functools.partial):
        return SERVERS["daphne"] if type(raw.args[0]).__module__.startswith("daphne.") else UNKNOWN
    owner = _owner(raw)
    module = type(owner).__module__ if owner is not None else ""
    if module.startswith("hypercorn."):
        return SERVERS["hypercorn"]
    if module.startswith("uvicorn."):
        return SERVERS["uvicorn"]
    return UNKNOWN
