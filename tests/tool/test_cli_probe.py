"""``connmw probe``: findings on real servers, on scripted raw-socket servers, the JSON
contract, and the exit status 2 paths.

Real servers (uvicorn with h11 and with httptools, werkzeug, wsgiref) run as
subprocesses on 127.0.0.1 through the shared harness (``tests/wire.py``), serving
:mod:`connmw.tool._demo_apps` (the ``plain`` and ``hoppy`` apps). Scripted
servers are threads on 127.0.0.1 that answer with exact bytes, for faults no popular
server commits today (a ``close`` that is not honoured, a body after HEAD …). Only
loopback addresses are used.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from connmw.tool._schema import CHECK_SCHEMA, PROBE_SCHEMA, validate
from connmw.tool.probe import Report, probe
from tests.wire import ServerPool, TLSFiles, uvicorn_cmd, werkzeug_cmd, wsgiref_cmd

ROOT = Path(__file__).resolve().parents[2]
APPS = "connmw.tool._demo_apps"
WRAPPED = "connmw.tool._demo_apps_wrapped"
HAVE_WRAPPED = all(importlib.util.find_spec(m) is not None for m in ("connmw.asgi", "connmw.wsgi"))


def run_cli(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """``python -m connmw ARGS`` with this checkout importable; stderr is not a TTY."""
    env = {"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}
    return subprocess.run(
        [sys.executable, "-m", "connmw", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        cwd=ROOT,
        check=False,
    )


def codes(report: Report, case_id: str | None = None) -> set[str]:
    """Finding codes of one case (or all), info notes included."""
    return {
        finding.code
        for result in report.cases
        if case_id is None or result.case.id == case_id
        for finding in result.findings
    }


def error_codes(report: Report) -> set[str]:
    return {f.code for result in report.cases for f in result.findings if f.severity == "error"}


def assert_valid(document: Any, schema: dict[str, Any]) -> None:
    """connmw's own subset checker, and jsonschema as a second opinion when installed."""
    assert validate(document, schema) == []
    try:
        import jsonschema  # type: ignore[import-untyped]  # noqa: PLC0415
    except ImportError:  # pragma: no cover - optional second opinion
        return
    jsonschema.validate(document, schema)


def test_the_schema_checker_can_fail() -> None:
    bad = {"schema": "connmw-probe/2", "exit_code": 3, "cases": [{"id": "nope", "socket": "maybe"}]}
    found = "\n".join(validate(bad, PROBE_SCHEMA))
    for fragment in ("connmw-probe/2", "exit_code", "missing url", "cases[0].id", "cases[0].socket"):
        assert fragment in found


# --------------------------------------------------------------------------------------
# Real servers
# --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def servers(serve_module: ServerPool) -> dict[str, str]:
    """Base URLs (with a trailing slash) of the demo apps on real servers, bare and wrapped."""
    commands: dict[str, Callable[[int], Sequence[str]]] = {
        "uvicorn-h11": lambda port: uvicorn_cmd(f"{APPS}:asgi_app", port, http="h11"),
        "uvicorn-httptools": lambda port: uvicorn_cmd(f"{APPS}:asgi_app", port, http="httptools"),
        "wsgiref": lambda port: wsgiref_cmd(f"{APPS}:wsgi_app", port),
    }
    if HAVE_WRAPPED:
        commands["uvicorn+connmw"] = lambda port: uvicorn_cmd(
            f"{WRAPPED}:asgi_wrapped", port, http="httptools"
        )
        commands["werkzeug+connmw"] = lambda port: werkzeug_cmd(f"{WRAPPED}:wsgi_wrapped", port)
    return {key: serve_module.shared(key, command).url + "/" for key, command in commands.items()}


@pytest.mark.parametrize(
    ("stack", "specific"),
    [
        # docs/servers.md: h11 sends "close" and "x-hop" as two lines, Keep-Alive while closing;
        # httptools sends both Connection lines and chunks the body to an HTTP/1.0 client.
        pytest.param("uvicorn-h11", "connection-repeated", id="h11"),
        pytest.param("uvicorn-httptools", "chunked-to-http10", id="httptools"),
    ],
)
def test_uvicorn_passes_an_apps_hop_by_hop_fields(servers: dict[str, str], stack: str, specific: str) -> None:
    report = probe(servers[stack] + "hoppy", timeout=3)
    assert report.exit_code() == 1
    first = next(result for result in report.cases if result.case.id == "post-http11")
    assert {"x-hop", "upgrade", "proxy-connection"} <= set(first.leaked)
    assert "hop-by-hop-leak" in codes(report, "post-http11")
    assert specific in codes(report, "post-http10")
    http10 = next(result for result in report.cases if result.case.id == "post-http10")
    assert len(http10.connection) == 2
    assert "keep-alive" in http10.leaked  # Keep-Alive sent on a connection that closes


def test_uvicorn_plain_route_is_clean_but_has_no_origin_check(servers: dict[str, str]) -> None:
    report = probe(servers["uvicorn-h11"], timeout=3)
    assert report.exit_code() == 0
    assert error_codes(report) == set()
    assert "ws-no-origin-check" in codes(report, "ws-foreign-origin")
    assert report.exit_code(strict=True) == 1
    assert [r.socket for r in report.cases[:4]] == ["kept", "closed", "closed", "closed"]


def test_wsgiref_answers_500_to_an_app_with_hop_by_hop_fields(servers: dict[str, str]) -> None:
    report = probe(servers["wsgiref"] + "hoppy", timeout=3)
    assert report.exit_code() == 1
    assert "server-error" in codes(report, "post-http11")
    assert {r.status for r in report.cases if r.case.kind == "http"} == {500}


@pytest.mark.skipif(not HAVE_WRAPPED, reason="connmw.asgi and connmw.wsgi are not both there yet")
@pytest.mark.parametrize(
    ("stack", "route"),
    [
        pytest.param("uvicorn+connmw", "", id="uvicorn-plain"),
        pytest.param("uvicorn+connmw", "hoppy", id="uvicorn-hoppy"),
        pytest.param("werkzeug+connmw", "", id="werkzeug-plain"),
        pytest.param("werkzeug+connmw", "hoppy", id="werkzeug-hoppy"),
    ],
)
def test_wrapped_apps_have_no_errors(servers: dict[str, str], stack: str, route: str) -> None:
    report = probe(servers[stack] + route, timeout=3)
    assert error_codes(report) == set(), [
        (r.case.id, f.code, f.message) for r in report.cases for f in r.findings if f.severity == "error"
    ]
    assert report.exit_code() == 0
    assert all(not result.leaked for result in report.cases)
    # connmw's origin allow-list in the demo wrapper refuses the foreign Origin.
    foreign = next(r for r in report.cases if r.case.id == "ws-foreign-origin")
    if stack.startswith("uvicorn"):
        assert foreign.status == 403


def test_json_output_follows_the_schema(servers: dict[str, str]) -> None:
    done = run_cli("probe", servers["uvicorn-httptools"] + "hoppy", "--json", "--timeout", "3")
    assert done.returncode == 1
    assert done.stderr == ""  # no progress lines when stderr is not a terminal
    document = json.loads(done.stdout)
    assert_valid(document, PROBE_SCHEMA)
    assert document["outcome"] == "findings"
    assert document["summary"]["error"] > 0
    assert [case["id"] for case in document["cases"]] == [
        "post-http11", "post-http10", "post-http11-close", "post-http10-keep-alive", "head-http11",
        "get-nominated", "ws-valid", "ws-bad-version", "ws-foreign-origin",
    ]  # fmt: skip
    first = document["cases"][0]
    assert first["request"]["headers"][0] == ["Host", servers["uvicorn-httptools"].split("/")[2]]
    assert any(f["code"] == "hop-by-hop-leak" and f["rfc"] == "RFC 9110 §7.6.1" for f in first["findings"])


def test_human_output_is_a_table_with_findings_and_rfcs(servers: dict[str, str]) -> None:
    done = run_cli("probe", servers["uvicorn-httptools"] + "hoppy", "--timeout", "3")
    assert done.returncode == 1
    lines = done.stdout.splitlines()
    assert lines[0].startswith("connmw probe http://127.0.0.1:")
    assert lines[2].split() == ["case", "status", "Connection", "received", "socket", "verdict"]
    assert "POST HTTP/1.0" in done.stdout and "keep-alive, X-Hop | close" in done.stdout
    assert "[RFC 9110 §7.6.1]" in done.stdout and "[RFC 9112 §6.1]" in done.stdout
    assert lines[-1].endswith("-> findings (exit 1)")


def test_https_with_a_self_signed_certificate(tls_files: TLSFiles) -> None:
    server = _TlsEcho(Path(tls_files.certfile), Path(tls_files.keyfile))
    try:
        url = f"https://127.0.0.1:{server.port}/"
        refused = run_cli("probe", url, "--timeout", "2")
        assert refused.returncode == 2
        assert "certificate" in refused.stderr and "--insecure" in refused.stderr
        assert len(refused.stderr.strip().splitlines()) == 1
        report = probe(url, insecure=True, timeout=2)
        assert report.reason is None
        assert report.cases[0].status == 200
        assert report.cases[0].socket == "kept"
    finally:
        server.stop()


# --------------------------------------------------------------------------------------
# Scripted servers: exact bytes, exact socket behaviour
# --------------------------------------------------------------------------------------

Reply = Callable[[bytes], tuple[bytes, str]]  # request head -> (response bytes, "keep"|"close"|"hang")


class Scripted:
    """A threaded loopback server answering each request head with ``reply``."""

    def __init__(self, reply: Reply) -> None:
        self.reply = reply
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}/"
        self.serving: set[socket.socket] = set()
        self.lock = threading.Lock()
        self.stopped = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        """Serve ``conn`` until the reply says close, the client hangs up or :meth:`stop`.

        Each thread closes its own socket (``with conn``): none is left for the garbage
        collector, whose ResourceWarning would fail whichever test it lands in."""
        with self.lock:
            if self.stopped:
                conn.close()
                return
            self.serving.add(conn)
        try:
            self._exchange(conn)
        finally:
            with self.lock:
                self.serving.discard(conn)

    def _exchange(self, conn: socket.socket) -> None:
        buffer = b""
        with conn:
            while True:
                while b"\r\n\r\n" not in buffer:
                    try:
                        chunk = conn.recv(65536)
                    except OSError:
                        return
                    if not chunk:
                        return
                    buffer += chunk
                head, _, buffer = buffer.partition(b"\r\n\r\n")
                data, after = self.reply(head)
                try:
                    conn.sendall(data)
                except OSError:  # the probe may hang up before reading it all (big bodies)
                    return
                if after == "close":
                    return
                if after == "hang":  # read and answer nothing until the client or stop() ends it
                    try:
                        while conn.recv(65536):
                            pass
                    except OSError:
                        pass
                    return

    def stop(self) -> None:
        self.listener.close()
        with self.lock:
            self.stopped = True
            for conn in self.serving:
                with contextlib.suppress(OSError):  # wakes the thread's recv; it closes the socket
                    conn.shutdown(socket.SHUT_RDWR)


class _TlsEcho(Scripted):
    def __init__(self, cert: Path, key: Path) -> None:
        import ssl  # noqa: PLC0415

        self.context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.context.load_cert_chain(cert, key)
        super().__init__(correct)

    def _serve(self, conn: socket.socket) -> None:
        try:
            tls = self.context.wrap_socket(conn, server_side=True)
        except OSError:
            conn.close()
            return
        super()._serve(tls)


def _request_facts(head: bytes) -> tuple[bytes, bytes, set[bytes]]:
    lines = head.split(b"\r\n")
    method, _, version = lines[0].split(b" ")
    tokens = {
        token.strip().lower()
        for line in lines[1:]
        if line.lower().startswith(b"connection:")
        for token in line.split(b":", 1)[1].split(b",")
    }
    return method, version, tokens


def correct(head: bytes) -> tuple[bytes, str]:
    """What a correct origin answers: Content-Length, Connection decided by RFC 9112 §9.3."""
    method, version, tokens = _request_facts(head)
    close = b"close" in tokens or version == b"HTTP/1.0"
    body = b"" if method == b"HEAD" else b"ok"
    connection = b"close" if close else b"keep-alive"
    data = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: " + connection + b"\r\n\r\n" + body
    return data, "close" if close else "keep"


@pytest.fixture
def scripted() -> Iterator[Callable[[Reply], Scripted]]:
    started: list[Scripted] = []

    def start(reply: Reply) -> Scripted:
        server = Scripted(reply)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


def _only_on(
    case_method: bytes, version: bytes, fault: Reply, tokens: frozenset[bytes] = frozenset()
) -> Reply:
    """``fault`` for requests with this method, version and Connection tokens (so for
    one case of the matrix, not for its second request), :func:`correct` otherwise."""

    def reply(head: bytes) -> tuple[bytes, str]:
        method, request_version, request_tokens = _request_facts(head)
        if (method, request_version, frozenset(request_tokens)) == (case_method, version, tokens):
            return fault(head)
        return correct(head)

    return reply


def _fixed(data: bytes, after: str) -> Reply:
    return lambda head: (data, after)


def test_a_correct_server_is_clean(scripted: Callable[[Reply], Scripted]) -> None:
    report = probe(scripted(correct).url, timeout=2)
    assert report.exit_code(strict=True) == 0
    assert codes(report) == {"ws-not-offered"}
    assert [r.socket for r in report.cases[:6]] == ["kept", "closed", "closed", "closed", "kept", "kept"]
    assert [r.verdict for r in report.cases[:6]] == ["ok"] * 6


OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n"
STATUS = b"HTTP/1.1 200 OK\r\n"
CHUNKED = b"Transfer-Encoding: chunked\r\n"
CHUNKED_OK = b"2\r\nok\r\n0\r\n\r\n"


@pytest.mark.parametrize(
    ("fault", "case_id", "code", "socket_state"),
    [
        pytest.param(
            _only_on(b"POST", b"HTTP/1.1", _fixed(OK + b"Connection: keep-alive\r\n\r\nok", "close")),
            "post-http11", "closed-unannounced", "closed", id="keep-alive-said-then-closed",
        ),
        pytest.param(
            _only_on(b"POST", b"HTTP/1.1", _fixed(OK + b"\r\nok", "close")),
            "post-http11", "closed-unannounced", "closed", id="http11-default-persistence-then-closed",
        ),
        pytest.param(
            _only_on(b"POST", b"HTTP/1.1", _fixed(OK + b"Connection: close\r\n\r\nok", "keep")),
            "post-http11", "close-ignored", "open", id="close-said-but-kept",
        ),
        pytest.param(
            _only_on(b"POST", b"HTTP/1.1", _fixed(OK + b"\r\nok", "hang")),
            "post-http11", "keep-alive-unanswered", "open", id="kept-but-deaf",
        ),
        pytest.param(
            _only_on(b"HEAD", b"HTTP/1.1", _fixed(OK + b"Connection: keep-alive\r\n\r\nok", "keep")),
            "head-http11", "bytes-after-response", "unknown", id="body-after-head",
        ),
        pytest.param(
            _only_on(b"POST", b"HTTP/1.1", _fixed(STATUS + b"Connection: keep-alive\r\n\r\nok", "close")),
            "post-http11", "keep-alive-without-length", "closed", id="keep-alive-on-close-delimited-body",
        ),
        pytest.param(
            _only_on(b"POST", b"HTTP/1.0", _fixed(STATUS + CHUNKED + b"\r\n" + CHUNKED_OK, "close")),
            "post-http10", "chunked-to-http10", "closed", id="chunked-to-http10",
        ),
        pytest.param(
            _only_on(b"POST", b"HTTP/1.1", _fixed(OK + b"Connection: close, keep-alive\r\n\r\nok", "close")),
            "post-http11", "connection-contradictory", "closed", id="close-and-keep-alive",
        ),
        pytest.param(
            _only_on(b"POST", b"HTTP/1.1", _fixed(OK + b"Connection: content-length\r\n\r\nok", "keep")),
            "post-http11", "connection-nominates-protected", "kept", id="nominates-content-length",
        ),
        pytest.param(
            _only_on(b"POST", b"HTTP/1.1", _fixed(OK + CHUNKED + b"\r\n" + CHUNKED_OK, "keep")),
            "post-http11", "length-with-transfer-encoding", "kept", id="length-and-chunked",
        ),
        pytest.param(
            _only_on(b"POST", b"HTTP/1.1", _fixed(OK + b"Content-Length: 3\r\n\r\nok", "close")),
            "post-http11", "bad-content-length", "closed", id="conflicting-lengths",
        ),
        pytest.param(  # RFC 9110 §5.5: only space and tab surround a value
            _only_on(b"POST", b"HTTP/1.1", _fixed(STATUS + b"Content-Length: \x0b2\r\n\r\nok", "close")),
            "post-http11", "bad-content-length", "closed", id="a-vertical-tab-before-a-length",
        ),
        pytest.param(
            _only_on(b"POST", b"HTTP/1.1", _fixed(OK + b"Keep-Alive: timeout=5\r\nTE: x\r\n\r\nok", "keep")),
            "post-http11", "hop-by-hop-leak", "kept", id="keep-alive-field-without-option-and-te",
        ),
        pytest.param(
            _only_on(
                b"GET", b"HTTP/1.1", _fixed(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n", "keep"),
                frozenset({b"x-connmw-probe"}),
            ),
            "get-nominated", None, "kept", id="a-400-is-not-a-connection-fault",
        ),
        pytest.param(
            _only_on(b"POST", b"HTTP/1.0", _fixed(OK + b"Connection: keep-alive\r\n\r\nok", "keep")),
            "post-http10", "unsolicited-keep-alive", "open", id="http10-keep-alive-unasked",
        ),
        pytest.param(
            _only_on(b"POST", b"HTTP/1.0", _fixed(OK + b"\r\nok", "keep")),
            "post-http10", "left-open", "open", id="http10-left-open",
        ),
    ],
)  # fmt: skip
def test_scripted_faults(
    scripted: Callable[[Reply], Scripted], fault: Reply, case_id: str, code: str | None, socket_state: str
) -> None:
    report = probe(scripted(fault).url, timeout=0.6)
    result = next(r for r in report.cases if r.case.id == case_id)
    assert result.socket == socket_state
    expected = {code} if code else set()
    found = {f.code for f in result.findings if f.severity != "info"}
    assert expected <= found
    if code is None:
        assert found == set()
    others = [r.case.id for r in report.cases if r.case.id != case_id and r.verdict not in ("ok", "skipped")]
    assert others == []  # the fault is reported where it happens, nowhere else


@pytest.mark.parametrize("size", [b"0x2", b"\x0b2", b"0_2"], ids=["0x-prefix", "vertical-tab", "underscore"])
def test_a_chunk_size_is_hex_digits_only(scripted: Callable[[Reply], Scripted], size: bytes) -> None:
    """RFC 9112 §7.1: ``chunk-size = 1*HEXDIG`` (Python's int() would take all three)."""
    body = size + b"\r\nok\r\n0\r\n\r\n"
    report = probe(scripted(_fixed(STATUS + CHUNKED + b"\r\n" + body, "keep")).url, timeout=0.6)
    assert report.reason is not None and "bad chunk size line" in report.reason


def test_a_big_body_is_not_read_to_its_end(scripted: Callable[[Reply], Scripted]) -> None:
    big = b"HTTP/1.1 200 OK\r\nContent-Length: 3000000\r\n\r\n" + b"x" * 3_000_000
    report = probe(scripted(_only_on(b"POST", b"HTTP/1.1", _fixed(big, "keep"))).url, timeout=2)
    result = report.cases[0]
    assert (result.status, result.socket, result.verdict) == (200, "unknown", "ok")
    assert [f.code for f in result.findings] == ["body-not-read"]


def test_close_not_echoed_is_a_warning(scripted: Callable[[Reply], Scripted]) -> None:
    def reply(head: bytes) -> tuple[bytes, str]:
        _, _, tokens = _request_facts(head)
        if b"close" in tokens:
            return OK + b"\r\nok", "close"
        return correct(head)

    report = probe(scripted(reply).url, timeout=1)
    result = next(r for r in report.cases if r.case.id == "post-http11-close")
    assert [(f.severity, f.code) for f in result.findings] == [("warning", "close-not-echoed")]
    assert report.exit_code() == 0 and report.exit_code(strict=True) == 1


def test_websocket_findings(scripted: Callable[[Reply], Scripted]) -> None:
    import base64  # noqa: PLC0415

    from connmw.rules import websocket_accept  # noqa: PLC0415

    def reply(head: bytes) -> tuple[bytes, str]:
        if b"websocket" not in head.lower():
            return correct(head)
        if b"Sec-WebSocket-Version: 8" in head:
            return b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n", "close"
        key = next(
            line.split(b": ")[1] for line in head.split(b"\r\n") if line.startswith(b"Sec-WebSocket-Key")
        )
        base64.b64decode(key, validate=True)
        accept = websocket_accept(key)
        return b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" + (
            b"Sec-WebSocket-Accept: " + accept + b"\r\n\r\n"
        ), "hang"

    report = probe(scripted(reply).url, timeout=1)
    by_id = {r.case.id: r for r in report.cases}
    assert by_id["ws-valid"].status == 101 and by_id["ws-valid"].verdict == "ok"
    assert codes(report, "ws-bad-version") == {"ws-version-not-advertised"}
    assert codes(report, "ws-foreign-origin") == {"ws-no-origin-check"}
    assert report.exit_code() == 0 and report.exit_code(strict=True) == 1


def test_a_wrong_accept_key_and_an_accepted_bad_version_are_errors(
    scripted: Callable[[Reply], Scripted],
) -> None:
    switch = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"

    def ws(head: bytes) -> tuple[bytes, str]:
        if b"Upgrade: websocket" in head:
            return switch + b"Sec-WebSocket-Accept: bm9wZQ==\r\n\r\n", "hang"
        return correct(head)

    report = probe(scripted(ws).url, timeout=1)
    assert codes(report, "ws-valid") == {"ws-bad-accept"}
    assert codes(report, "ws-bad-version") == {"ws-bad-version-accepted"}
    assert report.exit_code() == 1


# --------------------------------------------------------------------------------------
# Exit status 2: could not probe
# --------------------------------------------------------------------------------------


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        pytest.param(
            lambda s: f"http://127.0.0.1:{_closed_port()}/", "cannot connect", id="unreachable-port"
        ),
        pytest.param(
            lambda s: s(_fixed(b"SSH-2.0-OpenSSH_9.6\r\nnot http at all\r\n\r\n", "close")).url,
            "not an HTTP/1.x response",
            id="non-http-listener",
        ),
        pytest.param(
            lambda s: s(_fixed(b"", "hang")).url, "no complete response within 1s", id="never-answers"
        ),
        pytest.param(lambda s: s(_fixed(b"", "close")).url, "closed the connection", id="hangs-up"),
    ],
)
def test_exit_2_with_a_one_line_reason(
    scripted: Callable[[Reply], Scripted], make: Callable[[Any], str], reason: str
) -> None:
    url = make(scripted)
    for extra in ((), ("--json",)):
        done = run_cli("probe", url, "--timeout", "1", *extra)
        assert done.returncode == 2
        assert done.stderr.count("\n") == 1
        assert done.stderr.startswith(f"connmw probe: could not probe {url}: ")
        assert reason in done.stderr
    document = json.loads(done.stdout)
    assert_valid(document, PROBE_SCHEMA)
    assert (
        document["exit_code"] == 2 and document["outcome"] == "unprobeable" and reason in document["reason"]
    )


def test_a_bad_url_exits_2() -> None:
    done = run_cli("probe", "ftp://127.0.0.1/")
    assert done.returncode == 2
    assert done.stderr == "connmw probe: not an http:// or https:// URL: 'ftp://127.0.0.1/'\n"


# --------------------------------------------------------------------------------------
# The command line
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args", [(), ("probe",), ("check",), ("demo",)], ids=["top", "probe", "check", "demo"]
)
def test_help_at_every_level(args: tuple[str, ...]) -> None:
    done = run_cli(*args, "--help")
    assert done.returncode == 0
    assert done.stdout.startswith("usage: connmw")
    assert "exit status" in done.stdout


def test_no_subcommand_is_a_usage_error() -> None:
    done = run_cli()
    assert done.returncode == 2
    assert "usage: connmw" in done.stderr


def test_the_check_schema_embeds_the_probe_schema() -> None:
    assert CHECK_SCHEMA["properties"]["probe"]["oneOf"][1] is PROBE_SCHEMA


def test_every_finding_code_is_documented() -> None:
    """The ``code`` values are part of the JSON contract: each one is in probe's table."""
    import re  # noqa: PLC0415

    from connmw.tool import probe as probe_module  # noqa: PLC0415

    sources = "".join((ROOT / "connmw" / "tool" / name).read_text() for name in ("_findings.py", "_cases.py"))
    emitted = set(re.findall(r'(?:ERROR|WARNING|INFO),?\s*(?:#[^\n]*)?\s*"([a-z0-9-]+)"', sources))
    assert len(emitted) >= 30
    documented = set(re.findall(r"``([a-z0-9-]+)``\s+(?:error|warning|info)\s", probe_module.__doc__ or ""))
    assert emitted == documented
