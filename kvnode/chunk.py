"""The chunk codec: the unit of everything written to an extent. Pure: no I/O.

Byte layout (little-endian), `CHUNK_HEADER_BYTES` = 24:

    offset  size  field
    0       2     magic  b"KC"
    2       1     kind   1 put, 2 tombstone, 3 index run, 4 superblock (tags never reused)
    3       1     flags  0 (reserved)
    4       8     seq    sequence number (the superblock generation for superblock chunks)
    12      2     key_len
    14      2     reserved, 0
    16      4     value_len
    20      4     crc    CRC-32C over bytes 0..20, then key, then value
    24      ...   key (key_len bytes), value (value_len bytes)

`decode` of any byte string returns a `Chunk` or raises `CorruptChunk`, nothing else.
"""

from __future__ import annotations

import enum
import struct

import attrs
import google_crc32c

from kvnode.errors import CorruptChunk
from kvnode.limits import CHUNK_HEADER_BYTES

MAGIC = b"KC"
_HEAD = struct.Struct("<2sBBQHHI")  # everything before the crc
_CRC = struct.Struct("<I")
assert _HEAD.size + _CRC.size == CHUNK_HEADER_BYTES


class Kind(enum.IntEnum):
    """What a chunk holds. Values are on-disk tags and are never reused."""

    PUT = 1
    TOMBSTONE = 2
    INDEX = 3
    SUPERBLOCK = 4


_KINDS = frozenset(int(k) for k in Kind)


def crc32c(data: bytes | bytearray | memoryview) -> int:
    """CRC-32C (Castagnoli) of `data`, hardware-accelerated where the CPU allows."""
    return int(google_crc32c.value(bytes(data)))


@attrs.frozen
class Chunk:
    """A decoded chunk."""

    kind: Kind
    seq: int
    key: bytes
    value: bytes

    @property
    def encoded_bytes(self) -> int:
        """Length of this chunk on disk."""
        return CHUNK_HEADER_BYTES + len(self.key) + len(self.value)


@attrs.frozen
class Header:
    """A chunk header whose fields are well formed (its crc is not yet checked)."""

    kind: Kind
    seq: int
    key_len: int
    value_len: int
    crc: int

    @property
    def total_bytes(self) -> int:
        """Length of the whole chunk this header starts."""
        return CHUNK_HEADER_BYTES + self.key_len + self.value_len


def encode(kind: Kind, seq: int, key: bytes, value: bytes) -> bytes:
    """Encode one chunk.

    pre: 0 <= seq < 2**64
    pre: len(key) < 2**16 and len(value) < 2**32
    post: decode(__return__) == Chunk(kind, seq, key, value)
    """
    head = _HEAD.pack(MAGIC, kind, 0, seq, len(key), 0, len(value))
    crc = google_crc32c.extend(google_crc32c.value(head), key)
    crc = google_crc32c.extend(crc, value)
    return b"".join((head, _CRC.pack(crc), key, value))


def decode_header(buf: bytes | bytearray | memoryview) -> Header:
    """Parse and sanity-check the first `CHUNK_HEADER_BYTES` of `buf`."""
    if len(buf) < CHUNK_HEADER_BYTES:
        raise CorruptChunk(f"truncated header: {len(buf)} of {CHUNK_HEADER_BYTES} bytes")
    magic, kind, flags, seq, key_len, reserved, value_len = _HEAD.unpack_from(buf, 0)
    if magic != MAGIC:
        raise CorruptChunk(f"bad magic {bytes(magic)!r}")
    if kind not in _KINDS:
        raise CorruptChunk(f"unknown kind {kind}")
    if flags or reserved:
        raise CorruptChunk("reserved header bits are set")
    (crc,) = _CRC.unpack_from(buf, _HEAD.size)
    return Header(Kind(kind), seq, key_len, value_len, crc)


def decode(buf: bytes | bytearray | memoryview) -> Chunk:
    """Decode exactly one chunk that fills `buf`; raise `CorruptChunk` otherwise."""
    header = decode_header(buf)
    if header.total_bytes != len(buf):
        raise CorruptChunk(f"length mismatch: header says {header.total_bytes}, have {len(buf)}")
    return _checked(header, buf)


def decode_prefix(buf: bytes | bytearray | memoryview) -> Chunk:
    """Decode the chunk at the start of `buf`, which may be followed by other bytes."""
    header = decode_header(buf)
    if header.total_bytes > len(buf):
        raise CorruptChunk(f"truncated chunk: {len(buf)} of {header.total_bytes} bytes")
    return _checked(header, memoryview(buf)[: header.total_bytes])


_FULL = struct.Struct("<2sBBQHHII")


def decode_value(buf: bytes, kind: Kind, key: bytes, seq: int) -> bytes:
    """The value of the chunk that fills `buf`, which must have this kind, key and seq.

    The read path's fast equivalent of `decode` followed by comparing the fields: it builds no
    objects, but accepts exactly the byte strings `decode` accepts and whose fields match.
    """
    if len(buf) < CHUNK_HEADER_BYTES:
        raise CorruptChunk(f"truncated header: {len(buf)} of {CHUNK_HEADER_BYTES} bytes")
    magic, got_kind, flags, got_seq, key_len, reserved, value_len, crc = _FULL.unpack_from(buf)
    if magic != MAGIC or flags or reserved:
        raise CorruptChunk("bad magic or reserved bits in header")
    if got_kind != kind or got_seq != seq or key_len != len(key):
        raise CorruptChunk(
            f"expected {kind.name} chunk seq {seq}, found kind {got_kind} seq {got_seq}"
        )
    if CHUNK_HEADER_BYTES + key_len + value_len != len(buf):
        raise CorruptChunk("length mismatch")
    computed = google_crc32c.extend(
        google_crc32c.value(buf[: _HEAD.size]), buf[CHUNK_HEADER_BYTES:]
    )
    if computed != crc:
        raise CorruptChunk(f"checksum mismatch (stored {crc:#010x}, computed {computed:#010x})")
    key_end = CHUNK_HEADER_BYTES + key_len
    if buf[CHUNK_HEADER_BYTES:key_end] != key:
        raise CorruptChunk("chunk holds another key")
    return buf[key_end:]


def _checked(header: Header, buf: bytes | bytearray | memoryview) -> Chunk:
    view = memoryview(buf)
    crc = google_crc32c.extend(
        google_crc32c.value(bytes(view[: _HEAD.size])), bytes(view[CHUNK_HEADER_BYTES:])
    )
    if crc != header.crc:
        raise CorruptChunk(f"checksum mismatch (stored {header.crc:#010x}, computed {crc:#010x})")
    key_end = CHUNK_HEADER_BYTES + header.key_len
    return Chunk(
        header.kind, header.seq, bytes(view[CHUNK_HEADER_BYTES:key_end]), bytes(view[key_end:])
    )
