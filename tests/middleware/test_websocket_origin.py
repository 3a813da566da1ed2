"""Same-origin WebSocket handshakes by default, on real servers and in a real browser.

With no ``CONNMW_WS_ALLOWED_ORIGINS`` a browser page may open a WebSocket to a wrapped
app only from the app's own host and port (an Origin naming no port is on its scheme's
default, 80 or 443, and so is a Host naming none): cross-site
WebSocket hijacking is refused with 403, as gorilla/websocket, python-socketio and Django
Channels refuse it by default. Requests without Origin (non-browser clients) pass;
``CONNMW_WS_ALLOWED_ORIGINS=*`` admits every origin again.

Servers: uvicorn (h11, wsproto) and hypercorn (HTTP/1.1 and RFC 8441 over h2c) serving
tests/apps/wrapped_asgi.py, gunicorn's gthread worker serving the flask-sock echo of
tests/apps/wrapped_wsgi.py, each with no connmw variable at all, and once more with
``*``. The browser test loads a page from another origin in headless Chromium and
watches the socket it opens: refused behind connmw, opened on the bare app.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest
from websockets.sync.client import connect as ws_connect

from tests.helpers import handshake_fields, server_pool
from tests.wire import (
    LOOPBACK,
    RawConnection,
    RawResponse,
    Server,
    extended_connect,
    free_port,
    gunicorn_cmd,
    h2_request,
    hypercorn_cmd,
    request_bytes,
    uvicorn_cmd,
)

pytestmark = pytest.mark.timeout(60)

COMMANDS: dict[str, Callable[[int], list[str]]] = {
    "uvicorn": lambda port: uvicorn_cmd("tests.apps.wrapped_asgi:app", port, http="h11", ws="wsproto"),
    "hypercorn": lambda port: hypercorn_cmd("tests.apps.wrapped_asgi:app", port),
    "gunicorn": lambda port: gunicorn_cmd("tests.apps.wrapped_wsgi:app", port, threads=4),
}


@pytest.fixture(scope="module")
def servers() -> Iterator[Callable[[str, str], Server]]:
    """``servers(name, allowed)``: one server per kind and allow-list, started on first use.

    ``allowed`` is ``CONNMW_WS_ALLOWED_ORIGINS``; ``""`` leaves it unset (the default).
    """
    with server_pool() as pool:

        def get(name: str, allowed: str = "") -> Server:
            env = {"CONNMW_WS_ALLOWED_ORIGINS": allowed} if allowed else {}
            return pool.shared(f"{name}-{allowed}", COMMANDS[name], env=env)

        yield get


def handshake(port: int, origin: str | None, *, host: str | None = None, path: str = "/ws") -> RawResponse:
    headers = handshake_fields(host or f"{LOOPBACK}:{port}", origin=origin)
    with RawConnection(port) as connection:
        return connection.send(request_bytes("GET", path, headers=headers, host=None))


def case(port: int, kind: str) -> tuple[str | None, str | None]:
    """(Origin, Host) for a named situation; Host ``None`` means the server's own address."""
    own = f"{LOOPBACK}:{port}"
    return {
        "same-origin": (f"http://{own}", None),
        "foreign-origin": ("http://evil.example", None),
        "same-host-another-port": (f"http://{LOOPBACK}:{port + 1 if port < 65535 else port - 1}", None),
        "null": ("null", None),
        "no-origin": (None, None),
        "https-page-behind-a-tls-ending-proxy": (f"https://{own}", None),
        "origin-without-port-same-host": (f"http://{LOOPBACK}", None),
        "origin-and-host-on-the-default-port": (f"http://{LOOPBACK}", LOOPBACK),
        "host-in-another-case": ("http://LOCALHOST", "localhost"),
    }[kind]


DEFAULT_VERDICTS = [
    pytest.param("same-origin", 101, id="same-origin-101"),
    pytest.param("foreign-origin", 403, id="foreign-origin-403"),
    pytest.param("same-host-another-port", 403, id="same-host-another-port-403"),
    pytest.param("null", 403, id="null-403"),
    pytest.param("no-origin", 101, id="no-origin-101"),
    pytest.param("https-page-behind-a-tls-ending-proxy", 101, id="https-page-behind-tls-proxy-101"),
    pytest.param("origin-without-port-same-host", 403, id="origin-naming-no-port-is-on-port-80-403"),
    pytest.param("origin-and-host-on-the-default-port", 101, id="origin-and-host-naming-no-port-101"),
    pytest.param("host-in-another-case", 101, id="hosts-compare-case-insensitively-101"),
]


@pytest.mark.parametrize(("kind", "status"), DEFAULT_VERDICTS)
@pytest.mark.parametrize("name", list(COMMANDS))
def test_default_is_same_origin(
    servers: Callable[[str, str], Server], name: str, kind: str, status: int
) -> None:
    port = servers(name, "").port
    origin, host = case(port, kind)
    response = handshake(port, origin, host=host)
    assert response.status == status, response.raw_head
    if status == 403:
        assert response.body.startswith(b"WebSocket handshake refused: the Origin")


@pytest.mark.parametrize("name", ["uvicorn", "hypercorn"])
def test_bare_app_admits_any_origin(servers: Callable[[str, str], Server], name: str) -> None:
    """The fault connmw's default fixes: without it, a foreign page gets its socket."""
    port = servers(name, "").port
    assert handshake(port, "http://evil.example", path="/bare/ws").status == 101


@pytest.mark.parametrize("kind", ["foreign-origin", "null", "same-host-another-port", "same-origin"])
@pytest.mark.parametrize("name", list(COMMANDS))
def test_star_admits_any_origin(servers: Callable[[str, str], Server], name: str, kind: str) -> None:
    port = servers(name, "*").port
    origin, host = case(port, kind)
    assert handshake(port, origin, host=host).status == 101


@pytest.mark.parametrize("name", list(COMMANDS))
def test_a_list_admits_only_what_it_names(servers: Callable[[str, str], Server], name: str) -> None:
    port = servers(name, "http://app.example").port
    assert handshake(port, "http://app.example").status == 101
    assert handshake(port, f"http://{LOOPBACK}:{port}").status == 403  # same origin, not listed


@pytest.mark.parametrize(
    ("origin", "authority", "status"),
    [
        pytest.param("http://127.0.0.1:{port}", "127.0.0.1:{port}", 200, id="same-origin-200"),
        pytest.param("https://127.0.0.1:{port}", "127.0.0.1:{port}", 200, id="https-page-same-host-200"),
        pytest.param("http://evil.example", "127.0.0.1:{port}", 403, id="foreign-origin-403"),
        pytest.param("http://127.0.0.1:1", "127.0.0.1:{port}", 403, id="same-host-another-port-403"),
        pytest.param("null", "127.0.0.1:{port}", 403, id="null-403"),
    ],
)
def test_rfc8441_over_http2_is_same_origin_by_authority(
    servers: Callable[[str, str], Server], origin: str, authority: str, status: int
) -> None:
    port = servers("hypercorn", "").port
    request = [
        (":method", "CONNECT"),
        (":protocol", "websocket"),
        (":scheme", "http"),
        (":path", "/ws"),
        (":authority", authority.format(port=port)),
        ("sec-websocket-version", "13"),
        ("origin", origin.format(port=port)),
    ]
    assert h2_request(port, request, until_headers=True).status == status


def test_rfc8441_without_origin_is_admitted(servers: Callable[[str, str], Server]) -> None:
    assert extended_connect(servers("hypercorn", "").port, ("sec-websocket-version", "13")).status == 200


@pytest.mark.parametrize("name", ["uvicorn", "gunicorn"])
def test_same_origin_echo_works_end_to_end(servers: Callable[[str, str], Server], name: str) -> None:
    port = servers(name, "").port
    with ws_connect(f"ws://{LOOPBACK}:{port}/ws", origin=f"http://{LOOPBACK}:{port}", open_timeout=5) as ws:  # type: ignore[arg-type]
        ws.send("hello")
        assert ws.recv(timeout=5) in ("hello", "echo:hello")


# --------------------------------------------------------------------------------------
# A real browser: a page from another origin tries to open a socket to the app
# --------------------------------------------------------------------------------------

PAGE = """<!doctype html><title>connmw origin test</title><script>
const seen = [];
const socket = new WebSocket("ws://127.0.0.1:%(port)d%(path)s");
socket.onopen = () => { seen.push("open"); socket.send("hello"); };
socket.onmessage = (event) => seen.push("message:" + event.data);
socket.onclose = (event) => {
  seen.push("closed:" + event.code);
  fetch("/result?state=" + encodeURIComponent(seen.join(" ")));
};
</script>"""


class _PageServer:
    """Serves the page above from another origin and records what the page reports."""

    def __init__(self, app_port: int, path: str) -> None:
        results: list[str] = []
        arrived = threading.Event()
        page = (PAGE % {"port": app_port, "path": path}).encode()

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                url = urlsplit(self.path)
                if url.path == "/result":
                    results.append(parse_qs(url.query).get("state", [""])[0])
                    arrived.set()
                    body, kind = b"", "text/plain"
                else:
                    body, kind = page, "text/html"
                self.send_response(200)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                """Quiet."""

        self.results = results
        self.arrived = arrived
        self.server = ThreadingHTTPServer((LOOPBACK, free_port()), Handler)
        self.url = f"http://{LOOPBACK}:{self.server.server_address[1]}/page"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def browser_opens(app_port: int, path: str) -> str:
    """What the socket of a page from another origin did: its events, e.g. ``open message:… closed:1000``."""
    browser = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    if browser is None:
        pytest.skip("no Chromium here (CI installs it: apt-get install chromium)")
    page = _PageServer(app_port, path)
    profile = f"/tmp/connmw-chromium-{os.getpid()}-{page.server.server_address[1]}"  # noqa: S108
    process = subprocess.Popen(
        [
            browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            f"--user-data-dir={profile}", page.url,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )  # fmt: skip
    try:
        assert page.arrived.wait(30), "the page never reported"
        return page.results[0]
    finally:
        process.kill()
        process.wait()
        page.close()
        shutil.rmtree(profile, ignore_errors=True)


def test_browser_foreign_page_refused_with_no_configuration(servers: Callable[[str, str], Server]) -> None:
    port = servers("uvicorn", "").port
    # The fault: bare, the foreign page gets its socket and talks over it.
    assert browser_opens(port, "/bare/ws") == "open message:echo:hello closed:1000"
    # Behind connmw, with no configuration at all: refused (403), never open.
    assert browser_opens(port, "/ws") == "closed:1006"
