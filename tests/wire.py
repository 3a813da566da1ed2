"""On-the-wire test harness: real servers as subprocesses, inspected with raw sockets and curl.

connmw's promises are about bytes on the wire (which Connection lines a client sees, which
framing, whether the socket really closes), and in-process test clients hide exactly those
details: they merge repeated headers, re-frame bodies and never close anything. So every
integration test goes through this module:

* ``exchange`` / ``RawConnection``: write a request byte for byte on a TCP socket, read one
  response with the framing the server chose, keep every header line as sent (case, order,
  duplicates), and check whether the server really closed the socket afterwards.
* ``curl``: the real ``curl -sv``, because the Heroku question (README, "Why") reported
  what curl printed.
* ``serve`` and the ``*_cmd`` builders: start any server of the launcher table the
  ``connmw`` command uses (``connmw.tool._launchers``: uvicorn, hypercorn, daphne, granian,
  gunicorn, werkzeug's and Django's dev servers, wsgiref, waitress, cheroot, Twisted,
  uWSGI) on a free loopback port, wait until it listens, and kill its whole process group
  afterwards, so no server outlives a test.
* ``h2_request`` / ``extended_connect``: one HTTP/2 stream over h2c with the h2 library,
  which sees trailers and RFC 8441's extended CONNECT.
* ``make_tls_files``: a throw-away CA and server certificate (trustme) for HTTP/2 over TLS.

Only loopback addresses are used. Of connmw, only the launcher table is imported (argv
lists, no middleware): the harness must be able to show the servers' faults without it.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import importlib.metadata
import importlib.util
import itertools
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import h2.config
import h2.connection
import h2.events
import h2.settings
import pytest
import trustme

from connmw.tool._launchers import UWSGI_MODES, closed_to_others, command

__all__ = [
    "CLOSE_WAIT",
    "LOOPBACK",
    "REPO_ROOT",
    "UWSGI_MODES",
    "WEBSOCKETS_SANSIO_BEFORE_17",
    "Command",
    "CurlResult",
    "H2Exchange",
    "RawConnection",
    "RawResponse",
    "Server",
    "ServerPool",
    "ServerStartError",
    "TLSFiles",
    "WireError",
    "cheroot_cmd",
    "curl",
    "daphne_cmd",
    "django_cmd",
    "exchange",
    "extended_connect",
    "free_port",
    "granian_cmd",
    "gunicorn_cmd",
    "h2_request",
    "hypercorn_cmd",
    "make_tls_files",
    "mod_wsgi_cmd",
    "mod_wsgi_python",
    "nginx_binary",
    "readable_checkout",
    "request_bytes",
    "require_curl",
    "require_module",
    "required_module",
    "serve",
    "server_cmd",
    "start_server",
    "stop_servers",
    "twisted_cmd",
    "uvicorn_cmd",
    "uwsgi_cmd",
    "uwsgi_nginx_cmd",
    "waitress_cmd",
    "werkzeug_cmd",
    "wsgiref_cmd",
]

REPO_ROOT = Path(__file__).resolve().parent.parent
"""The repository root: servers run here and find ``tests.apps`` and ``example_apps``."""

LOOPBACK = "127.0.0.1"


def _major(distribution: str) -> int:
    """The major version of an installed distribution (0 when it is not installed)."""
    try:
        return int(importlib.metadata.version(distribution).split(".")[0])
    except (importlib.metadata.PackageNotFoundError, ValueError):
        return 0


WEBSOCKETS_SANSIO_BEFORE_17 = pytest.mark.xfail(
    0 < _major("websockets") < 17,
    strict=True,
    reason="websockets 16 (the newest for CPython 3.10), uvicorn's --ws websockets-sansio, "
    "answers a POST handshake with nothing and a non-ASCII Sec-WebSocket-Key with a 500 "
    "itself, before any application or middleware (fixed in 17)",
)
"""A measured limit of the server's WebSocket stack on CPython 3.10's newest websockets."""

CLOSE_WAIT = 0.75
"""Seconds to wait for the server to close after a response before calling it open.

A server that closes does so within milliseconds on loopback; waiting longer only slows
down every keep-alive case, waiting much less risks calling a slow close "open".
"""

_MAX_HEAD = 256 * 1024
_NO_BODY_STATUSES = frozenset({204, 304})


class WireError(Exception):
    """The peer broke HTTP/1.x framing, closed early, or did not answer in time.

    ``data`` holds whatever had been received, for the assertion message.
    """

    def __init__(self, message: str, data: bytes = b"") -> None:
        super().__init__(f"{message}; received so far: {data[:500]!r}")
        self.data = data


# ---------------------------------------------------------------------------------------
# Ports and requests
# ---------------------------------------------------------------------------------------


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago (the kernel picks it for port 0).

    There is a small race until the server binds it; on a test machine that is acceptable.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((LOOPBACK, 0))
        return int(probe.getsockname()[1])


def request_bytes(
    method: str = "GET",
    path: str = "/",
    version: str = "HTTP/1.1",
    *,
    headers: Sequence[tuple[str, str]] = (),
    body: bytes = b"",
    host: str | None = LOOPBACK,
) -> bytes:
    """One HTTP/1.x request, byte for byte, with CRLF line ends.

    Adds ``Host`` first unless ``host`` is None (or ``headers`` already has one), and
    ``Content-Length`` when there is a body and ``headers`` sets neither Content-Length
    nor Transfer-Encoding. Everything else is exactly what the caller gives, so tests can
    send odd or contradictory requests on purpose.
    """
    names = {name.lower() for name, _ in headers}
    lines = [f"{method} {path} {version}"]
    if host is not None and "host" not in names:
        lines.append(f"Host: {host}")
    lines.extend(f"{name}: {value}" for name, value in headers)
    if body and not names & {"content-length", "transfer-encoding"}:
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def _request_method(request: bytes) -> str:
    """The method of a serialised request (its first token), upper-case."""
    return request.split(b" ", 1)[0].decode("latin-1").upper()


# ---------------------------------------------------------------------------------------
# Responses
# ---------------------------------------------------------------------------------------


@dataclass
class _Headers:
    """Header access shared by raw-socket and curl results; names compared case-insensitively."""

    headers: list[tuple[str, str]]

    def header_values(self, name: str) -> list[str]:
        """Every value of ``name``, one per header line, in order (no comma splitting)."""
        wanted = name.lower()
        return [value for key, value in self.headers if key.lower() == wanted]

    def header_names_lower(self) -> list[str]:
        """All header names, lower-cased, in order, duplicates kept."""
        return [key.lower() for key, _ in self.headers]

    def has_header(self, name: str) -> bool:
        """Whether at least one ``name`` line was sent."""
        return name.lower() in self.header_names_lower()

    def connection_tokens(self) -> list[str]:
        """Every Connection token, across all Connection lines, stripped and lower-case."""
        return [
            token.strip().lower()
            for value in self.header_values("connection")
            for token in value.split(",")
            if token.strip()
        ]


@dataclass
class RawResponse(_Headers):
    """One HTTP/1.x response exactly as it crossed the wire.

    ``headers`` keeps every line as sent: original case, order and duplicates, values with
    surrounding whitespace removed. ``body`` is de-chunked; ``chunked`` says whether chunked
    framing was used; ``trailers`` holds a chunked body's trailer fields.

    ``closed`` is whether the server really closed the socket after this response (EOF or
    reset within ``CLOSE_WAIT``), not what it announced. It is only measured when the
    caller asked for it (``exchange(check_closed=True)``, ``RawConnection.send(check_closed=True)``)
    or when the body was delimited by the close itself; otherwise it is False.
    """

    status: int = 0
    reason: str = ""
    http_version: str = ""
    raw_head: bytes = b""
    body: bytes = b""
    chunked: bool = False
    closed: bool = False
    trailers: list[tuple[str, str]] = field(default_factory=list)
    close_delimited: bool = False


_STATUS_LINE = re.compile(rb"(HTTP/\d(?:\.\d)?) (\d{3})(?: (.*))?")


def _parse_head(head: bytes) -> RawResponse:
    """Parse a status line and header lines (``head`` includes the blank line)."""
    lines = head[: -len(b"\r\n\r\n")].split(b"\r\n")
    match = _STATUS_LINE.fullmatch(lines[0])
    if match is None:
        raise WireError("not an HTTP/1.x status line", head)
    headers = _parse_fields(lines[1:], head)
    return RawResponse(
        headers=headers,
        status=int(match.group(2)),
        reason=(match.group(3) or b"").decode("latin-1"),
        http_version=match.group(1).decode("latin-1"),
        raw_head=head,
    )


def _parse_fields(lines: list[bytes], context: bytes) -> list[tuple[str, str]]:
    """Header or trailer lines into (name as sent, stripped value) pairs."""
    fields: list[tuple[str, str]] = []
    for line in lines:
        name, colon, value = line.partition(b":")
        if not colon:
            raise WireError(f"header line without a colon: {line!r}", context)
        fields.append((name.decode("latin-1"), value.strip(b" \t").decode("latin-1")))
    return fields


def _is_chunked(response: RawResponse) -> bool:
    """RFC 9112 §6.3: chunked framing when the last transfer coding is ``chunked``."""
    codings = [
        coding.strip().lower()
        for value in response.header_values("transfer-encoding")
        for coding in value.split(",")
        if coding.strip()
    ]
    return bool(codings) and codings[-1] == "chunked"


class _Reader:
    """A buffered reader over a blocking socket, with a deadline for every read."""

    def __init__(self, sock: socket.socket, timeout: float) -> None:
        self.sock = sock
        self.timeout = timeout
        self.buffer = b""
        self.eof = False

    def _fill(self) -> bool:
        """Receive more bytes; False at EOF (a reset counts as EOF)."""
        if self.eof:
            return False
        self.sock.settimeout(self.timeout)
        try:
            data = self.sock.recv(65536)
        except (ConnectionResetError, ConnectionAbortedError):
            data = b""
        except TimeoutError:
            raise WireError(f"no data from the server within {self.timeout} s", self.buffer) from None
        if not data:
            self.eof = True
            return False
        self.buffer += data
        return True

    def until(self, marker: bytes, limit: int = _MAX_HEAD) -> bytes:
        """Everything up to and including ``marker``."""
        while (index := self.buffer.find(marker)) < 0:
            if len(self.buffer) > limit:
                raise WireError(f"{marker!r} not found in {limit} bytes", self.buffer)
            if not self._fill():
                raise WireError(f"connection closed before {marker!r}", self.buffer)
        end = index + len(marker)
        part, self.buffer = self.buffer[:end], self.buffer[end:]
        return part

    def exactly(self, size: int) -> bytes:
        """``size`` bytes, or an error if the connection ends first."""
        while len(self.buffer) < size:
            if not self._fill():
                raise WireError(f"connection closed {size - len(self.buffer)} bytes short", self.buffer)
        part, self.buffer = self.buffer[:size], self.buffer[size:]
        return part

    def rest(self) -> bytes:
        """Everything until the peer closes (a close-delimited body)."""
        while self._fill():
            pass
        part, self.buffer = self.buffer, b""
        return part

    def closed_within(self, wait: float) -> bool:
        """Whether the peer closes (EOF or reset) within ``wait`` seconds.

        Bytes that arrive instead mean "open" and stay buffered for the next response.
        """
        if self.eof:
            return True
        if self.buffer:
            return False
        self.sock.settimeout(wait)
        try:
            data = self.sock.recv(65536)
        except (ConnectionResetError, ConnectionAbortedError, BrokenPipeError):
            self.eof = True
            return True
        except TimeoutError:
            return False
        if not data:
            self.eof = True
            return True
        self.buffer += data
        return False

    def response(self, method: str) -> RawResponse:
        """Read exactly one response to a ``method`` request, framed as RFC 9112 §6.3 says."""
        if not self.buffer and not self._fill():
            raise WireError("connection closed before any response (empty reply)")
        response = _parse_head(self.until(b"\r\n\r\n"))
        if method == "HEAD" or response.status < 200 or response.status in _NO_BODY_STATUSES:
            return response
        if _is_chunked(response):
            response.chunked = True
            response.body, response.trailers = self._chunked_body()
        elif lengths := response.header_values("content-length"):
            # RFC 9110 §8.6: repeated identical values are one length; anything else is invalid.
            values = {value.strip() for length in lengths for value in length.split(",")}
            if len(values) != 1 or not (value := values.pop()).isdigit():
                raise WireError(f"invalid Content-Length {lengths!r}", response.raw_head)
            response.body = self.exactly(int(value))
        else:
            response.body = self.rest()
            response.close_delimited = True
            response.closed = True
        return response

    def _chunked_body(self) -> tuple[bytes, list[tuple[str, str]]]:
        """De-chunk a body; return it and the trailer fields."""
        parts: list[bytes] = []
        while True:
            size_line = self.until(b"\r\n", limit=4096)[:-2]
            size_text = size_line.split(b";", 1)[0].strip()
            try:
                size = int(size_text, 16)
            except ValueError:
                raise WireError(f"bad chunk size line {size_line!r}", b"".join(parts)) from None
            if size == 0:
                break
            parts.append(self.exactly(size))
            if self.exactly(2) != b"\r\n":
                raise WireError("chunk data not followed by CRLF", b"".join(parts))
        trailer_lines: list[bytes] = []
        while line := self.until(b"\r\n", limit=_MAX_HEAD)[:-2]:
            trailer_lines.append(line)
        return b"".join(parts), _parse_fields(trailer_lines, b"".join(parts))


def exchange(
    port: int,
    request: bytes,
    *,
    timeout: float = 5.0,
    host: str = LOOPBACK,
    check_closed: bool = True,
    close_wait: float = CLOSE_WAIT,
    method: str | None = None,
) -> RawResponse:
    """Send ``request`` on a new connection and read exactly one response.

    ``method`` (default: parsed from the request line) tells whether a body may follow.
    An interim ``1xx`` (or a ``101``) is returned as the response, without a body.
    With ``check_closed``, waits up to ``close_wait`` seconds after the response to see
    whether the server really closes the socket (``RawResponse.closed``). Raises
    ``WireError`` when the server answers nothing, breaks framing or times out.
    """
    with RawConnection(port, timeout=timeout, host=host) as connection:
        response = connection.send(request, method=method)
        if check_closed and not response.closed:
            response.closed = connection.is_closed(wait=close_wait)
        return response


class RawConnection:
    """One TCP connection for several requests, to prove that keep-alive really works.

    ::

        with RawConnection(port) as conn:
            first = conn.send(request_bytes())
            assert not conn.is_closed()
            second = conn.send(request_bytes())   # same socket
    """

    def __init__(self, port: int, *, timeout: float = 5.0, host: str = LOOPBACK) -> None:
        self.port = port
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self._reader = _Reader(self.sock, timeout)

    def __enter__(self) -> RawConnection:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Close our end (idempotent)."""
        self.sock.close()

    def send_raw(self, data: bytes) -> None:
        """Write bytes without reading anything (for pipelining or partial requests)."""
        self.sock.sendall(data)

    def read_response(self, method: str = "GET") -> RawResponse:
        """Read the next response, for a request sent with ``send_raw``."""
        return self._reader.response(method.upper())

    def send(
        self,
        request: bytes,
        *,
        method: str | None = None,
        check_closed: bool = False,
        close_wait: float = CLOSE_WAIT,
    ) -> RawResponse:
        """Send ``request`` and read its response (``closed`` measured only if asked)."""
        self.send_raw(request)
        response = self.read_response(method or _request_method(request))
        if check_closed and not response.closed:
            response.closed = self.is_closed(wait=close_wait)
        return response

    def is_closed(self, wait: float = CLOSE_WAIT) -> bool:
        """Whether the server closed this connection (EOF or reset) within ``wait`` seconds."""
        return self._reader.closed_within(wait)

    def unread(self) -> bytes:
        """Bytes received after the last response read and not read yet (``is_closed`` keeps
        what arrives instead of a close): after a response without content, a desync."""
        return self._reader.buffer


# ---------------------------------------------------------------------------------------
# curl
# ---------------------------------------------------------------------------------------


@dataclass
class CurlResult(_Headers):
    """What ``curl -sv`` printed: the last response's ``< `` header lines, body and verdict.

    ``left_intact`` is curl's "Connection #N to host ... left intact"; ``closed`` is its
    "Closing connection" (curl 7.x) or "shutting down connection" (curl 8.x).
    ``log`` is the whole verbose output, for assertion messages.
    """

    status: int = 0
    reason: str = ""
    http_version: str = ""
    body: bytes = b""
    returncode: int = 0
    log: str = ""
    left_intact: bool = False
    closed: bool = False


def require_curl() -> str:
    """The path of the curl binary, or skip the calling test with the reason."""
    path = shutil.which("curl")
    if path is None:
        pytest.skip("curl is not installed: the curl commands cannot be replayed")
    return path


_CURL_STATUS = re.compile(r"(HTTP/[\d.]+) (\d{3})(?: (.*))?")


def curl(args: Sequence[str], timeout: float = 10) -> CurlResult:
    """Run ``curl -sv ARGS --max-time TIMEOUT`` and parse its verbose report.

    Header lines are the ``< `` lines of the last response (interim 1xx responses are
    dropped), in order and original case. curl's exit status is kept, not raised on, so a
    test can assert "Empty reply" (52) and the like.
    """
    binary = require_curl()
    done = subprocess.run(
        [binary, "-sv", *args, "--max-time", str(timeout)],
        capture_output=True,
        timeout=timeout + 5,
        check=False,
    )
    log = done.stderr.decode("latin-1").replace("\r\n", "\n")
    result = CurlResult(headers=[], body=done.stdout, returncode=done.returncode, log=log)
    for line in log.splitlines():
        if line.startswith("< "):
            text = line[2:]
            status = _CURL_STATUS.fullmatch(text.rstrip())
            if status is not None:
                result.headers = []
                result.http_version = status.group(1)
                result.status = int(status.group(2))
                result.reason = status.group(3) or ""
            elif ":" in text:
                name, _, value = text.partition(":")
                result.headers.append((name, value.strip(" \t")))
        elif line.startswith("* "):
            lowered = line.lower()
            if "left intact" in lowered:
                result.left_intact = True
            if "closing connection" in lowered or "shutting down connection" in lowered:
                result.closed = True
    return result


# ---------------------------------------------------------------------------------------
# HTTP/2 with the h2 library (trailers, RFC 8441 extended CONNECT)
# ---------------------------------------------------------------------------------------


@dataclass
class H2Exchange:
    connect_protocol: bool = False  # the server sent SETTINGS_ENABLE_CONNECT_PROTOCOL = 1
    status: int = 0
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    body: bytes = b""
    trailers: list[tuple[bytes, bytes]] = field(default_factory=list)
    goaway: int | None = None  # the error code of the server's GOAWAY, if it sent one


def h2_request(
    port: int, request: list[tuple[str, str]], *, until_headers: bool = False, validate: bool = True
) -> H2Exchange:
    """One stream over h2c with the h2 library: sees trailers and extended CONNECT.

    ``validate=False`` sends the request's fields as given (h2 otherwise refuses, say, a
    ``host`` that differs from ``:authority``), to see what the server does with them.
    """
    config = h2.config.H2Configuration(
        client_side=True, validate_outbound_headers=validate, normalize_outbound_headers=validate
    )
    connection = h2.connection.H2Connection(config)
    seen = H2Exchange()
    with socket.create_connection((LOOPBACK, port), timeout=5) as sock:
        connection.initiate_connection()
        sock.sendall(connection.data_to_send())
        sent = ended = False
        while not ended:
            data = sock.recv(65536)
            if not data:
                break
            for event in connection.receive_data(data):
                if isinstance(event, h2.events.RemoteSettingsChanged):
                    setting = event.changed_settings.get(h2.settings.SettingCodes.ENABLE_CONNECT_PROTOCOL)
                    seen.connect_protocol = seen.connect_protocol or bool(setting and setting.new_value)
                    if not sent:
                        connection.send_headers(1, request, end_stream=request[0][1] != "CONNECT")
                        sent = True
                elif isinstance(event, h2.events.ResponseReceived):
                    seen.headers = list(event.headers)
                    seen.status = int(dict(seen.headers)[b":status"])
                    ended = until_headers and seen.status == 200
                elif isinstance(event, h2.events.DataReceived):
                    seen.body += event.data
                    connection.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
                elif isinstance(event, h2.events.TrailersReceived):
                    seen.trailers = list(event.headers)
                elif isinstance(event, h2.events.StreamEnded):
                    ended = True
                elif isinstance(event, h2.events.ConnectionTerminated):
                    seen.goaway = event.error_code
                    ended = True
            sock.sendall(connection.data_to_send())
    return seen


def extended_connect(port: int, *extra: tuple[str, str]) -> H2Exchange:
    """An RFC 8441 extended CONNECT for /ws; returns once the answer is known."""
    request = [(":method", "CONNECT"), (":protocol", "websocket"), (":scheme", "http"), (":path", "/ws"),
               (":authority", LOOPBACK), *extra]  # fmt: skip
    return h2_request(port, request, until_headers=True)


# ---------------------------------------------------------------------------------------
# Servers
# ---------------------------------------------------------------------------------------


class ServerStartError(RuntimeError):
    """A server exited or never listened; the message carries the tail of its log."""


@dataclass
class Server:
    """A server subprocess started by ``serve``/``start_server``, in its own process group."""

    argv: list[str]
    port: int
    process: subprocess.Popen[bytes]
    log_path: Path
    scheme: str = "http"

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT`` (``https`` for TLS servers), without a trailing slash."""
        return f"{self.scheme}://{LOOPBACK}:{self.port}"

    def log_text(self) -> str:
        """Everything the server wrote to stdout and stderr so far."""
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return ""

    def wait_ready(self, timeout: float = 20.0) -> None:
        """Block until a TCP connect succeeds; raise ``ServerStartError`` if it dies first."""
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                raise ServerStartError(self._failure(f"exited with status {self.process.returncode}"))
            with contextlib.suppress(OSError), socket.create_connection((LOOPBACK, self.port), timeout=0.5):
                return
            if time.monotonic() > deadline:
                self.stop()
                raise ServerStartError(
                    self._failure(f"did not listen on port {self.port} within {timeout} s")
                )
            time.sleep(0.05)

    def _failure(self, what: str) -> str:
        tail = self.log_text()[-3000:]
        return f"{' '.join(self.argv)}\n{what}; log tail:\n{tail}"

    def stop(self, grace: float = 3.0) -> None:
        """SIGTERM the whole process group, SIGKILL what is left after ``grace`` seconds.

        Workers (gunicorn, granian) live in the same group, so none of them survives.
        """
        pgid = self.process.pid  # start_new_session=True: the leader's pid is the group id
        _signal_group(pgid, signal.SIGTERM)
        deadline = time.monotonic() + grace
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=grace)
        while _group_alive(pgid) and time.monotonic() < deadline:
            time.sleep(0.05)
        _signal_group(pgid, signal.SIGKILL)
        self.process.wait()
        _LIVE_GROUPS.discard(pgid)


_LIVE_GROUPS: set[int] = set()
"""Process groups started and not yet stopped: killed at interpreter exit as a last resort."""


@atexit.register
def _kill_leftovers() -> None:
    """SIGKILL servers that a test started but never stopped, so none outlives pytest."""
    for pgid in list(_LIVE_GROUPS):
        _signal_group(pgid, signal.SIGKILL)


def _signal_group(pgid: int, signum: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signum)


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def _server_env(env: dict[str, str] | None) -> dict[str, str]:
    """The parent's environment, the repo root first on PYTHONPATH, then ``env`` on top."""
    merged = dict(os.environ)
    paths = [str(REPO_ROOT), *filter(None, merged.get("PYTHONPATH", "").split(os.pathsep))]
    merged["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(paths))
    merged.setdefault("PYTHONUNBUFFERED", "1")
    merged.update(env or {})
    return merged


def start_server(
    argv: Sequence[str],
    port: int,
    *,
    env: dict[str, str] | None = None,
    cwd: Path = REPO_ROOT,
    scheme: str = "http",
) -> Server:
    """Start ``argv`` in a new process group, output to a temp log; do not wait for it.

    Use ``serve`` unless several servers should boot in parallel (then call
    ``wait_ready`` on each, and ``stop`` in a ``finally``).
    """
    fd, log_name = tempfile.mkstemp(prefix="connmw-server-", suffix=".log")
    with os.fdopen(fd, "wb") as log:
        process = subprocess.Popen(
            list(argv),
            cwd=cwd,
            env=_server_env(env),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    _LIVE_GROUPS.add(process.pid)
    return Server(list(argv), port, process, Path(log_name), scheme)


@contextlib.contextmanager
def serve(
    argv: Sequence[str],
    port: int,
    *,
    env: dict[str, str] | None = None,
    cwd: Path = REPO_ROOT,
    ready_timeout: float = 20.0,
    scheme: str = "http",
) -> Iterator[Server]:
    """Run a server for the ``with`` block: start, wait until it listens, always stop it.

    ``port`` must be the port ``argv`` binds (take it from ``free_port``). On start-up
    failure raises ``ServerStartError`` with the tail of the server's log.
    """
    server = start_server(argv, port, env=env, cwd=cwd, scheme=scheme)
    try:
        server.wait_ready(ready_timeout)
        yield server
    finally:
        server.stop()
        server.log_path.unlink(missing_ok=True)


def stop_servers(servers: Sequence[Server], grace: float = 3.0) -> None:
    """Stop several servers at once: SIGTERM them all first, so their grace periods overlap."""
    for server in servers:
        _signal_group(server.process.pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    for server in servers:
        server.stop(grace=max(0.0, deadline - time.monotonic()))
        server.log_path.unlink(missing_ok=True)


def require_module(name: str) -> None:
    """Skip the calling test when the server package ``name`` is not installed."""
    if importlib.util.find_spec(name) is None:
        pytest.skip(f"{name} is not installed, so this server cannot be started")


def required_module(argv: Sequence[str]) -> str | None:
    """The package a command built by the ``*_cmd`` helpers needs (None: nothing to check).

    ``python -m uvicorn ...`` needs ``uvicorn`` (``waitress``, ``cheroot``, ``twisted`` alike);
    connmw.tool._serve_wsgi needs werkzeug or Django for those kinds and only the standard library
    for wsgiref; ``uwsgi_cmd``'s ``python -c`` needs ``pyuwsgi``. ``daphne_cmd`` needs
    ``daphne``; ``hypercorn_cmd(worker="trio")`` needs ``trio`` besides hypercorn.
    """
    if len(argv) >= 3 and argv[1] == "-c" and "pyuwsgi" in argv[2]:
        return "pyuwsgi"
    if len(argv) >= 3 and argv[1] == "-c" and "mod_wsgi" in argv[2]:
        return None  # mod_wsgi_cmd checks its own Python (mod_wsgi_python)
    if len(argv) < 3 or argv[1] != "-m":
        return None
    module = argv[2]
    if module == "connmw.tool._serve_wsgi":
        kind = argv[3].split("-")[0] if len(argv) > 3 else ""
        return kind if kind in ("werkzeug", "django") else None
    if module == "hypercorn" and _worker_class(argv) == "trio" and importlib.util.find_spec(module):
        return "trio"  # hypercorn is there; its trio worker needs trio too
    return None if module.startswith("tests.") else module.split(".")[0]


def _worker_class(argv: Sequence[str]) -> str | None:
    """The value of ``-k``/``--worker-class`` in a hypercorn command, if any."""
    for flag, value in itertools.pairwise(argv):
        if flag in ("-k", "--worker-class"):
            return value
    return None


Command = Sequence[str] | Callable[[int], Sequence[str]]
"""An argv list for a known port, or a function building one for the port it is given."""


class ServerPool:
    """Starts servers on demand for a fixture and stops all of them at its end.

    Call it like ``serve`` without the ``with``: ``pool(lambda port: uvicorn_cmd(app, port))``
    picks a free port, starts the server, waits until it listens and returns it. ``shared``
    returns one server per key for the pool's lifetime (module-scoped servers). A test
    whose server package is not installed is skipped, with the package named.
    """

    def __init__(self) -> None:
        self._servers: list[Server] = []
        self._shared: dict[str, Server] = {}

    def __call__(
        self,
        command: Command,
        port: int | None = None,
        *,
        env: dict[str, str] | None = None,
        cwd: Path = REPO_ROOT,
        ready_timeout: float = 20.0,
        scheme: str = "http",
    ) -> Server:
        """Start ``command`` (argv, or a function of the port) and wait until it listens."""
        if callable(command):
            port = free_port() if port is None else port
            argv = list(command(port))
        elif port is None:
            raise ValueError("an argv list needs the port it binds")
        else:
            argv = list(command)
        if (module := required_module(argv)) is not None:
            require_module(module)
        server = start_server(argv, port, env=env, cwd=cwd, scheme=scheme)
        self._servers.append(server)
        server.wait_ready(ready_timeout)
        return server

    def shared(self, key: str, command: Callable[[int], Sequence[str]], **options: Any) -> Server:
        """The server started for ``key`` earlier in this pool, or a new one on a free port."""
        if key not in self._shared:
            self._shared[key] = self(command, **options)
        return self._shared[key]

    def close(self) -> None:
        """Stop every server this pool started (all at once)."""
        servers, self._servers = self._servers, []
        self._shared.clear()
        stop_servers(servers)


# Command builders: argv lists for ``serve``, thin calls of the launcher table the
# ``connmw`` command uses (connmw.tool._launchers), with the options the tests choose.
# Apps are "module:attr" strings.


def server_cmd(name: str, app: str, port: int, interface: str = "wsgi", **options: Any) -> list[str]:
    """The launcher table's argv for server ``name`` (any of ``connmw check --server``)."""
    return command(name, interface, app, port, **options)


def uvicorn_cmd(
    app: str,
    port: int,
    http: str = "h11",
    ws: str = "websockets",
    extra: Sequence[str] = (),
    *,
    lifespan: str = "auto",
) -> list[str]:
    """uvicorn with an explicit HTTP stack (``h11``/``httptools``) and WebSocket stack.

    ``ws`` is ``websockets``, ``websockets-sansio``, ``wsproto`` or ``none``.
    """
    return command("uvicorn", "asgi", app, port, http=http, ws=ws, lifespan=lifespan, extra=extra)


def hypercorn_cmd(
    app: str,
    port: int,
    *,
    certfile: str | None = None,
    keyfile: str | None = None,
    extra: Sequence[str] = (),
    worker: str = "asyncio",
) -> list[str]:
    """hypercorn: HTTP/1.1 and h2c (prior knowledge or Upgrade) on one plain port.

    With ``certfile``/``keyfile`` the port speaks TLS and offers ALPN ``h2`` and
    ``http/1.1`` (serve it with ``scheme="https"``). ``worker`` is hypercorn's worker
    class: ``asyncio`` (its default), ``uvloop`` or ``trio`` (``-k trio``).
    """
    options = {"certfile": certfile, "keyfile": keyfile, "extra": extra, "worker": worker}
    return command("hypercorn", "asgi", app, port, **options)


def daphne_cmd(app: str, port: int, extra: Sequence[str] = ()) -> list[str]:
    """daphne (Twisted and autobahn): HTTP/1.0, HTTP/1.1 and WebSocket on a plain port.

    It has no h2c (its HTTP/2 needs TLS with ALPN) and no lifespan.
    """
    return command("daphne", "asgi", app, port, extra=extra)


def granian_cmd(app: str, port: int, interface: str = "asgi", extra: Sequence[str] = ()) -> list[str]:
    """granian with one worker; ``interface`` is ``asgi`` or ``wsgi`` (HTTP/1 and h2c; no
    WebSocket on WSGI)."""
    return command("granian", interface, app, port, extra=extra)


def gunicorn_cmd(
    app: str, port: int, worker: str = "gthread", threads: int = 2, extra: Sequence[str] = ()
) -> list[str]:
    """gunicorn with one worker of class ``worker`` (``sync`` or ``gthread``, ``threads`` threads)."""
    return command("gunicorn", "wsgi", app, port, worker=worker, threads=threads, extra=extra)


def werkzeug_cmd(app: str, port: int, *, http10: bool = False) -> list[str]:
    """werkzeug's development server, threaded, in HTTP/1.1 mode (``http10`` for its default)."""
    return command("werkzeug", "wsgi", app, port, http10=http10)


def wsgiref_cmd(app: str, port: int) -> list[str]:
    """The standard library's ``wsgiref.simple_server``."""
    return command("wsgiref", "wsgi", app, port)


def django_cmd(app: str, port: int) -> list[str]:
    """Django's development server (runserver's, threaded), serving ``app``."""
    return command("django", "wsgi", app, port)


def waitress_cmd(app: str, port: int, extra: Sequence[str] = ()) -> list[str]:
    """waitress (4 threads by default); SIGTERM has no handler there, the group dies at once."""
    return command("waitress", "wsgi", app, port, extra=extra)


def cheroot_cmd(app: str, port: int, extra: Sequence[str] = ()) -> list[str]:
    """cheroot's own command line (``python -m cheroot``), a thread pool of 10."""
    return command("cheroot", "wsgi", app, port, extra=extra)


def twisted_cmd(app: str, port: int) -> list[str]:
    """``twist web --wsgi``: Twisted's WSGI container (its thread pool) on the reactor."""
    return command("twisted", "wsgi", app, port)


MOD_WSGI_REQUIRED = os.environ.get("MOD_WSGI_REQUIRED") == "1"
"""CI sets ``MOD_WSGI_REQUIRED=1`` (``.ci/run``): Apache with mod_wsgi not usable is then a
failure, not a skip."""


def mod_wsgi_python() -> str:
    """The Python that serves mod_wsgi: ``MOD_WSGI_PYTHON``, else this one; or skip saying why.

    mod_wsgi embeds the Python it was built for. Started as root, ``mod_wsgi-express`` serves
    as www-data, who must be able to read that Python and this checkout (a Python under
    root's home is not readable): ``MOD_WSGI_PYTHON`` names one that is (``.ci/run`` makes
    one where needed).
    """
    python = os.environ.get("MOD_WSGI_PYTHON") or sys.executable
    reason = _mod_wsgi_unusable(python)
    if reason is not None:
        if MOD_WSGI_REQUIRED:
            pytest.fail(f"MOD_WSGI_REQUIRED=1, but {reason}")
        pytest.skip(reason)
    return python


@functools.lru_cache(maxsize=4)
def _mod_wsgi_unusable(python: str) -> str | None:
    if not (shutil.which("apache2") or shutil.which("httpd") or os.access("/usr/sbin/apache2", os.X_OK)):
        return "Apache is not installed (apt-get install apache2 apache2-dev)"
    found = subprocess.run(
        [python, "-c", "import sys, mod_wsgi; print(sys.prefix); print(sys.base_prefix)"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    if found.returncode != 0:
        return f"mod_wsgi is not installed for {python} (python -m pip install --no-cache-dir mod-wsgi)"
    if getattr(os, "geteuid", lambda: 1)() != 0:
        return None  # it serves as this user, who reads all of it
    for path in found.stdout.split():
        closed = closed_to_others(Path(path))
        if closed is not None:
            return (
                f"mod_wsgi serves as www-data when started as root, and www-data cannot enter {closed} "
                f"(on the way to {path}): set MOD_WSGI_PYTHON to a Python www-data can read"
            )
    return None  # the checkout itself: readable_checkout()


@functools.lru_cache(maxsize=1)
def readable_checkout() -> Path:
    """This checkout, or a copy of its files that other users can read, for servers that serve
    as another user (Apache started as root serves as www-data).

    A clone under a directory closed to others (root's home) cannot be imported from there:
    its files (the package, the tests' applications, compiled modules included) are copied
    once per test run into a fresh directory everyone may read, removed at exit.
    """
    if getattr(os, "geteuid", lambda: 1)() != 0 or closed_to_others(REPO_ROOT) is None:
        return REPO_ROOT
    copy = Path(tempfile.mkdtemp(prefix="connmw-readable-"))
    atexit.register(shutil.rmtree, copy, ignore_errors=True)
    skip = shutil.ignore_patterns(".git", "__pycache__", ".*_cache", ".hypothesis", "*.egg-info")
    for entry in ("connmw", "tests", "example_apps"):
        shutil.copytree(REPO_ROOT / entry, copy / entry, ignore=skip)
    for directory in [copy, *(path for path in copy.rglob("*") if path.is_dir())]:
        directory.chmod(0o755)  # read by the server's own user; nothing here is secret
    for file in (path for path in copy.rglob("*") if path.is_file()):
        file.chmod(0o644)
    return copy


def mod_wsgi_cmd(app: str, port: int, *, embedded: bool = False) -> list[str]:
    """Apache with mod_wsgi through ``mod_wsgi-express`` (daemon mode, or ``embedded``), its
    server root a fresh directory (Apache's children must be able to enter it), the
    application imported from :func:`readable_checkout`."""
    python = mod_wsgi_python()
    root = tempfile.mkdtemp(prefix="connmw-mod-wsgi-")
    os.chmod(root, 0o755)  # noqa: S103 (Apache's children, www-data, write their socket there)
    atexit.register(shutil.rmtree, root, ignore_errors=True)
    extra = ["--working-directory", str(readable_checkout())]
    return command(
        "mod_wsgi", "wsgi", app, port, python=python, embedded=embedded, server_root=root, extra=extra
    )


def nginx_binary() -> str:
    """nginx's path, or skip saying why (``.ci/run`` installs Debian's nginx-light)."""
    found = shutil.which("nginx") or next(
        (path for path in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if os.access(path, os.X_OK)), None
    )
    if found is None:
        pytest.skip("nginx is not installed and could not be (.ci/run: apt-get install nginx-light)")
    return found


def uwsgi_nginx_cmd(directory: Path, upstream: int, port: int) -> list[str]:
    """nginx on ``port`` with ``uwsgi_pass`` to uWSGI's ``--socket`` on ``upstream``, its files
    in ``directory`` (tests/nginx/uwsgi.conf.template)."""
    binary = nginx_binary()
    config = (
        (REPO_ROOT / "tests" / "nginx" / "uwsgi.conf.template")
        .read_text()
        .replace("@TMP@", str(directory))
        .replace("@LISTEN@", str(port))
        .replace("@UPSTREAM@", str(upstream))
        .replace("@USER@", "user root;" if os.geteuid() == 0 else "")
    )
    conf = directory / "nginx.conf"
    conf.write_text(config)
    return [binary, "-p", str(directory), "-c", str(conf), "-e", "stderr"]


def uwsgi_cmd(app: str, port: int, mode: str = "http11-socket", extra: Sequence[str] = ()) -> list[str]:
    """uWSGI from the pyuwsgi wheel: master and one single-threaded worker, ``mode`` one of
    :data:`UWSGI_MODES`."""
    return command("uwsgi", "wsgi", app, port, mode=mode, threads=None, extra=extra)


# ---------------------------------------------------------------------------------------
# TLS
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TLSFiles:
    """PEM files of a throw-away CA and a server certificate for 127.0.0.1 and localhost."""

    certfile: str
    keyfile: str
    cafile: str

    def client_context(self, alpn: Sequence[str] = ()) -> ssl.SSLContext:
        """A client SSL context trusting only this CA (pass it as httpx's ``verify=``).

        httpx sets ALPN itself; ``alpn`` is for raw ``ssl`` sockets.
        """
        context = ssl.create_default_context(cafile=self.cafile)
        if alpn:
            context.set_alpn_protocols(list(alpn))
        return context


def make_tls_files(directory: Path) -> TLSFiles:
    """Create a CA and a server certificate with trustme, written as PEM files in ``directory``."""
    authority = trustme.CA()
    leaf = authority.issue_cert(LOOPBACK, "localhost")
    directory.mkdir(parents=True, exist_ok=True)
    files = TLSFiles(
        certfile=str(directory / "server-chain.pem"),
        keyfile=str(directory / "server-key.pem"),
        cafile=str(directory / "ca.pem"),
    )
    Path(files.certfile).write_bytes(b"".join(blob.bytes() for blob in leaf.cert_chain_pems))
    leaf.private_key_pem.write_to_path(files.keyfile)
    authority.cert_pem.write_to_path(files.cafile)
    return files
