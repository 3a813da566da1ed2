"""Disguised response names and Host in WebSocket handshakes, on the wire.

Response names (``tests.apps.hardening_apps``'s ``/disguise``): an application sends a
field whose name has white space around it, as one copying an upstream's fields might:
``connection `` with ``close, x-secret``, ``transfer-encoding<TAB>``, ``keep-alive ``,
`` Connection``, ``connection<VT>``. Without connmw's classification uvicorn (h11 and
httptools) sent no response at all, and hypercorn trimmed the names after the middleware
ran: two Connection fields, the nominated ``X-Secret`` and ``Keep-Alive`` leaked, and
``Transfer-Encoding: chunked`` replaced the application's Content-Length; over h2c
``X-Secret`` leaked. Now every server answers 200 with connmw's one Connection field, the
application's Content-Length and body, and nothing the disguised field names, closing
when it said ``close``; gunicorn (the WSGI middleware) alike.

Host (the same app's WebSocket echo, same origin by default): ``Host: evil`` +
``Host: victim`` + ``Origin: http://evil`` reached the application on uvicorn's httptools
with the websockets stacks, which pass both lines on; connmw now answers 400. h11
(uvicorn, hypercorn), and wsproto on httptools, refuse two Host lines themselves: their
own 400, asserted exactly (docs/servers.md). An empty Host reaches every application and
gets connmw's 400. Over h2c, hypercorn's h2 ends the connection (GOAWAY PROTOCOL_ERROR)
before any application runs when a ``host`` differs from ``:authority`` or is empty.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from urllib.parse import quote

import pytest

from connmw.rules import is_token
from tests.helpers import handshake_fields, server_pool
from tests.wire import (
    LOOPBACK,
    RawResponse,
    Server,
    WireError,
    exchange,
    gunicorn_cmd,
    h2_request,
    hypercorn_cmd,
    request_bytes,
    uvicorn_cmd,
)

pytestmark = pytest.mark.timeout(60)

ASGI_APP = "tests.apps.hardening_apps:asgi_app"
WSGI_APP = "tests.apps.hardening_apps:wsgi_app"
SERVERS: dict[str, Callable[[int], list[str]]] = {
    "uvicorn-h11-wsproto": lambda port: uvicorn_cmd(ASGI_APP, port, http="h11", ws="wsproto"),
    "uvicorn-httptools-websockets-sansio": lambda port: uvicorn_cmd(
        ASGI_APP, port, http="httptools", ws="websockets-sansio"
    ),
    "uvicorn-httptools-wsproto": lambda port: uvicorn_cmd(ASGI_APP, port, http="httptools", ws="wsproto"),
    "hypercorn": lambda port: hypercorn_cmd(ASGI_APP, port),
    "gunicorn-gthread": lambda port: gunicorn_cmd(WSGI_APP, port, worker="gthread", threads=2),
}
BARE = {name: app.replace(":", ":bare_") for name, app in (("asgi", ASGI_APP), ("wsgi", WSGI_APP))}
BARE_SERVERS: dict[str, Callable[[int], list[str]]] = {
    "uvicorn-h11-wsproto": lambda port: uvicorn_cmd(BARE["asgi"], port, http="h11", ws="wsproto"),
    "uvicorn-httptools-websockets-sansio": lambda port: uvicorn_cmd(
        BARE["asgi"], port, http="httptools", ws="websockets-sansio"
    ),
    "hypercorn": lambda port: hypercorn_cmd(BARE["asgi"], port),
    "gunicorn-gthread": lambda port: gunicorn_cmd(BARE["wsgi"], port, worker="gthread", threads=2),
}
PROTOCOL_ERROR = 0x1  # RFC 9113 §7


@pytest.fixture(scope="module")
def servers() -> Iterator[Callable[[str], Server]]:
    """Each server once per module, on first use, with no ``CONNMW_*`` variable at all."""
    with server_pool() as pool:
        yield lambda name: pool.shared(
            name, {**SERVERS, **{f"bare-{k}": v for k, v in BARE_SERVERS.items()}}[name]
        )


# --------------------------------------------------------------------------------------
# Response names
# --------------------------------------------------------------------------------------

DISGUISES = [
    pytest.param("connection ", "close, x-secret", True, id="connection-trailing-space"),
    pytest.param(" Connection", "close, x-secret", True, id="connection-leading-space"),
    pytest.param("connection\x0b", "close, x-secret", True, id="connection-vertical-tab"),
    pytest.param("Connection\t", "x-secret", False, id="connection-tab-nominating-only"),
    pytest.param("transfer-encoding\t", "chunked", False, id="transfer-encoding-tab"),
    pytest.param("keep-alive ", "timeout=5", False, id="keep-alive-trailing-space"),
]
H1_SERVERS = ["uvicorn-h11-wsproto", "uvicorn-httptools-websockets-sansio", "hypercorn", "gunicorn-gthread"]


def disguise_path(name: str, value: str) -> str:
    return f"/disguise?n={quote(name, safe='')}&v={quote(value, safe='')}"


@pytest.mark.parametrize(("name", "value", "closes"), DISGUISES)
@pytest.mark.parametrize("server", H1_SERVERS)
def test_http1_nothing_leaves_under_a_disguised_name(
    servers: Callable[[str], Server], server: str, name: str, value: str, closes: bool
) -> None:
    port = servers(server).port
    request = f"GET {disguise_path(name, value)} HTTP/1.1\r\nHost: {LOOPBACK}\r\n\r\n".encode()
    response = exchange(port, request, check_closed=True)
    assert response.status == 200, response.raw_head
    assert all(is_token(key.encode("latin-1")) for key, _ in response.headers), response.raw_head
    names = response.header_names_lower()
    assert not {"keep-alive", "transfer-encoding"} & set(names), response.raw_head
    assert ("x-secret" in names) is ("x-secret" not in value), response.raw_head  # removed when nominated
    assert response.header_values("content-length") == ["2"], response.raw_head
    assert (response.body, response.chunked) == (b"ok", False)
    if server != "gunicorn-gthread":  # gunicorn writes its own Connection field (docs/servers.md)
        assert response.header_values("connection") == ["close" if closes else "keep-alive"], (
            response.raw_head
        )
    assert names.count("connection") <= 1, response.raw_head
    assert response.closed is closes


@pytest.mark.parametrize("server", list(BARE_SERVERS))
def test_bare_a_disguised_connection_breaks_the_response_or_leaks(
    servers: Callable[[str], Server], server: str
) -> None:
    """The fault, without connmw: what each server makes of ``connection `` + ``close, x-secret``."""
    port = servers(f"bare-{server}").port
    request = f"GET {disguise_path('connection ', 'close, x-secret')} HTTP/1.1\r\nHost: {LOOPBACK}\r\n\r\n"
    if server.startswith("uvicorn"):
        with pytest.raises(WireError, match="before any response"):  # h11 and httptools refuse the name
            exchange(port, request.encode())
        return
    response = exchange(port, request.encode())
    if server == "hypercorn":  # trims the name: a second Connection field, the nominated one kept
        assert response.status == 200, response.raw_head
        assert response.header_values("connection") == ["close, x-secret"], response.raw_head
        assert response.header_values("x-secret") == ["s3cret"], response.raw_head
    else:
        assert response.status == 500, response.raw_head  # gunicorn: an invalid name


@pytest.mark.parametrize(("name", "value", "closes"), DISGUISES)
def test_h2c_nothing_leaves_under_a_disguised_name(
    servers: Callable[[str], Server], name: str, value: str, closes: bool
) -> None:
    port = servers("hypercorn").port
    request = [
        (":method", "GET"),
        (":scheme", "http"),
        (":path", disguise_path(name, value)),
        (":authority", LOOPBACK),
    ]
    seen = h2_request(port, request)
    fields = dict(seen.headers)
    assert (seen.status, seen.body) == (200, b"ok"), seen.headers
    assert fields[b"content-length"] == b"2"
    assert not {b"connection", b"keep-alive", b"transfer-encoding"} & set(fields), seen.headers
    assert (b"x-secret" in fields) is ("x-secret" not in value), seen.headers  # removed when nominated


# --------------------------------------------------------------------------------------
# Host in WebSocket handshakes
# --------------------------------------------------------------------------------------


def handshake(*hosts: bytes, origin: bytes | None = None) -> bytes:
    text = [host.decode("latin-1") for host in hosts]
    fields = handshake_fields(*text, origin=None if origin is None else origin.decode("latin-1"))
    return request_bytes("GET", "/ws", headers=fields, host=None)


def refused_by_connmw(response: RawResponse) -> bool:
    return (
        response.status == 400
        and response.body.startswith(b"WebSocket handshake refused: ")
        and b"Host" in response.body
    )


def without_date(response: RawResponse) -> list[tuple[str, str]]:
    return [(name.lower(), value) for name, value in response.headers if name.lower() != "date"]


# The servers' own answers to two Host lines, measured (uvicorn 0.55, h11 0.16, wsproto
# 1.3, hypercorn 0.18): no application, and so no middleware, runs.
H11_400 = [("content-type", "text/plain; charset=utf-8"), ("connection", "close")]
WSPROTO_400 = [("content-length", "0")]
HYPERCORN_400 = [("content-length", "0"), ("connection", "close"), ("server", "hypercorn-h11")]
SERVERS_OWN_400: dict[str, tuple[list[tuple[str, str]], bytes] | None] = {
    "uvicorn-h11-wsproto": (H11_400, b"Invalid HTTP request received."),
    "uvicorn-httptools-websockets-sansio": None,  # passes both lines on: connmw answers
    "uvicorn-httptools-wsproto": (WSPROTO_400, b""),
    "hypercorn": (HYPERCORN_400, b""),
}


@pytest.mark.parametrize(
    "hosts",
    [
        pytest.param((b"evil.example", LOOPBACK.encode()), id="evil-then-victim"),
        pytest.param((LOOPBACK.encode(), LOOPBACK.encode()), id="the-same-host-twice"),
    ],
)
@pytest.mark.parametrize("server", list(SERVERS_OWN_400))
def test_two_host_lines_get_400(
    servers: Callable[[str], Server], server: str, hosts: tuple[bytes, ...]
) -> None:
    """RFC 9112 §3.2: more than one Host line is answered 400, by the server or by connmw."""
    port = servers(server).port
    response = exchange(port, handshake(*hosts, origin=b"http://" + hosts[0]), check_closed=True)
    own = SERVERS_OWN_400[server]
    if own is None:
        assert refused_by_connmw(response), response.raw_head + response.body
    else:
        assert (response.status, without_date(response), response.body) == (400, *own)
    assert response.closed


@pytest.mark.parametrize("server", list(SERVERS_OWN_400))
def test_an_empty_host_gets_connmw_s_400(servers: Callable[[str], Server], server: str) -> None:
    """Every server passes ``Host:`` with nothing in it on: RFC 6455 §4.2.1 needs an authority."""
    response = exchange(servers(server).port, handshake(b""), check_closed=False)
    assert refused_by_connmw(response), response.raw_head + response.body


@pytest.mark.parametrize(
    "hosts",
    [
        pytest.param((b"evil.example", LOOPBACK.encode()), id="evil-then-victim"),
        pytest.param((b"",), id="an-empty-host"),
    ],
)
def test_bare_httptools_opens_the_socket_whatever_the_host(
    servers: Callable[[str], Server], hosts: tuple[bytes, ...]
) -> None:
    """The fault, without connmw: uvicorn's httptools with websockets passes such Host lines on."""
    response = exchange(
        servers("bare-uvicorn-httptools-websockets-sansio").port,
        handshake(*hosts, origin=b"http://evil.example"),
        check_closed=False,
    )
    assert response.status == 101, response.raw_head


def test_one_valid_host_still_opens_the_socket(servers: Callable[[str], Server]) -> None:
    port = servers("uvicorn-httptools-websockets-sansio").port
    host = f"{LOOPBACK}:{port}".encode()
    response = exchange(port, handshake(host, origin=b"http://" + host), check_closed=False)
    assert response.status == 101, response.raw_head


H2_HANDSHAKE = [
    (":method", "CONNECT"),
    (":protocol", "websocket"),
    (":scheme", "http"),
    (":path", "/ws"),
    (":authority", LOOPBACK),
    ("sec-websocket-version", "13"),
    ("origin", f"http://{LOOPBACK}"),
]


@pytest.mark.parametrize(
    "hosts",
    [
        pytest.param([("host", "evil.example")], id="a-host-that-differs"),
        pytest.param([("host", "evil.example"), ("host", LOOPBACK)], id="two-hosts"),
        pytest.param([("host", "")], id="an-empty-host"),
    ],
)
def test_h2c_a_host_that_differs_from_the_authority_ends_the_connection(
    servers: Callable[[str], Server], hosts: list[tuple[str, str]]
) -> None:
    """RFC 9113 §8.3.1: malformed. hypercorn's h2 answers GOAWAY before any application runs."""
    seen = h2_request(servers("hypercorn").port, [*H2_HANDSHAKE, *hosts], until_headers=True, validate=False)
    assert (seen.status, seen.goaway) == (0, PROTOCOL_ERROR)


def test_h2c_the_authority_alone_opens_the_socket(servers: Callable[[str], Server]) -> None:
    seen = h2_request(servers("hypercorn").port, H2_HANDSHAKE, until_headers=True, validate=False)
    assert (seen.status, seen.goaway) == (200, None)
