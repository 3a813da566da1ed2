"""Both middlewares in process, one table each: disguised response names, Host, Origin.

Every row runs through the ASGI and the WSGI middleware with the same expectation:

* a response field whose name is not a token (white space before or after it, a byte
  outside ``tchar``) is removed, counted under its name trimmed of space and tab, and
  logged once without its value; a name that trims to ``connection`` still nominates and
  still closes; ``strict`` raises :class:`connmw.ForbiddenHeaderError` naming it;
* a WebSocket handshake with more than one Host line, or an invalid one, gets 400
  (WSGI servers join repeated lines with commas, as werkzeug and granian do);
* ``ws_validate=False`` leaves RFC 6455's structure unchecked but never the Origin
  policy: same origin by default, the allow-list when one is set;
* only space and tab surround an Origin; ports are compared, defaults made explicit.

WSGI runs as granian (``server="granian"``: ``SERVER_SOFTWARE`` alone recognises no
server), whose responses carry connmw's Connection field, so both adapters' answers
compare line for line.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from typing import Any

import pytest

from connmw import ForbiddenHeaderError
from connmw import asgi as connmw_asgi
from connmw import wsgi as connmw_wsgi
from connmw.config import load_config
from tests.helpers import WS_KEY, FakeServer, handshake_fields

Pairs = list[tuple[str, str]]


def asgi_run(
    app: Any, scope: dict[str, Any], incoming: dict[str, Any], **options: Any
) -> tuple[Any, list[Any]]:
    """Run ``app`` behind the middleware as a server would; the middleware and what it sent."""
    server = FakeServer(then=incoming)
    middleware = connmw_asgi.ConnectionMiddleware(app, config=load_config(environ={}, **options))
    asyncio.run(middleware(scope, server.receive, server.send))
    return middleware, server.sent


def asgi_response(app_headers: Pairs, **options: Any) -> tuple[Pairs, bytes, dict[str, int]]:
    """The start the server got (lower-case names), the body, ``stats.headers_stripped``."""

    async def app(scope: Any, receive: Any, send: Any) -> None:
        headers = [(n.encode("latin-1"), v.encode("latin-1")) for n, v in app_headers]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b"ok"})

    scope = {
        "type": "http",
        "http_version": "1.1",
        "method": "GET",
        "path": "/",
        "headers": [(b"host", b"a")],
    }
    request = {"type": "http.request", "body": b"", "more_body": False}
    middleware, sent = asgi_run(app, scope, request, **options)
    out = [(n.decode("latin-1").lower(), v.decode("latin-1")) for n, v in sent[0]["headers"]]
    return out, b"".join(m.get("body", b"") for m in sent[1:]), middleware.stats.headers_stripped


def wsgi_environ(headers: Iterable[tuple[str, str]]) -> dict[str, Any]:
    """An environ as granian builds it: repeated fields joined with commas."""
    environ: dict[str, Any] = {
        "REQUEST_METHOD": "GET",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "SERVER_SOFTWARE": "Granian",
        "PATH_INFO": "/",
        "QUERY_STRING": "",
        "wsgi.url_scheme": "http",
    }
    for name, value in headers:
        key = "HTTP_" + name.upper().replace("-", "_")
        environ[key] = f"{environ[key]},{value}" if key in environ else value
    return environ


def wsgi_response(app_headers: Pairs, **options: Any) -> tuple[Pairs, bytes, dict[str, int]]:
    got: list[tuple[str, list[tuple[str, str]]]] = []

    def app(environ: Any, start_response: Any) -> list[bytes]:
        start_response("200 OK", list(app_headers))
        return [b"ok"]

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        got.append((status, headers))
        return lambda data: None

    config = load_config(environ={}, server="granian", **options)
    middleware = connmw_wsgi.ConnectionMiddleware(app, config=config)
    result = middleware(wsgi_environ([("Host", "a")]), start_response)
    body = b"".join(result)
    getattr(result, "close", lambda: None)()
    out = [(n.lower(), v) for n, v in got[0][1]]
    return out, body, middleware.stats.headers_stripped


ADAPTERS = {"asgi": asgi_response, "wsgi": wsgi_response}
TEXT = ("Content-Type", "text/plain")
LENGTH = ("Content-Length", "2")
SECRET = ("X-Secret", "s3cret")
KEPT = [("content-type", "text/plain"), ("content-length", "2")]

RESPONSES = [
    pytest.param(
        [TEXT, LENGTH, ("connection ", "close, x-secret"), SECRET],
        [*KEPT, ("connection", "close")],
        {"connection": 1, "x-secret": 1},
        id="connection-with-a-trailing-space-nominates-and-closes",
    ),
    pytest.param(
        [TEXT, LENGTH, (" Connection", "close, x-secret"), SECRET],
        [*KEPT, ("connection", "close")],
        {"connection": 1, "x-secret": 1},
        id="connection-with-a-leading-space-nominates-and-closes",
    ),
    pytest.param(
        [TEXT, LENGTH, ("Connection\x0b", "x-secret"), SECRET],
        [*KEPT, ("connection", "keep-alive")],
        {"connection\x0b": 1, "x-secret": 1},
        id="connection-with-a-vertical-tab-hypercorn-trims-nominates",
    ),
    pytest.param(
        [TEXT, LENGTH, ("transfer-encoding\t", "chunked")],
        [*KEPT, ("connection", "keep-alive")],
        {"transfer-encoding": 1},
        id="transfer-encoding-with-a-tab-is-removed-the-length-kept",
    ),
    pytest.param(
        [TEXT, LENGTH, ("keep-alive ", "timeout=5")],
        [*KEPT, ("connection", "keep-alive")],
        {"keep-alive": 1},
        id="keep-alive-with-a-space-is-removed",
    ),
    pytest.param(
        [TEXT, LENGTH, ("X-Caf\u00e9", "1"), ("X-Ok", "1")],
        [*KEPT, ("x-ok", "1"), ("connection", "keep-alive")],
        {"x-caf\u00e9": 1},
        id="a-name-that-is-no-token-is-removed",
    ),
    pytest.param(
        [TEXT, LENGTH], [*KEPT, ("connection", "keep-alive")], {}, id="a-clean-response-is-untouched"
    ),
]


@pytest.mark.parametrize(("app_headers", "out", "stripped"), RESPONSES)
@pytest.mark.parametrize("adapter", list(ADAPTERS))
def test_response_names_that_are_not_tokens(
    adapter: str, app_headers: Pairs, out: Pairs, stripped: dict[str, int], caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="connmw"):
        sent, body, stats = ADAPTERS[adapter](app_headers)
    assert (sent, body, stats) == (out, b"ok", stripped)
    assert "s3cret" not in caplog.text and "close, x-secret" not in caplog.text  # values never logged


@pytest.mark.parametrize("adapter", list(ADAPTERS))
def test_an_invalid_name_is_logged_as_one_once_without_its_value(
    adapter: str, caplog: pytest.LogCaptureFixture
) -> None:
    name = f"X-Once-{adapter} "  # a name of its own: logged once per process
    with caplog.at_level(logging.WARNING, logger="connmw"):
        for _ in range(2):
            ADAPTERS[adapter]([TEXT, LENGTH, (name, "value-never-logged")])
    lines = [r.getMessage() for r in caplog.records if "invalid" in r.getMessage()]
    assert len(lines) == 1, caplog.text
    assert repr(name.lower()) in lines[0] and "RFC 9110 §5.1" in lines[0]
    assert "value-never-logged" not in caplog.text


@pytest.mark.parametrize("adapter", list(ADAPTERS))
@pytest.mark.parametrize(
    ("app_headers", "named"),
    [
        pytest.param([TEXT, ("connection ", "close")], "connection ", id="a-disguised-connection"),
        pytest.param(
            [TEXT, ("Transfer-Encoding\t", "chunked")], "transfer-encoding\t", id="disguised-framing"
        ),
        pytest.param([TEXT, ("X-Caf\u00e9", "1")], "x-caf\u00e9", id="no-token"),
    ],
)
def test_strict_mode_names_an_invalid_name(adapter: str, app_headers: Pairs, named: str) -> None:
    with pytest.raises(ForbiddenHeaderError, match="invalid") as caught:
        ADAPTERS[adapter](app_headers, strict=True)
    assert caught.value.header == named


# --------------------------------------------------------------------------------------
# WebSocket handshakes
# --------------------------------------------------------------------------------------


def asgi_handshake(headers: Pairs, **options: Any) -> tuple[int, str | None]:
    """(101 if the app was called, else the refusal's status; the rejection code)."""
    called: list[bool] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        called.append(True)

    scope = {
        "type": "websocket",
        "http_version": "1.1",
        "path": "/ws",
        "headers": [(n.lower().encode("latin-1"), v.encode("latin-1")) for n, v in headers],
        "extensions": {"websocket.http.response": {}},
    }
    middleware, sent = asgi_run(app, scope, {"type": "websocket.connect"}, **options)
    if called:
        assert not sent
        return 101, None
    return sent[0]["status"], next(iter(middleware.stats.handshakes_rejected))


def wsgi_handshake(headers: Pairs, **options: Any) -> tuple[int, str | None]:
    called: list[bool] = []
    got: list[str] = []

    def app(environ: Any, start_response: Any) -> list[bytes]:
        called.append(True)
        start_response("200 OK", [LENGTH])
        return [b"ok"]

    def start_response(status: str, response_headers: Any, exc_info: Any = None) -> Any:
        got.append(status)
        return lambda data: None

    config = load_config(environ={}, server="granian", **options)
    middleware = connmw_wsgi.ConnectionMiddleware(app, config=config)
    b"".join(middleware(wsgi_environ(headers), start_response))
    if called:
        return 101, None
    return int(got[0][:3]), next(iter(middleware.stats.handshakes_rejected))


def handshake(*hosts: str, origin: str | None = None, key: str = WS_KEY) -> Pairs:
    return handshake_fields(*hosts, origin=origin, Sec_WebSocket_Key=key)


OFF: dict[str, Any] = {"ws_validate": False}
LISTED: dict[str, Any] = {"ws_allowed_origins": "https://app.example"}

HANDSHAKES = [
    # ws_validate=False keeps the Origin policy
    pytest.param(
        handshake("victim.example", origin="http://evil.example"), OFF, 403, id="off-same-origin-refuses"
    ),
    pytest.param(
        handshake("victim.example", origin="http://victim.example"), OFF, 101, id="off-same-origin-admits"
    ),
    pytest.param(
        handshake("victim.example", origin="http://evil.example"),
        {**OFF, **LISTED},
        403,
        id="off-allow-list-refuses-the-unlisted",
    ),
    pytest.param(
        handshake("victim.example", origin="https://app.example"),
        {**OFF, **LISTED},
        101,
        id="off-allow-list-admits",
    ),
    pytest.param(
        handshake("victim.example", origin="http://evil.example", key="short"),
        {**OFF, "ws_allowed_origins": "*"},
        101,
        id="off-with-star-checks-nothing",
    ),
    pytest.param(handshake("victim.example", key="short"), OFF, 101, id="off-no-origin-structure-unchecked"),
    pytest.param(
        handshake("evil.example", "victim.example", origin="http://evil.example"),
        OFF,
        403,
        id="off-two-hosts-name-no-origin",
    ),
    # Host
    pytest.param(
        handshake("evil.example", "victim.example", origin="http://evil.example"),
        {},
        400,
        id="two-hosts-origin-matching-the-first",
    ),
    pytest.param(handshake("victim.example", "victim.example"), {}, 400, id="two-equal-hosts"),
    pytest.param(handshake(""), {}, 400, id="an-empty-host"),
    pytest.param(handshake("victim.example:"), {}, 400, id="an-empty-port"),
    pytest.param(handshake(" victim.example\t"), {}, 101, id="space-and-tab-around-a-host"),
    # HTTP white space only
    pytest.param(
        handshake("victim.example", origin="\x85http://victim.example"), {}, 403, id="nel-before-origin"
    ),
    pytest.param(
        handshake("victim.example", origin="http://victim.example\xa0"), {}, 403, id="nbsp-after-origin"
    ),
    pytest.param(
        handshake("victim.example", origin="\x1chttp://victim.example"), {}, 403, id="fs-before-origin"
    ),
    pytest.param(
        handshake("victim.example", origin=" http://victim.example\t"), {}, 101, id="ows-around-origin"
    ),
    # ports
    pytest.param(
        handshake("victim.example:8443", origin="https://victim.example"),
        {},
        403,
        id="origin-on-443-host-on-8443",
    ),
    pytest.param(
        handshake("localhost:8000", origin="http://localhost"), {}, 403, id="origin-on-80-host-on-8000"
    ),
    pytest.param(handshake("localhost:8000", origin="http://localhost:8000"), {}, 101, id="same-port"),
    pytest.param(handshake("a.example", origin="https://a.example"), {}, 101, id="no-ports-https"),
    pytest.param(handshake("a.example", origin="https://a.example:443"), {}, 101, id="443-spelled-out"),
]
CODES = {400: "bad-host", 403: "forbidden-origin"}


@pytest.mark.parametrize(("headers", "options", "status"), HANDSHAKES)
@pytest.mark.parametrize("adapter", ["asgi", "wsgi"])
def test_handshakes(adapter: str, headers: Pairs, options: dict[str, Any], status: int) -> None:
    judge = asgi_handshake if adapter == "asgi" else wsgi_handshake
    assert judge(headers, **options) == (status, CODES.get(status))
