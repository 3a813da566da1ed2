"""Connection lifecycle controls on real servers: drain, limits and the Keep-Alive hint, on the wire.

Every server runs tests/apps/lifecycle_apps.py in a subprocess on loopback, configured only
through ``CONNMW_*`` variables. Raw sockets show each header line and whether the server
really closed the socket after a response that said ``Connection: close``.

* uvicorn (``--http h11`` and ``--http httptools``): the drain file switched on and off
  while four clients per server keep sending (no request lost); max requests per
  connection with the ``Keep-Alive: timeout=N, max=M`` countdown; max connection age;
  the hint only on persistent responses; ``connmw.drain()`` from an application route.
* gunicorn with the uvicorn worker (uvicorn-worker, two workers): limits and drain per
  process.
* hypercorn: nothing changes over HTTP/2 (h2c), while HTTP/1.1 on the same server is
  limited and drained; granian's ASGI interface: limits with the countdown.
* WSGI: gunicorn's gthread worker (connmw asks its response object to close: limits and
  drain work, the hint cannot get through), waitress, cheroot, Twisted and uWSGI's
  ``--http`` router (limits, closed at the N-th response), granian and uWSGI's
  ``--http11-socket`` (drain and hint; no limits, their environ has no ``REMOTE_PORT``),
  werkzeug's development server and wsgiref (they close every connection themselves;
  connmw adds nothing).
* Start-up: a bad value of every ``CONNMW_*`` variable stops the process with a message
  naming the variable, the value and what is accepted.

The drain file is looked at about once a second (``connmw.lifecycle.CHECK_INTERVAL``), so
drain tests wait a little longer than that after touching or removing it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from connmw.config import describe_options
from connmw.lifecycle import CHECK_INTERVAL
from tests.wire import (
    REPO_ROOT,
    RawConnection,
    RawResponse,
    Server,
    ServerPool,
    WireError,
    cheroot_cmd,
    exchange,
    granian_cmd,
    gunicorn_cmd,
    hypercorn_cmd,
    mod_wsgi_cmd,
    request_bytes,
    twisted_cmd,
    uvicorn_cmd,
    uwsgi_cmd,
    waitress_cmd,
    werkzeug_cmd,
    wsgiref_cmd,
)

APP = "tests.apps.lifecycle_apps:app"
WSGI_APP = "tests.apps.lifecycle_apps:wsgi_app"
UVICORN = ["h11", "httptools"]
SWITCH_WAIT = CHECK_INTERVAL + 0.2
"""Seconds after touching or removing the drain file by which every process has seen it."""

GET = request_bytes()
LIMITS_ENV = {"CONNMW_MAX_REQUESTS_PER_CONNECTION": "3", "CONNMW_KEEP_ALIVE_TIMEOUT": "5"}


@pytest.fixture(scope="module")
def drain_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("drain")


@pytest.fixture(autouse=True)
def _no_connmw_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    """Servers inherit the environment: only the variables a test sets may reach them."""
    for variable in [v for v in os.environ if v.startswith("CONNMW_")]:
        monkeypatch.delenv(variable)


def uvicorn(http: str) -> Callable[[int], list[str]]:
    return lambda port: uvicorn_cmd(APP, port, http=http, ws="none")


def drain_server(pool: ServerPool, drain_dir: Path, http: str) -> Server:
    """The module's uvicorn with a drain file (``drain_dir/uvicorn``) and a 5 s Keep-Alive hint."""
    env = {"CONNMW_DRAIN_FILE": str(drain_dir / "uvicorn"), "CONNMW_KEEP_ALIVE_TIMEOUT": "5"}
    return pool.shared(f"drain-{http}", uvicorn(http), env=env)


def connection_field(response: RawResponse) -> list[str]:
    return response.connection_tokens()


def hint(response: RawResponse) -> list[str]:
    return response.header_values("keep-alive")


def assert_closes(response: RawResponse, what: str) -> None:
    """The response says close, carries no Keep-Alive hint, and the socket really closed."""
    assert response.status == 200, what
    assert connection_field(response) == ["close"], f"{what}: {response.headers}"
    assert hint(response) == [], f"{what}: a hint on a closing response"
    assert response.closed, f"{what}: said close but the server kept the socket open"


def assert_persists(response: RawResponse, what: str, keep_alive: list[str] | None = None) -> None:
    assert response.status == 200, what
    assert connection_field(response) == ["keep-alive"], f"{what}: {response.headers}"
    if keep_alive is not None:
        assert hint(response) == keep_alive, f"{what}: {response.headers}"


# --------------------------------------------------------------------------------------
# uvicorn: the drain file, while clients keep sending
# --------------------------------------------------------------------------------------


@dataclass
class Sample:
    """One request of a client loop: when it was sent and answered, and what came back."""

    sent: float
    answered: float
    status: int
    close: bool
    really_closed: bool
    hint: list[str]


@dataclass
class ClientLoop:
    """A client that sends requests back to back, reconnecting whenever a response says close."""

    port: int
    deadline: float
    limit: int = 20_000
    samples: list[Sample] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    connections: int = 0

    def run(self) -> None:
        connection: RawConnection | None = None
        try:
            while time.monotonic() < self.deadline and len(self.samples) < self.limit:
                sent = time.monotonic()
                try:
                    if connection is None:
                        connection = RawConnection(self.port, timeout=5)
                        self.connections += 1
                    response = connection.send(GET)
                except (WireError, OSError) as error:  # a lost request
                    self.failures.append(f"{sent:.3f}: {error!r}")
                    if connection is not None:
                        connection.close()
                    connection = None
                    continue
                close = "close" in response.connection_tokens()
                really_closed = connection.is_closed(wait=1.0) if close else False
                self.samples.append(
                    Sample(sent, time.monotonic(), response.status, close, really_closed, hint(response))
                )
                if close:
                    connection.close()
                    connection = None
        finally:
            if connection is not None:
                connection.close()


def test_drain_file_switch_loses_no_request(serve_module: ServerPool, drain_dir: Path) -> None:
    """Both uvicorn protocols at once, four clients each, while the file comes and goes."""
    path = drain_dir / "uvicorn"
    servers = {http: drain_server(serve_module, drain_dir, http) for http in UVICORN}
    start = time.monotonic()
    touch_at, remove_at = start + 0.3, start + 1.9
    # The loops stop a fixed time after the file is really gone (a busy machine may wake
    # this thread late), never later than ``start + 15``.
    loops = {
        http: [ClientLoop(server.port, start + 15) for _ in range(4)] for http, server in servers.items()
    }
    threads = [threading.Thread(target=loop.run) for group in loops.values() for loop in group]
    for thread in threads:
        thread.start()
    try:
        time.sleep(max(0.0, touch_at - time.monotonic()))
        path.touch()
        touched = time.monotonic()
        time.sleep(max(0.0, remove_at - time.monotonic()))
        path.unlink()
        removed = time.monotonic()
        for group in loops.values():
            for loop in group:
                loop.deadline = removed + SWITCH_WAIT + 0.8
    finally:
        path.unlink(missing_ok=True)
        for thread in threads:
            thread.join(timeout=15)
    assert not any(thread.is_alive() for thread in threads), "a client loop did not stop in time"

    for http, group in loops.items():
        samples = [sample for loop in group for sample in loop.samples]
        failures = [failure for loop in group for failure in loop.failures]
        assert failures == [], f"{http}: requests lost during the switch"
        assert samples and all(s.status == 200 for s in samples), http
        before = [s for s in samples if s.answered < touched]
        draining = [s for s in samples if s.sent > touched + SWITCH_WAIT and s.answered < removed]
        after = [s for s in samples if s.sent > removed + SWITCH_WAIT]
        assert before and draining and after, f"{http}: {len(before)}/{len(draining)}/{len(after)} samples"
        assert not any(s.close for s in before), f"{http}: closed before the file existed"
        assert all(s.close for s in draining), f"{http}: kept a connection open while draining"
        assert not any(s.close for s in after), f"{http}: still draining after the file went"
        closing = [s for s in samples if s.close]
        assert all(s.really_closed for s in closing), f"{http}: said close but kept the socket open"
        assert all(s.hint == [] for s in closing), f"{http}: a Keep-Alive hint on a closing response"
        assert all(s.hint == ["timeout=5"] for s in samples if not s.close), http
        assert sum(loop.connections for loop in group) >= len(draining), f"{http}: clients did not reconnect"

    for http, server in servers.items():  # keep-alive is back: three requests on one socket
        with RawConnection(server.port) as connection:
            for index in range(3):
                assert_persists(connection.send(GET), f"{http} #{index + 1}", ["timeout=5"])
            assert not connection.is_closed(wait=0.3)


# --------------------------------------------------------------------------------------
# uvicorn: limits and the hint
# --------------------------------------------------------------------------------------


LIMITED_SERVERS = {
    "uvicorn-h11": uvicorn("h11"),
    "uvicorn-httptools": uvicorn("httptools"),
    "granian": lambda port: granian_cmd(APP, port),
}


@pytest.mark.parametrize("name", list(LIMITED_SERVERS))
def test_max_requests_closes_the_third_response(serve_module: ServerPool, name: str) -> None:
    server = serve_module.shared(f"limits-{name}", LIMITED_SERVERS[name], env=LIMITS_ENV)
    for _ in range(2):  # a new connection counts from one again
        with RawConnection(server.port) as connection:
            first = connection.send(GET)
            second = connection.send(GET)
            third = connection.send(GET, check_closed=True)
            assert_persists(first, "first", ["timeout=5, max=2"])
            assert_persists(second, "second", ["timeout=5, max=1"])
            assert_closes(third, "third")


def test_forwarded_clients_are_not_limited(serve_module: ServerPool) -> None:
    """uvicorn's --proxy-headers (on, trusting 127.0.0.1) replaces the client by X-Forwarded-For
    with port 0: that names no connection, so connmw limits none (it used to count every
    connection of that client together, closing one on another's requests)."""
    server = serve_module.shared("limits-uvicorn-h11", LIMITED_SERVERS["uvicorn-h11"], env=LIMITS_ENV)
    forwarded = request_bytes(path="/conn", headers=[("X-Forwarded-For", "10.1.1.1")])
    with RawConnection(server.port) as one, RawConnection(server.port) as other:
        for index in range(4):
            for connection in (one, other):
                response = connection.send(forwarded)
                assert response.body.endswith(b" 0"), "uvicorn did not apply the forwarded address"
                assert_persists(response, f"forwarded #{index + 1}", ["timeout=5"])
        assert_persists(one.send(GET), "not forwarded: limited again", ["timeout=5, max=2"])


@pytest.mark.parametrize("http", UVICORN)
def test_max_connection_age_closes_the_first_response_after_it(serve_module: ServerPool, http: str) -> None:
    env = {"CONNMW_MAX_CONNECTION_AGE": "1", "CONNMW_KEEP_ALIVE_TIMEOUT": "5"}
    server = serve_module.shared(f"age-{http}", uvicorn(http), env=env)
    with RawConnection(server.port) as connection:
        started = time.monotonic()
        assert_persists(connection.send(GET), "first", ["timeout=5"])
        assert_persists(connection.send(GET), "young", ["timeout=5"])
        assert time.monotonic() - started < 1.0, "too slow to tell age from requests"
        time.sleep(max(0.0, started + 1.05 - time.monotonic()))
        assert_closes(connection.send(GET, check_closed=True), "first response after 1 s")


PERSISTS = (["keep-alive"], ["timeout=5"])
CLOSES: tuple[list[str], list[str]] = (["close"], [])
REQUESTS = [
    pytest.param(request_bytes(), PERSISTS, id="http11"),
    pytest.param(request_bytes(headers=[("Connection", "keep-alive")]), PERSISTS, id="http11-ka"),
    pytest.param(request_bytes(headers=[("Connection", "close")]), CLOSES, id="http11-close"),
    pytest.param(request_bytes(version="HTTP/1.0"), CLOSES, id="http10"),
    pytest.param(
        request_bytes(version="HTTP/1.0", headers=[("Connection", "keep-alive")]), CLOSES, id="http10-ka"
    ),
]


@pytest.mark.parametrize(("request_", "expected"), REQUESTS)
@pytest.mark.parametrize("http", UVICORN)
def test_keep_alive_hint_only_on_persistent_responses(
    serve_module: ServerPool,
    drain_dir: Path,
    http: str,
    request_: bytes,
    expected: tuple[list[str], list[str]],
) -> None:
    connection, keep_alive = expected
    server = drain_server(serve_module, drain_dir, http)
    response = exchange(server.port, request_, close_wait=0.3 if keep_alive else 1.0)
    assert response.status == 200
    assert connection_field(response) == connection, response.headers
    assert hint(response) == keep_alive, response.headers
    assert response.closed == (connection == ["close"])


@pytest.mark.parametrize("http", UVICORN)
def test_drain_from_an_application_route(serve: ServerPool, http: str) -> None:
    server = serve(uvicorn(http), env={"CONNMW_KEEP_ALIVE_TIMEOUT": "5"})
    with RawConnection(server.port) as connection:
        assert_persists(connection.send(GET), "before", ["timeout=5"])
        drained = connection.send(request_bytes(path="/admin/drain"), check_closed=True)
        assert_closes(drained, "the drain route's own answer")
    for index in range(2):
        assert_closes(exchange(server.port, GET), f"after drain() #{index + 1}")
    with RawConnection(server.port) as connection:
        assert_persists(connection.send(request_bytes(path="/admin/undrain")), "undrain", ["timeout=5"])
        assert_persists(connection.send(GET), "after undrain()", ["timeout=5"])
        assert not connection.is_closed(wait=0.3)


# --------------------------------------------------------------------------------------
# hypercorn: HTTP/2 untouched, HTTP/1.1 on the same server limited and drained
# --------------------------------------------------------------------------------------


def h2_bodies(server: Server, count: int, path: str = "/conn") -> list[httpx.Response]:
    with httpx.Client(http1=False, http2=True, timeout=10) as client:
        return [client.get(server.url + path) for _ in range(count)]


def test_http2_never_gets_lifecycle_fields(serve: ServerPool) -> None:
    pytest.importorskip("h2")
    env = {"CONNMW_KEEP_ALIVE_TIMEOUT": "5", "CONNMW_MAX_REQUESTS_PER_CONNECTION": "2"}
    server = serve(lambda port: hypercorn_cmd(APP, port), env=env)

    def check_h2(what: str) -> None:
        responses = h2_bodies(server, 4)
        assert all(r.http_version == "HTTP/2" and r.status_code == 200 for r in responses), what
        assert all("connection" not in r.headers and "keep-alive" not in r.headers for r in responses), what
        assert len({r.content for r in responses}) == 1, f"{what}: the HTTP/2 connection was closed"

    check_h2("limits")
    with RawConnection(server.port) as connection:  # HTTP/1.1 on the same server is limited
        assert_persists(connection.send(GET), "HTTP/1.1 first", ["timeout=5, max=1"])
        assert_closes(connection.send(GET, check_closed=True), "HTTP/1.1 second")
    assert_closes(exchange(server.port, request_bytes(path="/admin/drain")), "drain route")
    check_h2("draining")
    assert_closes(exchange(server.port, GET), "HTTP/1.1 while draining")
    assert h2_bodies(server, 1, "/admin/undrain")[0].status_code == 200
    assert_persists(
        exchange(server.port, GET, close_wait=0.3), "HTTP/1.1 after undrain", ["timeout=5, max=1"]
    )


# --------------------------------------------------------------------------------------
# gunicorn with the uvicorn worker, two processes
# --------------------------------------------------------------------------------------


def gunicorn_uvicorn(port: int) -> list[str]:
    return gunicorn_cmd(APP, port, worker="uvicorn_worker.UvicornWorker", extra=["--workers", "2"])


def connections_on_both_workers(
    port: int, per_worker: int = 2, timeout: float = 10.0, limit: int = 200
) -> tuple[dict[str, list[tuple[RawConnection, RawResponse]]], int]:
    """Open connections until each of the two workers holds ``per_worker`` of them.

    Which worker accepts a connection is the kernel's choice, and the second worker may
    still be booting when the port already listens; ``/conn`` says which worker answered.
    At most ``limit`` connections within ``timeout`` seconds. Returns the held connections
    with their first response, by worker pid, and the number of tries.
    """
    held: dict[str, list[tuple[RawConnection, RawResponse]]] = {}
    tries = 0
    deadline = time.monotonic() + timeout
    while tries < limit and time.monotonic() < deadline:
        if len(held) == 2 and all(len(c) >= per_worker for c in held.values()):
            break
        tries += 1
        connection = RawConnection(port)
        first = connection.send(request_bytes(path="/conn"))
        pid = first.body.split()[0].decode()
        if len(held.get(pid, ())) < per_worker:
            held.setdefault(pid, []).append((connection, first))
        else:
            connection.close()
            time.sleep(0.05)
    return held, tries


def test_gunicorn_uvicorn_workers_limit_each_connection(serve: ServerPool, drain_dir: Path) -> None:
    pytest.importorskip("uvicorn_worker")
    path = drain_dir / "gunicorn-uvicorn"
    env = {
        "CONNMW_MAX_REQUESTS_PER_CONNECTION": "3",
        "CONNMW_KEEP_ALIVE_TIMEOUT": "5",
        "CONNMW_DRAIN_FILE": str(path),
    }
    server = serve(gunicorn_uvicorn, env=env)
    held, tries = connections_on_both_workers(server.port)
    try:
        assert len(held) == 2, f"only worker {list(held)} accepted in {tries} connections"
        for pid, connections in held.items():
            for _, first in connections:
                assert_persists(first, f"worker {pid} first", ["timeout=5, max=2"])
        for number in (2, 3):  # interleaved: both workers hold several counts at once
            for pid, connections in held.items():
                for connection, first in connections:
                    response = connection.send(request_bytes(path="/conn"))
                    assert response.body == first.body, "one connection, one worker"
                    if number == 2:
                        assert_persists(response, f"worker {pid} second", ["timeout=5, max=1"])
                    else:
                        response.closed = connection.is_closed()
                        assert_closes(response, f"worker {pid} third")
    finally:
        for connections in held.values():
            for connection, _ in connections:
                connection.close()

    path.touch()
    try:
        time.sleep(SWITCH_WAIT)
        drained_pids: set[bytes] = set()
        # Until each worker has drained a few, bounded in count and time. Which worker accepts
        # is the kernel's choice: one may win 40 in a row (seen once in CI), so a repeat waits
        # a little before the next, as connections_on_both_workers does.
        expected = {pid.encode() for pid in held}
        deadline = time.monotonic() + 10.0
        for index in range(200):
            response = exchange(server.port, request_bytes(path="/conn"))
            worker = response.body.split()[0]
            assert_closes(response, f"draining #{index + 1}")
            seen_before = worker in drained_pids
            drained_pids.add(worker)
            if (index >= 5 and drained_pids == expected) or time.monotonic() > deadline:
                break
            if seen_before:
                time.sleep(0.05)
    finally:
        path.unlink()
    time.sleep(SWITCH_WAIT)
    for index in range(8):
        assert_persists(
            exchange(server.port, GET, close_wait=0.2), f"undrained #{index + 1}", ["timeout=5, max=2"]
        )
    assert drained_pids == expected, "a worker was never seen draining"


# --------------------------------------------------------------------------------------
# WSGI servers: what connmw can do where the server owns the connection
# --------------------------------------------------------------------------------------

WSGI_ENV_KEYS = ("CONNMW_MAX_REQUESTS_PER_CONNECTION", "CONNMW_KEEP_ALIVE_TIMEOUT", "CONNMW_DRAIN_FILE")


def wsgi_env(path: Path) -> dict[str, str]:
    return dict(zip(WSGI_ENV_KEYS, ("3", "5", str(path)), strict=True))


def test_gunicorn_gthread_limits_and_drain(serve: ServerPool, drain_dir: Path) -> None:
    """gunicorn ignores an app's Connection field; connmw asks its response object to close."""
    path = drain_dir / "gunicorn-gthread"
    server = serve(lambda port: gunicorn_cmd(WSGI_APP, port, worker="gthread"), env=wsgi_env(path))
    with RawConnection(server.port) as connection:
        first, second = connection.send(GET), connection.send(GET)
        third = connection.send(GET, check_closed=True)
    for response in (first, second):
        # gunicorn writes its own Connection field and drops Keep-Alive: no hint possible.
        assert_persists(response, "before the limit", [])
    assert connection_field(third) == ["close"]
    assert third.closed, "the third response did not close"
    path.touch()
    try:
        time.sleep(SWITCH_WAIT)
        assert_closes(exchange(server.port, GET), "draining")
    finally:
        path.unlink()
    time.sleep(SWITCH_WAIT)
    assert_persists(exchange(server.port, GET, close_wait=0.3), "undrained", [])


@pytest.mark.parametrize(
    ("command", "hint_through"),
    [
        pytest.param(lambda port: waitress_cmd(WSGI_APP, port), False, id="waitress"),  # no field of connmw's
        pytest.param(lambda port: cheroot_cmd(WSGI_APP, port), True, id="cheroot"),
        pytest.param(lambda port: twisted_cmd(WSGI_APP, port), True, id="twisted"),
        pytest.param(lambda port: uwsgi_cmd(WSGI_APP, port, "http"), True, id="uwsgi-router"),
    ],
)
def test_wsgi_servers_close_at_the_limit(
    serve: ServerPool, drain_dir: Path, command: Callable[[int], list[str]], hint_through: bool
) -> None:
    """Where connmw can close a WSGI connection (docs/servers.md), the limit closes it."""
    server = serve(command, env=wsgi_env(drain_dir / "never"))
    with RawConnection(server.port) as connection:
        first, second = connection.send(GET), connection.send(GET)
        third = connection.send(GET, check_closed=True)
    for response, left in ((first, 2), (second, 1)):
        assert response.status == 200
        assert not response.closed
        assert hint(response) == ([f"timeout=5, max={left}"] if hint_through else [])
    assert connection_field(third) == ["close"]
    assert third.closed, "the third response did not close"


def test_uwsgi_http11_socket_has_no_client_port_so_no_limits(serve: ServerPool, drain_dir: Path) -> None:
    """uWSGI's --http11-socket gives no REMOTE_PORT: nothing names the connection (as on granian)."""
    server = serve(lambda port: uwsgi_cmd(WSGI_APP, port, "http11-socket"), env=wsgi_env(drain_dir / "never"))
    with RawConnection(server.port) as connection:
        for index in range(4):  # past max_requests_per_connection: not applied
            assert_persists(connection.send(GET), f"request {index + 1}", ["timeout=5"])


def test_granian_wsgi_drain_and_hint_without_limits(serve: ServerPool, drain_dir: Path) -> None:
    """granian honours connmw's Connection field; its environ has no REMOTE_PORT, so no limits."""
    path = drain_dir / "granian"
    server = serve(lambda port: granian_cmd(WSGI_APP, port, interface="wsgi"), env=wsgi_env(path))
    with RawConnection(server.port) as connection:
        for index in range(4):  # past max_requests_per_connection: not applied
            assert_persists(connection.send(GET), f"request {index + 1}", ["timeout=5"])
        assert not connection.is_closed(wait=0.3)
    path.touch()
    try:
        time.sleep(SWITCH_WAIT)
        assert_closes(exchange(server.port, GET), "draining")
    finally:
        path.unlink()


def test_mod_wsgi_limits_drain_and_ready_path(serve: ServerPool) -> None:
    """Apache with mod_wsgi acts on connmw's one field: limits (it gives REMOTE_PORT), the
    Keep-Alive hint, drain and the ready path. Its children (www-data when started as root)
    look for the drain file: it lives in a directory they may enter."""
    directory = Path(tempfile.mkdtemp(prefix="connmw-mod-wsgi-"))
    directory.chmod(0o755)
    path = directory / "drain"
    try:
        env = {**wsgi_env(path), "CONNMW_READY_PATH": "/-/ready"}
        server = serve(lambda port: mod_wsgi_cmd("tests.apps.wrapped_wsgi:app", port), env=env)
        with RawConnection(server.port) as connection:
            first, second = connection.send(GET), connection.send(GET)
            third = connection.send(GET, check_closed=True)
        assert_persists(first, "first", ["timeout=5, max=2"])
        assert_persists(second, "second", ["timeout=5, max=1"])
        assert_closes(third, "the third, at max_requests_per_connection")
        ready = exchange(server.port, request_bytes("GET", "/-/ready"))
        assert (ready.status, ready.body, connection_field(ready)) == (200, b"ready\n", ["keep-alive"])
        path.touch()
        time.sleep(SWITCH_WAIT)
        assert_closes(exchange(server.port, GET), "draining")
        draining = exchange(server.port, request_bytes("GET", "/-/ready"))
        assert (draining.status, draining.body) == (503, b"draining\n")
        assert (draining.header_values("retry-after"), connection_field(draining)) == (["5"], ["close"])
        assert draining.closed
    finally:
        shutil.rmtree(directory, ignore_errors=True)


@pytest.mark.parametrize(
    "command",
    [
        pytest.param(lambda port: werkzeug_cmd(WSGI_APP, port), id="werkzeug"),
        pytest.param(lambda port: wsgiref_cmd(WSGI_APP, port), id="wsgiref"),
    ],
)
def test_servers_that_close_every_connection(
    serve: ServerPool, drain_dir: Path, command: Callable[[int], list[str]]
) -> None:
    """werkzeug's development server and wsgiref close after every response: nothing to drain or limit."""
    server = serve(command, env=wsgi_env(drain_dir / "never"))
    response = exchange(server.port, GET)
    assert response.status == 200
    assert response.closed
    assert hint(response) == []
    assert connection_field(response) in ([], ["close"])


# --------------------------------------------------------------------------------------
# Start-up: every bad value stops the process with a clear message
# --------------------------------------------------------------------------------------

BAD_VALUES = {
    "CONNMW_ENABLED": "maybe",
    "CONNMW_STRICT": "2",
    "CONNMW_EXPLICIT_KEEP_ALIVE": "yes please",
    "CONNMW_HTTP10_KEEP_ALIVE": "nope",
    "CONNMW_STRIP_HEADERS": "x bad",
    "CONNMW_PROTECTED_HEADERS": "x-acme-*-y z",
    "CONNMW_STRIP_REQUEST_HEADERS": "sometimes",
    "CONNMW_MAX_CONNECTION_TOKENS": "0",
    "CONNMW_WS_VALIDATE": "-1",
    "CONNMW_WS_ALLOWED_ORIGINS": "example.com",
    "CONNMW_HTTP10_BUFFER_BYTES": "1MB",
    "CONNMW_DRAIN_WINDOW": "5s",
    "CONNMW_DRAIN_STREAM_RETRY": "soon",
    "CONNMW_KEEP_ALIVE_TIMEOUT": "soon",
    "CONNMW_MAX_REQUESTS_PER_CONNECTION": "0",
    "CONNMW_MAX_CONNECTION_AGE": "1.5",
    "CONNMW_READY_PATH": "healthz",
    "CONNMW_SERVER": "apache",
    "CONNMW_METRICS": "statsd",
}
NO_BAD_TEXT = {"CONNMW_DRAIN_FILE": "any text is a path; empty, 'none' or 'off' mean none"}
ACCEPTED = {variable: accepted for variable, _, _, accepted in describe_options()}


def test_every_variable_has_a_bad_value_case() -> None:
    assert set(ACCEPTED) == set(BAD_VALUES) | set(NO_BAD_TEXT)


def assert_clear_error(output: str, variable: str, value: str) -> None:
    assert f"{variable}={value!r}" in output, output[-2000:]
    assert ACCEPTED[variable] in output, output[-2000:]


@pytest.fixture(scope="module")
def import_failures() -> dict[str, tuple[int, str]]:
    """For each bad value, ``python -c "import tests.apps.lifecycle_apps"``: exit status and stderr.

    Importing the app builds both middlewares, as a server does at start-up; the
    processes run side by side, so the whole table costs one interpreter start-up.
    """
    base = {k: v for k, v in os.environ.items() if not k.startswith("CONNMW_")}
    base["PYTHONPATH"] = str(REPO_ROOT)
    processes = {
        variable: subprocess.Popen(
            [sys.executable, "-c", "import tests.apps.lifecycle_apps"],
            cwd=REPO_ROOT,
            env={**base, variable: value},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        for variable, value in BAD_VALUES.items()
    }
    results: dict[str, tuple[int, str]] = {}
    try:
        for variable, process in processes.items():
            _, stderr = process.communicate(timeout=30)
            results[variable] = (process.returncode, stderr)
    finally:
        for process in processes.values():
            if process.poll() is None:
                process.kill()
                process.wait()
    return results


@pytest.mark.parametrize(("variable", "value"), list(BAD_VALUES.items()), ids=list(BAD_VALUES))
def test_bad_value_stops_start_up(
    import_failures: dict[str, tuple[int, str]], variable: str, value: str
) -> None:
    returncode, stderr = import_failures[variable]
    assert returncode != 0
    last_line = stderr.strip().splitlines()[-1]
    assert last_line.startswith("connmw.errors.ConfigError: "), stderr[-2000:]
    assert_clear_error(last_line, variable, value)


@pytest.fixture
def run_server() -> Iterator[Callable[[list[str], dict[str, str]], subprocess.CompletedProcess[str]]]:
    def run(argv: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
        merged = {k: v for k, v in os.environ.items() if not k.startswith("CONNMW_")}
        merged.update(env, PYTHONPATH=str(REPO_ROOT))
        return subprocess.run(
            argv, cwd=REPO_ROOT, env=merged, capture_output=True, text=True, timeout=30, check=False
        )

    yield run


@pytest.mark.parametrize(
    ("command", "variable"),
    [
        pytest.param(uvicorn("h11"), "CONNMW_KEEP_ALIVE_TIMEOUT", id="uvicorn-h11"),
        pytest.param(uvicorn("httptools"), "CONNMW_MAX_REQUESTS_PER_CONNECTION", id="uvicorn-httptools"),
        pytest.param(gunicorn_uvicorn, "CONNMW_MAX_CONNECTION_AGE", id="gunicorn-uvicorn-worker"),
    ],
)
def test_bad_value_stops_a_real_server(
    run_server: Callable[[list[str], dict[str, str]], subprocess.CompletedProcess[str]],
    command: Callable[[int], list[str]],
    variable: str,
) -> None:
    value = BAD_VALUES[variable]
    done = run_server(command(0), {variable: value})
    assert done.returncode != 0, "the server started with a bad value"
    assert_clear_error(done.stdout + done.stderr, variable, value)
