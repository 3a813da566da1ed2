"""Recognising the server (connmw.servers): by what only it has, never by what it says.

In process: the real classes behind ``start_response`` where they can be built alone
(wsgiref's and Django's handlers, granian's Response), else callables made to belong to
the server's module as the real ones do (a method of a class of that module, a function of
that module), and the environ keys only one server sets. The real servers are recognised
on the wire in every server test (each logs the profile it got, ``server_name``).
"""

from __future__ import annotations

import functools
import io
import logging
from collections.abc import Callable, Iterable
from typing import Any
from wsgiref.simple_server import ServerHandler as WsgirefHandler
from wsgiref.validate import validator

import pytest

from connmw import ConfigError, _counters, load_config
from connmw.asgi import ConnectionMiddleware as AsgiMiddleware
from connmw.servers import (
    NAMES,
    REGISTRY,
    SERVERS,
    UNKNOWN,
    describe_asgi,
    describe_wsgi,
    profile,
    recognise_asgi,
    recognise_wsgi,
)
from connmw.servers._recognise import module_of, server_callable
from connmw.wsgi import ConnectionMiddleware


def function_of(module: str, *, coroutine: bool = False) -> Callable[..., Any]:
    """A function that belongs to ``module``, as a server's own ``start_response`` closure
    (or, ``coroutine``, its ASGI ``send``) does."""
    namespace: dict[str, Any] = {"__name__": module}
    body = f"(*args):\n    module = {module!r}\n    return None\n"  # a code object of its own
    source = f"async def call{body}" if coroutine else f"def call{body}"
    exec(source, namespace)  # noqa: S102 (a function whose module is a server's, for the test)
    return namespace["call"]  # type: ignore[no-any-return]


def method_of(module: str, name: str = "Response") -> Callable[..., Any]:
    """A bound method of an instance of a class defined in ``module``."""
    cls = type(name, (), {"__module__": module, "start_response": lambda self, *args: None})
    return cls().start_response  # type: ignore[no-any-return]


def environ(**extra: Any) -> dict[str, Any]:
    return {"REQUEST_METHOD": "GET", "SERVER_PROTOCOL": "HTTP/1.1", **extra}


def wsgiref_start() -> Callable[..., Any]:
    return WsgirefHandler(io.BytesIO(), io.BytesIO(), io.StringIO(), environ()).start_response


def django_start() -> Callable[..., Any]:
    basehttp = pytest.importorskip("django.core.servers.basehttp")
    return basehttp.ServerHandler(io.BytesIO(), io.BytesIO(), io.StringIO(), environ()).start_response  # type: ignore[no-any-return]


def granian_start() -> Callable[..., Any]:
    wsgi = pytest.importorskip("granian.wsgi")
    return wsgi.Response()  # type: ignore[no-any-return]


def plain(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> None:
    """A start_response of no server: a test's, or a server connmw never met."""


WSGI = [
    pytest.param(wsgiref_start, {"SERVER_SOFTWARE": "WSGIServer/0.2"}, "wsgiref", id="wsgiref-handler"),
    pytest.param(
        django_start, {"SERVER_SOFTWARE": "WSGIServer/0.2"}, "django", id="django-runserver-handler"
    ),
    pytest.param(granian_start, {"SERVER_SOFTWARE": "Granian"}, "granian", id="granian-response-object"),
    pytest.param(lambda: method_of("gunicorn.http.wsgi"), {}, "gunicorn", id="gunicorn-response-method"),
    pytest.param(lambda: plain, {"gunicorn.socket": object()}, "gunicorn", id="gunicorn-environ-key"),
    pytest.param(lambda: function_of("werkzeug.serving"), {}, "werkzeug", id="werkzeug-closure"),
    pytest.param(lambda: plain, {"werkzeug.socket": object()}, "werkzeug", id="werkzeug-environ-key"),
    pytest.param(
        lambda: function_of("waitress.task"), {"SERVER_SOFTWARE": "my-ident"}, "waitress", id="waitress-ident"
    ),
    pytest.param(
        lambda: plain, {"waitress.client_disconnected": plain}, "waitress", id="waitress-environ-key"
    ),
    pytest.param(lambda: method_of("cheroot.wsgi", "Gateway_10"), {}, "cheroot", id="cheroot-gateway"),
    pytest.param(
        lambda: method_of("twisted.web.wsgi", "_WSGIResponse"), {}, "twisted", id="twisted-response"
    ),
    pytest.param(lambda: function_of("hypercorn.app_wrappers"), {}, "hypercorn", id="hypercorn-wsgi-wrapper"),
    pytest.param(
        lambda: method_of("mod_wsgi", "Adapter"), {"SERVER_SOFTWARE": "Apache"}, "mod_wsgi", id="mod_wsgi"
    ),
    pytest.param(lambda: plain, {"mod_wsgi.version": (6, 1, 1)}, "mod_wsgi", id="mod_wsgi-environ-key"),
    pytest.param(lambda: plain, {"SERVER_SOFTWARE": "Apache"}, "unknown", id="apache-claimed-only"),
    # uWSGI's start_response is a built-in of no module (as str.maketrans: __module__ None)
    pytest.param(
        lambda: str.maketrans, {"uwsgi.version": b"2.0.30"}, "uwsgi-socket", id="uwsgi-outside-a-worker"
    ),
    pytest.param(
        lambda: str.maketrans,
        {"uwsgi.version": b"2.0.30", "UWSGI_ROUTER": "http"},
        "uwsgi-router",
        id="uwsgi-router",
    ),
    pytest.param(
        lambda: plain,
        {"uwsgi.version": b"2.0.30", "SERVER_SOFTWARE": "gunicorn/27"},
        "uwsgi-socket",
        id="uwsgi-behind-a-proxy-forwarding-another-software",
    ),
    # SERVER_SOFTWARE alone is a claim: another server may borrow it.
    pytest.param(lambda: plain, {"SERVER_SOFTWARE": "WSGIServer/0.2"}, "unknown", id="wsgiref-claimed-only"),
    pytest.param(
        lambda: plain, {"SERVER_SOFTWARE": "gunicorn/27.0.1"}, "unknown", id="gunicorn-claimed-only"
    ),
    pytest.param(lambda: plain, {"SERVER_SOFTWARE": "Werkzeug/3.1"}, "unknown", id="werkzeug-claimed-only"),
    pytest.param(lambda: function_of("bjoern"), {"SERVER_SOFTWARE": "bjoern"}, "unknown", id="never-met"),
    pytest.param(lambda: function_of("wsgiref.validate"), {}, "unknown", id="a-wrapper-is-not-its-server"),
]


@pytest.mark.parametrize(("make", "extra", "name"), WSGI)
def test_wsgi_servers_are_recognised_by_what_only_they_have(
    make: Callable[[], Callable[..., Any]], extra: dict[str, Any], name: str
) -> None:
    start_response = make()
    for _ in range(2):  # the second answer may come from the cache: the same
        assert recognise_wsgi(environ(**extra), start_response).name == name


def test_recognised_through_a_wrapper_that_closes_over_start_response() -> None:
    seen: list[str] = []

    def app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        seen.append(recognise_wsgi(environ, start_response).name)
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b""]

    for start in (wsgiref_start(), django_start()):
        result = validator(app)(environ(SERVER_SOFTWARE="WSGIServer/0.2", **_wsgi_keys()), start)
        result.close()  # type: ignore[attr-defined]
    assert seen == ["wsgiref", "django"]  # the same wrapper's code, two servers: not cached


def _wsgi_keys() -> dict[str, Any]:
    environ: dict[str, Any] = {"QUERY_STRING": ""}
    from wsgiref.util import setup_testing_defaults  # noqa: PLC0415

    setup_testing_defaults(environ)
    return environ


def test_partial_and_its_arguments_are_looked_through() -> None:
    inner = method_of("gunicorn.http.wsgi")
    wrapper = functools.partial(lambda start, *args: start(*args), inner)
    assert recognise_wsgi(environ(), wrapper).name == "gunicorn"
    assert module_of(functools.partial(inner)) == "gunicorn.http.wsgi"


def test_unwrapping_is_bounded() -> None:
    def around(inner: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any) -> Any:
            return inner(*args)

        return wrapper

    call: Callable[..., Any] = method_of("gunicorn.http.wsgi")
    for depth in range(20):
        call = around(call)
        found = server_callable(call, ("gunicorn",))
        assert (found is not None) is (depth < 15), depth  # 16 callables looked at, no more
    assert recognise_wsgi(environ(), call) is UNKNOWN


ASGI = [
    pytest.param(
        lambda: method_of("uvicorn.protocols.http.h11_impl", "RequestResponseCycle"), "uvicorn", id="uvicorn"
    ),
    pytest.param(
        lambda: method_of("hypercorn.protocol.http_stream", "HTTPStream"), "hypercorn", id="hypercorn"
    ),
    pytest.param(lambda: method_of("granian._granian", "ASGIHTTPProtocol"), "granian", id="granian"),
    pytest.param(
        lambda: functools.partial(method_of("daphne.server", "Server"), object()),
        "daphne",
        id="daphne-partial",
    ),
    pytest.param(lambda: function_of("my.server"), "unknown", id="never-met"),
]


@pytest.mark.parametrize(("make", "name"), ASGI)
def test_asgi_servers_are_recognised_by_the_owner_of_send(make: Callable[[], Any], name: str) -> None:
    send = make()

    async def wrapped(message: Any) -> None:  # Starlette's ServerErrorMiddleware closes over send
        await send(message)

    assert recognise_asgi(send).name == name
    assert recognise_asgi(wrapped).name == name


def test_what_the_log_says_of_a_server_not_recognised() -> None:
    told = describe_wsgi(environ(SERVER_SOFTWARE="WSGIServer/0.2"), plain)
    assert told == (
        "SERVER_SOFTWARE 'WSGIServer/0.2', which wsgiref sends, but nothing only wsgiref has confirmed it; "
        f"start_response of {__name__}"
    )
    assert describe_wsgi(environ(), wsgiref_start()) == "start_response of wsgiref.simple_server"
    assert describe_wsgi(environ(**{"uwsgi.version": b"2"}), str.maketrans) == "environ key uwsgi.version"
    assert describe_asgi(function_of("my.server")) == "send of my.server"


def test_every_profile_has_one_module_and_one_name() -> None:
    names = [server.name for module in REGISTRY for server in module.PROFILES]
    assert len(names) == len(set(names)) == len(SERVERS)
    assert UNKNOWN.name not in SERVERS
    assert ("auto", "unknown", *SERVERS) == NAMES
    assert profile("auto") is None
    assert profile("unknown") is UNKNOWN
    assert all(profile(name) is SERVERS[name] for name in SERVERS)
    for server in SERVERS.values():  # markers are data: owners are module names, keys strings
        assert all(owner and not owner.endswith(".") for owner in server.markers.owners)


# --------------------------------------------------------------------------------------
# CONNMW_SERVER: auto, unknown, or a profile
# --------------------------------------------------------------------------------------


def test_the_server_option_names_what_it_accepts() -> None:
    with pytest.raises(ConfigError) as caught:
        load_config({"CONNMW_SERVER": "apache"})
    message = str(caught.value)
    assert message.startswith("CONNMW_SERVER='apache': expected auto (recognise it), unknown, or one of: ")
    assert all(name in message for name in SERVERS)
    assert load_config({"CONNMW_SERVER": " Django "}).server == "django"
    assert load_config({}).server == "auto"


def responder(headers: list[tuple[str, str]]) -> Callable[..., Iterable[bytes]]:
    def app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        start_response("200 OK", list(headers))
        return [b"ok"]

    return app


def call(
    middleware: Any, env: dict[str, Any], start: Callable[..., Any] | None = None
) -> list[tuple[str, str]]:
    given: list[tuple[str, str]] = []

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        given[:] = headers
        return lambda data: None

    result = middleware(env, start or start_response)
    b"".join(result)
    getattr(result, "close", lambda: None)()
    return given


CLOSE = [("Content-Type", "text/plain"), ("Content-Length", "2"), ("Connection", "close")]


def test_a_forced_profile_wins_over_recognition() -> None:
    forced = ConnectionMiddleware(responder(CLOSE), config=load_config({}, server="granian"))
    assert forced.server_name is None
    assert call(forced, environ(SERVER_SOFTWARE="gunicorn/27", **{"gunicorn.socket": 1}))[-1] == (
        "Connection",
        "close",
    )
    assert forced.server_name == "granian"
    assert forced.stats.unrecognised == 0
    recognised = ConnectionMiddleware(responder(CLOSE), config=load_config({}))
    assert ("Connection", "close") not in call(recognised, environ(**{"gunicorn.socket": 1}))
    assert recognised.server_name == "gunicorn"


def test_unknown_forced_is_not_counted_as_unrecognised() -> None:
    forced = ConnectionMiddleware(responder(CLOSE), config=load_config({}, server="unknown"))
    call(forced, environ(**{"gunicorn.socket": 1}))
    assert (forced.server_name, forced.stats.unrecognised) == ("unknown", 0)
    auto = ConnectionMiddleware(responder(CLOSE), config=load_config({}))
    for _ in range(3):
        call(auto, environ(SERVER_SOFTWARE="bjoern"))
    assert (auto.server_name, auto.stats.unrecognised) == ("unknown", 1)  # the server, not each request
    assert auto.stats.as_dict()["unrecognised"] == 1


@pytest.fixture
def fresh_log(monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    monkeypatch.setattr(_counters, "_already_warned", set())
    caplog.set_level(logging.INFO, logger="connmw")
    return caplog


def test_which_profile_is_logged_once_a_process(fresh_log: pytest.LogCaptureFixture) -> None:
    for _ in range(2):
        middleware = ConnectionMiddleware(responder(CLOSE), config=load_config({}))
        for _ in range(3):
            call(middleware, environ(SERVER_SOFTWARE="WSGIServer/0.2 CPython/3.11"), wsgiref_start())
            call(middleware, environ(SERVER_SOFTWARE="WSGIServer/0.2 CPython/3.11"))
    records = [(r.levelno, r.getMessage()) for r in fresh_log.records if r.name == "connmw"]
    assert records == [
        (logging.INFO, "server profile wsgiref (start_response of wsgiref.simple_server)"),
        (
            logging.WARNING,
            "server not recognised (SERVER_SOFTWARE 'WSGIServer/0.2 CPython/3.11', which wsgiref sends, "
            "but nothing only wsgiref has confirmed it; start_response of "
            f"{__name__}): connmw uses its fallback, never worse than the server alone "
            "(docs/policy.md); set CONNMW_SERVER if it is a server connmw knows, or report it",
        ),
    ]


def test_asgi_logs_the_module_of_send_when_not_recognised(fresh_log: pytest.LogCaptureFixture) -> None:
    import asyncio  # noqa: PLC0415

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    async def receive() -> Any:
        return {"type": "http.request"}

    middleware = AsgiMiddleware(app, config=load_config({}))
    assert middleware.server_name is None
    send = function_of("some.asgi.server", coroutine=True)
    scope = {"type": "http", "http_version": "1.1", "method": "GET", "headers": [], "path": "/"}

    async def run() -> None:
        for _ in range(2):
            await middleware(dict(scope), receive, send)

    asyncio.run(run())
    assert (middleware.server_name, middleware.stats.unrecognised) == ("unknown", 1)  # once, not per request
    warnings = [r.getMessage() for r in fresh_log.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert warnings[0].startswith("server not recognised (send of some.asgi.server)")


def test_a_forced_profile_must_serve_the_interface() -> None:
    with pytest.raises(ConfigError, match=r"server='uvicorn' \(CONNMW_SERVER\) serves no WSGI application"):
        ConnectionMiddleware(responder(CLOSE), server="uvicorn")
    with pytest.raises(ConfigError, match="serves no ASGI application"):
        AsgiMiddleware(responder(CLOSE), server="waitress")


# --------------------------------------------------------------------------------------
# The unknown profile in process (on every real server: test_unknown_servers.py)
# --------------------------------------------------------------------------------------

PLAIN = [("Content-Type", "text/plain"), ("Content-Length", "2")]


@pytest.mark.parametrize(
    ("request_", "app_headers", "drain", "expected"),
    [
        pytest.param(("HTTP/1.1", None), PLAIN, False, [], id="persistent-says-nothing"),
        pytest.param(("HTTP/1.1", None), CLOSE, False, ["close"], id="the-apps-close-once"),
        pytest.param(("HTTP/1.1", None), PLAIN, True, ["close"], id="drain"),
        pytest.param(("HTTP/1.1", "close"), CLOSE, False, [], id="the-clients-close-its-own"),
        pytest.param(("HTTP/1.0", None), CLOSE, True, [], id="http10-its-own"),
        pytest.param(("HTTP/1.0", "keep-alive"), PLAIN, False, [], id="http10-keep-alive-its-own"),
        pytest.param(
            ("HTTP/1.1", None),
            [*PLAIN, ("Connection", "keep-alive, X-Hop"), ("X-Hop", "1")],
            False,
            [],
            id="hoppy",
        ),
    ],
)
def test_unknown_wsgi_says_close_for_the_apps_and_its_own_reasons_only(
    request_: tuple[str, str | None], app_headers: list[tuple[str, str]], drain: bool, expected: list[str]
) -> None:
    import connmw  # noqa: PLC0415

    protocol, connection = request_
    env = environ(SERVER_PROTOCOL=protocol, SERVER_SOFTWARE="bjoern")
    if connection:
        env["HTTP_CONNECTION"] = connection
    middleware = ConnectionMiddleware(
        responder(app_headers), config=load_config({}, keep_alive_timeout=5, http10_keep_alive=True)
    )
    if drain:
        connmw.drain()
    try:
        given = call(middleware, env)
    finally:
        connmw.undrain()
    assert [v for n, v in given if n.lower() == "connection"] == expected
    assert not any(n.lower() in ("keep-alive", "x-hop") for n, _ in given)  # never a hint, nor a leak
    assert middleware.server_name == "unknown"


class StrictServer:
    """A start_response that refuses hop-by-hop fields as PEP 3333 allows (wsgiref asserts)."""

    def __init__(self) -> None:
        self.calls: list[tuple[list[tuple[str, str]], Any]] = []

    def start_response(self, status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        self.calls.append((list(headers), exc_info))
        for name, _ in headers:
            if name.lower() == "connection":  # raised, not asserted: pytest rewrites asserts here
                raise AssertionError(f"Hop-by-hop header, {name!r}, not allowed")
        return lambda data: None


def test_a_server_that_refuses_the_field_is_called_again_without_it(
    fresh_log: pytest.LogCaptureFixture,
) -> None:
    middleware = ConnectionMiddleware(responder(CLOSE), config=load_config({}))
    server = StrictServer()
    call(middleware, environ(SERVER_SOFTWARE="strict/1"), server.start_response)
    (tried, _), (again, exc_info) = server.calls
    assert tried == [*CLOSE[:2], ("Connection", "close")]
    assert again == CLOSE[:2]
    assert exc_info is not None and isinstance(exc_info[1], AssertionError)  # PEP 3333: replaced headers
    server.calls.clear()
    call(ConnectionMiddleware(responder(CLOSE), config=load_config({})), environ(), server.start_response)
    assert [headers for headers, _ in server.calls] == [CLOSE[:2]]  # not offered again in this process
    refused = [
        r.getMessage() for r in fresh_log.records if "refused connmw's Connection field" in r.getMessage()
    ]
    assert refused == [
        "the unknown server refused connmw's Connection field (AssertionError: Hop-by-hop header, "
        "'Connection', not allowed); it is not sent there again"
    ]


def test_a_failure_that_is_not_a_refusal_propagates() -> None:
    def broken(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        raise RuntimeError("the server is broken")

    middleware = ConnectionMiddleware(responder(CLOSE), config=load_config({}))
    with pytest.raises(RuntimeError, match="broken"):
        call(middleware, environ(), broken)


@pytest.mark.parametrize(
    ("server", "persistent", "expected"),
    [
        pytest.param("cheroot", True, ["keep-alive"], id="cheroot-keeps-http10"),
        pytest.param("granian", True, ["keep-alive"], id="granian-keeps-http10"),
        pytest.param("hypercorn", False, ["close"], id="hypercorn-closes-http10-whatever-it-is-told"),
        pytest.param("uwsgi-router", False, ["close"], id="uwsgi-router-too"),
    ],
)
def test_http10_keep_alive_only_where_the_server_keeps_it(
    server: str, persistent: bool, expected: list[str]
) -> None:
    seen: list[Any] = []

    def app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        seen.append(environ["connmw.request"].persistent)
        start_response("200 OK", list(PLAIN))
        return [b"ok"]

    middleware = ConnectionMiddleware(app, config=load_config({}, http10_keep_alive=True, server=server))
    given = call(middleware, environ(SERVER_PROTOCOL="HTTP/1.0", HTTP_CONNECTION="keep-alive"))
    assert seen == [persistent]
    assert [v for n, v in given if n == "Connection"] == expected


def test_asgi_http10_keep_alive_has_no_effect_on_uvicorn() -> None:
    import asyncio  # noqa: PLC0415

    sent: list[Any] = []
    facts: list[Any] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        facts.append(scope["state"]["connmw"].persistent)
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"0")]})
        await send({"type": "http.response.body", "body": b""})

    async def send(message: Any) -> None:
        sent.append(message)

    async def receive() -> Any:
        return {"type": "http.request"}

    scope = {
        "type": "http",
        "http_version": "1.0",
        "method": "GET",
        "path": "/",
        "headers": [(b"connection", b"keep-alive")],
        "state": {},
    }
    for server, fields in (("uvicorn", [b"close"]), ("granian", [b"keep-alive"])):
        middleware = AsgiMiddleware(app, config=load_config({}, http10_keep_alive=True, server=server))
        asyncio.run(middleware(dict(scope, state={}), receive, send))
        assert [v for n, v in sent[-2]["headers"] if n == b"connection"] == fields
    assert facts == [False, True]
