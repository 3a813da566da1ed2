"""Adversarial requests over raw sockets against real servers running connmw.

uvicorn (``--http h11 --ws wsproto``, ``--http httptools --ws websockets-sansio``) serves
``tests.apps.hardening_apps:asgi_app``, gunicorn's gthread worker serves its WSGI twin;
both run with ``CONNMW_STRIP_REQUEST_HEADERS=1``, and ``/echo`` reports the headers the
application saw. Every request below must be answered (a 4xx from the server's own
parser is fine: oversize and malformed headers may be refused before connmw sees them),
never with a 5xx, never by hanging, and never with more than one Connection line:

* an 8 KiB Connection value with thousands of tokens, repeated and distinct;
* control bytes, DEL, NUL, latin-1 bytes in values and names;
* Connection spread over several lines, and over hundreds of them;
* Connection nominating Host, Content-Length, Authorization and X-Forwarded-For, which
  the application must still see (and the body still arrive);
* Upgrade to protocols nobody speaks, and an h2c upgrade with HTTP2-Settings: answered
  over HTTP/1.1, on a connection that stays usable;
* WebSocket opening handshakes with each field wrong in turn.

Time stays linear in header size: the rules' ``parse_connection`` and ``read_request``
are timed in process on 1 KiB … 64 KiB inputs (and up to 512 KiB of repeated lines),
and on uvicorn's httptools protocol, which accepts megabytes of header lines, 64 000
Connection lines must cost about 16 times what 4 000 do. Ratios, not absolute times,
with generous slack: quadratic growth is what is caught.
"""

from __future__ import annotations

import gc
import json
import math
import time
from collections.abc import Callable, Iterator, Sequence

import pytest

from connmw.rules import Policy, parse_connection
from tests.helpers import server_pool
from tests.wire import (
    WEBSOCKETS_SANSIO_BEFORE_17,
    RawConnection,
    RawResponse,
    Server,
    exchange,
    gunicorn_cmd,
    request_bytes,
    uvicorn_cmd,
)

pytestmark = pytest.mark.timeout(60)

ASGI_APP = "tests.apps.hardening_apps:asgi_app"
WSGI_APP = "tests.apps.hardening_apps:wsgi_app"
ENV = {"CONNMW_STRIP_REQUEST_HEADERS": "1", "CONNMW_WS_ALLOWED_ORIGINS": "http://good.example"}
SERVERS: dict[str, Callable[[int], list[str]]] = {
    "uvicorn-h11": lambda port: uvicorn_cmd(ASGI_APP, port, http="h11", ws="wsproto"),
    "uvicorn-httptools": lambda port: uvicorn_cmd(ASGI_APP, port, http="httptools", ws="websockets-sansio"),
    "gunicorn-gthread": lambda port: gunicorn_cmd(WSGI_APP, port, worker="gthread", threads=2),
}
KEY = b"dGhlIHNhbXBsZSBub25jZQ=="
ANSWER_TIMEOUT = 5.0


@pytest.fixture(scope="module")
def servers() -> Iterator[Callable[[str], Server]]:
    """Each server once per module, on first use, configured by ``ENV`` alone."""
    with server_pool() as pool:
        yield lambda name: pool.shared(name, SERVERS[name], env=ENV)


def raw_request(
    method: bytes,
    path: bytes,
    headers: Sequence[tuple[bytes, bytes]],
    body: bytes = b"",
    version: bytes = b"HTTP/1.1",
) -> bytes:
    """A request byte for byte: no Host or Content-Length added, any bytes allowed."""
    lines = [b"%s %s %s" % (method, path, version), *(name + b": " + value for name, value in headers)]
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


def answered(port: int, request: bytes, *, check_closed: bool = False) -> RawResponse:
    """Send on a fresh connection; the server must answer in time, without 5xx or two Connection lines."""
    response = exchange(port, request, timeout=ANSWER_TIMEOUT, check_closed=check_closed)
    assert response.status < 500, response.raw_head
    assert len(response.header_values("connection")) <= 1, response.raw_head
    return response


def seen_by_app(response: RawResponse) -> dict[str, list[str]]:
    """The /echo report: header name → values, as the application saw them."""
    report = json.loads(response.body)
    seen: dict[str, list[str]] = {}
    for name, value in report["headers"]:
        seen.setdefault(name, []).append(value)
    seen["body-length"] = [str(report["body_length"])]
    return seen


HOST = (b"Host", b"127.0.0.1")
ONE_TOKEN_8K = b"a," * 4081 + b"x-forwarded-for, authorization"  # 8192 bytes
DISTINCT_8K = b",".join(b"x%d" % i for i in range(2000))[:8192].rstrip(b",")

# (id, request, statuses the server's own parser may answer, names the app must see, must not see)
ADVERSARIAL = [
    pytest.param(
        raw_request(
            b"GET",
            b"/echo",
            [
                HOST,
                (b"Connection", ONE_TOKEN_8K),
                (b"X-Forwarded-For", b"203.0.113.7"),
                (b"Authorization", b"t"),
            ],
        ),
        {431, 400},
        {"x-forwarded-for", "authorization", "host"},
        set(),
        id="8k-connection-4000-tokens-nominating-protected",
    ),
    pytest.param(
        raw_request(
            b"GET", b"/echo", [HOST, (b"Connection", DISTINCT_8K), (b"X1", b"kept: too many to nominate")]
        ),
        {431, 400},
        {"host", "x1"},
        set(),
        id="8k-connection-2000-distinct-tokens",
    ),
    pytest.param(
        raw_request(b"GET", b"/echo", [HOST, (b"Connection", b"close\x01, x-hop"), (b"X-Hop", b"1")]),
        {400},
        {"host"},
        {"x-hop"},
        id="control-byte-in-connection",
    ),
    pytest.param(
        raw_request(b"GET", b"/echo", [HOST, (b"Connection", b"\x7f, x-hop"), (b"X-Hop", b"1")]),
        {400},
        {"host"},
        {"x-hop"},
        id="del-in-connection",
    ),
    pytest.param(
        raw_request(b"GET", b"/echo", [HOST, (b"X-A", b"a\x00b")]),
        {400},
        {"host"},
        set(),
        id="nul-in-value",
    ),
    pytest.param(
        raw_request(
            b"GET", b"/echo", [HOST, (b"Connection", b"k\xe9\xe9p-alive, x-hop"), (b"X-Hop", b"\xff\xfe")]
        ),
        {400},
        {"host"},
        {"x-hop"},
        id="latin-1-in-connection-and-value",
    ),
    pytest.param(
        raw_request(b"GET", b"/echo", [HOST, (b"X-\xe9", b"1")]),
        {400},
        {"host"},
        set(),
        id="non-ascii-name",
    ),
    pytest.param(
        raw_request(
            b"POST",
            b"/echo",
            [
                HOST,
                (b"Connection", b"Host, Content-Length, Authorization, X-Forwarded-For"),
                (b"Authorization", b"Bearer secret"),
                (b"X-Forwarded-For", b"203.0.113.9"),
                (b"Content-Length", b"5"),
            ],
            b"hello",
        ),
        set(),
        {"host", "content-length", "authorization", "x-forwarded-for"},
        set(),
        id="connection-nominates-host-length-authorization-xff",
    ),
    pytest.param(
        raw_request(b"GET", b"/echo", [HOST, (b"Connection", b"Upgrade"), (b"Upgrade", b"foo/1, bar")]),
        set(),
        {"host"},
        set(),
        id="upgrade-to-unknown-protocols",
    ),
    pytest.param(
        raw_request(
            b"GET",
            b"/echo",
            [
                HOST,
                (b"Connection", b"Upgrade, HTTP2-Settings"),
                (b"Upgrade", b"h2c"),
                (b"HTTP2-Settings", b"AAMAAABkAARAAAAAAAIAAAAA"),
            ],
        ),
        set(),
        {"host"},
        {"http2-settings"},
        id="h2c-upgrade",
    ),
]


@pytest.mark.parametrize("server", list(SERVERS))
@pytest.mark.parametrize(("request_", "refusals", "must_see", "must_not_see"), ADVERSARIAL)
def test_adversarial_request_is_answered_without_5xx(
    servers: Callable[[str], Server],
    *,
    server: str,
    request_: bytes,
    refusals: set[int],
    must_see: set[str],
    must_not_see: set[str],
) -> None:
    port = servers(server).port
    with RawConnection(port, timeout=ANSWER_TIMEOUT) as connection:
        response = connection.send(request_)
        assert response.status < 500, response.raw_head
        assert len(response.header_values("connection")) <= 1, response.raw_head
        if response.status != 200:
            assert response.status in refusals, response.raw_head  # the server's own parser refused it
            return
        seen = seen_by_app(response)
        assert must_see <= seen.keys(), seen
        assert not must_not_see & seen.keys(), seen
        assert not response.has_header("upgrade"), response.raw_head  # nobody switched protocols
        if b"POST" in request_[:4]:
            assert seen["body-length"] == ["5"]
        # The connection still speaks HTTP/1.1 (no protocol switch happened behind our back).
        again = connection.send(request_bytes("GET", "/"))
        assert (again.status, again.body) == (200, b"ok")


@pytest.mark.parametrize("server", list(SERVERS))
def test_connection_over_several_lines_is_one_list(servers: Callable[[str], Server], server: str) -> None:
    port = servers(server).port
    lines = [(b"Connection", b"keep-alive"), (b"Connection", b"x-hop"), (b"Connection", b"close")]
    response = answered(
        port, raw_request(b"GET", b"/echo", [HOST, *lines, (b"X-Hop", b"1")]), check_closed=True
    )
    assert response.status == 200
    assert response.header_values("connection") == ["close"]
    assert response.closed
    assert "x-hop" not in seen_by_app(response)


# Who refuses 303 header lines before the application runs, and how (measured, gunicorn 27:
# limit_request_fields is 100 by default, and its parser answers 431 and closes).
REFUSES_HUNDREDS_OF_LINES = {"gunicorn-gthread": 431}


@pytest.mark.parametrize("server", list(SERVERS))
def test_hundreds_of_connection_lines(servers: Callable[[str], Server], server: str) -> None:
    lines = [(b"Connection", b"x-%d" % i) for i in range(300)]
    request = raw_request(b"GET", b"/echo", [HOST, *lines, (b"Connection", b"close"), (b"X-7", b"1")])
    response = answered(servers(server).port, request, check_closed=True)
    if server in REFUSES_HUNDREDS_OF_LINES:  # the server's parser; no application, no middleware
        assert response.status == REFUSES_HUNDREDS_OF_LINES[server], response.raw_head
        assert response.closed
        return
    assert response.status == 200, response.raw_head
    assert response.header_values("connection") == ["close"]
    assert response.closed
    assert "x-7" in seen_by_app(response)  # 302 tokens: past the limit, nothing is nominated


def handshake(**change: bytes | None) -> bytes:
    """A valid WebSocket opening handshake to /ws, with fields replaced (or dropped: None)."""
    fields: dict[str, bytes | None] = {
        "method": b"GET",
        "version": b"HTTP/1.1",
        "Host": b"127.0.0.1",
        "Upgrade": b"websocket",
        "Connection": b"Upgrade",
        "Sec-WebSocket-Key": KEY,
        "Sec-WebSocket-Version": b"13",
        "Origin": b"http://good.example",
    }
    fields.update(change)
    headers = [
        (name.encode(), value)
        for name, value in fields.items()
        if name not in ("method", "version") and value is not None
    ]
    if fields["method"] == b"POST":
        headers.append((b"Content-Length", b"0"))
    return raw_request(fields["method"] or b"GET", b"/ws", headers, version=fields["version"] or b"HTTP/1.1")


REFUSED = {400, 403, 405, 426}  # 405: websockets-sansio refuses a POST itself
# (change, statuses any server may answer). A handshake that is not one at all (wrong
# Upgrade or Connection) may be served as plain HTTP; the WSGI app is no WebSocket
# server, so gunicorn answers an accepted handshake with the app's 200.
HANDSHAKES = [
    pytest.param({}, {101, 200}, id="valid"),
    pytest.param({"method": b"POST"}, REFUSED, id="post"),
    # uvicorn cannot tell an HTTP/1.0 handshake: its WebSocket scope always says 1.1
    pytest.param({"version": b"HTTP/1.0"}, {101} | REFUSED, id="http10"),
    pytest.param({"Host": None}, REFUSED, id="no-host"),
    pytest.param({"Upgrade": b"websockets"}, {200} | REFUSED, id="upgrade-wrong"),
    pytest.param({"Upgrade": None}, {200}, id="upgrade-missing"),
    pytest.param({"Connection": b"keep-alive"}, {200} | REFUSED, id="connection-without-upgrade"),
    pytest.param({"Sec-WebSocket-Key": b"short"}, REFUSED, id="key-short"),
    pytest.param({"Sec-WebSocket-Key": b"!" * 22 + b"=="}, REFUSED, id="key-not-base64"),
    pytest.param({"Sec-WebSocket-Key": b"A" * 20}, REFUSED, id="key-of-15-bytes"),
    pytest.param({"Sec-WebSocket-Key": None}, REFUSED, id="key-missing"),
    pytest.param({"Sec-WebSocket-Key": KEY + b", " + KEY}, REFUSED, id="key-twice"),
    pytest.param({"Sec-WebSocket-Version": b"8"}, REFUSED, id="version-8"),
    pytest.param({"Sec-WebSocket-Version": None}, REFUSED, id="version-missing"),
    pytest.param({"Origin": b"http://evil.example"}, {403}, id="origin-foreign"),
    pytest.param({"Origin": b"\xff\x00"}, {400, 403}, id="origin-garbage"),
]


@pytest.mark.parametrize("server", list(SERVERS))
@pytest.mark.parametrize(("change", "statuses"), HANDSHAKES)
def test_websocket_handshake_with_one_field_wrong(
    request: pytest.FixtureRequest,
    servers: Callable[[str], Server],
    server: str,
    change: dict[str, bytes | None],
    statuses: set[int],
) -> None:
    if server == "uvicorn-httptools" and change.get("method") == b"POST":
        request.applymarker(WEBSOCKETS_SANSIO_BEFORE_17)
    response = answered(servers(server).port, handshake(**change))
    assert response.status in statuses, response.raw_head


# --------------------------------------------------------------------------------------
# Time linear in header size
# --------------------------------------------------------------------------------------

SIZES_KIB = [1, 2, 4, 8, 16, 32, 64]


def best_time(function: Callable[[], object], repeat: int = 7) -> float:
    """Best of ``repeat`` runs with the garbage collector paused, as timeit does: its
    full collections walk every live object, a cost that grows with the input and would
    read as the function's own."""
    best = math.inf
    enabled = gc.isenabled()
    gc.collect()
    gc.disable()
    try:
        for _ in range(repeat):
            start = time.perf_counter()
            function()
            best = min(best, time.perf_counter() - start)
    finally:
        if enabled:
            gc.enable()
    return best


def tokens_of_size(size: int, token: Callable[[int], bytes]) -> bytes:
    parts: list[bytes] = []
    length = 0
    while length < size:
        part = token(len(parts))
        parts.append(part)
        length += len(part) + 1
    return b",".join(parts)[:size]


POLICY = Policy()
WORKLOADS: dict[str, Callable[[int], Callable[[], object]]] = {
    "parse_connection-one-value-distinct": lambda size: (
        lambda: parse_connection([tokens_of_size(size, lambda i: b"x-%d" % i)])
    ),
    "parse_connection-invalid-tokens": lambda size: (
        lambda: parse_connection([tokens_of_size(size, lambda i: b"\xff%d" % i)])
    ),
    "read_request-one-value": lambda size: (
        lambda: POLICY.read_request(
            "1.1", [(b"host", b"h"), (b"connection", tokens_of_size(size, lambda i: b"t%d" % i))]
        )
    ),
    "read_request-one-line-per-token": lambda size: (
        lambda: POLICY.read_request("1.1", [(b"connection", b"x-%d" % i) for i in range(size // 16)])
    ),
    "read_request-upgrade-lines": lambda size: (
        lambda: POLICY.read_request(
            "1.1", [(b"connection", b"upgrade"), *((b"upgrade", b"p%d" % i) for i in range(size // 16))]
        )
    ),
}


def _timings(
    workload: Callable[[int], Callable[[], object]], sizes: Sequence[int], rounds: int = 7
) -> list[float]:
    """Best time per size, the sizes interleaved round by round: a burst of load from
    elsewhere on the machine then slows every size alike instead of only the last one."""
    runs = [workload(kib * 1024) for kib in sizes]
    best = [math.inf] * len(runs)
    enabled = gc.isenabled()
    gc.collect()
    gc.disable()  # as best_time: a collection walks every live object, input included
    try:
        for _ in range(rounds):
            for index, run in enumerate(runs):
                start = time.perf_counter()
                run()
                best[index] = min(best[index], time.perf_counter() - start)
    finally:
        if enabled:
            gc.enable()
    return best


@pytest.mark.parametrize("name", list(WORKLOADS))
def test_rules_time_is_linear_in_header_size(name: str) -> None:
    """64 times the input may cost at most 4 x 64 times the time (quadratic: about 4096)."""
    times = _timings(WORKLOADS[name], SIZES_KIB)
    growth = times[-1] / times[0]
    assert growth < 64 * 4, f"{name}: {[f'{t * 1e3:.3f} ms' for t in times]}"


@pytest.mark.parametrize("name", ["read_request-one-line-per-token", "read_request-upgrade-lines"])
def test_repeated_lines_stay_linear_where_copying_would_show(name: str) -> None:
    """16 KiB → 512 KiB of repeated lines: linear is 32x; appending line by line gave 250x."""
    times = _timings(WORKLOADS[name], [16, 512])
    assert times[1] / times[0] < 32 * 3, f"{name}: {[f'{t * 1e3:.3f} ms' for t in times]}"


@pytest.mark.slow
@pytest.mark.parametrize("name", list(WORKLOADS))
def test_rules_time_is_linear_up_to_a_mebibyte(name: str) -> None:
    times = _timings(WORKLOADS[name], [64, 1024])
    assert times[1] / times[0] < 16 * 3, f"{name}: {[f'{t * 1e3:.3f} ms' for t in times]}"


def test_megabytes_of_connection_lines_on_httptools(servers: Callable[[str], Server]) -> None:
    """uvicorn's httptools protocol accepts 1.4 MB of headers: connmw must not make it quadratic.

    Before read_request joined repeated lines once, 64 000 lines took over 4 s of the
    event loop (bare uvicorn: 20 ms); now about 0.1 s.
    """
    port = servers("uvicorn-httptools").port

    def cost(lines: int) -> float:
        request = request_bytes("GET", "/", headers=[("Connection", f"x-{i}") for i in range(lines)])
        return best_time(lambda: exchange(port, request, timeout=20, check_closed=False), repeat=3)

    small, large = cost(4000), cost(64000)
    assert large / small < 16 * 3, (small, large)
