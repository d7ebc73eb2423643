"""fsck: verify every chunk, the superblock and the index of a disk without changing it."""

from __future__ import annotations

from collections.abc import Iterable

import attrs

from kvnode.chunk import Kind, decode
from kvnode.disk import Disk
from kvnode.errors import CorruptChunk, CorruptionError
from kvnode.index_run import Locator
from kvnode.limits import SUPERBLOCK_EXTENTS
from kvnode.recovery import (
    RecoveryPlan,
    SuperblockFound,
    find_superblock,
    plan_recovery,
    scan_extent,
)
from kvnode.superblock import ExtentState


@attrs.frozen
class Finding:
    """One problem, or one note about what recovery will repair."""

    extent: int | None
    offset: int | None
    message: str

    def __str__(self) -> str:
        where = "" if self.extent is None else f"extent {self.extent}"
        if self.offset is not None:
            where += f" offset {self.offset}"
        return f"{where}: {self.message}" if where else self.message


@attrs.frozen
class FsckReport:
    """What fsck checked and found; `ok` is False when durable data is damaged."""

    superblock_generation: int | None
    extents_scanned: int
    chunks_verified: int
    bytes_verified: int
    keys: int
    damage: tuple[Finding, ...]
    notes: tuple[Finding, ...]

    @property
    def ok(self) -> bool:
        """True when nothing durable is damaged (notes are repaired by the next open)."""
        return not self.damage


def fsck(disk: Disk) -> FsckReport:
    """Check `disk` read-only. Damage is whatever recovery would refuse, whatever it would
    destroy that still reads as valid, a damaged record a newer one follows, and any durable
    chunk or live value that fails its checksum; notes are what a crash leaves and recovery
    repairs (torn tails, a torn newest record, leftovers of a reclamation)."""
    damage: list[Finding] = []
    notes: list[Finding] = []
    plan: RecoveryPlan | None = None
    try:
        plan = plan_recovery(disk)
        found = find_superblock(disk, every_record=True)
    except CorruptionError as err:
        damage.append(Finding(err.extent, err.offset, err.reason))
        try:
            found = find_superblock(disk, every_record=True)
        except CorruptionError:
            found = None
    if found is None:
        blank = not any(disk.write_pointer(e) for e in range(disk.geometry.extent_count))
        if not blank and not damage:
            damage.append(Finding(None, None, "no valid superblock record"))
        return FsckReport(None, 0, 0, 0, 0, tuple(damage), tuple(notes))
    sb = found.superblock
    _superblock_findings(found, damage, notes)
    keys = 0
    if plan is not None:
        keys = len(plan.index)
        for extent, offset, reason in plan.torn:
            notes.append(Finding(extent, offset, f"torn tail, recovery will truncate ({reason})"))
        for chunk in plan.dropped:
            damage.append(
                Finding(
                    chunk.extent,
                    chunk.offset,
                    f"valid chunk seq {chunk.seq} follows a gap in the log; recovery will drop "
                    f"it (a write a crash kept out of order, or damage)",
                )
            )
    chunks = verified = scanned = 0
    if len(sb.states) == disk.geometry.extent_count:
        for extent in disk.geometry.log_extents:
            if sb.states[extent] is ExtentState.FREE:
                if disk.write_pointer(extent) and plan is not None and extent in plan.resets:
                    notes.append(
                        Finding(
                            extent, 0, "free extent holds reclaimed data, recovery will reset it"
                        )
                    )
                continue
            scanned += 1
            scan = scan_extent(disk, extent, 0, 0)
            chunks += len(scan.chunks)
            verified += sum(c.length for c in scan.chunks)
            if scan.reason is not None and scan.stop < sb.soft_wps[extent]:
                damage.append(Finding(extent, scan.stop, f"durable chunk damaged: {scan.reason}"))
    if plan is not None:
        damage.extend(_check_locators(disk, plan.index.items()))
    scanned += SUPERBLOCK_EXTENTS
    return FsckReport(sb.generation, scanned, chunks, verified, keys, tuple(damage), tuple(notes))


def _superblock_findings(
    found: SuperblockFound, damage: list[Finding], notes: list[Finding]
) -> None:
    generation = found.superblock.generation
    for bad in found.bad:
        if bad.followed and not bad.blank:
            damage.append(
                Finding(bad.extent, bad.offset, f"damaged superblock record ({bad.reason})")
            )
        elif bad.extent == found.extent and bad.offset >= found.end:
            notes.append(
                Finding(
                    bad.extent,
                    bad.offset,
                    f"torn or damaged superblock record after the newest valid one "
                    f"(generation {generation}); recovery will fall back to that one",
                )
            )


def _check_locators(disk: Disk, items: Iterable[tuple[bytes, Locator]]) -> list[Finding]:
    damage = []
    for key, loc in items:
        try:
            if loc.offset + loc.length > disk.write_pointer(loc.extent):
                raise CorruptChunk("points past the write pointer")
            chunk = decode(disk.read(loc.extent, loc.offset, loc.length))
            if chunk.kind is not Kind.PUT or chunk.key != key or chunk.seq != loc.seq:
                raise CorruptChunk("points at another chunk")
        except CorruptChunk as err:
            damage.append(Finding(loc.extent, loc.offset, f"value of key {key!r}: {err.reason}"))
    return damage
