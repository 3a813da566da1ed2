"""The probe's own HTTP/2 client and HPACK codec (``connmw.tool._hpack``, ``connmw.tool._http2_client``).

The hpack library (installed with h2, a test dependency) serves as the oracle: what its
encoder produces, connmw's decoder must read, and what connmw's encoder produces, its
decoder must read. Scripted HTTP/2 servers on loopback send what no polite server
would (connection-specific fields, upper-case names, padding, CONTINUATION, resets);
real servers show the baseline's h2c leak and the "no HTTP/2 here" paths.
"""

from __future__ import annotations

import contextlib
import random
import socket
import struct
import threading
from collections.abc import Callable, Iterator

import pytest

from connmw.tool import _findings
from connmw.tool._hpack import _STATIC, HpackDecoder, HpackError, encode_headers, huffman_decode
from connmw.tool._http1_client import ProbeError, parse_target
from connmw.tool._http2_client import NotOfferedError, fetch
from connmw.tool.probe import probe
from tests.wire import ServerPool, TLSFiles, hypercorn_cmd, uvicorn_cmd

hpack = pytest.importorskip("hpack")
from hpack.huffman import HuffmanEncoder  # noqa: E402
from hpack.huffman_constants import REQUEST_CODES, REQUEST_CODES_LENGTH  # noqa: E402

Fields = list[tuple[bytes, bytes]]
APP = "connmw.tool._demo_apps:asgi_app"


def huffman(data: bytes) -> bytes:
    return bytes(HuffmanEncoder(REQUEST_CODES, REQUEST_CODES_LENGTH).encode(data))


# --------------------------------------------------------------------------------------
# HPACK
# --------------------------------------------------------------------------------------


def test_the_static_table_is_rfc_7541_appendix_a() -> None:
    from hpack.table import HeaderTable  # noqa: PLC0415

    assert _STATIC[1:] == tuple(HeaderTable.STATIC_TABLE)
    assert len(_STATIC) == 62


def test_every_huffman_symbol_decodes() -> None:
    for symbol in range(256):
        data = bytes([symbol]) * 3
        assert huffman_decode(huffman(data)) == data, symbol


def test_random_huffman_strings_decode() -> None:
    rng = random.Random(7541)  # noqa: S311 (reproducible test data)
    for _ in range(500):
        data = bytes(rng.randrange(256) for _ in range(rng.randrange(0, 60)))
        assert huffman_decode(huffman(data)) == data


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param(b"\x00", id="padding-of-zeros"),
        pytest.param(huffman(b"a") + b"\xff", id="padding-longer-than-7-bits"),
        pytest.param(b"\xff\xff\xff\xff", id="eos-symbol"),
    ],
)
def test_bad_huffman_strings_are_refused(raw: bytes) -> None:
    with pytest.raises(HpackError):
        huffman_decode(raw)


def test_our_encoder_is_read_by_the_oracle_and_by_us() -> None:
    fields: Fields = [
        (b":method", b"GET"),
        (b":path", b"/" + b"p" * 300),  # lengths past the 7-bit prefix (RFC 7541 §5.1)
        (b"x-" + b"n" * 200, b""),
        (b"user-agent", bytes(range(32, 127))),
    ]
    block = encode_headers(fields)
    assert [(n.encode(), v.encode()) for n, v in hpack.Decoder().decode(block)] == fields
    assert HpackDecoder().decode(block) == fields


def test_the_dynamic_table_follows_the_oracles_encoder() -> None:
    rng = random.Random(9113)  # noqa: S311 (reproducible test data)
    encoder = hpack.Encoder()
    decoder = HpackDecoder()
    for round_number in range(60):
        if round_number == 20:
            encoder.header_table_size = 256  # emits a size update; forces evictions
        if round_number == 40:
            encoder.header_table_size = 4096
        fields: Fields = [(b":status", rng.choice([b"200", b"404", b"101", b"503"]))]
        for _ in range(rng.randrange(1, 8)):
            name = rng.choice(
                [b"content-type", b"x-hop", b"date", b"set-cookie", b"x-%d" % rng.randrange(40)]
            )
            fields.append((name, bytes(rng.randrange(33, 127) for _ in range(rng.randrange(0, 50)))))
        assert decoder.decode(encoder.encode(fields, huffman=rng.random() < 0.7)) == fields


@pytest.mark.parametrize(
    "block",
    [
        pytest.param(b"\xbf\x20", id="index-beyond-both-tables"),
        pytest.param(b"\x80", id="index-zero"),
        pytest.param(b"\x00\x05ab", id="truncated-string"),
        pytest.param(b"\x00\x7f", id="truncated-integer"),
        pytest.param(b"\x88\x20", id="size-update-after-a-field"),
        pytest.param(b"\x3f\xe2\x1f", id="size-update-above-the-limit"),
    ],
)
def test_bad_blocks_are_refused(block: bytes) -> None:
    with pytest.raises(HpackError):
        HpackDecoder().decode(block)


# --------------------------------------------------------------------------------------
# Scripted HTTP/2 servers
# --------------------------------------------------------------------------------------


def frame(kind: int, flags: int, stream: int, payload: bytes = b"") -> bytes:
    return struct.pack(">I", len(payload))[1:] + bytes([kind, flags]) + struct.pack(">I", stream) + payload


def read_request(conn: socket.socket) -> bytes:
    """Read the client preface and frames up to the request's END_HEADERS."""
    data = b""
    while True:
        chunk = conn.recv(65536)
        if not chunk:
            return data
        data += chunk
        position = 24
        while position + 9 <= len(data):
            length = int.from_bytes(data[position : position + 3], "big")
            kind, flags = data[position + 3], data[position + 4]
            if kind == 1 and flags & 0x4:
                return data
            position += 9 + length


H2Script = Callable[[socket.socket], None]


class H2Server:
    """Loopback server: reads a request, then runs ``script`` on the connection."""

    def __init__(self, script: H2Script) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}/"
        self.script = script
        self.requests: list[bytes] = []
        self.after: list[bytes] = []
        self.done = threading.Event()
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            with conn:
                self.requests.append(read_request(conn))
                with contextlib.suppress(OSError):  # a client that hung up early
                    self.script(conn)
                rest = b""
                with contextlib.suppress(OSError):
                    while chunk := conn.recv(65536):
                        rest += chunk
                self.after.append(rest)
                self.done.set()


@pytest.fixture
def h2server() -> Iterator[Callable[[H2Script], H2Server]]:
    servers: list[H2Server] = []

    def start(script: H2Script) -> H2Server:
        servers.append(H2Server(script))
        return servers[-1]

    yield start
    for server in servers:
        server.listener.close()


def respond(
    fields: Fields, *, split: bool = False, padded: bool = False, trailers: Fields | None = None
) -> H2Script:
    def script(conn: socket.socket) -> None:
        block = hpack.Encoder().encode(fields, huffman=True)
        out = frame(4, 0, 0) + frame(4, 1, 0) + frame(6, 0, 0, b"12345678")  # SETTINGS, ACK, PING
        if padded:
            out += frame(1, 0x8 | 0x4, 1, b"\x03" + block + b"\x00\x00\x00")
        elif split:
            out += frame(1, 0, 1, block[:3]) + frame(9, 0, 1, block[3:6]) + frame(9, 0x4, 1, block[6:])
        else:
            out += frame(1, 0x4, 1, block)
        out += frame(0, 0 if trailers else 0x1, 1, b"hello")
        if trailers:
            out += frame(1, 0x4 | 0x1, 1, hpack.Encoder().encode(trailers))
        conn.sendall(out)

    return script


def get(server: H2Server) -> tuple[int, Fields, Fields, int]:
    response = fetch(parse_target(server.url), "/", 2.0, insecure=False)
    return response.status, response.headers, response.trailers, response.body_bytes


def frames(data: bytes) -> list[tuple[int, int, int, bytes]]:
    """(type, flags, stream, payload) of every complete frame in ``data``."""
    found = []
    while len(data) >= 9:
        length = int.from_bytes(data[:3], "big")
        found.append((data[3], data[4], int.from_bytes(data[5:9], "big"), data[9 : 9 + length]))
        data = data[9 + length :]
    return found


@pytest.mark.parametrize(
    ("split", "padded"),
    [(False, False), (True, False), (False, True)],
    ids=["one-frame", "continuation", "padded"],
)
def test_a_response_is_read_whatever_the_framing(
    h2server: Callable[[H2Script], H2Server], split: bool, padded: bool
) -> None:
    fields: Fields = [(b":status", b"200"), (b"content-type", b"text/plain"), (b"x-long", b"v" * 200)]
    server = h2server(respond(fields, split=split, padded=padded))
    assert get(server) == (200, fields, [], 5)
    request = server.requests[0]
    assert request.startswith(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
    sent = frames(request[24:])
    assert sent[0][:3] == (4, 0, 0)  # SETTINGS first (RFC 9113 §3.4)
    assert sent[-1][:3] == (1, 0x5, 1)  # HEADERS, END_STREAM | END_HEADERS, stream 1
    server.done.wait(2)
    answers = [(kind, flags, payload) for kind, flags, _, payload in frames(server.after[0])]
    assert (4, 1, b"") in answers  # SETTINGS ACK (RFC 9113 §6.5.3)
    assert (6, 1, b"12345678") in answers  # PING ACK with the same payload (§6.7)
    assert answers[-1][0] == 7  # GOAWAY last


def test_trailers_are_read(h2server: Callable[[H2Script], H2Server]) -> None:
    server = h2server(respond([(b":status", b"200")], trailers=[(b"x-checksum", b"1")]))
    assert get(server)[2] == [(b"x-checksum", b"1")]


def test_connection_specific_and_upper_case_fields_are_findings(
    h2server: Callable[[H2Script], H2Server],
) -> None:
    fields: Fields = [
        (b":status", b"200"),
        (b"connection", b"keep-alive"),
        (b"transfer-encoding", b"chunked"),
        (b"X-Upper", b"1"),
        (b"x-hop", b"secret"),
        (b"proxy-authenticate", b"Basic"),
    ]
    server = h2server(respond(fields))
    status, headers, trailers, _ = get(server)
    findings, leaked = _findings.http2(status, headers, trailers, frozenset({b"x-hop"}), None)
    assert {(f.code, f.rfc) for f in findings} == {
        ("h2-connection-field", "RFC 9113 §8.2.2"),
        ("h2-uppercase-field", "RFC 9113 §8.2.1"),
        ("hop-by-hop-leak", "RFC 9113 §8.2.2"),
    }
    assert leaked == ["connection", "proxy-authenticate", "transfer-encoding", "x-hop"]


@pytest.mark.parametrize(
    ("script", "error", "reason"),
    [
        pytest.param(
            lambda c: c.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n"),
            NotOfferedError, "HTTP/1.x", id="http1-answer",
        ),
        pytest.param(lambda c: c.close(), NotOfferedError, "closed", id="hang-up"),
        pytest.param(
            lambda c: c.sendall(frame(4, 0, 0) + frame(3, 0, 1, struct.pack(">I", 7))),
            ProbeError, "REFUSED_STREAM", id="rst-stream",
        ),
        pytest.param(
            lambda c: c.sendall(frame(4, 0, 0) + frame(7, 0, 0, struct.pack(">II", 0, 1))),
            ProbeError, "GOAWAY PROTOCOL_ERROR", id="goaway",
        ),
        pytest.param(
            lambda c: c.sendall(frame(1, 0x4, 1, b"\x88")),
            NotOfferedError, "SETTINGS", id="not-settings-first",
        ),
        pytest.param(
            lambda c: c.sendall(frame(4, 0, 0) + frame(1, 0x4, 1, b"\xff\xff")),
            ProbeError, "undecodable", id="bad-hpack",
        ),
    ],
)  # fmt: skip
def test_failures(
    h2server: Callable[[H2Script], H2Server], script: H2Script, error: type[Exception], reason: str
) -> None:
    server = h2server(script)
    with pytest.raises(error) as caught:
        get(server)
    assert type(caught.value) is error
    assert reason in str(caught.value)


def test_silence_is_a_timeout(h2server: Callable[[H2Script], H2Server]) -> None:
    server = h2server(lambda conn: None)
    with pytest.raises(ProbeError, match=r"no complete HTTP/2 response within 0\.5s") as caught:
        fetch(parse_target(server.url), "/", 0.5, insecure=False)
    assert caught.value.kind == "timeout"


# --------------------------------------------------------------------------------------
# Real servers
# --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def hypercorn_hoppy(serve_module: ServerPool) -> str:
    """hypercorn (HTTP/1.1 and h2c on one port) serving the demo apps."""
    return serve_module.shared("hypercorn", lambda port: hypercorn_cmd(APP, port)).url + "/"


def test_hypercorn_h2c_leaks_the_field_connection_nominated(hypercorn_hoppy: str) -> None:
    """docs/servers.md: the h2 library drops Connection & co but not ``x-hop``."""
    report = probe(hypercorn_hoppy + "hoppy", http2=True, timeout=3)
    h2 = report.cases[-1]
    assert h2.case.id == "h2-get"
    assert (h2.status, h2.response_version, h2.connection) == (200, "2", [])
    assert h2.leaked == ["x-hop"]
    assert [f.code for f in h2.findings] == ["hop-by-hop-leak"]


def test_hypercorn_h2c_plain_route_is_clean(hypercorn_hoppy: str) -> None:
    h2 = probe(hypercorn_hoppy, http2=True, timeout=3).cases[-1]
    assert (h2.status, h2.verdict, h2.findings) == (200, "ok", [])


def test_a_server_without_http2_is_a_note_not_a_fault(serve: ServerPool) -> None:
    server = serve(lambda port: uvicorn_cmd(APP, port))
    report = probe(server.url, http2=True, timeout=3)
    h2 = report.cases[-1]
    assert h2.verdict == "skipped"
    assert [(f.severity, f.code) for f in h2.findings] == [("info", "h2-not-offered")]
    assert report.exit_code() == 0


def test_http2_over_tls_with_alpn(serve: ServerPool, tls_files: TLSFiles) -> None:
    server = serve(
        lambda port: hypercorn_cmd(APP, port, certfile=tls_files.certfile, keyfile=tls_files.keyfile),
        scheme="https",
    )
    report = probe(server.url + "/hoppy", http2=True, insecure=True, timeout=3)
    h2 = report.cases[-1]
    assert (h2.status, h2.response_version, h2.leaked) == (200, "2", ["x-hop"])
    assert report.cases[0].status == 200  # HTTP/1.1 over the same TLS port, by ALPN
