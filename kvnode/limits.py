"""Named limits and disk geometry, checked at the API edge before any byte is written."""

from __future__ import annotations

import attrs

from kvnode.errors import KVTypeError

#: Size of a chunk header in bytes (see `kvnode.chunk` for the layout).
CHUNK_HEADER_BYTES = 24
#: Keys never exceed this, whatever the geometry.
KEY_BYTES_MAX = 1024
#: Extents 0 and 1 hold superblock records; the log uses the rest.
SUPERBLOCK_EXTENTS = 2
#: Extents the log keeps free for reclamation and index flushes; client writes never take them.
RESERVED_EXTENTS = 2


def _check_geometry(instance: Geometry, attribute: attrs.Attribute[int], value: object) -> None:
    # A bool is an int to Python, and a float such as 4096.0 would pass every arithmetic check
    # and then fail (or round) deep in an encoder: only genuine ints are sizes.
    if not isinstance(value, int) or isinstance(value, bool):
        raise KVTypeError(f"{attribute.name} must be an int, not {type(value).__name__}")
    if value <= 0:
        raise ValueError(f"{attribute.name} must be positive, got {value}")


@attrs.frozen
class Geometry:
    """Shape of a disk: `extent_count` append-only extents of `extent_bytes` each."""

    page_bytes: int = attrs.field(validator=_check_geometry)
    extent_bytes: int = attrs.field(validator=_check_geometry)
    extent_count: int = attrs.field(validator=_check_geometry)

    def __attrs_post_init__(self) -> None:
        if self.extent_bytes % self.page_bytes:
            raise ValueError("extent_bytes must be a multiple of page_bytes")
        if self.extent_bytes >= 2**32:
            raise ValueError("extent_bytes must fit in 32 bits")
        if self.extent_count < SUPERBLOCK_EXTENTS + RESERVED_EXTENTS + 1:
            raise ValueError(
                f"extent_count must be at least {SUPERBLOCK_EXTENTS + RESERVED_EXTENTS + 1}"
            )
        if self.extent_bytes < 4 * (CHUNK_HEADER_BYTES + 8 * self.extent_count):
            raise ValueError("extent_bytes too small to hold superblock records")

    @property
    def log_extents(self) -> range:
        """Extents that hold log chunks (data, tombstones, index runs)."""
        return range(SUPERBLOCK_EXTENTS, self.extent_count)


#: A real disk: 4 KiB pages, 16 MiB extents, 256 extents (4 GiB, files grow as written).
DEFAULT_GEOMETRY = Geometry(page_bytes=4096, extent_bytes=16 * 1024 * 1024, extent_count=256)
#: A small disk for checking: extents fill, roll over and get reclaimed within a few operations.
SMALL_GEOMETRY = Geometry(page_bytes=256, extent_bytes=4096, extent_count=16)


@attrs.frozen
class Limits:
    """Largest key and value a node accepts; derived from the geometry by `for_geometry`."""

    key_bytes_max: int
    value_bytes_max: int

    @property
    def chunk_bytes_max(self) -> int:
        """Length of the largest chunk a client write can produce."""
        return CHUNK_HEADER_BYTES + self.key_bytes_max + self.value_bytes_max

    @classmethod
    def for_geometry(cls, geometry: Geometry) -> Limits:
        """Keys up to a page (at most `KEY_BYTES_MAX`, and at most half an extent's payload);
        a value fills the rest of one extent.

        post: 1 <= __return__.key_bytes_max <= min(KEY_BYTES_MAX, geometry.page_bytes)
        post: __return__.value_bytes_max >= __return__.key_bytes_max
        post: __return__.chunk_bytes_max == geometry.extent_bytes
        """
        payload = geometry.extent_bytes - CHUNK_HEADER_BYTES
        key_max = min(KEY_BYTES_MAX, geometry.page_bytes, payload // 2)
        return cls(
            key_bytes_max=key_max,
            value_bytes_max=geometry.extent_bytes - CHUNK_HEADER_BYTES - key_max,
        )
