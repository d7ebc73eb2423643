"""The disk protocol the node runs on, and the argument checks both implementations share.

A disk is `geometry.extent_count` append-only extents. Each extent has a write pointer: `append`
writes there and advances it, `read` may only read below it, `truncate` moves it back (`reset`
moves it to 0 so the extent can be reused). Nothing is durable until `sync` returns; after a
crash each extent reopens with its write pointer at the length of what survived.

Concurrency: a node calls `append`, `truncate`, `reset`, `sync` and `close` one at a time (under
its state lock), but calls `read` and `write_pointer` from any thread, concurrently with those.
A read that races with a truncate or reset of its range, or with `close`, may fail or return
other bytes (the node's checksums tell), but must not corrupt the disk or leak resources.
"""

from __future__ import annotations

from typing import Protocol

from kvnode.limits import Geometry


class Disk(Protocol):
    """What the node needs from a disk."""

    @property
    def geometry(self) -> Geometry:
        """The disk's shape."""
        ...

    def append(self, extent: int, data: bytes) -> int:
        """Write `data` at the extent's write pointer; return the offset it was written at."""
        ...

    def read(self, extent: int, offset: int, length: int) -> bytes:
        """Read `length` bytes at `offset`; the range must lie below the write pointer."""
        ...

    def write_pointer(self, extent: int) -> int:
        """Bytes written to the extent so far."""
        ...

    def truncate(self, extent: int, length: int) -> None:
        """Move the write pointer back to `length`, discarding what lies beyond."""
        ...

    def reset(self, extent: int) -> None:
        """Empty the extent so it can be reused."""
        ...

    def sync(self) -> None:
        """Make every earlier append, truncate and reset durable."""
        ...

    def close(self) -> None:
        """Release the disk's resources; unsynced writes may be lost."""
        ...


def check_extent(geometry: Geometry, extent: int) -> None:
    """Refuse an extent number outside the geometry."""
    if not 0 <= extent < geometry.extent_count:
        raise ValueError(f"extent {extent} out of range 0..{geometry.extent_count - 1}")


def check_append(geometry: Geometry, extent: int, write_pointer: int, length: int) -> None:
    """Refuse an append that would run past the end of the extent."""
    check_extent(geometry, extent)
    if write_pointer + length > geometry.extent_bytes:
        raise ValueError(
            f"append of {length} bytes at {write_pointer} overruns extent {extent} "
            f"({geometry.extent_bytes} bytes)"
        )


def check_read(
    geometry: Geometry, extent: int, write_pointer: int, offset: int, length: int
) -> None:
    """Refuse a read that is not wholly below the write pointer."""
    check_extent(geometry, extent)
    if offset < 0 or length < 0 or offset + length > write_pointer:
        raise ValueError(
            f"read of {length} bytes at {offset} beyond write pointer {write_pointer} "
            f"of extent {extent}"
        )


def check_truncate(geometry: Geometry, extent: int, write_pointer: int, length: int) -> None:
    """Refuse a truncate that would move the write pointer forward."""
    check_extent(geometry, extent)
    if not 0 <= length <= write_pointer:
        raise ValueError(f"truncate of extent {extent} to {length} beyond {write_pointer}")
