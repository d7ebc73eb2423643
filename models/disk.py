"""A model of the simulated disk's crash semantics, so `SimDisk` itself is checked.

Each extent is a byte string. Every append adds one pending write per page it touches, holding
that page's bytes as they are after the append; a truncate adds a pending truncate. A sync makes
the current bytes durable. A crash applies the kept pending writes, in order, to the durable
bytes (a torn page write applies only its first bytes; a page past the end leaves zeros before
it) and the result is what every later read sees.
"""

from __future__ import annotations


class DiskModel:
    """Byte strings per extent, and the list of writes not yet synced."""

    def __init__(self, page_bytes: int, extent_count: int):
        self.page_bytes = page_bytes
        self.durable = [b""] * extent_count
        self.current = [b""] * extent_count
        self.pending: list[tuple[str, int, int, bytes]] = []  # (kind, extent, offset, data)

    def append(self, extent: int, data: bytes) -> None:
        """Add `data` at the end of the extent."""
        start = len(self.current[extent])
        self.current[extent] += data
        end = len(self.current[extent])
        page = start - start % self.page_bytes
        while page < end:
            image = self.current[extent][page : min(page + self.page_bytes, end)]
            self.pending.append(("page", extent, page, image))
            page += self.page_bytes

    def truncate(self, extent: int, length: int) -> None:
        """Cut the extent to `length` bytes."""
        self.current[extent] = self.current[extent][:length]
        self.pending.append(("truncate", extent, length, b""))

    def sync(self) -> None:
        """Make the current bytes durable."""
        self.durable = list(self.current)
        self.pending = []

    def crash(self, keep: set[int], tears: dict[int, int]) -> None:
        """Keep the pending writes numbered in `keep`, cutting those in `tears` short."""
        image = list(self.durable)
        for number, (kind, extent, offset, data) in enumerate(self.pending):
            if number not in keep:
                continue
            if kind == "truncate":
                image[extent] = image[extent][:offset]
                continue
            data = data[: tears.get(number, len(data))]
            old = image[extent].ljust(offset, b"\0")
            image[extent] = old[:offset] + data + old[offset + len(data) :]
        self.durable = image
        self.current = list(image)
        self.pending = []

    def read(self, extent: int, offset: int, length: int) -> bytes:
        """What a read returns."""
        return self.current[extent][offset : offset + length]
