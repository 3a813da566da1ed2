"""The cases of ``connmw probe`` and how each one is run over raw sockets.

Each runner opens its own connection, sends one request (two, when it must find out
whether the server really kept the connection), and turns what it saw into a
:class:`CaseResult` with findings from :mod:`connmw.tool._findings`. The list of cases, their
ids and the JSON they produce are documented in :mod:`connmw.tool.probe`.
"""

from __future__ import annotations

import base64
import contextlib
import os
from dataclasses import dataclass, field
from typing import Any

from .. import __version__
from ..rules import parse_connection
from . import _findings
from ._findings import ERROR, INFO, WARNING, Finding
from ._http1_client import ProbeError, Response, Target, Wire, connect, read_response
from ._http2_client import NotOfferedError, fetch, request_fields

__all__ = ["CASES", "Case", "CaseResult", "Settings", "run_h2", "run_http", "run_websocket"]

USER_AGENT = f"connmw-probe/{__version__}"
FOREIGN_ORIGIN = "http://evil.example"


@dataclass(frozen=True)
class Case:
    """One request of the matrix."""

    id: str
    title: str
    method: str
    version: str
    headers: tuple[tuple[str, str], ...] = ()
    kind: str = "http"  # "http", "websocket" or "h2"


CASES: tuple[Case, ...] = (
    Case("post-http11", "POST HTTP/1.1", "POST", "1.1"),
    Case("post-http10", "POST HTTP/1.0", "POST", "1.0"),
    Case("post-http11-close", "POST HTTP/1.1 + close", "POST", "1.1", (("Connection", "close"),)),
    Case(
        "post-http10-keep-alive", "POST HTTP/1.0 + keep-alive", "POST", "1.0", (("Connection", "keep-alive"),)
    ),
    Case("head-http11", "HEAD HTTP/1.1", "HEAD", "1.1"),
    Case(
        "get-nominated",
        "GET + nominated header",
        "GET",
        "1.1",
        (("Connection", "x-connmw-probe"), ("X-Connmw-Probe", "1")),
    ),
    Case("ws-valid", "WebSocket handshake", "GET", "1.1", kind="websocket"),
    Case(
        "ws-bad-version", "WebSocket version 8", "GET", "1.1", (("Sec-WebSocket-Version", "8"),), "websocket"
    ),
    Case(
        "ws-foreign-origin",
        "WebSocket foreign Origin",
        "GET",
        "1.1",
        (("Origin", FOREIGN_ORIGIN),),
        "websocket",
    ),
    Case("h2-get", "GET over HTTP/2", "GET", "2", kind="h2"),
)


@dataclass
class CaseResult:
    """What one case saw and concluded."""

    case: Case
    request_headers: list[tuple[str, str]] = field(default_factory=list)
    status: int | None = None
    response_version: str | None = None
    connection: list[str] = field(default_factory=list)
    announced: str | None = None
    announced_by: str | None = None
    socket: str = "n/a"
    framing: str | None = None
    leaked: list[str] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    error: str | None = None
    skipped: bool = False
    elapsed_ms: float = 0.0

    @property
    def verdict(self) -> str:
        """``error``, ``warning``, ``ok`` or ``skipped`` (info findings never count)."""
        severities = {finding.severity for finding in self.findings}
        if ERROR in severities or self.error:
            return ERROR
        if WARNING in severities:
            return WARNING
        return "skipped" if self.skipped else "ok"

    def to_json(self) -> dict[str, Any]:
        """This case as the schema in the module docstring describes."""
        return {
            "id": self.case.id,
            "title": self.case.title,
            "request": {
                "method": self.case.method,
                "http_version": self.case.version,
                "headers": [list(pair) for pair in self.request_headers],
            },
            "verdict": self.verdict,
            "status": self.status,
            "response_version": self.response_version,
            "connection": self.connection,
            "announced": self.announced,
            "announced_by": self.announced_by,
            "socket": self.socket,
            "framing": self.framing,
            "leaked": self.leaked,
            "findings": [
                {"severity": f.severity, "code": f.code, "message": f.message, "rfc": f.rfc}
                for f in self.findings
            ],
            "error": self.error,
            "elapsed_ms": round(self.elapsed_ms, 1),
        }


@dataclass
class Settings:
    """What every case needs: the target, the WebSocket path, the timeout, TLS
    leniency, and how long to wait for an EOF that should come."""

    target: Target
    ws_path: str
    timeout: float
    insecure: bool
    wait: float


def _request(
    settings: Settings, case: Case, path: str, extra: tuple[tuple[str, str], ...]
) -> tuple[bytes, list[tuple[str, str]]]:
    headers = [("Host", settings.target.authority), ("User-Agent", USER_AGENT), ("Accept", "*/*")]
    if case.method == "POST":
        headers.append(("Content-Length", "0"))
    headers.extend(extra)
    lines = [f"{case.method} {path} HTTP/{case.version}", *(f"{name}: {value}" for name, value in headers)]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"), headers


def _open(settings: Settings) -> Wire:
    sock, _ = connect(settings.target, settings.timeout, insecure=settings.insecure, alpn=("http/1.1",))
    return Wire(sock, settings.timeout)


def _fill_from_response(result: CaseResult, response: Response) -> None:
    result.status = response.status
    result.response_version = response.version
    result.connection = [value.decode("latin-1") for value in response.values(b"connection")]
    result.framing = response.framing


def run_http(settings: Settings, case: Case) -> CaseResult:
    """One HTTP/1.x case: send it, judge the response's fields, then find out what the
    socket does and whether that matches what the response said."""
    data, headers = _request(settings, case, settings.target.path, case.headers)
    result = CaseResult(case, headers)
    try:
        wire = _open(settings)
    except ProbeError as error:
        result.error = error.reason
        return result
    try:
        wire.send(data)
        response = read_response(wire, case.method)
        _fill_from_response(result, response)
        findings, result.leaked = _findings.http1_fields(response, case.version)
        tokens = _findings.tokens_of(response)
        said = _findings.announced(response, tokens, case.version)
        result.announced, result.announced_by = said
        request_tokens = parse_connection(
            value.encode() for name, value in case.headers if name == "Connection"
        )
        state = _observe(
            settings,
            case,
            wire=wire,
            response=response,
            said=said,
            request_close=request_tokens.close,
            findings=findings,
        )
        result.socket = state
        if response.truncated:
            findings.append(
                Finding(INFO, "body-not-read", "body over 1 MiB: persistence not checked", "RFC 9112 §6.3")
            )
        findings += _findings.persistence(
            case.version,
            request_close=request_tokens.close,
            request_keep_alive=request_tokens.keep_alive,
            tokens=tokens,
            said=said,
            socket_state=state,
            wait=settings.wait,
        )
        result.findings = findings
    except ProbeError as error:
        result.error = error.reason
    finally:
        wire.close()
    return result


def _observe(
    settings: Settings,
    case: Case,
    *,
    wire: Wire,
    response: Response,
    said: tuple[str, str],
    request_close: bool,
    findings: list[Finding],
) -> str:
    """Find out whether the server kept or closed the connection after ``response``."""
    if response.truncated:
        return "unknown"  # a body past MAX_BODY was not read to its end
    if response.framing == "close-delimited":
        return "closed"
    if not response.complete:
        return "closed"
    if wire.buffer:
        findings.append(_extra_bytes(case, len(wire.buffer)))
        return "unknown"
    # A client that said close, or an HTTP/1.0 client that did not ask for keep-alive,
    # sends nothing more (RFC 9112 §9.3, §9.6): the only question is whether EOF comes.
    http10_once = case.version == "1.0" and not any(
        name == "Connection" and "keep-alive" in value for name, value in case.headers
    )
    if request_close or http10_once or said[0] == "close":
        state = wire.wait_eof(settings.wait)
        if state == "data":
            findings.append(_extra_bytes(case, len(wire.buffer)))
            return "unknown"
        return state
    extra = (*((n, v) for n, v in case.headers if n != "Connection"), ("Connection", "close"))
    second, _ = _request(settings, case, settings.target.path, extra)
    try:
        wire.send(second)
        read_response(wire, case.method)
    except ProbeError as error:
        if error.kind == "timeout":
            return "open"
        if error.kind == "not-http":
            findings.append(
                Finding(
                    ERROR,
                    "bad-second-response",
                    f"the answer to a second request on the connection is not HTTP ({error.reason})",
                    "RFC 9112 §6.3",
                )
            )
            return "unknown"
        return "closed"
    return "kept"


def _extra_bytes(case: Case, count: int) -> Finding:
    what = "a body after a HEAD response" if case.method == "HEAD" else "bytes beyond the framed response"
    return Finding(ERROR, "bytes-after-response", f"{what} ({count} bytes)", "RFC 9112 §6.3")


def run_websocket(settings: Settings, case: Case, offered: bool | None) -> CaseResult:
    """One opening handshake on ``settings.ws_path``; ``offered`` is whether the valid
    handshake got 101 (``None`` while running that one)."""
    key = base64.b64encode(os.urandom(16))
    extra = dict((("Sec-WebSocket-Version", "13"), *case.headers))
    handshake = (
        ("Upgrade", "websocket"),
        ("Connection", "Upgrade"),
        ("Sec-WebSocket-Key", key.decode()),
        *extra.items(),
    )
    data, headers = _request(settings, case, settings.ws_path, handshake)
    result = CaseResult(case, headers)
    try:
        wire = _open(settings)
    except ProbeError as error:
        result.error = error.reason
        return result
    try:
        wire.send(data)
        response = read_response(wire, case.method, stop_at_101=True)
        _fill_from_response(result, response)
        # Where no endpoint speaks WebSocket the handshakes are plain GETs, whose fields
        # the HTTP cases already judged; judge them only on a WebSocket endpoint.
        if response.status == 101 or offered:
            result.findings, result.leaked = _findings.http1_fields(response, case.version)
        result.findings += _findings.websocket(case.id, response, key, offered)
        if response.status == 101:
            # A masked close frame, status 1000 (RFC 6455 §5.5.1), then hang up; a server
            # that is already gone is no finding.
            mask = os.urandom(4)
            payload = bytes(b ^ mask[i % 4] for i, b in enumerate(b"\x03\xe8"))
            with contextlib.suppress(ProbeError):
                wire.send(b"\x88\x82" + mask + payload)
    except ProbeError as error:
        result.error = error.reason
    finally:
        wire.close()
    return result


def run_h2(settings: Settings, case: Case, nominated: frozenset[bytes]) -> CaseResult:
    """The HTTP/2 GET; ``nominated`` holds what the HTTP/1.1 answers' Connection named."""
    target = settings.target
    sent = request_fields(target, target.path)
    result = CaseResult(case, [(name.decode(), value.decode("latin-1")) for name, value in sent])
    try:
        response = fetch(target, target.path, settings.timeout, insecure=settings.insecure)
    except NotOfferedError as error:
        result.skipped = True
        result.findings = [Finding(INFO, "h2-not-offered", error.reason, "RFC 9113 §3")]
        return result
    except ProbeError as error:
        result.error = error.reason
        return result
    result.status = response.status
    result.response_version = "2"
    fields = response.headers + response.trailers
    result.connection = [value.decode("latin-1") for name, value in fields if name.lower() == b"connection"]
    result.findings, result.leaked = _findings.http2(
        response.status, response.headers, response.trailers, nominated, response.reset
    )
    return result
