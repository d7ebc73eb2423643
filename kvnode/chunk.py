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
from kvnode.fields import Buffer, uint
from kvnode.limits import CHUNK_HEADER_BYTES

MAGIC = b"KC"
_HEAD = struct.Struct("<2sBBQHHI")  # everything before the crc
_CRC = struct.Struct("<I")
assert _HEAD.size + _CRC.size == CHUNK_HEADER_BYTES
#: No chunk can be longer than this, whatever its length fields say.
FORMAT_CHUNK_BYTES_MAX = CHUNK_HEADER_BYTES + 0xFFFF + 0xFFFFFFFF


class Kind(enum.IntEnum):
    """What a chunk holds. Values are on-disk tags and are never reused."""

    PUT = 1
    TOMBSTONE = 2
    INDEX = 3
    SUPERBLOCK = 4


_KINDS = tuple(int(k) for k in Kind)  # a tuple: see `kvnode.fields` on hashing


def crc32c(*parts: Buffer) -> int:
    """CRC-32C (Castagnoli) of the concatenation of `parts`, hardware-accelerated where the CPU
    allows. Every checksum in the node goes through here, so the symbolic checks can stand in a
    checksum the solver can reason about (see `kvcheck.codecs.crosshair_plugin`)."""
    crc = 0
    for part in parts:
        crc = google_crc32c.extend(crc, bytes(part))
    return int(crc)


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
    return b"".join((head, _CRC.pack(_checksum(head, key, value)), key, value))


def decode_header(buf: Buffer, limit: int = FORMAT_CHUNK_BYTES_MAX) -> Header:
    """Parse and sanity-check the first `CHUNK_HEADER_BYTES` of `buf`, refusing a header that
    announces a chunk longer than `limit` bytes: a length field is never trusted unbounded.

    pre: CHUNK_HEADER_BYTES <= limit
    raises: CorruptChunk
    post: CHUNK_HEADER_BYTES <= __return__.total_bytes <= limit
    """
    if len(buf) < CHUNK_HEADER_BYTES:
        raise CorruptChunk(f"truncated header: {len(buf)} of {CHUNK_HEADER_BYTES} bytes")
    if buf[0:2] != MAGIC:
        raise CorruptChunk(f"bad magic {bytes(buf[0:2])!r}")
    kind = buf[2]
    if kind not in _KINDS:
        raise CorruptChunk(f"unknown kind {kind}")
    if buf[3] or buf[14] or buf[15]:
        raise CorruptChunk("reserved header bits are set")
    key_len = uint(buf, 12, 2)
    value_len = uint(buf, 16, 4)
    total = CHUNK_HEADER_BYTES + key_len + value_len
    if total > limit:
        raise CorruptChunk(f"header announces {total} bytes, more than the {limit} allowed")
    return Header(Kind(kind), uint(buf, 4, 8), key_len, value_len, uint(buf, 20, 4))


def decode(buf: Buffer) -> Chunk:
    """Decode exactly one chunk that fills `buf`; raise `CorruptChunk` otherwise.

    raises: CorruptChunk
    post: __return__.encoded_bytes == len(buf)
    post: crc32c(buf[:20], buf[CHUNK_HEADER_BYTES:]) == uint(buf, 20, 4)
    post: buf[CHUNK_HEADER_BYTES:] == __return__.key + __return__.value
    """
    header = decode_header(buf)
    if header.total_bytes != len(buf):
        raise CorruptChunk(f"length mismatch: header says {header.total_bytes}, have {len(buf)}")
    return _checked(header, buf)


def decode_prefix(buf: Buffer, limit: int = FORMAT_CHUNK_BYTES_MAX) -> Chunk:
    """Decode the chunk at the start of `buf`, which may be followed by other bytes.

    pre: CHUNK_HEADER_BYTES <= limit
    raises: CorruptChunk
    post: __return__.encoded_bytes <= min(len(buf), limit)
    """
    header = decode_header(buf, limit)
    if header.total_bytes > len(buf):
        raise CorruptChunk(f"truncated chunk: {len(buf)} of {header.total_bytes} bytes")
    return _checked(header, buf[: header.total_bytes])


_FULL = struct.Struct("<2sBBQHHII")


def decode_value(buf: bytes, kind: Kind, key: bytes, seq: int) -> bytes:
    """The value of the chunk that fills `buf`, which must have this kind, key and seq.

    The read path's fast equivalent of `decode` followed by comparing the fields: it builds no
    objects, but accepts exactly the byte strings `decode` accepts and whose fields match.
    It parses with `struct` for speed, so it is tested against `decode`, not checked
    symbolically.
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
    key_end = CHUNK_HEADER_BYTES + key_len
    value = buf[key_end:]
    computed = _checksum(buf[: _HEAD.size], buf[CHUNK_HEADER_BYTES:key_end], value)
    if computed != crc:
        raise CorruptChunk(f"checksum mismatch (stored {crc:#010x}, computed {computed:#010x})")
    if buf[CHUNK_HEADER_BYTES:key_end] != key:
        raise CorruptChunk("chunk holds another key")
    return value


def _checked(header: Header, buf: Buffer) -> Chunk:
    key_end = CHUNK_HEADER_BYTES + header.key_len
    key, value = bytes(buf[CHUNK_HEADER_BYTES:key_end]), bytes(buf[key_end:])
    computed = _checksum(buf[: _HEAD.size], key, value)
    if computed != header.crc:
        raise CorruptChunk(
            f"checksum mismatch (stored {header.crc:#010x}, computed {computed:#010x})"
        )
    return Chunk(header.kind, header.seq, key, value)


def _checksum(head: Buffer, key: Buffer, value: Buffer) -> int:
    """The checksum a chunk stores: everything in it but the checksum field itself. The encoder
    and both decoders share it, so they cannot disagree about what it covers."""
    return crc32c(head, key, value)
