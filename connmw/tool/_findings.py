"""What ``connmw probe`` concludes from what it saw: findings, each with its RFC section.

Pure functions of received responses; the HTTP facts (which fields are hop-by-hop,
how a Connection field reads, the WebSocket accept key) come from :mod:`connmw.rules`.

Severities, decided once here and documented in :mod:`connmw.tool.probe`:

* ``error`` — the server breaks a MUST of the RFC cited, or fails a valid request
  (5xx), or says one thing about the connection and does another. Exit status 1.
* ``warning`` — risky, against a SHOULD, or a MUST without practical effect: no
  WebSocket origin check (an allow-list is configuration, RFC 6455 §10.2); a refused
  WebSocket version without ``Sec-WebSocket-Version: 13`` (RFC 6455 §4.2.2 says MUST,
  but every client since 2011 speaks 13, and servers built on the websockets library
  answer before any middleware runs); several Connection lines; an unasked-for
  HTTP/1.0 keep-alive; a connection left open after a non-persistent exchange.
  Exit status 1 only with ``--strict``.
* ``info`` — worth knowing, never a fault: the server closes every HTTP/1.1
  connection, the URL has no WebSocket endpoint, the server does not speak HTTP/2.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from ..rules import HOP_BY_HOP, ConnectionTokens, parse_connection, websocket_accept
from ._http1_client import Response

__all__ = [
    "ERROR",
    "INFO",
    "WARNING",
    "Finding",
    "announced",
    "http1_fields",
    "http2",
    "nominated_fields",
    "persistence",
    "tokens_of",
    "websocket",
]

ERROR: Final = "error"
WARNING: Final = "warning"
INFO: Final = "info"
SEVERITIES: Final = (ERROR, WARNING, INFO)

Header = tuple[bytes, bytes]

# RFC 9113 §8.2.2: fields that make an HTTP/2 message malformed ("te" only in responses
# here: a request may carry "te: trailers", a response never).
H2_FORBIDDEN: Final[frozenset[bytes]] = frozenset(
    {b"connection", b"keep-alive", b"proxy-connection", b"transfer-encoding", b"upgrade", b"te"}
)


@dataclass(frozen=True)
class Finding:
    """One conclusion: severity, stable code, a sentence, and the RFC section behind it."""

    severity: str
    code: str
    message: str
    rfc: str


def _names(names: set[bytes] | frozenset[bytes]) -> str:
    return ", ".join(sorted(name.decode("latin-1") for name in names))


def tokens_of(response: Response) -> ConnectionTokens:
    """The response's Connection field, read across all its lines (RFC 9110 §5.3)."""
    return parse_connection(response.values(b"connection"))


def nominated_fields(tokens: ConnectionTokens) -> frozenset[bytes]:
    """Field names a Connection field makes hop-by-hop beyond the fixed list."""
    return tokens.nominated - HOP_BY_HOP


def http1_fields(response: Response, request_version: str) -> tuple[list[Finding], list[str]]:
    """Findings about status, the Connection field, hop-by-hop leaks and framing.

    Returns the findings and the lower-case names of leaked hop-by-hop fields. From
    the wire, a field is legitimate only when it is the server's own business on this
    hop: Connection itself; Keep-Alive beside a ``keep-alive`` option on a response
    that does not close; Upgrade on a 101 or with an ``upgrade`` option; a
    Transfer-Encoding framing an HTTP/1.1 exchange (judged with framing below).
    """
    findings: list[Finding] = []
    lines = response.values(b"connection")
    tokens = parse_connection(lines)
    present = response.names()
    if response.status >= 500:
        findings.append(
            Finding(ERROR, "server-error", f"answered {response.status} to a valid request", "RFC 9110 §15.6")
        )
    leaked: set[bytes] = set()
    for name in present & HOP_BY_HOP:
        if name in (b"connection", b"transfer-encoding"):
            continue
        if name == b"keep-alive" and tokens.keep_alive and not tokens.close:
            continue
        if name == b"upgrade" and (response.status == 101 or tokens.upgrade):
            continue
        leaked.add(name)
    leaked |= nominated_fields(tokens) & present
    if leaked:
        findings.append(
            Finding(
                ERROR,
                "hop-by-hop-leak",
                f"hop-by-hop field(s) sent to the client: {_names(leaked)}",
                "RFC 9110 §7.6.1",
            )
        )
    if len(lines) > 1:
        shown = " | ".join(line.decode("latin-1") for line in lines)
        findings.append(
            Finding(
                WARNING,
                "connection-repeated",
                f"{len(lines)} Connection lines ({shown}); clients that read one line misread them",
                "RFC 9110 §5.3",
            )
        )
    if tokens.close and tokens.keep_alive:
        findings.append(
            Finding(
                ERROR,
                "connection-contradictory",
                "Connection says both close and keep-alive",
                "RFC 9112 §9.6",
            )
        )
    if tokens.refused:
        findings.append(
            Finding(
                WARNING,
                "connection-nominates-protected",
                f"Connection nominates end-to-end field(s) {_names(tokens.refused)} for removal",
                "RFC 9110 §7.6.1",
            )
        )
    findings.extend(_framing(response, request_version))
    return findings, sorted(name.decode("latin-1") for name in leaked)


def _framing(response: Response, request_version: str) -> list[Finding]:
    findings: list[Finding] = []
    te_lines = response.values(b"transfer-encoding")
    codings = [t.strip(b" \t").lower() for value in te_lines for t in value.split(b",") if t.strip(b" \t")]
    if te_lines and request_version == "1.0":
        findings.append(
            Finding(
                ERROR,
                "chunked-to-http10",
                f"Transfer-Encoding: {b', '.join(codings).decode('latin-1')} sent to an HTTP/1.0 client",
                "RFC 9112 §6.1",
            )
        )
    if codings.count(b"chunked") > 1:
        findings.append(
            Finding(ERROR, "chunked-twice", "chunked transfer coding applied more than once", "RFC 9112 §6.1")
        )
    lengths = response.values(b"content-length")
    if te_lines and lengths:
        findings.append(
            Finding(
                ERROR,
                "length-with-transfer-encoding",
                "both Content-Length and Transfer-Encoding",
                "RFC 9112 §6.2",
            )
        )
    elif len({v.strip(b" \t") for v in lengths}) > 1 or any(not v.strip(b" \t").isdigit() for v in lengths):
        findings.append(
            Finding(ERROR, "bad-content-length", "invalid or conflicting Content-Length", "RFC 9110 §8.6")
        )
    if not response.complete:
        findings.append(
            Finding(
                ERROR, "truncated-body", "the connection ended before the announced body did", "RFC 9112 §8"
            )
        )
    return findings


def announced(response: Response, tokens: ConnectionTokens, request_version: str) -> tuple[str, str]:
    """What the response says about the connection's future (RFC 9112 §9.3), and why.

    ``("close" | "keep-alive", "framing" | "header" | "default")``: a body delimited by
    the end of the connection forces close; then the ``close`` and ``keep-alive``
    options; otherwise HTTP/1.1 on both sides means persistent and anything with
    HTTP/1.0 in it means close.
    """
    if response.framing == "close-delimited":
        return "close", "framing"
    if tokens.close:
        return "close", "header"
    if tokens.keep_alive:
        return "keep-alive", "header"
    if request_version == "1.0" or response.version == "1.0":
        return "close", "default"
    return "keep-alive", "default"


def persistence(
    request_version: str,
    *,
    request_close: bool,
    request_keep_alive: bool,
    tokens: ConnectionTokens,
    said: tuple[str, str],
    socket_state: str,
    wait: float,
) -> list[Finding]:
    """Findings comparing what the response said with what the socket did.

    ``socket_state`` is ``kept`` (a second request was answered), ``closed`` (EOF or
    reset), ``open`` (neither EOF nor an answer within ``wait`` seconds) or
    ``unknown``.
    """
    said_close, how = said[0] == "close", said[1]
    explicit_keep = tokens.keep_alive and not tokens.close
    findings: list[Finding] = []
    if how == "framing" and explicit_keep:
        findings.append(
            Finding(
                ERROR,
                "keep-alive-without-length",
                "Connection: keep-alive on a body that only the connection's end delimits",
                "RFC 9112 §9.3",
            )
        )
    if request_close:
        if socket_state in ("open", "kept"):
            findings.append(_close_ignored("the client sent Connection: close", wait))
        if explicit_keep:
            findings.append(
                Finding(
                    ERROR,
                    "keep-alive-after-close",
                    "answered Connection: keep-alive to a request that said close",
                    "RFC 9112 §9.6",
                )
            )
        elif not tokens.close and said[0] == "keep-alive":
            findings.append(
                Finding(
                    WARNING,
                    "close-not-echoed",
                    "the response to a Connection: close request does not say close",
                    "RFC 9112 §9.6",
                )
            )
        return findings
    if request_version == "1.0" and not request_keep_alive:
        if explicit_keep:
            findings.append(
                Finding(
                    WARNING,
                    "unsolicited-keep-alive",
                    "Connection: keep-alive to an HTTP/1.0 client that did not ask for it",
                    "RFC 9112 §9.3",
                )
            )
        if socket_state in ("open", "kept"):
            if tokens.close:
                findings.append(_close_ignored("the response said Connection: close", wait))
            else:
                findings.append(_left_open(wait))
        return findings
    if said_close:
        if socket_state in ("open", "kept"):
            if how == "header":
                findings.append(_close_ignored("the response said Connection: close", wait))
            else:
                findings.append(_left_open(wait))
        elif socket_state == "closed" and request_version == "1.1":
            findings.append(
                Finding(
                    INFO,
                    "not-persistent",
                    "closes the connection after each HTTP/1.1 response (each request pays a new handshake)",
                    "RFC 9112 §9.3",
                )
            )
        return findings
    if socket_state == "closed":
        why = "said Connection: keep-alive" if how == "header" else "promised persistence (HTTP/1.1 default)"
        findings.append(
            Finding(
                ERROR,
                "closed-unannounced",
                f"the response {why} but the server closed the connection",
                "RFC 9112 §9.6",
            )
        )
    elif socket_state == "open":
        findings.append(
            Finding(
                ERROR,
                "keep-alive-unanswered",
                "the connection stayed open but a second request on it got no answer",
                "RFC 9112 §9.3",
            )
        )
    return findings


def _close_ignored(why: str, wait: float) -> Finding:
    return Finding(
        ERROR,
        "close-ignored",
        f"{why}, yet the server kept the connection open (checked for {wait:g}s)",
        "RFC 9112 §9.6",
    )


def _left_open(wait: float) -> Finding:
    return Finding(
        WARNING,
        "left-open",
        f"a non-persistent exchange, yet the server kept the connection open (checked for {wait:g}s)",
        "RFC 9112 §9.3",
    )


def websocket(case_id: str, response: Response, key: bytes, offered: bool | None) -> list[Finding]:
    """Findings for the three opening handshakes (RFC 6455 §4.2.2, §10.2).

    ``offered`` is whether the valid handshake got 101 (``None`` for that case itself).
    A URL without a WebSocket endpoint only has to refuse the bad handshakes.
    """
    findings: list[Finding] = []
    if case_id == "ws-valid":
        if response.status != 101:
            findings.append(
                Finding(
                    INFO,
                    "ws-not-offered",
                    f"no WebSocket endpoint here (answered {response.status}); "
                    "the other WebSocket cases only check refusals",
                    "RFC 6455 §4.2.2",
                )
            )
            return findings
        accept = [value.strip(b" \t") for value in response.values(b"sec-websocket-accept")]
        if accept != [websocket_accept(key)]:
            findings.append(
                Finding(
                    ERROR, "ws-bad-accept", "Sec-WebSocket-Accept does not match the key", "RFC 6455 §4.2.2"
                )
            )
        upgrade = b",".join(response.values(b"upgrade")).lower()
        if b"websocket" not in upgrade or not tokens_of(response).upgrade:
            findings.append(
                Finding(
                    ERROR,
                    "ws-bad-101",
                    "101 without Upgrade: websocket and Connection: Upgrade",
                    "RFC 6455 §4.2.2",
                )
            )
        return findings
    if case_id == "ws-bad-version":
        versions = b",".join(response.values(b"sec-websocket-version"))
        if response.status == 101:
            findings.append(
                Finding(
                    ERROR, "ws-bad-version-accepted", "accepted Sec-WebSocket-Version: 8", "RFC 6455 §4.2.2"
                )
            )
        elif offered and (response.status not in (400, 426) or b"13" not in versions):
            findings.append(
                Finding(
                    WARNING,  # a MUST, but every client since 2011 speaks 13: nothing breaks
                    "ws-version-not-advertised",
                    f"refused version 8 with {response.status} but without Sec-WebSocket-Version: 13",
                    "RFC 6455 §4.2.2",
                )
            )
        return findings
    if response.status == 101:  # ws-foreign-origin
        findings.append(
            Finding(
                WARNING,
                "ws-no-origin-check",
                "accepted Origin: http://evil.example (no origin allow-list; cross-site WebSocket hijacking)",
                "RFC 6455 §10.2",
            )
        )
    return findings


def http2(
    status: int, fields: list[Header], trailers: list[Header], nominated: frozenset[bytes], reset: str | None
) -> tuple[list[Finding], list[str]]:
    """Findings for an HTTP/2 response (RFC 9113 §8.2.1, §8.2.2, §8.6).

    ``nominated`` holds fields the same URL's HTTP/1.1 responses marked hop-by-hop
    with Connection: HTTP/2 has no Connection field, so a server that drops it but
    keeps what it named leaks them silently (hypercorn: docs/servers.md, "What servers do
    without connmw").
    """
    findings: list[Finding] = []
    if status >= 500:
        findings.append(Finding(ERROR, "server-error", f"answered {status}", "RFC 9110 §15.6"))
    if status == 101:
        findings.append(Finding(ERROR, "h2-101", ":status 101 over HTTP/2", "RFC 9113 §8.6"))
    names = [name for name, _ in fields + trailers if not name.startswith(b":")]
    upper = {name for name in names if name != name.lower()}
    if upper:
        findings.append(
            Finding(
                ERROR, "h2-uppercase-field", f"upper-case field name(s) {_names(upper)}", "RFC 9113 §8.2.1"
            )
        )
    lower = {name.lower() for name in names}
    forbidden = lower & H2_FORBIDDEN
    if forbidden:
        findings.append(
            Finding(
                ERROR,
                "h2-connection-field",
                f"connection-specific field(s) in an HTTP/2 response: {_names(forbidden)}",
                "RFC 9113 §8.2.2",
            )
        )
    leaked = (lower & (HOP_BY_HOP - H2_FORBIDDEN)) | (lower & nominated)
    if leaked:
        findings.append(
            Finding(
                ERROR,
                "hop-by-hop-leak",
                f"hop-by-hop field(s) sent over HTTP/2: {_names(leaked)}",
                "RFC 9113 §8.2.2",
            )
        )
    if reset is not None and reset != "NO_ERROR":
        findings.append(
            Finding(WARNING, "h2-stream-reset", f"the stream ended with RST_STREAM {reset}", "RFC 9113 §8.1")
        )
    return findings, sorted(name.decode("latin-1") for name in forbidden | leaked)
