"""The superblock: the root of recovery. Pure: no I/O.

Superblock records are chunks of kind SUPERBLOCK appended to extents 0 and 1; the chunk's `seq`
is the record's generation and its value is the body below (little-endian):

    offset  size  field
    0       8     covers_seq    the index run reflects every mutation with seq <= covers_seq
    8       8     durable_seq   every chunk with seq <= durable_seq was synced before this record
    16      4     active_extent the extent client writes append to
    20      4     index_extent  where the index run chunk lives (NO_EXTENT: no run yet)
    24      4     index_offset
    28      4     index_length
    32      4     extent_count  number of entries that follow
    36      5*n   per extent: state u8 (0 free, 1 log, 2 superblock), soft write pointer u32

A torn or damaged record fails its chunk checksum, so recovery takes the newest record that
decodes: a superblock update is atomic under torn writes. Records are only appended; when one
superblock extent is full the other is reset and written, and the full one is left intact until
the new extent holds a durable record.
"""

from __future__ import annotations

import enum
import struct

import attrs

from kvnode.chunk import Kind, decode_prefix, encode
from kvnode.errors import CorruptChunk

NO_EXTENT = 0xFFFFFFFF
_BODY = struct.Struct("<QQIIIII")
_ENTRY = struct.Struct("<BI")


class ExtentState(enum.IntEnum):
    """What an extent is used for. Values are on-disk tags."""

    FREE = 0
    LOG = 1
    SUPERBLOCK = 2


_STATES = frozenset(int(s) for s in ExtentState)


@attrs.frozen
class Superblock:
    """One superblock record."""

    generation: int
    covers_seq: int
    durable_seq: int
    active_extent: int
    index_extent: int
    index_offset: int
    index_length: int
    states: tuple[ExtentState, ...]
    soft_wps: tuple[int, ...]

    def encode(self) -> bytes:
        """The record as a SUPERBLOCK chunk."""
        body = [
            _BODY.pack(
                self.covers_seq,
                self.durable_seq,
                self.active_extent,
                self.index_extent,
                self.index_offset,
                self.index_length,
                len(self.states),
            )
        ]
        body.extend(_ENTRY.pack(s, w) for s, w in zip(self.states, self.soft_wps, strict=True))
        return encode(Kind.SUPERBLOCK, self.generation, b"", b"".join(body))

    @classmethod
    def decode(cls, buf: bytes | bytearray | memoryview) -> Superblock:
        """Decode the record at the start of `buf`; raise `CorruptChunk` if it is not one."""
        chunk = decode_prefix(buf)
        if chunk.kind is not Kind.SUPERBLOCK or chunk.key:
            raise CorruptChunk(f"expected a superblock chunk, found {chunk.kind.name}")
        return cls._from_body(chunk.seq, chunk.value)

    @classmethod
    def _from_body(cls, generation: int, body: bytes) -> Superblock:
        if len(body) < _BODY.size:
            raise CorruptChunk("superblock body too short")
        covers, durable, active, ix_ext, ix_off, ix_len, count = _BODY.unpack_from(body, 0)
        if len(body) != _BODY.size + count * _ENTRY.size:
            raise CorruptChunk(f"superblock body of {len(body)} bytes for {count} extents")
        states: list[ExtentState] = []
        wps: list[int] = []
        for i in range(count):
            state, wp = _ENTRY.unpack_from(body, _BODY.size + i * _ENTRY.size)
            if state not in _STATES:
                raise CorruptChunk(f"unknown extent state {state} for extent {i}")
            states.append(ExtentState(state))
            wps.append(wp)
        return cls(
            generation, covers, durable, active, ix_ext, ix_off, ix_len, tuple(states), tuple(wps)
        )


def record_bytes(extent_count: int) -> int:
    """Size of one encoded superblock record for a disk of `extent_count` extents."""
    from kvnode.limits import CHUNK_HEADER_BYTES

    return CHUNK_HEADER_BYTES + _BODY.size + extent_count * _ENTRY.size
