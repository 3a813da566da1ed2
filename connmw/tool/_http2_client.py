"""A minimal HTTP/2 client for ``connmw probe --http2``: one GET, one response.

Standard library only. Over ``http://`` it speaks HTTP/2 with prior knowledge (h2c,
RFC 9113 §3.3); over ``https://`` it offers ``h2`` by ALPN (§3.2) and reports when the
server picks something else. The exchange: connection preface and SETTINGS (push off,
a large window so the server never waits for WINDOW_UPDATE), one HEADERS frame with
END_STREAM, then frames are read until the stream ends; SETTINGS and PING are
acknowledged as the protocol requires (§6.5.3, §6.7). Header blocks are decoded with
:mod:`connmw.tool._hpack`, which reads Huffman strings and the dynamic table, so whatever
the server's encoder chooses decodes.

The result keeps the response's fields exactly as decoded, so the probe can see
connection-specific fields that RFC 9113 §8.2.2 forbids and upper-case names §8.2.1
forbids; a strict client library would refuse the response instead of showing it.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import time
from dataclasses import dataclass, field

from .. import __version__
from ._hpack import HpackDecoder, HpackError, encode_headers
from ._http1_client import ProbeError, Target, connect

__all__ = ["H2Response", "NotOfferedError", "fetch", "request_fields"]

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
# Frame types (RFC 9113 §6) and flags.
DATA, HEADERS, _PRIORITY, RST_STREAM, SETTINGS, PUSH_PROMISE, PING, GOAWAY, WINDOW_UPDATE, CONTINUATION = (
    range(10)
)
END_STREAM, ACK, END_HEADERS, PADDED, PRIORITY_FLAG = 0x1, 0x1, 0x4, 0x8, 0x20
_WINDOW = (1 << 30) - 1
_MAX_FRAME = 1 << 24

# RFC 9113 §7, in code order.
ERROR_CODES = (
    "NO_ERROR", "PROTOCOL_ERROR", "INTERNAL_ERROR", "FLOW_CONTROL_ERROR", "SETTINGS_TIMEOUT",
    "STREAM_CLOSED", "FRAME_SIZE_ERROR", "REFUSED_STREAM", "CANCEL", "COMPRESSION_ERROR",
    "CONNECT_ERROR", "ENHANCE_YOUR_CALM", "INADEQUATE_SECURITY", "HTTP_1_1_REQUIRED",
)  # fmt: skip


class NotOfferedError(ProbeError):
    """The server does not speak HTTP/2 here (no h2c prior knowledge, or ALPN chose HTTP/1.1)."""

    def __init__(self, reason: str) -> None:
        super().__init__("not-offered", reason)


@dataclass
class H2Response:
    """The final response on stream 1: status, fields as decoded, body size, trailers."""

    status: int
    headers: list[tuple[bytes, bytes]]
    trailers: list[tuple[bytes, bytes]] = field(default_factory=list)
    body_bytes: int = 0
    informational: list[int] = field(default_factory=list)
    reset: str | None = None


def _frame(kind: int, flags: int, stream: int, payload: bytes = b"") -> bytes:
    return struct.pack(">I", len(payload))[1:] + bytes([kind, flags]) + struct.pack(">I", stream) + payload


def _error_name(code: int) -> str:
    return ERROR_CODES[code] if code < len(ERROR_CODES) else f"0x{code:x}"


class _Reader:
    def __init__(self, sock: socket.socket, deadline: float, timeout: float) -> None:
        self.sock = sock
        self.deadline = deadline
        self.timeout = timeout
        self.buffer = bytearray()
        self.started = False

    def exact(self, count: int) -> bytes:
        while len(self.buffer) < count:
            remaining = self.deadline - time.monotonic()
            if remaining <= 0:
                raise ProbeError("timeout", f"no complete HTTP/2 response within {self.timeout:g}s")
            self.sock.settimeout(remaining)
            try:
                chunk = self.sock.recv(65536)
            except TimeoutError:
                raise ProbeError("timeout", f"no complete HTTP/2 response within {self.timeout:g}s") from None
            except OSError as error:
                chunk = b""
                if not self.started:
                    raise NotOfferedError(
                        f"the server reset the connection after the h2 preface ({error})"
                    ) from None
            if not chunk:
                if not self.started:
                    raise NotOfferedError("the server closed the connection after the HTTP/2 preface")
                raise ProbeError("closed", "the server closed the HTTP/2 connection mid-response")
            self.buffer += chunk
        data = bytes(self.buffer[:count])
        del self.buffer[:count]
        return data

    def frame(self) -> tuple[int, int, int, bytes]:
        head = self.exact(9)
        if not self.started and head.startswith(b"HTTP/"):
            raise NotOfferedError("the server answered the HTTP/2 preface in HTTP/1.x (no h2c)")
        length = int.from_bytes(head[:3], "big")
        kind, flags = head[3], head[4]
        stream = int.from_bytes(head[5:], "big") & 0x7FFFFFFF
        if not self.started and kind != SETTINGS:
            raise NotOfferedError("the server's first bytes are not an HTTP/2 SETTINGS frame (RFC 9113 §3.4)")
        self.started = True
        if length > _MAX_FRAME:
            raise ProbeError("not-http", "HTTP/2 frame larger than any SETTINGS_MAX_FRAME_SIZE")
        return kind, flags, stream, self.exact(length)


def _strip_padding(flags: int, payload: bytes, kind: int) -> bytes:
    start = 0
    end = len(payload)
    if flags & PADDED:
        if not payload:
            raise ProbeError("not-http", "empty padded HTTP/2 frame")
        start = 1
        end -= payload[0]
    if kind == HEADERS and flags & PRIORITY_FLAG:
        start += 5
    if end < start:
        raise ProbeError("not-http", "HTTP/2 padding longer than the frame")
    return payload[start:end]


def request_fields(target: Target, path: str) -> list[tuple[bytes, bytes]]:
    """The request's fields, pseudo-fields first (RFC 9113 §8.3)."""
    return [
        (b":method", b"GET"),
        (b":scheme", target.scheme.encode()),
        (b":authority", target.authority.encode("latin-1", "replace")),
        (b":path", path.encode("latin-1", "replace")),
        (b"user-agent", f"connmw-probe/{__version__}".encode()),
        (b"accept", b"*/*"),
    ]


def fetch(target: Target, path: str, timeout: float, *, insecure: bool) -> H2Response:
    """GET ``path`` over HTTP/2 and return the response on stream 1.

    Raises :class:`NotOfferedError` when the server does not speak HTTP/2 on this URL and
    :class:`~connmw.tool._http1_client.ProbeError` for every other failure.
    """
    sock, alpn = connect(target, timeout, insecure=insecure, alpn=("h2", "http/1.1"))
    try:
        if target.scheme == "https" and alpn != "h2":
            raise NotOfferedError(f"TLS ALPN chose {alpn or 'no protocol'}, not h2")
        settings = struct.pack(">HI", 0x2, 0) + struct.pack(">HI", 0x4, _WINDOW)  # ENABLE_PUSH, WINDOW
        sock.settimeout(timeout)
        try:
            sock.sendall(
                PREFACE
                + _frame(SETTINGS, 0, 0, settings)
                + _frame(WINDOW_UPDATE, 0, 0, struct.pack(">I", _WINDOW - 65535))
                + _frame(HEADERS, END_STREAM | END_HEADERS, 1, encode_headers(request_fields(target, path)))
            )
        except OSError as error:
            raise NotOfferedError(f"the server refused the HTTP/2 preface ({error})") from None
        return _exchange(sock, _Reader(sock, time.monotonic() + timeout, timeout))
    finally:
        with contextlib.suppress(OSError):
            sock.sendall(_frame(GOAWAY, 0, 0, struct.pack(">II", 1, 0)))
        sock.close()


def _control(sock: socket.socket, kind: int, flags: int, payload: bytes, answered: bool) -> None:
    """Connection-level frames: acknowledge SETTINGS and PING; a GOAWAY before the
    response (or one with an error) ends the probe."""
    if kind == SETTINGS and not flags & ACK:
        sock.sendall(_frame(SETTINGS, ACK, 0))
    elif kind == PING and not flags & ACK:
        sock.sendall(_frame(PING, ACK, 0, payload))
    elif kind == GOAWAY:
        last, code = struct.unpack(">II", payload[:8])
        if not (answered and code == 0 and last >= 1):
            raise ProbeError("closed", f"the server sent GOAWAY {_error_name(code)} before answering")
    elif kind == PUSH_PROMISE:
        raise ProbeError("not-http", "PUSH_PROMISE although SETTINGS_ENABLE_PUSH was 0 (RFC 9113 §8.4)")


def _decode(decoder: HpackDecoder, block: bytes) -> list[tuple[bytes, bytes]]:
    try:
        return decoder.decode(block)
    except HpackError as error:
        raise ProbeError("not-http", f"undecodable HTTP/2 header block: {error}") from None


def _exchange(sock: socket.socket, reader: _Reader) -> H2Response:
    decoder = HpackDecoder()
    block = bytearray()
    block_flags = 0
    response: H2Response | None = None
    informational: list[int] = []
    body = 0
    while True:
        kind, flags, stream, payload = reader.frame()
        if stream != 1:
            _control(sock, kind, flags, payload, response is not None)
            continue
        if kind == RST_STREAM:
            (code,) = struct.unpack(">I", payload[:4])
            if response is None:
                raise ProbeError("closed", f"the server reset the stream ({_error_name(code)})")
            response.reset = _error_name(code)
            return response
        if kind == DATA:
            body += len(_strip_padding(flags, payload, kind))
            if flags & END_STREAM and response is not None:
                response.body_bytes = body
                return response
            continue
        if kind not in (HEADERS, CONTINUATION):
            continue
        if kind == HEADERS:
            block, block_flags = bytearray(_strip_padding(flags, payload, kind)), flags
        else:
            block += payload
        if not flags & END_HEADERS:
            continue
        fields = _decode(decoder, bytes(block))
        if response is not None:
            response.trailers = fields
        else:
            status = [value for name, value in fields if name == b":status"]
            if not status or not status[0].isdigit():
                raise ProbeError("not-http", "HTTP/2 response without a valid :status")
            if 100 <= int(status[0]) < 200 and int(status[0]) != 101:
                informational.append(int(status[0]))
                continue
            response = H2Response(int(status[0]), fields, informational=informational)
        if block_flags & END_STREAM:
            response.body_bytes = body
            return response
