"""The in-memory index: key -> `Locator`, in key order, with live bytes per extent."""

from __future__ import annotations

from collections.abc import Iterator

from sortedcontainers import SortedDict

from kvnode.index_run import ENTRY_OVERHEAD_BYTES, HEAD_BYTES, Locator


class MemIndex:
    """Ordered map of keys to locators that also accounts the bytes each extent keeps alive."""

    def __init__(self, extent_count: int):
        self._map: SortedDict[bytes, Locator] = SortedDict()
        self._live = [0] * extent_count
        #: Size the index would take as an index-run value.
        self.run_bytes = HEAD_BYTES

    def __len__(self) -> int:
        return len(self._map)

    def get(self, key: bytes) -> Locator | None:
        """The key's locator, or None."""
        return self._map.get(key)

    def set(self, key: bytes, loc: Locator) -> None:
        """Point `key` at `loc`."""
        old = self._map.get(key)
        if old is None:
            self.run_bytes += ENTRY_OVERHEAD_BYTES + len(key)
        else:
            self._live[old.extent] -= old.length
        self._map[key] = loc
        self._live[loc.extent] += loc.length

    def remove(self, key: bytes) -> Locator | None:
        """Forget `key`; return its old locator."""
        old = self._map.pop(key, None)
        if old is not None:
            self._live[old.extent] -= old.length
            self.run_bytes -= ENTRY_OVERHEAD_BYTES + len(key)
        return old

    def live_bytes(self, extent: int) -> int:
        """Bytes of `extent` that current locators point at."""
        return self._live[extent]

    def items(
        self, start: bytes = b"", end: bytes | None = None
    ) -> Iterator[tuple[bytes, Locator]]:
        """Entries with start <= key < end (no upper bound if `end` is None), in key order."""
        for key in self._map.irange(start, end, inclusive=(True, False)):
            yield key, self._map[key]

    def in_extent(self, extent: int) -> list[tuple[bytes, Locator]]:
        """Entries whose chunk lives in `extent`."""
        return [(k, loc) for k, loc in self._map.items() if loc.extent == extent]
