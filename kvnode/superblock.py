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

Every record of a geometry has the same size, so records lie at fixed positions. A torn or
damaged record fails its chunk checksum, and recovery takes the newest record that decodes at
any position: a superblock update is atomic under torn writes, and a damaged record hides no
newer valid one. Records are only appended; when one
superblock extent is full the other is reset and written, and the full one is left intact until
the new extent holds a durable record.
"""

from __future__ import annotations

import enum

import attrs

from kvnode.chunk import Kind, decode_prefix, encode
from kvnode.errors import CorruptChunk
from kvnode.fields import Buffer, uint
from kvnode.limits import CHUNK_HEADER_BYTES

NO_EXTENT = 0xFFFFFFFF
#: Bytes of the body's fixed part, and of each per-extent entry.
BODY_BYTES = 36
ENTRY_BYTES = 5


class ExtentState(enum.IntEnum):
    """What an extent is used for. Values are on-disk tags."""

    FREE = 0
    LOG = 1
    SUPERBLOCK = 2


_STATES = tuple(int(s) for s in ExtentState)  # a tuple: see `kvnode.fields` on hashing


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

    @property
    def encoded_bytes(self) -> int:
        """Size of the encoded record."""
        return record_bytes(len(self.states))

    def encode(self) -> bytes:
        """The record as a SUPERBLOCK chunk."""
        return encode(Kind.SUPERBLOCK, self.generation, b"", self.body())

    def body(self) -> bytes:
        """The record's body, laid out as the module docstring says."""
        fields = (
            (self.covers_seq, 8),
            (self.durable_seq, 8),
            (self.active_extent, 4),
            (self.index_extent, 4),
            (self.index_offset, 4),
            (self.index_length, 4),
            (len(self.states), 4),
        )
        parts = [value.to_bytes(size, "little") for value, size in fields]
        for state, wp in zip(self.states, self.soft_wps, strict=True):
            parts.append(int(state).to_bytes(1, "little") + wp.to_bytes(4, "little"))
        return b"".join(parts)

    @classmethod
    def decode(cls, buf: Buffer) -> Superblock:
        """Decode the record at the start of `buf`; raise `CorruptChunk` if it is not one."""
        chunk = decode_prefix(buf)
        if chunk.kind is not Kind.SUPERBLOCK or chunk.key:
            raise CorruptChunk(f"expected a superblock chunk, found {chunk.kind.name}")
        return decode_body(chunk.seq, chunk.value)


def decode_body(generation: int, body: bytes) -> Superblock:
    """The record of `generation` whose body is `body`; `CorruptChunk` if `body` is not one.

    raises: CorruptChunk
    post: __return__.body() == body
    """
    if len(body) < BODY_BYTES:
        raise CorruptChunk(f"superblock body too short: {len(body)} of {BODY_BYTES} bytes")
    count = uint(body, 32, 4)
    if len(body) != BODY_BYTES + count * ENTRY_BYTES:
        raise CorruptChunk(f"superblock body of {len(body)} bytes for {count} extents")
    states: list[ExtentState] = []
    wps: list[int] = []
    for i in range(count):
        pos = BODY_BYTES + i * ENTRY_BYTES
        state = body[pos]
        if state not in _STATES:
            raise CorruptChunk(f"unknown extent state {state} for extent {i}")
        states.append(ExtentState(state))
        wps.append(uint(body, pos + 1, 4))
    return Superblock(
        generation,
        covers_seq=uint(body, 0, 8),
        durable_seq=uint(body, 8, 8),
        active_extent=uint(body, 16, 4),
        index_extent=uint(body, 20, 4),
        index_offset=uint(body, 24, 4),
        index_length=uint(body, 28, 4),
        states=tuple(states),
        soft_wps=tuple(wps),
    )


def record_bytes(extent_count: int) -> int:
    """Size of one encoded superblock record for a disk of `extent_count` extents."""
    return CHUNK_HEADER_BYTES + BODY_BYTES + extent_count * ENTRY_BYTES
