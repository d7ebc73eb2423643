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


def decode_run(value: bytes | bytearray | memoryview) -> IndexRun:
    """Decode an index-run chunk value; raise `CorruptChunk` on any inconsistency."""
    view = memoryview(value)
    if len(view) < _HEAD.size:
        raise CorruptChunk("index run header truncated")
    covers_seq, count = _HEAD.unpack_from(view, 0)
    pos = _HEAD.size
    entries: list[tuple[bytes, Locator]] = []
    previous: bytes | None = None
    for _ in range(count):
        if pos + _KEY_LEN.size > len(view):
            raise CorruptChunk("index run entry truncated")
        (key_len,) = _KEY_LEN.unpack_from(view, pos)
        pos += _KEY_LEN.size
        if key_len == 0 or pos + key_len + _LOC.size > len(view):
            raise CorruptChunk("index run entry truncated or empty key")
        key = bytes(view[pos : pos + key_len])
        pos += key_len
        if previous is not None and key <= previous:
            raise CorruptChunk("index run keys out of order")
        extent, offset, length, seq = _LOC.unpack_from(view, pos)
        pos += _LOC.size
        entries.append((key, Locator(extent, offset, length, seq)))
        previous = key
    if pos != len(view):
        raise CorruptChunk(f"{len(view) - pos} trailing bytes after index run")
    return IndexRun(covers_seq, tuple(entries))
