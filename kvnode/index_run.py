"""Index runs: the in-memory index written to disk as one INDEX chunk. Pure: no I/O.

The chunk's value is (little-endian):

    offset  size  field
    0       8     covers_seq   the run reflects every mutation with seq <= covers_seq
    8       4     count        number of entries that follow, in strictly increasing key order
    12      ...   entries: key_len u16, key, extent u32, offset u32, length u32, seq u64
"""

from __future__ import annotations

import struct
from collections.abc import Iterable

import attrs

from kvnode.errors import CorruptChunk
from kvnode.fields import Buffer, uint

_HEAD = struct.Struct("<QI")
_KEY_LEN = struct.Struct("<H")
_LOC = struct.Struct("<IIIQ")
#: Bytes an entry takes besides its key.
ENTRY_OVERHEAD_BYTES = _KEY_LEN.size + _LOC.size
HEAD_BYTES = _HEAD.size


@attrs.frozen
class Locator:
    """Where a key's current data chunk lives."""

    extent: int
    offset: int
    length: int
    seq: int


@attrs.frozen
class IndexRun:
    """A decoded index run."""

    covers_seq: int
    entries: tuple[tuple[bytes, Locator], ...]


def encode_run(covers_seq: int, entries: Iterable[tuple[bytes, Locator]]) -> bytes:
    """Encode `entries` (already in increasing key order) as an index-run chunk value."""
    parts: list[bytes] = []
    for key, loc in entries:
        parts.append(_KEY_LEN.pack(len(key)))
        parts.append(key)
        parts.append(_LOC.pack(loc.extent, loc.offset, loc.length, loc.seq))
    return _HEAD.pack(covers_seq, len(parts) // 3) + b"".join(parts)


def decode_run(value: Buffer) -> IndexRun:
    """Decode an index-run chunk value; raise `CorruptChunk` on any inconsistency.

    raises: CorruptChunk
    post: encode_run(__return__.covers_seq, __return__.entries) == value
    """
    covers_seq = uint(value, 0, 8, "index run header")
    count = uint(value, 8, 4, "index run header")
    pos = HEAD_BYTES
    entries: list[tuple[bytes, Locator]] = []
    previous = b""
    for _ in range(count):
        key_len = uint(value, pos, 2, "index run entry")
        pos += _KEY_LEN.size
        if key_len == 0:
            raise CorruptChunk("index run entry with an empty key")
        key = bytes(value[pos : pos + key_len])
        if len(key) < key_len:
            raise CorruptChunk("index run key truncated")
        pos += key_len
        if key <= previous:
            raise CorruptChunk("index run keys out of order")
        locator = Locator(
            extent=uint(value, pos, 4, "index run entry"),
            offset=uint(value, pos + 4, 4, "index run entry"),
            length=uint(value, pos + 8, 4, "index run entry"),
            seq=uint(value, pos + 12, 8, "index run entry"),
        )
        pos += _LOC.size
        entries.append((key, locator))
        previous = key
    if pos != len(value):
        raise CorruptChunk(f"{len(value) - pos} trailing bytes after index run")
    return IndexRun(covers_seq, tuple(entries))
