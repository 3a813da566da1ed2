"""A small HPACK (RFC 7541) encoder and decoder for ``connmw probe --http2``.

The probe sends one request and reads one response, so the encoder is the simplest
one the RFC allows: every field a "literal header field without indexing" with a new,
raw (non-Huffman) name and value (§6.2.2). The decoder must read whatever a real
server sends, so it implements all of §6: the static table (Appendix A), the dynamic
table with eviction and size updates (§4), integers with prefixes (§5.1) and Huffman
strings (§5.2, Appendix B).

The Huffman code of Appendix B is canonical: within one code length, codes are
consecutive and ordered by symbol, and each length starts where the previous one
ended, shifted. So the table below only lists which symbols have which code length;
:func:`_build_huffman` rebuilds the codes from that.
"""

from __future__ import annotations

from typing import Final

__all__ = ["HpackDecoder", "HpackError", "encode_headers", "huffman_decode"]


class HpackError(ValueError):
    """A header block that does not decode (RFC 7541 §4, §5, §6): a COMPRESSION_ERROR."""


Field = tuple[bytes, bytes]

# RFC 7541 Appendix A. Index 0 is unused; lookups are 1-based.
_STATIC: Final[tuple[Field, ...]] = (
    (b"", b""),
    (b":authority", b""),
    (b":method", b"GET"),
    (b":method", b"POST"),
    (b":path", b"/"),
    (b":path", b"/index.html"),
    (b":scheme", b"http"),
    (b":scheme", b"https"),
    (b":status", b"200"),
    (b":status", b"204"),
    (b":status", b"206"),
    (b":status", b"304"),
    (b":status", b"400"),
    (b":status", b"404"),
    (b":status", b"500"),
    *(
        (name, b"gzip, deflate" if name == b"accept-encoding" else b"")
        for name in (
            b"accept-charset accept-encoding accept-language accept-ranges accept "
            b"access-control-allow-origin age allow authorization cache-control "
            b"content-disposition content-encoding content-language content-length "
            b"content-location content-range content-type cookie date etag expect expires "
            b"from host if-match if-modified-since if-none-match if-range "
            b"if-unmodified-since last-modified link location max-forwards "
            b"proxy-authenticate proxy-authorization range referer refresh retry-after "
            b"server set-cookie strict-transport-security transfer-encoding user-agent "
            b"vary via www-authenticate"
        ).split()
    ),
)

# RFC 7541 Appendix B, as "code length -> the symbols with that length, in order".
_LENGTHS: Final[dict[int, bytes]] = {
    5: b"012aceiost",
    6: b" %-./3456789=A_bdfghlmnpru",
    7: b":BCDEFGHIJKLMNOPQRSTUVWYjkqvwxyz",
    8: b"&*,;XZ",
    10: b'!"()?',
    11: b"'+|",
    12: b"#>",
    13: b"\x00$@[]~",
    14: b"^}",
    15: b"<`{",
    19: bytes.fromhex("5cc3d0"),
    20: bytes.fromhex("808283a2b8c2e0e2"),
    21: bytes.fromhex("99a1a7acb0b1b3d1d8d9e3e5e6"),
    22: bytes.fromhex("8184858688929a9ca0a3a4a9aaadb2b5b9babbbdbec4c6e4e8e9"),
    23: bytes.fromhex("0187898a8b8c8d8f93959697989b9d9ea5a6a8aeafb4b6b7bcbfc5e7ef"),
    24: bytes.fromhex("098e9091949fabced7e1eced"),
    25: bytes.fromhex("c7cfeaeb"),
    26: bytes.fromhex("c0c1c8c9cacdd2d5dadbeef0f2f3ff"),
    27: bytes.fromhex("cbccd3d4d6dddedff1f4f5f6f7f8fafbfcfdfe"),
    28: bytes.fromhex("020304050607080b0c0e0f1011121314151718191a1b1c1d1e1f7fdcf9"),
    30: b"\n\r\x16",  # and EOS (256), the last code of all
}
_EOS: Final = 256


def _build_huffman() -> dict[tuple[int, int], int]:
    """``(length, code) -> symbol`` for every code of Appendix B, EOS included."""
    table: dict[tuple[int, int], int] = {}
    code = 0
    previous = 0
    for length in sorted(_LENGTHS):
        symbols = list(_LENGTHS[length])
        if length == 30:
            symbols.append(_EOS)
        code <<= length - previous
        for symbol in symbols:
            table[(length, code)] = symbol
            code += 1
        previous = length
    return table


_HUFFMAN: Final = _build_huffman()


def huffman_decode(data: bytes) -> bytes:
    """Decode a Huffman-coded string literal (RFC 7541 §5.2).

    Padding must be fewer than 8 bits, all ones (a prefix of EOS); EOS itself must not
    appear. Anything else raises :class:`HpackError`.
    """
    out = bytearray()
    code = 0
    length = 0
    for byte in data:
        for shift in range(7, -1, -1):
            code = (code << 1) | ((byte >> shift) & 1)
            length += 1
            symbol = _HUFFMAN.get((length, code))
            if symbol is not None:
                if symbol == _EOS:
                    raise HpackError("EOS inside a Huffman string (RFC 7541 §5.2)")
                out.append(symbol)
                code = 0
                length = 0
            elif length > 30:
                raise HpackError("invalid Huffman code")
    if length > 7 or code != (1 << length) - 1:
        raise HpackError("invalid Huffman padding (RFC 7541 §5.2)")
    return bytes(out)


def _encode_integer(value: int, prefix_bits: int, first: int) -> bytes:
    """RFC 7541 §5.1: ``first`` holds the representation's flag bits above the prefix."""
    limit = (1 << prefix_bits) - 1
    if value < limit:
        return bytes([first | value])
    out = bytearray([first | limit])
    value -= limit
    while value >= 128:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _encode_string(value: bytes) -> bytes:
    return _encode_integer(len(value), 7, 0x00) + value  # H bit clear: raw octets


def encode_headers(fields: list[Field]) -> bytes:
    """A header block of literal fields without indexing, new names (RFC 7541 §6.2.2)."""
    block = bytearray()
    for name, value in fields:
        block.append(0x00)
        block += _encode_string(name)
        block += _encode_string(value)
    return bytes(block)


class HpackDecoder:
    """Decodes header blocks, keeping the dynamic table between blocks (RFC 7541 §2.3).

    ``max_table_size`` is the SETTINGS_HEADER_TABLE_SIZE the client announced (the
    protocol default, 4096, unless the probe said otherwise).
    """

    def __init__(self, max_table_size: int = 4096) -> None:
        self._limit = max_table_size
        self._size_cap = max_table_size
        self._dynamic: list[Field] = []
        self._size = 0

    def decode(self, block: bytes) -> list[Field]:
        """The fields of one complete header block, in order, duplicates kept."""
        fields: list[Field] = []
        pos = 0
        seen_field = False
        while pos < len(block):
            byte = block[pos]
            if byte & 0x80:  # §6.1 indexed field
                index, pos = self._integer(block, pos, 7)
                fields.append(self._lookup(index))
                seen_field = True
            elif byte & 0x40:  # §6.2.1 literal with incremental indexing
                field, pos = self._literal(block, pos, 6)
                fields.append(field)
                self._insert(field)
                seen_field = True
            elif byte & 0x20:  # §6.3 dynamic table size update
                if seen_field:
                    raise HpackError("table size update after a field (RFC 7541 §4.2)")
                size, pos = self._integer(block, pos, 5)
                if size > self._size_cap:
                    raise HpackError("table size update above the announced limit")
                self._limit = size
                self._evict()
            else:  # §6.2.2 without indexing, §6.2.3 never indexed: 4-bit prefix
                field, pos = self._literal(block, pos, 4)
                fields.append(field)
                seen_field = True
        return fields

    def _integer(self, data: bytes, pos: int, prefix_bits: int) -> tuple[int, int]:
        limit = (1 << prefix_bits) - 1
        value = data[pos] & limit
        pos += 1
        if value < limit:
            return value, pos
        shift = 0
        while True:
            if pos >= len(data):
                raise HpackError("truncated integer")
            byte = data[pos]
            pos += 1
            value += (byte & 0x7F) << shift
            shift += 7
            if not byte & 0x80:
                return value, pos
            if shift > 28:
                raise HpackError("integer too large")

    def _string(self, data: bytes, pos: int) -> tuple[bytes, int]:
        if pos >= len(data):
            raise HpackError("truncated string")
        huffman = bool(data[pos] & 0x80)
        length, pos = self._integer(data, pos, 7)
        end = pos + length
        if end > len(data):
            raise HpackError("truncated string")
        raw = data[pos:end]
        return (huffman_decode(raw) if huffman else raw), end

    def _literal(self, data: bytes, pos: int, prefix_bits: int) -> tuple[Field, int]:
        index, pos = self._integer(data, pos, prefix_bits)
        if index:
            name = self._lookup(index)[0]
        else:
            name, pos = self._string(data, pos)
        value, pos = self._string(data, pos)
        return (name, value), pos

    def _lookup(self, index: int) -> Field:
        if 0 < index < len(_STATIC):
            return _STATIC[index]
        dynamic = index - len(_STATIC)
        if index == 0 or dynamic >= len(self._dynamic):
            raise HpackError(f"header table index {index} out of range (RFC 7541 §2.3.3)")
        return self._dynamic[dynamic]

    def _insert(self, field: Field) -> None:
        self._dynamic.insert(0, field)
        self._size += len(field[0]) + len(field[1]) + 32  # RFC 7541 §4.1
        self._evict()

    def _evict(self) -> None:
        while self._size > self._limit and self._dynamic:
            name, value = self._dynamic.pop()
            self._size -= len(name) + len(value) + 32
