"""connmw.wsgi.ConnectionMiddleware in process: PEP 3333 conformance and the adapter's duties.

Every exchange runs through ``wsgiref.validate.validator`` twice at once, around the app and
around the middleware (``validator(ConnectionMiddleware(validator(app)))``): the inner one
proves the app still sees a conformant environ and start_response, the outer one that the
server sees a conformant application. Servers are told apart by ``SERVER_SOFTWARE``, as the
middleware does; what the bytes look like on real servers is test_wsgi_servers.py's job.

A fake server's ``SERVER_SOFTWARE`` alone recognises no server (another may borrow it, and
the fake's ``start_response`` is not the server's): the profile it stands for is named
with the ``server`` option (``CONNMW_SERVER``), :data:`PROFILES`. Recognition itself is
test_servers_recognition.py's job.
"""

from __future__ import annotations

import io
import logging
import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any
from wsgiref.util import FileWrapper, setup_testing_defaults
from wsgiref.validate import validator

import pytest

import connmw._wsgi_headers
from connmw import ConfigError, ForbiddenHeaderError, RequestFacts, SwitchingProtocolsError, drain, undrain
from connmw.config import load_config
from connmw.wsgi import ENVIRON_KEY, ConnectionMiddleware
from tests.helpers import WS_ACCEPT, WS_KEY

HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-connection",
    "te",
    "transfer-encoding",
    "upgrade",
    "trailers",
}

WSGIREF = "WSGIServer/0.2 CPython/3.11"
WERKZEUG = "Werkzeug/3.1.8"
GUNICORN = "gunicorn/27.0.1"
GRANIAN = "Granian"
UNKNOWN = "waitress"
PROFILES = {WSGIREF: "wsgiref", WERKZEUG: "werkzeug", GUNICORN: "gunicorn", GRANIAN: "granian"}
"""The profile each fake server stands for; ``UNKNOWN`` names waitress in SERVER_SOFTWARE
only, which recognises nothing: the unknown profile."""


def as_server(software: str | None, **options: Any) -> Any:
    """Settings for a middleware on the fake server whose SERVER_SOFTWARE is ``software``."""
    return load_config(environ={}, server=PROFILES.get(software or "", "auto"), **options)


HOPPY = [
    ("Content-Type", "text/plain"),
    ("Connection", "keep-alive, X-Hop"),
    ("Keep-Alive", "timeout=5, max=1000"),
    ("X-Hop", "secret"),
    ("Upgrade", "foo"),
    ("Proxy-Connection", "keep-alive"),
    ("Transfer-Encoding", "chunked"),
]
PLAIN = [("Content-Type", "text/plain"), ("Content-Length", "2")]


# -- a fake server: records the status, headers and body, forwards close() -------------------


class GunicornLikeResponse:
    """What gunicorn's start_response returns the bound ``write`` of."""

    def __init__(self, sink: list[bytes]) -> None:
        self.sink = sink
        self.forced = False

    def write(self, data: bytes) -> None:
        self.sink.append(data)

    def force_close(self) -> None:
        self.forced = True


@dataclass
class Exchange:
    status: str = ""
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""
    starts: int = 0
    forced_close: bool = False
    environ: dict[str, Any] = field(default_factory=dict)
    iterable: Any = None

    def names(self) -> list[str]:
        return [name.lower() for name, _ in self.headers]

    def values(self, name: str) -> list[str]:
        return [value for key, value in self.headers if key.lower() == name]


def make_environ(
    *headers: tuple[str, str], protocol: str = "HTTP/1.1", software: str | None = None, method: str = "GET"
) -> dict[str, Any]:
    environ: dict[str, Any] = {
        "REQUEST_METHOD": method,
        "SERVER_PROTOCOL": protocol,
        "HTTP_HOST": "example.com",
        "QUERY_STRING": "",
    }
    if software is not None:
        environ["SERVER_SOFTWARE"] = software
    for name, value in headers:
        environ["HTTP_" + name.upper().replace("-", "_")] = value
    setup_testing_defaults(environ)
    return environ


def serve(app: Callable[..., Iterable[bytes]], environ: dict[str, Any], *, validate: bool = True) -> Exchange:
    """Run one request as a server does: start_response, iterate, close."""
    result = Exchange(environ=environ)
    chunks: list[bytes] = []
    response = GunicornLikeResponse(chunks)

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        if exc_info is not None and result.starts and chunks:
            raise exc_info[1].with_traceback(exc_info[2])
        result.status, result.headers = status, list(headers)
        result.starts += 1
        return response.write

    wrapped = validator(app) if validate else app
    iterable = wrapped(environ, start_response)
    result.iterable = iterable
    try:
        chunks.extend(iterable)
    finally:
        if hasattr(iterable, "close"):
            iterable.close()
    result.body = b"".join(chunks)
    result.forced_close = response.forced
    return result


def through(app: Callable[..., Iterable[bytes]], environ: dict[str, Any], **options: Any) -> Exchange:
    """``validator(ConnectionMiddleware(validator(app)))``, default settings unless given."""
    options.setdefault("server", PROFILES.get(environ.get("SERVER_SOFTWARE", ""), "auto"))
    middleware = ConnectionMiddleware(validator(app), config=load_config(environ={}, **options))
    return serve(middleware, environ)


def responder(headers: list[tuple[str, str]], body: bytes = b"ok", status: str = "200 OK") -> Any:
    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        start_response(status, list(headers))
        return [body]

    return app


class Closing:
    """An iterable that counts close() calls."""

    def __init__(self, parts: Iterable[bytes]) -> None:
        self.parts = list(parts)
        self.closed = 0

    def __iter__(self) -> Iterator[bytes]:
        return iter(self.parts)

    def close(self) -> None:
        self.closed += 1


# -- responses, per server ------------------------------------------------------------------

# (server, request, app headers) -> headers the server receives. "close": whether connmw
# asked gunicorn's response object to close.
RESPONSES = [
    pytest.param(WSGIREF, (), HOPPY, [("Content-Type", "text/plain")], False, id="wsgiref-hoppy-clean"),
    pytest.param(WSGIREF, (), PLAIN, PLAIN, False, id="wsgiref-plain-untouched"),
    pytest.param(WERKZEUG, (), HOPPY, [("Content-Type", "text/plain")], False, id="werkzeug-hoppy-clean"),
    pytest.param(
        WERKZEUG, (), [*PLAIN, ("Connection", "close")], PLAIN, False, id="werkzeug-app-close-not-doubled"
    ),
    pytest.param(UNKNOWN, (), HOPPY, [("Content-Type", "text/plain")], False, id="unknown-server-pep3333"),
    pytest.param(GUNICORN, (), HOPPY, [("Content-Type", "text/plain")], False, id="gunicorn-hoppy-no-x-hop"),
    pytest.param(GUNICORN, (), PLAIN, PLAIN, False, id="gunicorn-persistent-untouched"),
    pytest.param(
        GUNICORN, (), [*PLAIN, ("Connection", "close")], PLAIN, True, id="gunicorn-app-close-honoured"
    ),
    pytest.param(
        GUNICORN, ("HTTP/1.0", "keep-alive"), PLAIN, PLAIN, True, id="gunicorn-http10-keep-alive-closes"
    ),
    pytest.param(GUNICORN, ("HTTP/1.1", "close"), PLAIN, PLAIN, True, id="gunicorn-client-close"),
    pytest.param(GRANIAN, (), PLAIN, [*PLAIN, ("Connection", "keep-alive")], False, id="granian-keep-alive"),
    pytest.param(
        GRANIAN, ("HTTP/1.0", None), PLAIN, [*PLAIN, ("Connection", "close")], False, id="granian-http10"
    ),
    pytest.param(
        GRANIAN, ("HTTP/1", None), PLAIN, [*PLAIN, ("Connection", "close")], False, id="granian-http1"
    ),
    pytest.param(
        GRANIAN,
        ("HTTP/1.1", "close"),
        PLAIN,
        [*PLAIN, ("Connection", "close")],
        False,
        id="granian-client-close",
    ),
    pytest.param(
        GRANIAN,
        ("HTTP/1.1", None),
        [*PLAIN, ("Connection", "close")],
        [*PLAIN, ("Connection", "close")],
        False,
        id="granian-app-close-once",
    ),
    pytest.param(
        GRANIAN,
        ("HTTP/1.0", "keep-alive"),
        PLAIN,
        PLAIN,
        False,
        id="granian-http10-keep-alive-no-contradiction",
    ),
    pytest.param(
        GRANIAN, ("HTTP/2", None), HOPPY, [("Content-Type", "text/plain")], False, id="granian-h2-nothing"
    ),
    pytest.param(
        GRANIAN,
        (),
        HOPPY,
        [("Content-Type", "text/plain"), ("Connection", "keep-alive")],
        False,
        id="granian-hoppy",
    ),
]


@pytest.mark.parametrize(("server", "request_", "app_headers", "expected", "forced"), RESPONSES)
def test_response_headers_per_server(
    server: str,
    request_: tuple[str, str | None],
    app_headers: list[tuple[str, str]],
    expected: list[tuple[str, str]],
    forced: bool,
) -> None:
    protocol, connection = request_ or ("HTTP/1.1", None)
    headers = [("Connection", connection)] if connection else []
    result = through(responder(app_headers), make_environ(*headers, protocol=protocol, software=server))
    assert result.status == "200 OK"
    assert result.headers == expected
    assert result.body == b"ok"
    # The outer validator's WriteWrapper hides gunicorn's response object: ask once more without it.
    bare = serve(
        ConnectionMiddleware(validator(responder(app_headers)), config=as_server(server)),
        make_environ(*headers, protocol=protocol, software=server),
        validate=False,
    )
    assert bare.forced_close is forced


@pytest.mark.parametrize("server", [WSGIREF, WERKZEUG, GUNICORN, GRANIAN, UNKNOWN])
def test_never_two_connection_fields_nor_hop_by_hop_but_connection(server: str) -> None:
    for protocol, connection in [
        ("HTTP/1.1", None),
        ("HTTP/1.0", None),
        ("HTTP/1.1", "close"),
        ("HTTP/1.0", "keep-alive"),
    ]:
        headers = [("Connection", connection)] if connection else []
        for app_headers in (
            PLAIN,
            HOPPY,
            [*PLAIN, ("Connection", "close")],
            [*PLAIN, ("Connection", "keep-alive")],
        ):
            result = through(
                responder(app_headers), make_environ(*headers, protocol=protocol, software=server)
            )
            names = result.names()
            assert names.count("connection") <= 1
            assert not (set(names) - {"connection"}) & HOP_BY_HOP
            assert "x-hop" not in names
            if server == UNKNOWN:  # a close for the app's reasons only: never the request's
                closes = (
                    protocol == "HTTP/1.1" and connection is None and ("Connection", "close") in app_headers
                )
                assert result.values("connection") == (["close"] if closes else [])
            elif server != GRANIAN:
                assert "connection" not in names  # the server writes its own, or none


def test_keep_alive_hint_on_granian() -> None:
    result = through(responder(PLAIN), make_environ(software=GRANIAN), keep_alive_timeout=5)
    assert result.headers == [*PLAIN, ("Connection", "keep-alive"), ("Keep-Alive", "timeout=5")]


def test_stats_count_corrections_and_closes() -> None:
    middleware = ConnectionMiddleware(responder(HOPPY), config=load_config(environ={}))
    serve(middleware, make_environ(protocol="HTTP/1.0", software=GUNICORN))
    serve(middleware, make_environ(protocol="HTTP/1.0", software=GUNICORN))
    stats = middleware.stats.as_dict()
    names = ("connection", "x-hop", "keep-alive", "upgrade", "proxy-connection", "transfer-encoding")
    assert stats["headers_stripped"] == dict.fromkeys(names, 2)
    assert stats["connections_closed"] == {"client": 2}


# -- the iterable, close(), write(), exc_info --------------------------------------------------


@pytest.mark.parametrize("headers", [PLAIN, HOPPY], ids=["clean", "hoppy"])
@pytest.mark.parametrize("server", [WERKZEUG, GUNICORN, GRANIAN])
def test_iterable_returned_untouched_and_closed_once(headers: list[tuple[str, str]], server: str) -> None:
    body = Closing([b"o", b"k"])

    def app(environ: dict[str, Any], start_response: Any) -> Closing:
        start_response("200 OK", list(headers))
        return body

    middleware = ConnectionMiddleware(app, config=load_config(environ={}))
    result = serve(middleware, make_environ(software=server), validate=False)
    assert result.iterable is body
    assert body.closed == 1
    assert result.body == b"ok"


@pytest.mark.parametrize("headers", [PLAIN, HOPPY], ids=["clean", "hoppy"])
def test_file_wrapper_keeps_its_fast_path(headers: list[tuple[str, str]]) -> None:
    sent: list[Any] = []

    def app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        start_response("200 OK", list(headers))
        wrapper: Iterable[bytes] = environ["wsgi.file_wrapper"](io.BytesIO(b"ok"))
        sent.append(wrapper)
        return wrapper

    environ = make_environ(software=GUNICORN)
    environ["wsgi.file_wrapper"] = FileWrapper
    result = ConnectionMiddleware(app, config=load_config(environ={}))(environ, lambda *a: None)
    assert result is sent[0]
    assert isinstance(result, FileWrapper)
    result.close()  # type: ignore[attr-defined]


def test_close_called_once_through_both_validators() -> None:
    body = Closing([b"ok"])

    def app(environ: dict[str, Any], start_response: Any) -> Closing:
        start_response("200 OK", list(HOPPY))
        return body

    through(app, make_environ(software=WERKZEUG))
    assert body.closed == 1


@pytest.mark.parametrize("server", [WERKZEUG, GUNICORN, GRANIAN])
def test_write_callable_works(server: str) -> None:
    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        write = start_response("200 OK", list(HOPPY))
        write(b"hello ")
        return [b"world"]

    result = through(app, make_environ(software=server))
    assert result.body == b"hello world"
    assert "x-hop" not in result.names()


def test_streaming_generator_passes() -> None:
    def app(environ: dict[str, Any], start_response: Any) -> Iterator[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain"), ("Transfer-Encoding", "chunked")])
        yield b"one\n"
        yield b"two\n"

    result = through(app, make_environ(software=WERKZEUG))
    assert result.body == b"one\ntwo\n"
    assert result.headers == [("Content-Type", "text/plain")]


@pytest.mark.parametrize("strict", [False, True], ids=["lenient", "strict"])
def test_exc_info_before_headers_sent_replaces_the_response(strict: bool) -> None:
    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        start_response("200 OK", list(PLAIN))
        try:
            raise ValueError("boom")
        except ValueError:
            start_response(
                "500 Internal Server Error",
                [("Content-Type", "text/plain"), ("Connection", "x-a")],
                sys.exc_info(),
            )
        return [b"error"]

    result = through(app, make_environ(software=GUNICORN), strict=strict)
    assert result.status == "500 Internal Server Error"
    assert result.headers == [("Content-Type", "text/plain")]
    assert result.starts == 2


def test_exc_info_after_headers_sent_reraises_the_apps_error() -> None:
    error = ValueError("late")

    def app(environ: dict[str, Any], start_response: Any) -> Iterator[bytes]:
        start_response("200 OK", list(PLAIN))
        yield b"partial"
        try:
            raise error
        except ValueError:
            start_response("500 Internal Server Error", [*PLAIN, ("Connection", "close")], sys.exc_info())
        yield b"never"

    with pytest.raises(ValueError) as caught:
        serve(
            ConnectionMiddleware(app, config=load_config(environ={}, strict=True)),
            make_environ(),
            validate=False,
        )
    assert caught.value is error


@pytest.mark.parametrize("where", ["call", "iteration"])
def test_app_exceptions_propagate_unchanged(where: str) -> None:
    error = RuntimeError("app failed")

    def app(environ: dict[str, Any], start_response: Any) -> Iterator[bytes]:
        if where == "call":
            raise error
        start_response("200 OK", list(PLAIN))
        return _failing(error)

    with pytest.raises(RuntimeError) as caught:
        serve(ConnectionMiddleware(app, config=load_config(environ={})), make_environ(), validate=False)
    assert caught.value is error


def _failing(error: Exception) -> Iterator[bytes]:
    yield b"o"
    raise error


def test_stop_iteration_from_the_app_reaches_the_server() -> None:
    """flask-sock ends a WebSocket response on gunicorn by raising StopIteration."""

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        raise StopIteration

    middleware = ConnectionMiddleware(app, config=load_config(environ={}))
    with pytest.raises(StopIteration):
        middleware(make_environ(software=GUNICORN), lambda *a: None)


# -- strict mode and malformed app headers --------------------------------------------------

STRICT = [
    pytest.param(
        [*PLAIN, ("Transfer-Encoding", "chunked")], "transfer-encoding", "hop-by-hop", id="hop-by-hop"
    ),
    pytest.param(
        [*PLAIN, ("X-A", "1"), ("Connection", "x-a")], "x-a", "Connection-nominated", id="nominated"
    ),
    pytest.param([*PLAIN, ("X-Bad", "caf\u20ac")], "X-Bad", "malformed", id="not-latin-1"),
    pytest.param([*PLAIN, ("X-Bad", 1)], "X-Bad", "malformed", id="not-str"),
]


@pytest.mark.parametrize(("headers", "name", "why"), STRICT)
def test_strict_mode_raises_naming_the_header(headers: list[tuple[str, str]], name: str, why: str) -> None:
    middleware = ConnectionMiddleware(responder(headers), strict=True)
    with pytest.raises(ForbiddenHeaderError, match=why) as caught:
        serve(middleware, make_environ(software=GRANIAN), validate=False)
    assert caught.value.header == name
    assert caught.value.status_hint == 500


@pytest.mark.parametrize("wish", ["close", "keep-alive"])
def test_strict_mode_accepts_an_honoured_wish(wish: str) -> None:
    result = through(responder([*PLAIN, ("Connection", wish)]), make_environ(software=GRANIAN), strict=True)
    assert result.status == "200 OK"


def test_malformed_app_header_is_reported_and_the_response_goes_out(caplog: pytest.LogCaptureFixture) -> None:
    headers = [*HOPPY, ("X-Euro", "\u20ac")]
    middleware = ConnectionMiddleware(responder(headers), config=load_config(environ={}))
    connmw._wsgi_headers._warned_malformed.clear()  # logged once per process
    with caplog.at_level(logging.WARNING, logger="connmw"):
        result = serve(middleware, make_environ(software=WERKZEUG), validate=False)
    assert result.headers == [("Content-Type", "text/plain"), ("X-Euro", "\u20ac")]
    assert "X-Euro that WSGI cannot carry" in caplog.text
    assert "x-hop" not in result.names()


# -- 101 Switching Protocols through start_response -----------------------------------------

WS_REQUEST = (
    ("Connection", "Upgrade"),
    ("Upgrade", "websocket"),
    ("Sec-WebSocket-Key", WS_KEY),
    ("Sec-WebSocket-Version", "13"),
)
GOOD_101 = [
    ("Content-Type", "text/plain"),
    ("Upgrade", "websocket"),
    ("Connection", "Upgrade"),
    ("Sec-WebSocket-Accept", WS_ACCEPT),
]

SWITCHING = [
    pytest.param(WS_REQUEST, GOOD_101, None, id="valid-websocket-101"),
    pytest.param(
        WS_REQUEST,
        [*GOOD_101[:2], ("Connection", "keep-alive, Upgrade"), GOOD_101[3]],
        None,
        id="keep-alive-upgrade",
    ),
    pytest.param((), GOOD_101, "asked for no upgrade", id="no-upgrade-asked"),
    pytest.param(
        (("Connection", "Upgrade"), ("Upgrade", "h2c")), GOOD_101, "did not offer", id="other-protocol"
    ),
    pytest.param(WS_REQUEST, [*GOOD_101[:3], ("Sec-WebSocket-Accept", "bad=")], "Accept", id="bad-accept"),
    pytest.param(WS_REQUEST, [("Content-Type", "text/plain")], "without an Upgrade", id="no-upgrade-field"),
]


@pytest.mark.parametrize("server", [WERKZEUG, GUNICORN, GRANIAN])
@pytest.mark.parametrize(("request_headers", "response_headers", "problem"), SWITCHING)
def test_switching_protocols_checked(
    server: str,
    request_headers: tuple[tuple[str, str], ...],
    response_headers: list[tuple[str, str]],
    problem: str | None,
    caplog: pytest.LogCaptureFixture,
) -> None:
    app = responder(response_headers, b"", "101 Switching Protocols")
    environ = make_environ(*request_headers, software=server)
    if problem is None:
        result = through(app, environ)
        assert result.status == "101 Switching Protocols"
        assert result.values("upgrade") == ["websocket"]
        assert [value.lower() for value in result.values("connection")] == ["upgrade"]
        assert result.values("sec-websocket-accept") == [WS_ACCEPT]
        return
    with (
        caplog.at_level(logging.ERROR, logger="connmw"),
        pytest.raises(SwitchingProtocolsError, match=problem) as caught,
    ):
        serve(
            ConnectionMiddleware(app, config=load_config(environ={}, ws_validate=False)),
            environ,
            validate=False,
        )
    assert caught.value.status_hint == 500
    assert problem in caplog.text


# -- WebSocket handshakes judged before the app ---------------------------------------------

HANDSHAKES = [
    pytest.param({}, {}, 200, None, id="valid-reaches-app"),
    pytest.param({"Sec-WebSocket-Version": "8"}, {}, 426, "13", id="version-8-426"),
    pytest.param({"Sec-WebSocket-Key": "short"}, {}, 400, None, id="short-key-400"),
    pytest.param({"Connection": "keep-alive"}, {}, 400, None, id="no-connection-upgrade-400"),
    pytest.param({}, {"method": "POST"}, 400, None, id="post-400"),
    pytest.param({}, {"protocol": "HTTP/1.0"}, 400, None, id="http10-400"),
    pytest.param({}, {"protocol": "HTTP/1"}, 400, None, id="granian-http1-400"),
    pytest.param(
        {"Origin": "http://evil.example"},
        {"origins": ["https://app.example"]},
        403,
        None,
        id="foreign-origin-403",
    ),
    pytest.param(
        {"Origin": "https://app.example"},
        {"origins": ["https://app.example"]},
        200,
        None,
        id="allowed-origin",
    ),
    pytest.param({"Upgrade": "WebSocket, foo"}, {}, 200, None, id="upgrade-list-case"),
    pytest.param({"Sec-WebSocket-Version": "8"}, {"validate": False}, 200, None, id="validation-off"),
]


@pytest.mark.parametrize(("changes", "context", "status", "version"), HANDSHAKES)
def test_websocket_handshakes(
    changes: dict[str, str], context: dict[str, Any], status: int, version: str | None
) -> None:
    headers = dict(WS_REQUEST)
    headers.update(changes)
    called: list[bool] = []

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        called.append(True)
        start_response("200 OK", list(PLAIN))
        return [b"ok"]

    environ = make_environ(
        *headers.items(), protocol=context.get("protocol", "HTTP/1.1"), method=context.get("method", "GET")
    )
    options: dict[str, Any] = {"ws_validate": context.get("validate", True)}
    if "origins" in context:
        options["ws_allowed_origins"] = context["origins"]
    middleware = ConnectionMiddleware(validator(app), config=load_config(environ={}, **options))
    result = serve(middleware, environ)
    assert int(result.status[:3]) == status
    assert bool(called) is (status == 200)
    if status != 200:
        assert result.body.startswith(b"WebSocket handshake refused")
        assert result.values("sec-websocket-version") == ([version] if version else [])
        assert sum(middleware.stats.handshakes_rejected.values()) == 1


# -- the request side -----------------------------------------------------------------------


def test_facts_published_in_the_environ() -> None:
    seen: list[Any] = []

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        seen.append(environ[ENVIRON_KEY])
        start_response("200 OK", list(PLAIN))
        return [b"ok"]

    middleware = ConnectionMiddleware(app, config=load_config(environ={}))
    for _ in range(2):  # the second time from connmw's memory of the first
        serve(middleware, make_environ(("Connection", "close")))
    serve(middleware, make_environ(protocol="HTTP/1.0"))
    assert all(isinstance(facts, RequestFacts) for facts in seen)
    assert [facts.persistent for facts in seen] == [False, False, False]
    assert seen[0].tokens.close


STRIP = [
    pytest.param(
        (("Connection", "keep-alive, x-foo"), ("X-Foo", "1"), ("Keep-Alive", "300"), ("X-Bar", "2")),
        {"HTTP_X_BAR": "2"},
        {"HTTP_CONNECTION", "HTTP_X_FOO", "HTTP_KEEP_ALIVE"},
        id="hop-and-nominated",
    ),
    pytest.param((("TE", "deflate;q=0.5, trailers"),), {"HTTP_TE": "trailers"}, set(), id="te-trailers-kept"),
    pytest.param((("TE", "gzip"),), {}, {"HTTP_TE"}, id="te-dropped"),
    pytest.param(
        (("Connection", "cookie, authorization"), ("Cookie", "a=1"), ("Authorization", "Basic x")),
        {"HTTP_COOKIE": "a=1", "HTTP_AUTHORIZATION": "Basic x"},
        {"HTTP_CONNECTION"},
        id="protected-never",
    ),
    pytest.param(
        (("Connection", "Upgrade"), ("Upgrade", "h2c"), ("Proxy-Connection", "x")),
        {"HTTP_CONNECTION": "Upgrade", "HTTP_UPGRADE": "h2c"},
        {"HTTP_PROXY_CONNECTION"},
        id="upgrade-request-keeps-connection",
    ),
]


@pytest.mark.parametrize(("headers", "kept", "gone"), STRIP)
def test_strip_request_headers(
    headers: tuple[tuple[str, str], ...], kept: dict[str, str], gone: set[str]
) -> None:
    seen: dict[str, Any] = {}

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        seen.update(environ)
        start_response("200 OK", list(PLAIN))
        return [b"ok"]

    through(app, make_environ(*headers), strip_request_headers=True)
    assert {key: seen[key] for key in kept} == kept
    assert not gone & set(seen)
    assert seen["HTTP_HOST"] == "example.com"


def test_strip_off_leaves_the_environ_alone() -> None:
    seen: dict[str, Any] = {}

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        seen.update(environ)
        start_response("200 OK", list(PLAIN))
        return [b"ok"]

    through(app, make_environ(("Connection", "x-foo"), ("X-Foo", "1")))
    assert seen["HTTP_X_FOO"] == "1"
    assert seen["HTTP_CONNECTION"] == "x-foo"


def test_abuse_counted_every_time() -> None:
    middleware = ConnectionMiddleware(responder(PLAIN), config=load_config(environ={}))
    for _ in range(3):
        serve(middleware, make_environ(("Connection", "cookie")))
    assert middleware.stats.request_abuse == 3


MALFORMED_CLIENT = [
    pytest.param({"HTTP_CONNECTION": "???, keep-alive; x, ,,"}, id="invalid-tokens"),
    pytest.param({"HTTP_CONNECTION": ", ".join(f"x-{i}" for i in range(500))}, id="too-many-tokens"),
    pytest.param({"HTTP_CONNECTION": "k" * 20000}, id="huge-token"),
    pytest.param({"HTTP_CONNECTION": "caf\u00e9, \u20ac"}, id="not-latin-1"),
    pytest.param({"HTTP_CONNECTION": ""}, id="empty-connection"),
    pytest.param({"SERVER_PROTOCOL": "HTTP/9.9"}, id="unknown-version"),
    pytest.param({"SERVER_PROTOCOL": ""}, id="empty-version"),
    pytest.param({"HTTP_UPGRADE": "websocket", "HTTP_CONNECTION": "upgrade"}, id="websocket-without-key"),
    pytest.param(
        {"HTTP_UPGRADE": "websocket\u20ac", "HTTP_SEC_WEBSOCKET_KEY": "\u20ac"}, id="websocket-garbage"
    ),
    pytest.param({"HTTP_UPGRADE": "", "HTTP_CONNECTION": "upgrade"}, id="empty-upgrade"),
    pytest.param({"HTTP_TE": "\u0000trailers", "HTTP_CONNECTION": "te"}, id="nul-in-te"),
]


@pytest.mark.parametrize("strip", [False, True], ids=["as-is", "strip"])
@pytest.mark.parametrize("changes", MALFORMED_CLIENT)
def test_malformed_client_headers_never_500(changes: dict[str, str], strip: bool) -> None:
    environ = make_environ(software=GRANIAN)
    environ.update(changes)
    middleware = ConnectionMiddleware(
        responder(HOPPY), config=load_config(environ={}, strip_request_headers=strip)
    )
    result = serve(middleware, environ, validate=False)
    assert result.status[:1] in ("2", "4")


# -- configuration and lifecycle ------------------------------------------------------------


def test_disabled_is_a_pass_through() -> None:
    result = through(responder(HOPPY), make_environ(), enabled=False)
    assert result.headers == HOPPY


def test_config_or_options_not_both() -> None:
    with pytest.raises(ConfigError, match="not both"):
        ConnectionMiddleware(responder(PLAIN), config=load_config(environ={}), strict=True)


def test_environment_configures(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONNMW_STRICT", "1")
    middleware = ConnectionMiddleware(responder(HOPPY))
    assert middleware.config.strict
    assert middleware.policy is middleware.policy
    with pytest.raises(ForbiddenHeaderError):
        serve(middleware, make_environ(), validate=False)


@pytest.mark.parametrize("server", [GUNICORN, GRANIAN])
def test_drain_closes_where_the_server_allows(server: str) -> None:
    middleware = ConnectionMiddleware(responder(PLAIN), config=as_server(server))
    before = serve(middleware, make_environ(software=server), validate=False)  # remembered
    drain()
    try:
        during = serve(middleware, make_environ(software=server), validate=False)
    finally:
        undrain()
    after = serve(middleware, make_environ(software=server), validate=False)
    if server == GUNICORN:
        assert (before.forced_close, during.forced_close, after.forced_close) == (False, True, False)
    else:
        assert [r.values("connection") for r in (before, during, after)] == [
            ["keep-alive"],
            ["close"],
            ["keep-alive"],
        ]
    assert middleware.stats.connections_closed == {"drain": 1}


def test_max_requests_per_connection_on_gunicorn() -> None:
    middleware = ConnectionMiddleware(
        responder(PLAIN), config=as_server(GUNICORN, max_requests_per_connection=2)
    )
    results = []
    for _ in range(3):
        environ = make_environ(software=GUNICORN)
        environ["REMOTE_PORT"] = "40000"
        results.append(serve(middleware, environ, validate=False).forced_close)
    assert results == [False, True, False]


MALFORMED_APP = [
    pytest.param(("X-A", "1", "2"), id="three-tuple"),
    pytest.param(["X-A", "1"], id="list-pair"),
    pytest.param((b"X-A", b"1"), id="bytes-pair"),
    pytest.param(("X-A", None), id="none-value"),
    pytest.param(("X-\u20ac", "1"), id="name-not-latin-1"),
]


@pytest.mark.parametrize("server", [WERKZEUG, GUNICORN, GRANIAN])
@pytest.mark.parametrize("bad", MALFORMED_APP)
@pytest.mark.parametrize("first", [True, False], ids=["bad-first", "bad-last"])
def test_malformed_app_header_shapes_pass_through(bad: Any, server: str, first: bool) -> None:
    headers = [bad, *HOPPY] if first else [*HOPPY, bad]
    middleware = ConnectionMiddleware(responder(headers), config=load_config(environ={}))
    for _ in range(2):  # the second time with connmw's memory of the names
        result = serve(middleware, make_environ(software=server), validate=False)
        assert result.status == "200 OK"
        assert bad in result.headers
        assert not {"x-hop", "keep-alive", "transfer-encoding"} & {
            name.lower() for name, *_ in result.headers if isinstance(name, str)
        }


@pytest.mark.parametrize("headers", [[], [("Content-Type", "text/plain")]], ids=["none", "one"])
def test_few_headers(headers: list[tuple[str, str]]) -> None:
    result = serve(
        ConnectionMiddleware(responder(headers), config=load_config(environ={})),
        make_environ(),
        validate=False,
    )
    assert result.headers == headers


@pytest.mark.parametrize(
    ("server", "expected"),
    [(WSGIREF, []), (WERKZEUG, []), (GUNICORN, []), (GRANIAN, [("Connection", "close")])],
)
@pytest.mark.parametrize("pair", [("connection", "close"), ("connection", "keep-alive")])
def test_apps_field_spelled_like_connmws_own_is_not_taken_for_it(
    pair: tuple[str, str], server: str, expected: list[tuple[str, str]]
) -> None:
    result = through(
        responder([("Content-Type", "text/plain"), pair]), make_environ(protocol="HTTP/1.0", software=server)
    )
    # held for its length (HTTP/1.0), then cleaned: the length stays, the app's pair goes
    assert result.headers == [("Content-Type", "text/plain"), ("Content-Length", "2"), *expected]


# -- HTTP/1.0: a body without Content-Length is held and sent with one (RFC 9112 §6.1) -------

TEXT = [("Content-Type", "text/plain")]


def streaming(chunks: list[bytes], headers: list[tuple[str, str]] = TEXT, status: str = "200 OK") -> Any:
    """A generator app: start_response at the first iteration, then the chunks."""

    def app(environ: dict[str, Any], start_response: Any) -> Iterator[bytes]:
        start_response(status, list(headers))
        yield from chunks

    return app


def closing_app(body: Closing, headers: list[tuple[str, str]] = TEXT, status: str = "200 OK") -> Any:
    def app(environ: dict[str, Any], start_response: Any) -> Closing:
        start_response(status, list(headers))
        return body

    return app


@pytest.mark.parametrize("server", [WSGIREF, WERKZEUG, GUNICORN, GRANIAN, UNKNOWN])
@pytest.mark.parametrize("protocol", ["HTTP/1.0", "HTTP/1"])  # granian says "HTTP/1"
def test_http10_body_held_and_sent_with_a_length(server: str, protocol: str) -> None:
    result = through(streaming([b"one\n", b"", b"two\n"]), make_environ(protocol=protocol, software=server))
    assert result.body == b"one\ntwo\n"
    assert result.values("content-length") == ["8"]
    assert result.starts == 1
    assert "transfer-encoding" not in result.names()


def test_http10_held_list_is_one_element_and_the_app_closed_once() -> None:
    body = Closing([b"o", b"k"])
    middleware = ConnectionMiddleware(closing_app(body), config=load_config(environ={}))
    result = serve(middleware, make_environ(protocol="HTTP/1.0", software=WERKZEUG), validate=False)
    assert result.iterable == [b"ok"]
    assert body.closed == 1
    assert result.headers == [*TEXT, ("Content-Length", "2")]


def test_http10_hoppy_app_held_then_cleaned() -> None:
    result = through(responder(HOPPY, b"hello world"), make_environ(protocol="HTTP/1.0", software=WERKZEUG))
    assert result.headers == [*TEXT, ("Content-Length", "11")]
    assert result.body == b"hello world"


@pytest.mark.parametrize("server", [WERKZEUG, GUNICORN, GRANIAN])
def test_http10_over_the_limit_streams_without_a_length(server: str) -> None:
    chunks = [b"abcd"] * 4
    body = Closing(chunks)
    middleware = ConnectionMiddleware(
        validator(closing_app(body)), config=load_config(environ={}, http10_buffer_bytes=6)
    )
    result = serve(middleware, make_environ(protocol="HTTP/1.0", software=server))
    assert result.body == b"abcd" * 4
    assert "content-length" not in result.names()
    assert result.starts == 1
    assert body.closed == 1


def test_http10_over_the_limit_on_keep_alive_closes_for_framing() -> None:
    middleware = ConnectionMiddleware(
        streaming([b"abcd"] * 4), config=as_server(GUNICORN, http10_buffer_bytes=6, http10_keep_alive=True)
    )
    environ = make_environ(("Connection", "keep-alive"), protocol="HTTP/1.0", software=GUNICORN)
    result = serve(middleware, environ, validate=False)
    assert result.body == b"abcd" * 4
    assert result.forced_close
    assert middleware.stats.connections_closed == {"framing": 1}
    within = ConnectionMiddleware(
        streaming([b"abcd"] * 4), config=as_server(GUNICORN, http10_keep_alive=True)
    )
    held = serve(within, environ, validate=False)  # framed: the connection may persist
    assert held.values("content-length") == ["16"]
    assert not held.forced_close


def test_http10_limit_zero_never_holds() -> None:
    body = Closing([b"ok"])
    middleware = ConnectionMiddleware(
        closing_app(body), config=load_config(environ={}, http10_buffer_bytes=0)
    )
    result = serve(middleware, make_environ(protocol="HTTP/1.0", software=WERKZEUG), validate=False)
    assert result.iterable is body
    assert result.headers == TEXT


@pytest.mark.parametrize(("limit", "length"), [(1 << 20, ["15"]), (4, [])], ids=["held", "over-the-limit"])
def test_http10_write_callable_held_too(limit: int, length: list[str]) -> None:
    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        write = start_response("200 OK", list(TEXT))
        write(b"hello ")
        write(b"big ")
        return [b"world"]

    result = through(app, make_environ(protocol="HTTP/1.0", software=WERKZEUG), http10_buffer_bytes=limit)
    assert result.body == b"hello big world"
    assert result.values("content-length") == length
    assert result.starts == 1


UNTOUCHED = [  # responses without content: test_no_content_* below
    pytest.param("GET", "200 OK", [b"ok"], PLAIN, id="has-length"),
    pytest.param("POST", "200 OK", [b"ok"], [*TEXT, ("content-length", "2")], id="has-length-lower-case"),
]


@pytest.mark.parametrize(("method", "status", "parts", "headers"), UNTOUCHED)
def test_http10_response_framed_by_itself_is_untouched(
    method: str, status: str, parts: list[bytes], headers: list[tuple[str, str]]
) -> None:
    body = Closing(parts)
    environ = make_environ(protocol="HTTP/1.0", software=WERKZEUG, method=method)
    middleware = ConnectionMiddleware(closing_app(body, headers, status), config=load_config(environ={}))
    result = serve(middleware, environ, validate=False)
    assert result.iterable is body
    assert result.headers == headers
    assert body.closed == 1
    checked = through(closing_app(Closing(parts), headers, status), dict(environ))  # PEP 3333 both sides
    assert checked.headers == headers


def test_http10_generator_starting_lazily_with_a_length_streams() -> None:
    result = through(streaming([b"o", b"k"], PLAIN), make_environ(protocol="HTTP/1.0", software=WERKZEUG))
    assert result.headers == PLAIN
    assert result.body == b"ok"


@pytest.mark.parametrize("strict", [False, True], ids=["lenient", "strict"])
def test_http10_exc_info_before_any_body_replaces_the_held_response(strict: bool) -> None:
    def app(environ: dict[str, Any], start_response: Any) -> Iterator[bytes]:
        start_response("200 OK", list(TEXT))
        yield b""
        try:
            raise ValueError("boom")
        except ValueError:
            start_response("500 Internal Server Error", [*TEXT, ("Connection", "x-a")], sys.exc_info())
        yield b"error"

    result = through(app, make_environ(protocol="HTTP/1.0", software=GUNICORN), strict=strict)
    assert result.status == "500 Internal Server Error"
    assert result.headers == [*TEXT, ("Content-Length", "5")]
    assert result.body == b"error"
    assert result.starts == 1  # the 200 never reached the server


def test_http10_exc_info_after_held_body_reraises_and_closes() -> None:
    error = ValueError("late")
    closed: list[bool] = []

    def app(environ: dict[str, Any], start_response: Any) -> Iterator[bytes]:
        start_response("200 OK", list(TEXT))
        try:
            yield b"partial"
            try:
                raise error
            except ValueError:
                start_response("500 Internal Server Error", list(TEXT), sys.exc_info())
            yield b"never"
        finally:
            closed.append(True)

    middleware = ConnectionMiddleware(app, config=load_config(environ={}))
    with pytest.raises(ValueError) as caught:
        serve(middleware, make_environ(protocol="HTTP/1.0", software=WERKZEUG), validate=False)
    assert caught.value is error
    assert closed == [True]


def test_http10_exc_info_after_the_limit_goes_to_the_server() -> None:
    error = ValueError("late")

    def app(environ: dict[str, Any], start_response: Any) -> Iterator[bytes]:
        start_response("200 OK", list(TEXT))
        yield b"abcdef"
        try:
            raise error
        except ValueError:
            start_response("500 Internal Server Error", list(TEXT), sys.exc_info())
        yield b"never"

    middleware = ConnectionMiddleware(app, config=load_config(environ={}, http10_buffer_bytes=4))
    with pytest.raises(ValueError) as caught:  # the server had sent the headers: it re-raises
        serve(middleware, make_environ(protocol="HTTP/1.0", software=WERKZEUG), validate=False)
    assert caught.value is error


def test_http10_app_error_while_held_closes_once_and_propagates() -> None:
    error = RuntimeError("app failed")
    closes: list[bool] = []

    class Failing:
        def __iter__(self) -> Iterator[bytes]:
            return _failing(error)

        def close(self) -> None:
            closes.append(True)

    def app(environ: dict[str, Any], start_response: Any) -> Failing:
        start_response("200 OK", list(TEXT))
        return Failing()

    middleware = ConnectionMiddleware(app, config=load_config(environ={}))
    with pytest.raises(RuntimeError) as caught:
        serve(middleware, make_environ(protocol="HTTP/1.0", software=WERKZEUG), validate=False)
    assert caught.value is error
    assert closes == [True]


def test_http10_second_start_without_exc_info_is_refused() -> None:
    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        start_response("200 OK", list(TEXT))
        start_response("200 OK", list(TEXT))
        return [b"ok"]

    middleware = ConnectionMiddleware(app, config=load_config(environ={}))
    with pytest.raises(AssertionError, match="exc_info"):
        serve(middleware, make_environ(protocol="HTTP/1.0", software=WERKZEUG), validate=False)


def test_http10_app_that_never_starts_is_left_to_the_server() -> None:
    middleware = ConnectionMiddleware(lambda environ, start_response: [], config=load_config(environ={}))
    result = serve(middleware, make_environ(protocol="HTTP/1.0", software=WERKZEUG), validate=False)
    assert (result.iterable, result.starts) == ([], 0)


def test_http11_never_held() -> None:
    body = Closing([b"ok"])
    middleware = ConnectionMiddleware(closing_app(body), config=load_config(environ={}))
    for _ in range(2):  # the second time from connmw's memory of the first
        result = serve(middleware, make_environ(software=WERKZEUG), validate=False)
        assert result.iterable is body
        assert result.headers == TEXT


# -- responses without content (RFC 9110 §6.4.1): body bytes dropped, the iterable closed ----

NO_CONTENT_SERVERS = [WSGIREF, WERKZEUG, GUNICORN, GRANIAN, UNKNOWN]
NO_CONTENT = [  # (method, status, headers, reason)
    pytest.param(("HEAD", "200 OK", [*TEXT, ("Content-Length", "5")], "head"), id="head"),
    pytest.param(("HEAD", "404 Not Found", TEXT, "head"), id="head-404"),
    pytest.param(("GET", "204 No Content", [], "204"), id="204"),
    pytest.param(("GET", "304 Not Modified", [("Content-Length", "5")], "304"), id="304"),
]


@pytest.mark.parametrize("protocol", ["HTTP/1.1", "HTTP/1.0"])
@pytest.mark.parametrize("server", NO_CONTENT_SERVERS)
@pytest.mark.parametrize("case", NO_CONTENT)
def test_no_content_body_dropped_and_iterable_closed_once(
    case: tuple[str, str, list[tuple[str, str]], str], server: str, protocol: str
) -> None:
    method, status, headers, reason = case
    body = Closing([b"hel", b"lo"])
    middleware = ConnectionMiddleware(
        validator(closing_app(body, headers, status)), config=load_config(environ={})
    )
    result = serve(middleware, make_environ(protocol=protocol, software=server, method=method))
    assert result.body == b""
    assert body.closed == 1  # PEP 3333: the app's close(), once
    assert result.starts == 1
    kept = [v for n, v in headers if n == "Content-Length"] if method == "HEAD" else []  # 204/304: gone
    assert result.values("content-length") == kept
    assert middleware.stats.bodies_dropped == {reason: 1}


@pytest.mark.parametrize("server", NO_CONTENT_SERVERS)
def test_no_content_lazy_generator_dropped(server: str) -> None:
    result_app = streaming([b"", b"not ", b"modified"], [("ETag", '"x"')], "304 Not Modified")
    middleware = ConnectionMiddleware(validator(result_app), config=load_config(environ={}))
    result = serve(middleware, make_environ(software=server))
    assert (result.status, result.body) == ("304 Not Modified", b"")
    assert middleware.stats.bodies_dropped == {"304": 1}


def test_no_content_generator_with_content_streams_untouched() -> None:
    result = through(streaming([b"one", b"two"]), make_environ(software=GUNICORN))
    assert result.body == b"onetwo"


def test_no_content_write_dropped() -> None:
    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        write = start_response("204 No Content", [("Content-Length", "4")])
        write(b"oops")
        return []

    middleware = ConnectionMiddleware(validator(app), config=load_config(environ={}))
    result = serve(middleware, make_environ(software=GUNICORN))
    assert (result.body, result.headers) == (b"", [])
    assert middleware.stats.bodies_dropped == {"204": 1}
    assert middleware.stats.headers_stripped == {"content-length": 1}


def test_no_content_empty_list_is_returned_as_is() -> None:
    body: list[bytes] = [b""]
    middleware = ConnectionMiddleware(responder([], b"", "204 No Content"), config=load_config(environ={}))
    result = serve(middleware, make_environ(software=GUNICORN))
    assert result.body == b""
    assert middleware.stats.bodies_dropped == {}
    body_app = ConnectionMiddleware(
        lambda e, s: (s("204 No Content", []), body)[1], config=load_config(environ={})
    )
    assert serve(body_app, make_environ(software=GUNICORN), validate=False).iterable is body


def test_no_content_file_wrapper_closed_without_reading() -> None:
    class Source(io.BytesIO):
        read_up_to = 0

        def close(self) -> None:
            self.read_up_to = self.tell()
            super().close()

    source = Source(b"x" * 100_000)

    def app(environ: dict[str, Any], start_response: Any) -> Any:
        start_response("200 OK", [*TEXT, ("Content-Length", "100000")])
        return FileWrapper(source, 8192)

    middleware = ConnectionMiddleware(validator(app), config=load_config(environ={}))
    result = serve(middleware, make_environ(software=GUNICORN, method="HEAD"))
    assert result.body == b""
    assert source.closed
    assert source.read_up_to <= 8192, "at most its first block is read"


def test_no_content_strict_raises() -> None:
    middleware = ConnectionMiddleware(
        responder(TEXT, b"body", "304 Not Modified"), config=load_config(environ={}, strict=True)
    )
    with pytest.raises(connmw.ForbiddenBodyError) as raised:
        serve(middleware, make_environ(software=GUNICORN), validate=False)
    assert raised.value.reason == "304"


def test_an_error_page_after_a_bodiless_start_has_content() -> None:
    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        start_response("204 No Content", [])
        try:
            raise RuntimeError("late failure")
        except RuntimeError:
            start_response("500 Internal Server Error", TEXT, sys.exc_info())
        return [b"error page"]

    middleware = ConnectionMiddleware(app, config=load_config(environ={}))
    result = serve(middleware, make_environ(software=GUNICORN), validate=False)
    assert (result.status, result.body) == ("500 Internal Server Error", b"error page")
    assert middleware.stats.bodies_dropped == {}


# -- the readiness path: answered by connmw, never by the application ----------------------


@pytest.mark.parametrize(
    ("server", "draining", "status", "connection", "forced"),
    [
        pytest.param(GUNICORN, False, "200 OK", [], False, id="gunicorn-serving"),
        pytest.param(
            GUNICORN, True, "503 Service Unavailable", [], True, id="gunicorn-draining-asked-to-close"
        ),
        pytest.param(
            GRANIAN, True, "503 Service Unavailable", ["close"], False, id="granian-draining-says-close"
        ),
        pytest.param(WSGIREF, True, "503 Service Unavailable", [], False, id="wsgiref-draining"),
    ],
)
def test_ready_path_answered_without_the_app(
    server: str, draining: bool, status: str, connection: list[str], forced: bool
) -> None:
    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        raise AssertionError("the application was called")

    if draining:
        drain()
    try:
        middleware = ConnectionMiddleware(validator(app), config=as_server(server, ready_path="/healthz"))
        environ = make_environ(software=server, method="GET") | {"PATH_INFO": "/healthz"}
        result = serve(middleware, environ, validate=False)  # gunicorn's own write, to force_close
    finally:
        undrain()
    assert result.status == status
    assert result.values("connection") == connection
    assert result.forced_close is forced
    assert result.values("retry-after") == (["5"] if draining else [])
    assert result.body == (b"draining\n" if draining else b"ready\n")
    assert middleware.stats.readiness == {"draining" if draining else "ready": 1}


def test_ready_path_head_has_the_length_and_no_body() -> None:
    middleware = ConnectionMiddleware(responder(PLAIN), config=load_config(environ={}, ready_path="/-/ready"))
    result = serve(middleware, make_environ(software=GUNICORN, method="HEAD") | {"PATH_INFO": "/-/ready"})
    assert (result.status, result.body, result.values("content-length")) == ("200 OK", b"", ["6"])


def test_ready_path_counts_script_name() -> None:
    middleware = ConnectionMiddleware(
        responder(PLAIN), config=load_config(environ={}, ready_path="/app/ready")
    )
    environ = make_environ(software=GUNICORN) | {"SCRIPT_NAME": "/app", "PATH_INFO": "/ready"}
    assert serve(middleware, environ).body == b"ready\n"
    assert serve(middleware, make_environ(software=GUNICORN) | {"PATH_INFO": "/ready"}).body == b"ok"


# -- what one instance remembers never changes an answer ------------------------------------

_VARIANTS = [
    (protocol, software, method, connection)
    for protocol in ("HTTP/1.1", "HTTP/1.0")
    for software in (GUNICORN, GRANIAN, UNKNOWN, None)
    for method in ("GET", "HEAD")
    for connection in ("keep-alive", "close", None)
]


@pytest.mark.parametrize("order", ["forward", "backward", "interleaved"])
def test_a_remembered_request_answers_as_a_fresh_middleware_does(order: str) -> None:
    """The hot path remembers facts by the Connection field alone: a request with the same
    field but another protocol, server, method or an Upgrade gets a fresh middleware's answer."""
    variants = {
        "forward": _VARIANTS,
        "backward": _VARIANTS[::-1],
        "interleaved": _VARIANTS[::2] + _VARIANTS[1::2],
    }[order]
    shared = ConnectionMiddleware(responder(PLAIN), config=load_config(environ={}))

    def environ(variant: tuple[str, str | None, str, str | None], upgrade: bool) -> dict[str, Any]:
        protocol, software, method, connection = variant
        headers = [] if connection is None else [("Connection", connection)]
        if upgrade:
            headers.append(("Upgrade", "h2c"))
        return make_environ(*headers, protocol=protocol, software=software, method=method)

    def answer(result: Exchange) -> tuple[Any, ...]:
        facts = result.environ.get(ENVIRON_KEY)
        return result.status, result.headers, result.body, result.forced_close, facts

    for _ in range(2):  # the second round meets everything remembered by the first
        for variant in variants:
            for upgrade in (False, True):
                fresh = ConnectionMiddleware(responder(PLAIN), config=load_config(environ={}))
                expected = answer(serve(fresh, environ(variant, upgrade), validate=False))
                assert answer(serve(shared, environ(variant, upgrade), validate=False)) == expected, (
                    variant,
                    upgrade,
                )
