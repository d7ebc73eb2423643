"""Damage at rest: what decay, a bad sector or a careless operator can do to durable storage.

The fault model. Storage is a list of *regions* (a `SimDisk`'s extents, or a data directory's
files), each a byte string that is already durable. One `Damage` does one of:

- `flip`: flip bits of one byte (`bits`, a non-zero mask);
- `zero`: zero one page-aligned sector of `sector_bytes` (a sector that reads back empty);
- `cut`: truncate the region at an offset (a file cut short; everything from there is gone).

`offset` is taken modulo the region's length, counted from its end when `from_end` is set
(where the newest superblock records and log chunks are), so every drawn value lands somewhere
real and shrinking moves it towards the start of the first region. Nothing else changes: no
pending write, no other region.

The rule a store must keep (checked by `kvcheck.machine.harness.Harness.damage`): reopening succeeds
or fails with a documented error; every read returns the written value or raises
`CorruptionError`; never a wrong value, never a synced key silently missing; and `fsck` reports
damage whenever recovery refused or a read failed.
"""

from __future__ import annotations

import os
from typing import Literal

import attrs

from kvnode.errors import CorruptionError
from kvnode.limits import CHUNK_HEADER_BYTES
from kvnode.recovery import find_superblock
from kvnode.simdisk import SimDisk
from kvnode.superblock import NO_EXTENT

How = Literal["flip", "zero", "cut"]
HOWS: tuple[How, ...] = ("flip", "zero", "cut")


@attrs.frozen
class Damage:
    """One act of damage to durable storage; see the module docstring."""

    how: How = attrs.field(validator=attrs.validators.in_(HOWS))
    region: int = 0
    offset: int = 0
    from_end: bool = False
    bits: int = 1

    @property
    def mask(self) -> int:
        """The non-zero bit mask a flip applies."""
        return self.bits % 255 + 1

    def span(self, length: int, sector_bytes: int) -> tuple[int, int]:
        """The bytes [start, end) this damage hits in a region of `length` (> 0) bytes: the
        flipped byte, the zeroed sector, or everything a cut loses."""
        pos = self.offset % length
        at = length - 1 - pos if self.from_end else pos
        if self.how == "flip":
            return at, at + 1
        if self.how == "zero":
            start = at - at % sector_bytes
            return start, min(length, start + sector_bytes)
        return at, length

    def describe(self, length: int, sector_bytes: int) -> str:
        """What this damage does to a region of `length` bytes, for messages."""
        start, end = self.span(length, sector_bytes)
        if self.how == "flip":
            return f"flipped bits {self.mask:#04x} of byte {start}"
        if self.how == "zero":
            return f"zeroed bytes {start}..{end - 1}"
        return f"truncated from {length} to {start} bytes"

    def apply(self, data: bytearray, sector_bytes: int) -> None:
        """Damage `data` in place."""
        start, end = self.span(len(data), sector_bytes)
        if self.how == "flip":
            data[start] ^= self.mask
        elif self.how == "zero":
            data[start:end] = bytes(end - start)
        else:
            del data[start:]


@attrs.frozen
class Region:
    """Bytes [start, end) of one extent that a damage may hit."""

    extent: int
    start: int
    end: int
    name: str


def simdisk_regions(disk: SimDisk) -> list[Region]:
    """Where damage may land on `disk`: first the structures recovery trusts most (the body of
    the newest valid superblock record and the index run it names), then every non-empty
    extent whole."""
    regions: list[Region] = []
    try:
        found = find_superblock(disk)
    except CorruptionError:
        found = None
    if found is not None:
        sb = found.superblock
        size = sb.encoded_bytes
        # Its body, where the fields recovery acts on lie; whole extents cover its header.
        body = found.end - size + CHUNK_HEADER_BYTES
        regions.append(Region(found.extent, body, found.end, "newest superblock record's body"))
        if sb.index_extent != NO_EXTENT and sb.index_offset + sb.index_length <= len(
            disk.durable_image(sb.index_extent)
        ):
            end = sb.index_offset + sb.index_length
            regions.append(Region(sb.index_extent, sb.index_offset, end, "index run"))
    for extent in range(disk.geometry.extent_count):
        length = len(disk.durable_image(extent))
        if length:
            regions.append(Region(extent, 0, length, "extent"))
    return regions


def damage_simdisk(disk: SimDisk, damage: Damage) -> str | None:
    """Apply `damage` to the durable image of one region; None if the disk is blank."""
    regions = simdisk_regions(disk)
    if not regions:
        return None
    region = regions[damage.region % len(regions)]
    length, sector = region.end - region.start, disk.geometry.page_bytes
    start, end = damage.span(length, sector)
    start, end = start + region.start, end + region.start
    if damage.how == "flip":
        disk.damage(region.extent, start, damage.mask)
    elif damage.how == "zero":
        # Sectors are aligned on the medium, not within the region.
        start -= start % sector
        disk.zero(region.extent, start, sector)
    else:
        disk.cut(region.extent, start)
    what = damage.describe(length, sector)
    return f"extent {region.extent} ({region.name} at {region.start}): {what}"


def file_regions(path: str) -> list[str]:
    """The non-empty files of a data directory: extent files first, then the rest, by name."""
    names = sorted(n for n in os.listdir(path) if os.path.isfile(os.path.join(path, n)))
    sized = [n for n in names if os.path.getsize(os.path.join(path, n))]
    extents = [n for n in sized if n.startswith("extent")]
    return extents + [n for n in sized if n not in extents]


def damage_files(path: str, damage: Damage, sector_bytes: int) -> str | None:
    """Apply `damage` to one non-empty file of the data directory `path`."""
    regions = file_regions(path)
    if not regions:
        return None
    name = regions[damage.region % len(regions)]
    full = os.path.join(path, name)
    with open(full, "rb") as f:
        data = bytearray(f.read())
    what = damage.describe(len(data), sector_bytes)
    damage.apply(data, sector_bytes)
    with open(full, "r+b") as f:
        f.write(data)
        f.truncate(len(data))
        f.flush()
        os.fsync(f.fileno())
    return f"{name}: {what}"
