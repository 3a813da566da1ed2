"""nginx in front of uvicorn + connmw, end to end on loopback.

The test starts nginx itself (Debian's nginx-light; ``.ci/run`` installs it) from
``tests/nginx/nginx.conf.template``: ``daemon off``, its own prefix, pid file, error log
and temp directories in a private temporary directory, a free loopback port. nginx
proxies to uvicorn running ``tests.apps.hardening_apps:asgi_app`` with upstream
keep-alive (``proxy_http_version 1.1``, ``proxy_set_header Connection ""``,
``keepalive 16``) and passes WebSocket upgrades on ``/ws`` (``map $http_upgrade
$connection_upgrade``). connmw runs with ``CONNMW_STRIP_REQUEST_HEADERS=1`` and a drain
file.

* Hop-by-hop abuse through the proxy (a client Connection field nominating
  X-Forwarded-For, Authorization, Cookie, Host …, also on the upgrade location) cannot
  strip a protected header: the application sees every one of them.
* An application's own Connection field cannot strip Set-Cookie or Content-Type from
  the response either, while the X-Hop it nominates never reaches the client.
* A real WebSocket client (websockets) gets its echo through nginx.
* Drain closes the upstream connections: the application reports the source port of
  each upstream connection (``scope["client"]``). Before the drain file exists the port
  repeats (nginx reuses its idle connection); while it exists every request arrives on
  a new connection; once it is gone the reuse comes back.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from websockets.sync.client import connect as ws_connect

from tests.helpers import server_pool
from tests.wire import (
    RawResponse,
    exchange,
    free_port,
    nginx_binary,
    request_bytes,
    uvicorn_cmd,
)

pytestmark = pytest.mark.timeout(60)

TEMPLATE = Path(__file__).resolve().parents[1] / "nginx" / "nginx.conf.template"
APP = "tests.apps.hardening_apps:asgi_app"
DRAIN_CHECK = 1.3  # connmw looks at the drain file at most once a second


@dataclass
class Proxy:
    """nginx's client-facing port, uvicorn's port and connmw's drain file."""

    port: int
    upstream: int
    drain_file: Path


def uvicorn_behind_nginx(port: int) -> list[str]:
    """uvicorn without --proxy-headers: ``scope["client"]`` stays nginx's upstream socket."""
    return uvicorn_cmd(APP, port, http="httptools", ws="wsproto", extra=["--no-proxy-headers"])


@pytest.fixture(scope="module")
def proxy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proxy]:
    binary = nginx_binary()
    tmp = tmp_path_factory.mktemp("nginx")
    drain_file = tmp / "drain"
    with server_pool() as pool:
        env = {"CONNMW_STRIP_REQUEST_HEADERS": "1", "CONNMW_DRAIN_FILE": str(drain_file)}
        upstream = pool(uvicorn_behind_nginx, env=env)
        port = free_port()
        config = (
            TEMPLATE.read_text()
            .replace("@TMP@", str(tmp))
            .replace("@LISTEN@", str(port))
            .replace("@UPSTREAM@", str(upstream.port))
            .replace("@USER@", "user root;" if os.geteuid() == 0 else "")
        )
        conf = tmp / "nginx.conf"
        conf.write_text(config)
        try:
            pool([binary, "-p", str(tmp), "-c", str(conf), "-e", str(tmp / "error.log")], port)
        except Exception as error:  # the error log says why nginx would not start
            log = tmp / "error.log"
            raise AssertionError(f"{error}\n{log.read_text() if log.exists() else ''}") from None
        yield Proxy(port, upstream.port, drain_file)


def echo(port: int, path: str = "/echo", headers: list[tuple[str, str]] | None = None) -> dict[str, object]:
    response = exchange(port, request_bytes("GET", path, headers=headers or []), check_closed=False)
    assert response.status == 200, response.raw_head
    report: dict[str, object] = json.loads(response.body)
    return report


def seen(report: dict[str, object]) -> dict[str, list[str]]:
    headers: dict[str, list[str]] = {}
    for name, value in report["headers"]:  # type: ignore[attr-defined]
        headers.setdefault(name, []).append(value)
    return headers


ABUSE = [
    ("Connection", "close, X-Forwarded-For, Authorization, Cookie, Host, X-Real-IP, Forwarded"),
    ("Authorization", "Bearer secret"),
    ("Cookie", "session=1"),
    ("X-Forwarded-For", "198.51.100.1"),
    ("X-Real-IP", "198.51.100.1"),
    ("Forwarded", "for=198.51.100.1"),
    ("Proxy-Connection", "keep-alive"),
]


@pytest.mark.parametrize(
    ("path", "extra"),
    [
        pytest.param("/echo", [], id="plain-location"),
        pytest.param("/ws/echo", [("Upgrade", "h2c")], id="upgrade-location"),
    ],
)
def test_hop_by_hop_abuse_cannot_strip_protected_headers(
    proxy: Proxy, path: str, extra: list[tuple[str, str]]
) -> None:
    app_saw = seen(echo(proxy.port, path, ABUSE + extra))
    assert app_saw["authorization"] == ["Bearer secret"]
    assert app_saw["cookie"] == ["session=1"]
    assert app_saw["host"] == ["127.0.0.1"]
    assert app_saw["x-real-ip"] == ["198.51.100.1"]
    assert app_saw["forwarded"] == ["for=198.51.100.1"]
    assert app_saw["x-forwarded-for"] == ["198.51.100.1, 127.0.0.1"]  # nginx appended itself
    assert "proxy-connection" not in app_saw  # nginx passed it on; connmw removed it


def test_app_connection_field_cannot_strip_protected_response_headers(proxy: Proxy) -> None:
    response: RawResponse = exchange(proxy.port, request_bytes("GET", "/nominate"), check_closed=False)
    assert response.status == 200
    assert response.header_values("set-cookie") == ["session=1; HttpOnly"]
    assert response.header_values("content-type") == ["text/plain"]
    assert not response.has_header("x-hop")
    assert response.body == b"ok"


def test_websocket_echo_through_nginx(proxy: Proxy) -> None:
    with ws_connect(f"ws://127.0.0.1:{proxy.port}/ws", open_timeout=5, close_timeout=2) as websocket:
        for text in ("hello", "again"):
            websocket.send(text)
            assert websocket.recv(timeout=5) == "echo:" + text


def upstream_ports(proxy: Proxy, count: int) -> list[int]:
    """The source port of the upstream connection each of ``count`` requests came on."""
    ports: list[int] = []
    for _ in range(count):
        client = echo(proxy.port)["client"]
        assert isinstance(client, list)
        ports.append(int(client[1]))
    return ports


def test_drain_closes_upstream_connections(proxy: Proxy) -> None:
    proxy.drain_file.unlink(missing_ok=True)
    time.sleep(DRAIN_CHECK)
    before = upstream_ports(proxy, 8)
    assert len(set(before)) < len(before), before  # nginx reuses its idle upstream connection

    proxy.drain_file.touch()
    try:
        time.sleep(DRAIN_CHECK)
        during = upstream_ports(proxy, 8)
    finally:
        proxy.drain_file.unlink()
    # The first may still come on the last pooled connection; each then closes.
    assert len(set(during)) == len(during), during

    time.sleep(DRAIN_CHECK)
    after = upstream_ports(proxy, 8)
    assert len(set(after)) < len(after), after
    stats = echo(proxy.port, "/stats")["stats"]
    assert stats["connections_closed"].get("drain", 0) >= len(during)  # type: ignore[index]
