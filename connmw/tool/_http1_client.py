"""Raw-socket HTTP/1.x for ``connmw probe``: connect, send bytes, read one response.

No HTTP library is used on purpose: libraries merge repeated fields, hide framing and
reuse or close connections on their own, which are exactly the facts the probe must
see. Every read has a deadline; every failure becomes a :class:`ProbeError` whose
``reason`` is one line a person can act on.

Response framing follows RFC 9112 §6.3: no body for HEAD, 1xx, 204 and 304; chunked
when Transfer-Encoding ends in ``chunked``; else Content-Length; else the body runs
to the end of the connection.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import time
from dataclasses import dataclass, field
from typing import Final
from urllib.parse import quote, urlsplit

__all__ = [
    "ProbeError",
    "Response",
    "Target",
    "Wire",
    "connect",
    "parse_target",
    "quote_target",
    "read_response",
]

Header = tuple[bytes, bytes]

MAX_HEAD = 64 * 1024
MAX_BODY = 1024 * 1024


class ProbeError(Exception):
    """The probe could not complete an exchange. ``kind`` is a stable word:
    ``unreachable``, ``timeout``, ``tls``, ``not-http``, ``closed``, ``too-large``."""

    def __init__(self, kind: str, reason: str) -> None:
        super().__init__(reason)
        self.kind = kind
        self.reason = reason


class _BodyTooLargeError(Exception):
    """Internal: the body passed :data:`MAX_BODY`; the probe stops reading it."""


@dataclass(frozen=True)
class Target:
    """Where to probe: scheme, host, port, path (with query) and the Host field value."""

    url: str
    scheme: str
    host: str
    port: int
    path: str
    authority: str


def quote_target(text: str) -> str:
    """Percent-encode what may not appear raw in a request target (RFC 3986 §3.3, §3.4),
    leaving existing escapes and delimiters alone, so the request line is ASCII."""
    return quote(text, safe="/:@!$&'()*+,;=%~?")


def parse_target(url: str) -> Target:
    """Read an ``http://`` or ``https://`` URL; raise :class:`ValueError` otherwise."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise ValueError(f"not an http:// or https:// URL: {url!r}")
    if not parts.hostname:
        raise ValueError(f"no host in URL: {url!r}")
    try:
        port = parts.port or (443 if scheme == "https" else 80)
    except ValueError:
        raise ValueError(f"bad port in URL: {url!r}") from None
    path = quote_target(parts.path or "/")
    if parts.query:
        path += "?" + quote_target(parts.query)
    host = parts.hostname
    try:
        ascii_host = host if host.isascii() else host.encode("idna").decode("ascii")
    except UnicodeError:
        raise ValueError(f"bad host in URL: {url!r}") from None
    shown = f"[{ascii_host}]" if ":" in ascii_host else ascii_host
    default = 443 if scheme == "https" else 80
    authority = shown if port == default else f"{shown}:{port}"
    return Target(url, scheme, host, port, path, authority)


def connect(
    target: Target, timeout: float, *, insecure: bool, alpn: tuple[str, ...]
) -> tuple[socket.socket, str]:
    """Open a TCP (and for https, TLS) connection; return it and the ALPN protocol chosen."""
    try:
        sock = socket.create_connection((target.host, target.port), timeout=timeout)
    except TimeoutError:
        raise ProbeError("timeout", f"no TCP connection to {target.authority} within {timeout:g}s") from None
    except OSError as error:
        reason = error.strerror or str(error)
        raise ProbeError("unreachable", f"cannot connect to {target.host}:{target.port}: {reason}") from None
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    if target.scheme != "https":
        return sock, ""
    context = ssl.create_default_context()
    if insecure:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    context.set_alpn_protocols(list(alpn))
    try:
        tls = context.wrap_socket(sock, server_hostname=target.host)
    except ssl.SSLCertVerificationError as error:
        sock.close()
        raise ProbeError(
            "tls", f"TLS certificate not trusted ({error.verify_message}); --insecure accepts it"
        ) from None
    except (ssl.SSLError, OSError) as error:
        sock.close()
        raise ProbeError("tls", f"TLS handshake with {target.authority} failed: {error}") from None
    return tls, tls.selected_alpn_protocol() or ""


class Wire:
    """A connected socket with a read buffer; each operation has its own deadline."""

    def __init__(self, sock: socket.socket, timeout: float) -> None:
        self.sock = sock
        self.timeout = timeout
        self.buffer = bytearray()
        self.eof = False

    def send(self, data: bytes) -> None:
        """Send all of ``data``; a peer that has gone away raises ``closed``."""
        self.sock.settimeout(self.timeout)
        try:
            self.sock.sendall(data)
        except TimeoutError:
            raise ProbeError("timeout", f"could not send within {self.timeout:g}s") from None
        except OSError as error:
            raise ProbeError("closed", f"connection closed while sending ({error})") from None

    def _fill(self, deadline: float) -> bool:
        """Read once more into the buffer; False at end of stream."""
        if self.eof:
            return False
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise ProbeError("timeout", f"no complete response within {self.timeout:g}s")
        self.sock.settimeout(remaining)
        try:
            chunk = self.sock.recv(65536)
        except TimeoutError:
            raise ProbeError("timeout", f"no complete response within {self.timeout:g}s") from None
        except ssl.SSLError as error:
            raise ProbeError("closed", f"TLS error while reading ({error.reason})") from None
        except OSError as error:  # ECONNRESET and friends: the peer is gone
            self.eof = True
            if self.buffer:
                return False
            raise ProbeError("closed", f"connection reset ({error.strerror or error})") from None
        if not chunk:
            self.eof = True
            return False
        self.buffer += chunk
        return True

    def read_until(self, marker: bytes, limit: int, deadline: float) -> bytes | None:
        """Bytes up to and including ``marker``; ``None`` if the stream ends first."""
        start = 0
        while True:
            index = self.buffer.find(marker, start)
            if index >= 0:
                end = index + len(marker)
                data = bytes(self.buffer[:end])
                del self.buffer[:end]
                return data
            if len(self.buffer) > limit:
                raise ProbeError("too-large", f"more than {limit} bytes without {marker!r}")
            start = max(0, len(self.buffer) - len(marker) + 1)
            if not self._fill(deadline):
                return None

    def read_exact(self, count: int, deadline: float) -> bytes | None:
        """Exactly ``count`` bytes, or ``None`` if the stream ends first."""
        while len(self.buffer) < count:
            if not self._fill(deadline):
                return None
        data = bytes(self.buffer[:count])
        del self.buffer[:count]
        return data

    def read_to_eof(self, limit: int, deadline: float) -> tuple[bytes, bool]:
        """Everything until the peer closes (or ``limit`` bytes); and whether EOF came."""
        while len(self.buffer) <= limit:
            if not self._fill(deadline):
                data = bytes(self.buffer)
                self.buffer.clear()
                return data, True
        data = bytes(self.buffer[:limit])
        del self.buffer[:limit]
        return data, False

    def wait_eof(self, seconds: float) -> str:
        """Wait up to ``seconds`` for the peer to close: ``closed``, ``open`` or ``data``."""
        if self.buffer:
            return "data"
        deadline = time.monotonic() + seconds
        try:
            got = self._fill(deadline)
        except ProbeError as error:
            return "open" if error.kind == "timeout" else "closed"
        return "data" if got else "closed"

    def close(self) -> None:
        """Close the socket; errors while closing are of no interest to a probe."""
        with contextlib.suppress(OSError):
            self.sock.close()


@dataclass
class Response:
    """One HTTP/1.x response as it came off the wire (field names kept as sent)."""

    version: str
    status: int
    reason: str
    headers: list[Header]
    framing: str = "none"
    body: bytes = b""
    complete: bool = True
    truncated: bool = False
    """The probe stopped reading a body larger than :data:`MAX_BODY` (framing unknown)."""
    informational: list[int] = field(default_factory=list)

    def values(self, name: bytes) -> list[bytes]:
        """Every value of a field, in order, one per line (names compare case-insensitively)."""
        return [value for key, value in self.headers if key.lower() == name]

    def names(self) -> set[bytes]:
        """The lower-case names present."""
        return {key.lower() for key, _ in self.headers}


def _parse_head(head: bytes) -> tuple[str, int, str, list[Header]]:
    lines = head.split(b"\r\n")
    status_line = lines[0]
    parts = status_line.split(b" ", 2)
    if len(parts) < 2 or not parts[0].startswith(b"HTTP/1.") or not parts[1].isdigit() or len(parts[1]) != 3:
        raise ProbeError("not-http", f"not an HTTP/1.x response: {status_line[:60]!r}")
    version = parts[0][5:].decode("ascii", "replace")
    reason = parts[2].decode("latin-1") if len(parts) > 2 else ""
    headers: list[Header] = []
    for line in lines[1:]:
        if not line:
            continue
        name, colon, value = line.partition(b":")
        if not colon or not name or name != name.strip():
            raise ProbeError("not-http", f"malformed header line {line[:60]!r}")
        headers.append((name, value.strip(b" \t")))
    return version, int(parts[1]), reason, headers


_HEXDIG: Final = b"0123456789abcdefABCDEF"


def _chunked(wire: Wire, deadline: float) -> bytes | None:
    body = bytearray()
    while True:
        line = wire.read_until(b"\r\n", 4096, deadline)
        if line is None:
            return None
        # RFC 9112 §7.1: chunk-size is 1*HEXDIG, then BWS (space, tab) before a chunk-ext. int()
        # alone would also take other white space, "_" and a "0x" prefix.
        size_text = line[:-2].split(b";", 1)[0].strip(b" \t")
        if not size_text or size_text.translate(None, _HEXDIG):
            raise ProbeError("not-http", f"bad chunk size line {line[:40]!r}")
        size = int(size_text, 16)
        if size == 0:
            while True:  # trailer section, up to the empty line
                trailer = wire.read_until(b"\r\n", MAX_HEAD, deadline)
                if trailer is None or trailer == b"\r\n":
                    return bytes(body)
        chunk = wire.read_exact(size + 2, deadline)
        if chunk is None:
            return None
        body += chunk[:-2]
        if len(body) > MAX_BODY:
            raise _BodyTooLargeError


def read_response(wire: Wire, method: str, *, stop_at_101: bool = False) -> Response:
    """Read the next final response (1xx interim ones are noted and skipped)."""
    deadline = time.monotonic() + wire.timeout
    informational: list[int] = []
    while True:
        head = wire.read_until(b"\r\n\r\n", MAX_HEAD, deadline)
        if head is None:
            if wire.buffer:
                raise ProbeError("not-http", f"not an HTTP/1.x response: {bytes(wire.buffer[:60])!r}")
            raise ProbeError("closed", "the server closed the connection without answering")
        version, status, reason, headers = _parse_head(head[:-4])
        if 100 <= status < 200 and not (status == 101 and stop_at_101):
            informational.append(status)
            continue
        break
    response = Response(version, status, reason, headers, informational=informational)
    if method == "HEAD" or status < 200 or status in (204, 304):
        return response
    codings = [
        token.strip(b" \t").lower()  # RFC 9110 §5.6.1: OWS is space and tab only
        for value in response.values(b"transfer-encoding")
        for token in value.split(b",")
    ]
    codings = [coding for coding in codings if coding]
    if codings:
        if codings[-1] == b"chunked":
            response.framing = "chunked"
            try:
                body = _chunked(wire, deadline)
            except _BodyTooLargeError:
                response.truncated = True
                return response
            response.body = body or b""
            response.complete = body is not None
            return response
        response.framing = "close-delimited"
    else:
        lengths = {value.strip(b" \t") for value in response.values(b"content-length")}
        if len(lengths) == 1 and next(iter(lengths)).isdigit():
            response.framing = "content-length"
            length = int(next(iter(lengths)))
            if length > MAX_BODY:
                response.truncated = True
                return response
            data = wire.read_exact(length, deadline)
            response.body = data or b""
            response.complete = data is not None
            return response
        response.framing = "close-delimited"
    response.body, eof = wire.read_to_eof(MAX_BODY, deadline)
    response.truncated = not eof
    return response
