"""The data directory's format header: what a directory is, and its disk geometry. Pure: no I/O.

Layout (little-endian, `HEADER_BYTES` = 28):

    offset  size  field
    0       8     magic b"KVNODEDR"
    8       4     format version (VERSION)
    12      4     page_bytes
    16      4     extent_bytes
    20      4     extent_count
    24      4     CRC-32C of bytes 0..24

`decode_format` of any byte string returns a `Geometry` or raises `FormatError`, nothing else.
"""

from __future__ import annotations

from kvnode.chunk import crc32c
from kvnode.errors import FormatError
from kvnode.fields import uint
from kvnode.limits import Geometry

MAGIC = b"KVNODEDR"
VERSION = 1
HEADER_BYTES = 28


def encode_format(geometry: Geometry) -> bytes:
    """The format header of a directory holding a disk of `geometry`."""
    head = b"".join(
        (
            MAGIC,
            VERSION.to_bytes(4, "little"),
            geometry.page_bytes.to_bytes(4, "little"),
            geometry.extent_bytes.to_bytes(4, "little"),
            geometry.extent_count.to_bytes(4, "little"),
        )
    )
    return head + crc32c(head).to_bytes(4, "little")


def decode_format(raw: bytes) -> Geometry:
    """The geometry recorded in a format header; `FormatError` saying why `raw` is not one.

    raises: FormatError
    post: encode_format(__return__) == raw
    """
    if raw[:8] != MAGIC:
        raise FormatError("not a kvnode data directory (foreign format header)")
    if len(raw) < HEADER_BYTES:
        raise FormatError("format header truncated (damaged directory)")
    if len(raw) > HEADER_BYTES:
        raise FormatError("trailing bytes after the format header (damaged directory)")
    # `uint` cannot fail now: the length was checked.
    version = uint(raw, 8, 4)
    if uint(raw, 24, 4) != crc32c(raw[:24]):
        raise FormatError("format header checksum mismatch (damaged directory)")
    if version > VERSION:
        raise FormatError(
            f"format version {version} is newer than this kvnode supports ({VERSION})"
        )
    if version != VERSION:
        raise FormatError(f"unknown format version {version}")
    try:
        return Geometry(
            page_bytes=uint(raw, 12, 4),
            extent_bytes=uint(raw, 16, 4),
            extent_count=uint(raw, 20, 4),
        )
    except ValueError as err:
        raise FormatError(f"format header holds an invalid geometry: {err}") from None
