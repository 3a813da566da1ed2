"""connmw's WSGI middleware on real servers: every assertion is about bytes on the wire.

Servers run as subprocesses on loopback: wsgiref, werkzeug's development server (threaded,
HTTP/1.1 mode), gunicorn's ``sync`` and ``gthread`` workers,
granian's WSGI interface, waitress, cheroot, Twisted's WSGI container (``twist web
--wsgi``), uWSGI (pyuwsgi) as ``--http11-socket`` ("uwsgi"), ``--http-socket`` and its
``--http`` router, and uWSGI's ``--socket`` behind nginx's ``uwsgi_pass`` ("uwsgi-socket":
the client talks to nginx). Each serves tests/apps/wrapped_wsgi.py:app, configured only
through ``CONNMW_*`` variables: the apps behind connmw at ``/...``, the same apps bare at
``/bare/...`` (so each fault, docs/servers.md, "What servers do without connmw", is shown
without connmw and fixed with it by the same check on the same server), and a flask-sock echo at ``/ws``.

Clients: raw sockets (every header line, and whether the server really closed), the
three curl requests of the Heroku question, and the websockets client for a real echo.

In WSGI the server owns the connection; what connmw can make each server say was
measured here and is pinned in ``CURL_MATRIX`` (docs/servers.md, "The Heroku question's
requests behind connmw"). Where a server decides against what the ASGI side says,
``CURL_MATRIX`` records the server's answer and the reason:

* wsgiref speaks HTTP/1.0, closes every connection and sends no Connection field; it
  refuses any hop-by-hop field from an application, a 101's Upgrade included (500).
* werkzeug's server sends ``Connection: close`` and closes after every response.
* gunicorn's sync worker closes after every response, and says so.
* granian adds its own ``keep-alive`` to the answer to an HTTP/1.0 keep-alive request,
  so connmw cannot say ``close`` there without a contradiction: it stays open.
* waitress answers 500 to any Connection field from an application, so connmw sends
  none; it is asked to close through its task (HTTP/1.0 keep-alive too). It closes
  after every response without Content-Length (204 and 304 included), and says so.
* uWSGI's ``--http-socket`` closes every connection: connmw says ``close``.
* Behind nginx the client's connection is nginx's: nginx answers HTTP/1.0 keep-alive
  with keep-alive and never relays the application's ``Connection: close``.
* Servers that cannot hand a connection over (wsgiref, waitress, cheroot, Twisted,
  uWSGI) get no 101 from connmw: it raises, and the server answers 500; uWSGI answers
  nothing at all to an application that raised before its response started (nginx in
  front then says 502).
"""

from __future__ import annotations

import contextlib
import json
import socket
from collections.abc import Callable, Iterator, Sequence

import pytest
from websockets.sync.client import connect as ws_connect

from tests.apps import wrapped_wsgi
from tests.helpers import WS_ACCEPT, WS_KEY, server_pool
from tests.wire import (
    CLOSE_WAIT,
    RawConnection,
    RawResponse,
    Server,
    WireError,
    cheroot_cmd,
    curl,
    django_cmd,
    granian_cmd,
    gunicorn_cmd,
    hypercorn_cmd,
    mod_wsgi_cmd,
    request_bytes,
    twisted_cmd,
    uwsgi_cmd,
    uwsgi_nginx_cmd,
    waitress_cmd,
    werkzeug_cmd,
    wsgiref_cmd,
)

pytestmark = pytest.mark.timeout(60)

APP = "tests.apps.wrapped_wsgi:app"
GOOD_ORIGIN = "http://good.example"
ENV = {"CONNMW_WS_ALLOWED_ORIGINS": GOOD_ORIGIN}
HOP_BY_HOP = {"keep-alive", "proxy-connection", "upgrade", "x-hop", "te", "trailers"}
WS_HEADERS = [
    ("Connection", "Upgrade"),
    ("Upgrade", "websocket"),
    ("Sec-WebSocket-Key", WS_KEY),
    ("Sec-WebSocket-Version", "13"),
]

SERVERS: dict[str, Callable[[int], list[str]]] = {
    "wsgiref": lambda port: wsgiref_cmd(APP, port),
    "django": lambda port: django_cmd(APP, port),  # runserver's server: WSGIServer/0.2 too
    "werkzeug": lambda port: werkzeug_cmd(APP, port),
    "gunicorn-sync": lambda port: gunicorn_cmd(APP, port, worker="sync"),
    "gunicorn-gthread": lambda port: gunicorn_cmd(APP, port, threads=4),
    "granian": lambda port: granian_cmd(APP, port, interface="wsgi"),
    "hypercorn": lambda port: hypercorn_cmd(APP, port),  # its WSGI wrapper (asyncio worker)
    "waitress": lambda port: waitress_cmd(APP, port),
    "cheroot": lambda port: cheroot_cmd(APP, port),
    "twisted": lambda port: twisted_cmd(APP, port),
    "uwsgi": lambda port: uwsgi_cmd(APP, port, "http11-socket"),
    "uwsgi-http-socket": lambda port: uwsgi_cmd(APP, port, "http-socket"),
    "uwsgi-router": lambda port: uwsgi_cmd(APP, port, "http"),
    "uwsgi-socket": lambda port: uwsgi_cmd(APP, port, "socket"),  # nginx in front: BEHIND_NGINX
    "mod_wsgi": lambda port: mod_wsgi_cmd(APP, port),  # daemon mode, as mod_wsgi-express runs it
    "mod_wsgi-embedded": lambda port: mod_wsgi_cmd(APP, port, embedded=True),
}
ALL = list(SERVERS)
# waitress, cheroot, Twisted and uWSGI can neither hand the socket to flask-sock nor send
# an app's 101: connmw refuses a 101 there (NO_SWITCH, as on wsgiref).
TAKEOVER = ["werkzeug", "gunicorn-sync", "gunicorn-gthread"]  # hand the socket to flask-sock
UPGRADING = ["werkzeug", "gunicorn-sync", "gunicorn-gthread", "granian"]  # send an app's 101
NO_SWITCH = [name for name in ALL if name not in UPGRADING]
BEHIND_NGINX = {"uwsgi-socket"}  # started by SERVERS, reached through nginx's uwsgi_pass
UWSGI_NATIVE = ["uwsgi", "uwsgi-http-socket", "uwsgi-router"]
UWSGI_SILENT = pytest.mark.xfail(
    strict=True,
    raises=WireError,
    reason="uWSGI writes no byte when the application raises before its response started "
    "(plugins/python/pyutils.c python_call -> core/exceptions.c uwsgi_manage_exception only "
    "logs it, without --catch-exceptions): EOF on --http-socket and the router, silence until "
    "--socket-timeout (4 s) on --http11-socket (measured)",
)
HYPERCORN_WS = pytest.mark.xfail(
    strict=True,
    raises=AssertionError,
    reason="hypercorn answers every WebSocket handshake to a WSGI application itself, before any "
    "middleware (its WSGIWrapper serves http scopes only): 400 for version 8, 403 otherwise (measured)",
)
NGINX_502 = pytest.mark.xfail(
    strict=True, raises=AssertionError, reason="nginx answers 502 Bad Gateway when uWSGI wrote nothing"
)


def xfails(names: Sequence[str], marks: dict[str, pytest.MarkDecorator]) -> list[object]:
    """``names`` as parameters, each in ``marks`` with its xfail(strict=True) and measured reason."""
    return [pytest.param(name, marks=marks[name]) if name in marks else name for name in names]


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[[str], Server]]:
    """Start each server once for the module, on first use, configured only by ``ENV``.

    A server in ``BEHIND_NGINX`` is started with nginx in front; nginx is returned.
    """
    with server_pool() as pool:

        def get(name: str) -> Server:
            if name in BEHIND_NGINX:
                upstream = pool.shared(f"{name} upstream", SERVERS[name], env=ENV)
                return pool.shared(
                    name, lambda port: uwsgi_nginx_cmd(tmp_path_factory.mktemp("nginx"), upstream.port, port)
                )
            return pool.shared(name, SERVERS[name], env=ENV)

        yield get


def send(
    port: int,
    path: str = "/",
    version: str = "HTTP/1.1",
    headers: Sequence[tuple[str, str]] = (),
    method: str = "POST",
    *,
    timeout: float = 5.0,
    close_wait: float = 2.0,
) -> RawResponse:
    """One request on a new connection (a POST with a body, as curl sent it).

    ``close_wait``: how long a response that says close may take to close.
    """
    with RawConnection(port, timeout=timeout) as connection:
        request = request_bytes(
            method, path, version, headers=headers, body=b"x" if method == "POST" else b""
        )
        response = connection.send(request)
        if not response.closed:
            announced = "close" in response.connection_tokens()
            response.closed = connection.is_closed(wait=close_wait if announced else 0.3)
        return response


def problems(response: RawResponse) -> list[str]:
    """What is wrong with a response's connection-level fields, or nothing."""
    found = []
    if response.status >= 500:
        found.append(f"status {response.status}")
    names = response.header_names_lower()
    if leaked := sorted(set(names) & HOP_BY_HOP):
        found.append(f"hop-by-hop {leaked}")
    for name in ("connection", "transfer-encoding", "content-length"):
        if names.count(name) > 1:
            found.append(f"{names.count(name)} {name} lines")
    tokens = set(response.connection_tokens())
    if tokens - {"close", "keep-alive"}:
        found.append(f"Connection nominates {sorted(tokens - {'close', 'keep-alive'})}")
    if {"close", "keep-alive"} <= tokens:
        found.append("Connection says close and keep-alive")
    if "close" in tokens and not response.closed:
        found.append("says close, stays open")
    if "keep-alive" in tokens and response.closed and not response.close_delimited:
        found.append("says keep-alive, closes")
    return found


# --------------------------------------------------------------------------------------
# The servers' faults (docs/servers.md): the same check fails on /bare, passes behind connmw
# --------------------------------------------------------------------------------------

BROKEN = "broken framing"  # the response cannot be read as RFC 9112 frames it (1 s)
FAULTS: dict[str, str | dict[str, str]] = {  # one value for both versions, or one per version
    "wsgiref": "status 500",  # AssertionError: Hop-by-hop header not allowed
    "django": "status 500",  # wsgiref's assertion, inherited
    "hypercorn": "hop-by-hop ['keep-alive', 'proxy-connection', 'upgrade', 'x-hop']",
    "werkzeug": "2 transfer-encoding lines",  # and two Connection lines
    "gunicorn-sync": "hop-by-hop ['proxy-connection', 'x-hop']",  # not in gunicorn's list
    "gunicorn-gthread": "hop-by-hop ['proxy-connection', 'x-hop']",
    "granian": "hop-by-hop ['keep-alive', 'proxy-connection', 'upgrade', 'x-hop']",
    "waitress": "status 500",  # AssertionError: Connection is a "hop-by-hop" header
    # cheroot and Twisted pass every field on; to HTTP/1.0 the app's Transfer-Encoding:
    # chunked heads an unchunked body (cheroot adds its own chunked line on HTTP/1.1).
    "cheroot": {"HTTP/1.1": "2 transfer-encoding lines", "HTTP/1.0": BROKEN},
    "twisted": {
        "HTTP/1.1": "hop-by-hop ['keep-alive', 'proxy-connection', 'upgrade', 'x-hop']",
        "HTTP/1.0": BROKEN,
    },
    # uWSGI passes everything, Transfer-Encoding: chunked over the unchunked body too.
    "uwsgi": BROKEN,
    "uwsgi-http-socket": BROKEN,
    "uwsgi-router": BROKEN,  # the router trusts the app's Transfer-Encoding and waits for chunks
    "uwsgi-socket": "hop-by-hop ['proxy-connection', 'upgrade', 'x-hop']",  # nginx hides the rest
    # Apache passes the app's Transfer-Encoding: chunked over a body it does not chunk.
    "mod_wsgi": BROKEN,
    "mod_wsgi-embedded": BROKEN,
}


def fault(name: str, version: str) -> str:
    """The problem ``/bare/hoppy`` shows on ``name`` for a ``version`` request."""
    expected = FAULTS[name]
    return expected if isinstance(expected, str) else expected[version]


def bare_problems(
    port: int, path: str, version: str = "HTTP/1.1", headers: Sequence[tuple[str, str]] = ()
) -> list[str]:
    """``problems`` of a bare app's response, or ``BROKEN`` when it cannot be read within 1 s."""
    try:
        return problems(send(port, path, version, headers, timeout=1.0, close_wait=CLOSE_WAIT))
    except WireError:
        return [BROKEN]


@pytest.mark.parametrize("version", ["HTTP/1.1", "HTTP/1.0"])
@pytest.mark.parametrize("name", ALL)
def test_hoppy_app_clean_behind_connmw(servers: Callable[[str], Server], name: str, version: str) -> None:
    port = servers(name).port
    found = bare_problems(port, "/bare/hoppy", version)
    assert fault(name, version) in found, found
    wrapped = send(port, "/hoppy", version)
    assert problems(wrapped) == []
    assert wrapped.status == 200
    assert wrapped.body == b"hello world"


def test_werkzeug_fault_in_full(servers: Callable[[str], Server]) -> None:
    port = servers("werkzeug").port
    bare = send(port, "/bare/hoppy")
    assert bare.header_values("transfer-encoding") == ["chunked", "chunked"]
    assert len(bare.header_values("connection")) == 2
    wrapped = send(port, "/hoppy")
    assert wrapped.header_values("transfer-encoding") == ["chunked"]  # werkzeug's own framing
    assert wrapped.header_values("connection") == ["close"]
    assert wrapped.chunked
    assert wrapped.body == b"hello world"


# --------------------------------------------------------------------------------------
# The curl matrix: what each server says and does behind connmw (docs/servers.md's table)
# --------------------------------------------------------------------------------------

REQUESTS = {
    "http11": ("HTTP/1.1", ()),
    "http10": ("HTTP/1.0", ()),
    "http11-close": ("HTTP/1.1", (("Connection", "close"),)),
    "http10-keep-alive": ("HTTP/1.0", (("Connection", "keep-alive"),)),
}
OPEN, CLOSED = False, True
# What connmw says where it sends the field and can make the server close: keep-alive
# for HTTP/1.1, close (and closed) for the rest, HTTP/1.0 keep-alive included.
PERSISTENT_HTTP11 = {
    "http11": (["keep-alive"], OPEN),
    "http10": (["close"], CLOSED),
    "http11-close": (["close"], CLOSED),
    "http10-keep-alive": (["close"], CLOSED),
}
# server -> request -> (Connection values on the wire, socket closed); app "plain" at "/".
CURL_MATRIX: dict[str, dict[str, tuple[list[str], bool]]] = {
    "wsgiref": {request: ([], CLOSED) for request in REQUESTS},
    "django": dict(PERSISTENT_HTTP11),  # connmw's field through Django's handler
    "hypercorn": dict(PERSISTENT_HTTP11),
    "werkzeug": {request: (["close"], CLOSED) for request in REQUESTS},
    "gunicorn-sync": {request: (["close"], CLOSED) for request in REQUESTS},
    "gunicorn-gthread": {
        "http11": (["keep-alive"], OPEN),
        "http10": (["close"], CLOSED),
        "http11-close": (["close"], CLOSED),
        "http10-keep-alive": (["close"], CLOSED),  # connmw asks gunicorn to close, as ASGI does
    },
    "granian": {
        "http11": (["keep-alive"], OPEN),  # granian alone sends no Connection field
        "http10": (["close"], CLOSED),
        "http11-close": (["close"], CLOSED),
        "http10-keep-alive": (["keep-alive"], OPEN),  # granian's own choice, see the docstring
    },
    "waitress": {
        "http11": ([], OPEN),  # no field from connmw (waitress answers 500 to one); 1.1 persists
        "http10": (["close"], CLOSED),
        "http11-close": (["close"], CLOSED),
        "http10-keep-alive": (["close"], CLOSED),  # connmw asks waitress to close (_waitress_persist)
    },
    "cheroot": dict(PERSISTENT_HTTP11),
    "twisted": dict(PERSISTENT_HTTP11),
    "uwsgi": dict(PERSISTENT_HTTP11),  # http11-socket: the close is a shutdown of the socket
    "uwsgi-http-socket": {request: (["close"], CLOSED) for request in REQUESTS},  # closes them all
    "uwsgi-router": dict(PERSISTENT_HTTP11),
    "mod_wsgi": dict(PERSISTENT_HTTP11),
    "mod_wsgi-embedded": dict(PERSISTENT_HTTP11),
    "uwsgi-socket": {  # nginx's own answers: the client's connection is nginx's
        "http11": (["keep-alive"], OPEN),
        "http10": (["close"], CLOSED),
        "http11-close": (["close"], CLOSED),
        "http10-keep-alive": (["keep-alive"], OPEN),
    },
}
PERSISTENT = [name for name in ALL if CURL_MATRIX[name]["http11"][1] is OPEN]


@pytest.mark.parametrize("request_", list(REQUESTS))
@pytest.mark.parametrize("name", ALL)
def test_curl_matrix(servers: Callable[[str], Server], name: str, request_: str) -> None:
    version, headers = REQUESTS[request_]
    response = send(servers(name).port, "/", version, headers)
    expected, closed = CURL_MATRIX[name][request_]
    assert [value.lower() for value in response.header_values("connection")] == expected
    assert response.closed is closed
    assert problems(response) == []
    assert response.body == b"ok"


NGINX_KEEPS = pytest.mark.xfail(
    strict=True,
    raises=AssertionError,
    reason="nginx owns the client's connection: it keeps it, says keep-alive, and never relays "
    "an upstream's Connection field (measured: /close answered 'Connection: keep-alive', kept)",
)


@pytest.mark.parametrize("name", xfails(ALL, {"uwsgi-socket": NGINX_KEEPS}))
def test_app_close_is_honoured_once(servers: Callable[[str], Server], name: str) -> None:
    port = servers(name).port
    response = send(port, "/close")
    assert response.closed
    assert response.header_values("connection") == ([] if name == "wsgiref" else ["close"])
    assert response.body == b"bye"


def test_fault_gunicorn_gthread_ignores_the_apps_close(servers: Callable[[str], Server]) -> None:
    port = servers("gunicorn-gthread").port
    bare = send(port, "/bare/close")
    assert (bare.header_values("connection"), bare.closed) == (["keep-alive"], False)
    bare10 = send(port, "/bare/", "HTTP/1.0", [("Connection", "keep-alive")])
    assert (bare10.header_values("connection"), bare10.closed) == (["keep-alive"], False)


def test_fault_granian_says_nothing_on_http11(servers: Callable[[str], Server]) -> None:
    port = servers("granian").port
    assert send(port, "/bare/").header_values("connection") == []
    assert send(port, "/bare/", "HTTP/1.0").header_values("connection") == []


# waitress closes after every response without Content-Length (task.py
# build_response_header), a streamed one too, and says so (test_streaming_framed_once).
@pytest.mark.parametrize(
    ("name", "path"),
    [
        pytest.param(name, path, id=f"{name}-{path}")
        for name in PERSISTENT
        for path in ("/", "/hoppy", "/stream")
        if (name, path) != ("waitress", "/stream")
    ],
)
def test_keep_alive_really_carries_the_next_request(
    servers: Callable[[str], Server], name: str, path: str
) -> None:
    with RawConnection(servers(name).port) as connection:
        for _ in range(3):
            response = connection.send(request_bytes("GET", path))
            assert response.status == 200
            assert problems(response) == []
        assert not connection.is_closed(wait=0.1)


# werkzeug's server in HTTP/1.1 mode chunks any body without Content-Length, even to an
# HTTP/1.0 client (RFC 9112 §6.1 forbids it): connmw holds such a body and sends a length.
# uWSGI's http11-socket and router frame no body without Content-Length themselves
# (chunks_unsized=False): connmw holds it and sends its length on HTTP/1.1 too.
UNCHUNKED = ["uwsgi", "uwsgi-router", "django"]


@pytest.mark.parametrize(
    ("name", "version"),
    [
        pytest.param(name, version, id=f"{name}-{version}")
        for name in ALL
        for version in ("HTTP/1.1", "HTTP/1.0")
    ],
)
def test_streaming_framed_once(servers: Callable[[str], Server], name: str, version: str) -> None:
    response = send(servers(name).port, "/stream", version, method="GET")
    assert response.body == b"one\ntwo\nthree\n"
    assert problems(response) == []
    if version == "HTTP/1.0" or name in UNCHUNKED:  # held by connmw, sent with its length
        assert not response.chunked
        assert response.header_values("content-length") == ["14"]


def test_fault_uwsgi_http11_leaves_a_stream_undelimited(servers: Callable[[str], Server]) -> None:
    """Bare, ``--http11-socket`` writes the stream raw and keeps the connection: no end in sight."""
    port = servers("uwsgi").port
    with pytest.raises(WireError, match="no data from the server within"):
        send(port, "/bare/stream", method="GET", timeout=1.0)
    assert send(port, "/stream", method="GET").body == b"one\ntwo\nthree\n"


@pytest.mark.parametrize("name", ALL)
def test_the_three_curl_requests(servers: Callable[[str], Server], name: str) -> None:
    url = f"{servers(name).url}/"
    persistent = name in PERSISTENT
    default = curl(["-X", "POST", url])
    assert [v.lower() for v in default.header_values("connection")] == CURL_MATRIX[name]["http11"][0]
    assert default.left_intact is persistent
    http10 = curl(["-X", "POST", "--http1.0", url])
    assert not http10.left_intact
    close = curl(["-X", "POST", "-H", "Connection: close", url])
    assert not close.left_intact
    assert [v.lower() for v in close.header_values("connection")] == CURL_MATRIX[name]["http11-close"][0]
    assert default.body == http10.body == close.body == b"ok"


@pytest.mark.parametrize("name", ALL)
def test_file_wrapper_body_intact(servers: Callable[[str], Server], name: str) -> None:
    response = send(servers(name).port, "/file", method="GET")
    with open(wrapped_wsgi.__file__, "rb") as source:
        assert response.body == source.read()
    assert problems(response) == []


@pytest.mark.parametrize("name", ALL)
def test_facts_published_in_the_environ(servers: Callable[[str], Server], name: str) -> None:
    port = servers(name).port
    seen = json.loads(send(port, "/environ", method="GET").body)
    assert (seen["http_version"], seen["persistent"]) == ("1.1", True)
    seen = json.loads(send(port, "/environ", "HTTP/1.0", method="GET").body)
    assert (seen["http_version"], seen["persistent"]) == ("1.0", False)


@pytest.mark.parametrize("name", ALL)
def test_malformed_request_headers_never_500(servers: Callable[[str], Server], name: str) -> None:
    port = servers(name).port
    for headers in (
        [("Connection", "???, keep-alive; x, ,")],
        [("Connection", ", ".join(f"x-{i}" for i in range(200)))],
        [("Connection", "cookie, host, authorization")],
        [("Connection", "upgrade"), ("Upgrade", "websocket")],
        [("Connection", "upgrade"), ("Upgrade", "\x7f\x80garbage")],
        [*WS_HEADERS[:3], ("Sec-WebSocket-Version", "13, 13")],
    ):
        response = send(port, "/", headers=headers, method="GET")
        assert response.status < 500, headers


# --------------------------------------------------------------------------------------
# WebSocket: handshakes judged on the wire, flask-sock's echo, an app's own 101
# --------------------------------------------------------------------------------------

HANDSHAKES = [
    pytest.param({"Sec-WebSocket-Version": "8"}, 426, id="version-8"),
    pytest.param({"Sec-WebSocket-Key": "short"}, 400, id="short-key"),
    pytest.param({"Connection": "keep-alive"}, 400, id="no-connection-upgrade"),
    pytest.param({"Origin": "http://evil.example"}, 403, id="foreign-origin-from-env"),
]


@pytest.mark.parametrize(
    ("name", "change", "status"),
    [
        pytest.param(
            name,
            *case.values,
            id=f"{name}-{case.id}",
            # hypercorn takes only a request with Connection: Upgrade for a WebSocket one
            marks=[HYPERCORN_WS] if name == "hypercorn" and "Connection" not in case.values[0] else [],
        )
        for case in HANDSHAKES
        for name in ALL
    ],
)
def test_handshake_refusals(
    servers: Callable[[str], Server], name: str, change: dict[str, str], status: int
) -> None:
    headers = dict(WS_HEADERS)
    headers.update(change)
    response = send(servers(name).port, "/ws", headers=list(headers.items()), method="GET")
    assert response.status == status
    assert response.body.startswith(b"WebSocket handshake refused")
    assert response.header_values("sec-websocket-version") == (["13"] if status == 426 else [])
    assert problems(response) == []


def test_handshake_over_http10_refused(servers: Callable[[str], Server]) -> None:
    response = send(servers("gunicorn-gthread").port, "/ws", "HTTP/1.0", WS_HEADERS, method="GET")
    assert response.status == 400


@pytest.mark.parametrize("origin", [None, GOOD_ORIGIN])
@pytest.mark.parametrize("name", TAKEOVER)
def test_flask_sock_echo(servers: Callable[[str], Server], name: str, origin: str | None) -> None:
    server = servers(name)
    with ws_connect(f"ws://127.0.0.1:{server.port}/ws", origin=origin, open_timeout=5, close_timeout=2) as ws:  # type: ignore[arg-type]
        assert ws.response.status_code == 101
        assert ws.response.headers["Sec-WebSocket-Accept"]
        for message in ("hello", "again"):
            ws.send(message)
            assert ws.recv(timeout=5) == message
    # flask-sock ends the response its own way (StopIteration on gunicorn, a dropped
    # connection on werkzeug): the server must be healthy afterwards and say nothing bad.
    assert send(server.port, "/", method="GET").status == 200
    assert "Error handling request" not in server.log_text()
    assert "Traceback" not in server.log_text()


@pytest.mark.parametrize("name", UPGRADING)
def test_apps_101_keeps_upgrade_and_connection(servers: Callable[[str], Server], name: str) -> None:
    response = send(servers(name).port, "/switch", headers=WS_HEADERS, method="GET")
    assert response.status == 101
    assert response.header_values("upgrade") == ["websocket"]
    assert "upgrade" in response.connection_tokens()
    assert response.header_values("sec-websocket-accept") == [WS_ACCEPT]
    if name == "werkzeug":  # werkzeug adds "Connection: close" to every response, a 101 too
        assert response.connection_tokens() == ["upgrade", "close"]
    else:
        assert response.connection_tokens() == ["upgrade"]


def test_wsgiref_refuses_any_101(servers: Callable[[str], Server]) -> None:
    """wsgiref asserts on Upgrade, with or without connmw: it cannot switch protocols."""
    assert send(servers("wsgiref").port, "/switch", headers=WS_HEADERS, method="GET").status == 500


SWITCH_ERRORS = [
    pytest.param("/switch?accept=bad", WS_HEADERS, id="bad-accept"),
    pytest.param("/switch?protocol=h2c", WS_HEADERS, id="other-protocol"),
    pytest.param("/switch", [], id="no-upgrade-asked"),
    pytest.param("/upgrade", [], id="bare-upgrade-app"),
]


# uWSGI answers nothing instead (test_uwsgi_answers_a_refused_101_with_nothing), nginx in
# front of it 502 (test_nginx_answers_a_refused_101_with_502).
@pytest.mark.parametrize(
    ("name", "path", "headers"),
    [
        pytest.param(
            name,
            *error.values,
            id=f"{name}-{error.id}",
            marks=[HYPERCORN_WS] if name == "hypercorn" and error.values[1] else [],
        )
        for name in ALL
        if name not in (*UWSGI_NATIVE, *BEHIND_NGINX)
        for error in SWITCH_ERRORS
    ],
)
def test_wrong_101_answered_500(
    servers: Callable[[str], Server], name: str, path: str, headers: list[tuple[str, str]]
) -> None:
    response = send(servers(name).port, path, headers=headers, method="GET")
    assert response.status == 500
    assert "upgrade" not in response.header_names_lower()


def test_wrong_101_logged(servers: Callable[[str], Server]) -> None:
    server = servers("gunicorn-gthread")
    send(server.port, "/switch?protocol=h2c", headers=WS_HEADERS, method="GET")
    assert "SwitchingProtocolsError" in server.log_text()


def test_half_closed_client_gets_its_answer(servers: Callable[[str], Server]) -> None:
    """A client that shuts its sending side after the request still gets a clean answer."""
    with socket.create_connection(("127.0.0.1", servers("gunicorn-gthread").port), timeout=5) as raw:
        raw.sendall(request_bytes("GET", "/hoppy"))
        raw.shutdown(socket.SHUT_WR)
        data = b""
        while chunk := raw.recv(65536):
            data += chunk
    head = data.split(b"\r\n\r\n", 1)[0].lower()
    assert head.startswith(b"http/1.1 200")
    assert b"x-hop" not in head


# The app's own Connection: close, bare: passed on while the socket stays open, or a 500;
# behind connmw each closes (test_app_close_is_honoured_once).
APP_CLOSE_FAULTS = {
    "waitress": "status 500",  # AssertionError: Connection is a "hop-by-hop" header
    "django": "status 500",  # wsgiref's assertion, inherited
    "cheroot": "says close, stays open",
    "twisted": "says close, stays open",
    "uwsgi": "says close, stays open",  # http11-socket: "Connection: close is not honoured"
}


@pytest.mark.parametrize("name", list(APP_CLOSE_FAULTS))
def test_fault_apps_close_ignored_bare(servers: Callable[[str], Server], name: str) -> None:
    found = bare_problems(servers(name).port, "/bare/close")
    assert APP_CLOSE_FAULTS[name] in found, found


# --------------------------------------------------------------------------------------
# A 101 where the server cannot hand the connection over: refused by connmw
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    xfails(
        NO_SWITCH,
        {**dict.fromkeys(UWSGI_NATIVE, UWSGI_SILENT), "uwsgi-socket": NGINX_502, "hypercorn": HYPERCORN_WS},
    ),
)
def test_101_refused_where_the_server_cannot_switch(servers: Callable[[str], Server], name: str) -> None:
    """A valid 101 from the app (``/switch``): connmw raises SwitchingProtocolsError, the server says 500."""
    server = servers(name)
    response = send(server.port, "/switch", headers=WS_HEADERS, method="GET", timeout=1.0)
    assert response.status == 500
    assert "upgrade" not in response.header_names_lower()
    assert response.header_values("sec-websocket-accept") == []
    assert "SwitchingProtocolsError" in server.log_text()


REFUSED_101 = [pytest.param("/switch", WS_HEADERS, id="valid"), *SWITCH_ERRORS]


@pytest.mark.parametrize(("path", "headers"), REFUSED_101)
@pytest.mark.parametrize("name", UWSGI_NATIVE)
def test_uwsgi_answers_a_refused_101_with_nothing(
    servers: Callable[[str], Server], name: str, path: str, headers: list[tuple[str, str]]
) -> None:
    """What uWSGI does instead of the 500: not a byte (never the 101), then EOF or silence."""
    server = servers(name)
    data = b""
    with socket.create_connection(("127.0.0.1", server.port), timeout=1.0) as raw:
        raw.sendall(request_bytes("GET", path, headers=headers))
        with contextlib.suppress(TimeoutError):  # http11-socket waits for --socket-timeout (4 s)
            for _ in range(100):
                chunk = raw.recv(65536)
                if not chunk:
                    break
                data += chunk
    assert data == b""
    assert "SwitchingProtocolsError" in server.log_text()


@pytest.mark.parametrize(("path", "headers"), REFUSED_101)
def test_nginx_answers_a_refused_101_with_502(
    servers: Callable[[str], Server], path: str, headers: list[tuple[str, str]]
) -> None:
    response = send(servers("uwsgi-socket").port, path, headers=headers, method="GET")
    assert response.status == 502
    assert "upgrade" not in response.header_names_lower()
    assert problems(response) == ["status 502"]  # nginx's own page, kept alive as it says


# --------------------------------------------------------------------------------------
# No content after HEAD, 204 and 304 (RFC 9110 §6.4.1), and the connection still parses
# --------------------------------------------------------------------------------------

NO_CONTENT = {  # case -> (method, query of /nocontent); the app always returns b"unwanted"
    "204": ("GET", "status=204"),
    "204-no-length": ("GET", "status=204&length=no"),
    "204-te": ("GET", "status=204&length=te"),
    "304": ("GET", "status=304"),
    "304-no-length": ("GET", "status=304&length=no"),
    "head": ("HEAD", "status=200"),
    "head-no-length": ("HEAD", "status=200&length=no"),
    "head-te": ("HEAD", "status=200&length=te"),
}
EVERY_CASE = frozenset(NO_CONTENT)
# The cases the bare app gets wrong on each server (measured): its body written (a desync
# on a kept connection, stray bytes before the close otherwise), a 204 that keeps its
# Content-Length or Transfer-Encoding, or a 500 for the app's Transfer-Encoding.
NO_CONTENT_FAULTS: dict[str, frozenset[str]] = {
    "wsgiref": EVERY_CASE,  # the body after the head; 500 for Transfer-Encoding
    # as wsgiref, but it drops a HEAD body itself (basehttp.ServerHandler.finish_response)
    "django": EVERY_CASE - {"head", "head-no-length"},
    "werkzeug": EVERY_CASE,  # the body after the head
    "gunicorn-sync": frozenset(),  # gunicorn drops such bodies and framing itself
    "gunicorn-gthread": frozenset(),
    "granian": frozenset({"204"}),  # keeps a 204's Content-Length
    "hypercorn": frozenset({"204", "204-te"}),  # keeps a 204's Content-Length, Transfer-Encoding
    "waitress": frozenset({"head", "head-no-length", "204-te", "head-te"}),  # HEAD bodies; 500s
    "cheroot": EVERY_CASE,
    "twisted": frozenset({"204", "204-te"}),  # keeps a 204's Content-Length, Transfer-Encoding
    "uwsgi": EVERY_CASE,
    "uwsgi-http-socket": EVERY_CASE,
    "uwsgi-router": EVERY_CASE,
    "uwsgi-socket": frozenset({"204"}),  # nginx drops the bodies, passes a 204's Content-Length
    "mod_wsgi": frozenset(),  # Apache drops such bodies itself
    "mod_wsgi-embedded": frozenset(),
}
# wsgiref adds Content-Length: 0 to a response whose body is empty, a 204 and a 304 too
# (wsgiref/handlers.py BaseHandler.finish_content): where connmw drops a body it hands the
# server an empty chunk in its place, which sends the head first, without that field.
NO_CONTENT_XFAIL: dict[tuple[str, str], pytest.MarkDecorator] = {}


def no_content_problems(
    port: int,
    method: str,
    path: str,
    version: str = "HTTP/1.1",
    headers: Sequence[tuple[str, str]] = (),
    *,
    timeout: float = 5.0,
) -> list[str]:
    """What is wrong with a response that has no content, and with its connection after it.

    A 204 carries neither Content-Length nor Transfer-Encoding; a Content-Length is the
    one a GET would have (8) and a HEAD response keeps the app's. Then the connection
    does what the response says: a closing one closes with no byte after the head (a
    stray byte counts as open), a persistent one answers ``GET /`` cleanly.
    """
    found: list[str] = []
    with RawConnection(port, timeout=timeout) as connection:
        try:
            response = connection.send(request_bytes(method, path, version, headers=headers))
        except WireError as error:
            return [f"unreadable: {error}"]
        if response.status >= 500:
            found.append(f"status {response.status}")
        lengths = response.header_values("content-length")
        if response.status == 204 and (lengths or response.has_header("transfer-encoding")):
            found.append("204 with Content-Length or Transfer-Encoding")
        elif response.status < 500 and lengths not in ([], ["8"]):
            found.append(f"Content-Length {lengths}")
        elif method == "HEAD" and "length=" not in path and lengths != ["8"]:
            found.append("HEAD lost the app's Content-Length")
        tokens = response.connection_tokens()
        if "close" in tokens or (response.http_version == "HTTP/1.0" and "keep-alive" not in tokens):
            if not connection.is_closed(wait=2.0):
                found.append("bytes after a closing response, or no close")
            return found
        try:
            second = connection.send(request_bytes("GET", "/"))
        except WireError as error:
            found.append(f"the next response is lost: {error.data[:40]!r}")
        else:
            if (second.status, second.body) != (200, b"ok"):
                found.append(f"the next response is {second.status} {second.body[:40]!r}")
    return found


@pytest.mark.parametrize(
    ("name", "case"),
    [
        pytest.param(
            name,
            case,
            id=f"{name}-{case}",
            marks=[NO_CONTENT_XFAIL[name, case]] if (name, case) in NO_CONTENT_XFAIL else [],
        )
        for name in ALL
        for case in NO_CONTENT
    ],
)
def test_no_content_and_no_desync(servers: Callable[[str], Server], name: str, case: str) -> None:
    method, query = NO_CONTENT[case]
    port = servers(name).port
    bare = no_content_problems(port, method, f"/bare/nocontent?{query}", timeout=1.0)
    assert bool(bare) is (case in NO_CONTENT_FAULTS[name]), bare
    assert no_content_problems(port, method, f"/nocontent?{query}") == []


# On a connection that closes after the response (the client's close, HTTP/1.0) connmw's
# close must not cost the head (uWSGI's http11-socket closes by shutting the socket down,
# waitress by its task, cheroot and Twisted through their requests). wsgiref closes every
# connection and is in test_no_content_and_no_desync.
@pytest.mark.parametrize(
    "request_", [pytest.param(request, id=request) for request in ("http11-close", "http10")]
)
@pytest.mark.parametrize("case", ["204", "304-no-length", "head", "head-no-length"])
@pytest.mark.parametrize("name", [name for name in ALL if name != "wsgiref"])
def test_no_content_on_a_closing_connection(
    servers: Callable[[str], Server], name: str, case: str, request_: str
) -> None:
    method, query = NO_CONTENT[case]
    version, headers = REQUESTS[request_]
    port = servers(name).port
    assert no_content_problems(port, method, f"/nocontent?{query}", version, headers) == []
    with RawConnection(port) as connection:
        response = connection.send(request_bytes(method, f"/nocontent?{query}", version, headers=headers))
        assert response.connection_tokens() == ["close"]
        assert connection.is_closed(wait=2.0)
