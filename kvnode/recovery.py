"""Recovery: from whatever a crash left on the disk, the state the node reopens with.

Theory of operation. Every log chunk carries a sequence number, and sequence numbers are handed
out one by one with no gaps. The newest valid superblock record names an index run that reflects
every mutation up to `covers_seq`, and for each log extent a soft write pointer below which
everything is covered by that run. Recovery:

1. takes the newest superblock record that decodes (a torn record fails its checksum);
2. loads the index run it names;
3. scans every log extent from its soft write pointer, stopping at the first chunk that does not
   decode or whose sequence number does not increase (a torn tail, or stale bytes from before a
   reset);
4. replays the scanned chunks in sequence order from `covers_seq + 1`, stopping at the first
   missing number: chunks after a gap were written after a chunk that did not survive, so
   replaying them would invent a state that never existed (prefix consistency);
5. truncates every extent to the end of what was replayed and empties every free extent, and
   syncs, so that stale bytes beyond a write pointer can never be replayed by a later recovery.

Everything up to the superblock's `durable_seq` was synced, so a replay that stops short of it
has met damage in the middle of the log: that is reported as `CorruptionError`, never repaired
by silently dropping data. `plan_recovery` only reads; `apply_plan` makes the writes.
"""

from __future__ import annotations

import attrs

from kvnode.chunk import Kind, decode, decode_header
from kvnode.chunk_reader import ChunkReader
from kvnode.disk import Disk
from kvnode.errors import CorruptChunk, CorruptionError
from kvnode.index import MemIndex
from kvnode.index_run import Locator, decode_run
from kvnode.limits import CHUNK_HEADER_BYTES, SUPERBLOCK_EXTENTS
from kvnode.superblock import NO_EXTENT, ExtentState, Superblock


@attrs.frozen
class Scanned:
    """A valid chunk met while scanning an extent (its value is not kept)."""

    seq: int
    kind: Kind
    key: bytes
    extent: int
    offset: int
    length: int


@attrs.frozen
class ExtentScan:
    """The valid chunks of one extent region, and where and why the scan stopped."""

    chunks: tuple[Scanned, ...]
    stop: int
    reason: str | None  # None: the scan reached the write pointer cleanly


#: Recovery reads a log extent in blocks of this many bytes, so memory stays bounded by the
#: block and one chunk, not the extent.
SCAN_BLOCK_BYTES = 1 << 20


def scan_extent(disk: Disk, extent: int, start: int, min_seq: int) -> ExtentScan:
    """Scan `extent` from `start` while chunks decode and sequence numbers exceed `min_seq`."""
    end = disk.write_pointer(extent)
    reader = ChunkReader(limit=disk.geometry.extent_bytes)
    chunks: list[Scanned] = []
    fed = start
    last = min_seq
    while True:
        offset = start + reader.consumed
        try:
            chunk = reader.next_chunk()
        except CorruptChunk as err:
            return ExtentScan(tuple(chunks), offset, err.reason)
        if chunk is None:
            if fed >= end:
                return ExtentScan(tuple(chunks), offset, reader.incomplete())
            size = min(SCAN_BLOCK_BYTES, end - fed)
            reader.feed(disk.read(extent, fed, size))
            fed += size
            continue
        if chunk.seq <= last:
            return ExtentScan(tuple(chunks), offset, f"stale chunk (seq {chunk.seq})")
        if chunk.kind is Kind.SUPERBLOCK:
            return ExtentScan(tuple(chunks), offset, "superblock chunk in a log extent")
        length = chunk.encoded_bytes
        chunks.append(Scanned(chunk.seq, chunk.kind, chunk.key, extent, offset, length))
        last = chunk.seq


@attrs.frozen
class SuperblockFound:
    """The newest valid superblock record and where it ends."""

    superblock: Superblock
    extent: int
    end: int


def find_superblock(disk: Disk) -> SuperblockFound | None:
    """The newest superblock record that decodes, in either superblock extent."""
    candidates: list[tuple[int, int, int, int]] = []  # (generation, extent, offset, end)
    images: dict[int, bytes] = {}
    for extent in range(SUPERBLOCK_EXTENTS):
        wp = disk.write_pointer(extent)
        images[extent] = buf = disk.read(extent, 0, wp) if wp else b""
        pos = 0
        while pos + CHUNK_HEADER_BYTES <= len(buf):
            try:
                header = decode_header(buf[pos : pos + CHUNK_HEADER_BYTES])
            except CorruptChunk:
                break
            end = pos + header.total_bytes
            if header.kind is not Kind.SUPERBLOCK or end > len(buf):
                break
            candidates.append((header.seq, extent, pos, end))
            pos = end
    # Only headers so far: verify checksums newest first, and stop at the first whole record.
    for generation, extent, offset, end in sorted(candidates, reverse=True):
        try:
            record = Superblock.decode(memoryview(images[extent])[offset:end])
        except CorruptChunk:
            continue
        if record.generation == generation:
            return SuperblockFound(record, extent, end)
    return None


@attrs.frozen
class RecoveryPlan:
    """What recovery found and the writes that will make the disk match it."""

    found: SuperblockFound | None  # None: a blank disk, to be formatted
    index: MemIndex
    last_seq: int
    replayed: int
    truncations: tuple[tuple[int, int], ...]
    resets: tuple[int, ...]
    torn: tuple[tuple[int, int, str], ...]  # (extent, offset, reason) where scans stopped early
    run_extents: frozenset[int] = frozenset()  # extents the durable index run points into


def plan_recovery(disk: Disk) -> RecoveryPlan:
    """Work out the recovered state without writing anything."""
    geometry = disk.geometry
    index = MemIndex(geometry.extent_count)
    found = find_superblock(disk)
    if found is None:
        if any(disk.write_pointer(e) for e in geometry.log_extents):
            raise CorruptionError("no valid superblock record, but the log extents hold data")
        resets = tuple(e for e in range(SUPERBLOCK_EXTENTS) if disk.write_pointer(e))
        return RecoveryPlan(None, index, 0, 0, (), resets, ())
    sb = found.superblock
    _check_superblock(disk, sb)
    run_extents: frozenset[int] = frozenset()
    if sb.index_extent != NO_EXTENT:
        run_extents = _load_index_run(disk, sb, index)
    scans = {
        e: scan_extent(disk, e, sb.soft_wps[e], sb.covers_seq)
        for e in geometry.log_extents
        if sb.states[e] is ExtentState.LOG
    }
    merged = sorted((c for s in scans.values() for c in s.chunks), key=lambda c: c.seq)
    ends = {e: sb.soft_wps[e] for e in scans}
    last = sb.covers_seq
    for chunk in merged:
        if chunk.seq != last + 1:
            break
        if chunk.kind is Kind.PUT:
            index.set(chunk.key, Locator(chunk.extent, chunk.offset, chunk.length, chunk.seq))
        elif chunk.kind is Kind.TOMBSTONE:
            index.remove(chunk.key)
        ends[chunk.extent] = chunk.offset + chunk.length
        last = chunk.seq
    torn = tuple((e, s.stop, s.reason) for e, s in scans.items() if s.reason is not None)
    if last < sb.durable_seq:
        extent, offset, reason = torn[0] if torn else (None, None, "chunks missing")
        raise CorruptionError(
            f"log ends at seq {last} but seq {sb.durable_seq} was durable ({reason})",
            extent=extent,
            offset=offset,
        )
    truncations = tuple((e, end) for e, end in ends.items() if disk.write_pointer(e) > end)
    if disk.write_pointer(found.extent) > found.end:
        truncations += ((found.extent, found.end),)
    resets = tuple(
        e
        for e in geometry.log_extents
        if sb.states[e] is ExtentState.FREE and disk.write_pointer(e)
    )
    return RecoveryPlan(
        found, index, last, last - sb.covers_seq, truncations, resets, torn, run_extents
    )


def _check_superblock(disk: Disk, sb: Superblock) -> None:
    geometry = disk.geometry
    if len(sb.states) != geometry.extent_count:
        raise CorruptionError(
            f"superblock describes {len(sb.states)} extents, disk has {geometry.extent_count}"
        )
    for extent, state in enumerate(sb.states):
        expected_sb = extent < SUPERBLOCK_EXTENTS
        if (state is ExtentState.SUPERBLOCK) != expected_sb:
            raise CorruptionError(f"superblock gives extent {extent} the wrong role {state.name}")
        if state is ExtentState.LOG and disk.write_pointer(extent) < sb.soft_wps[extent]:
            raise CorruptionError(
                f"extent is shorter than its soft write pointer {sb.soft_wps[extent]}",
                extent=extent,
                offset=disk.write_pointer(extent),
            )
    if (
        sb.states[sb.active_extent if sb.active_extent < len(sb.states) else 0]
        is not ExtentState.LOG
    ):
        raise CorruptionError(f"superblock's active extent {sb.active_extent} is not a log extent")


def _load_index_run(disk: Disk, sb: Superblock, index: MemIndex) -> frozenset[int]:
    extent, offset, length = sb.index_extent, sb.index_offset, sb.index_length
    if (
        extent >= disk.geometry.extent_count
        or sb.states[extent] is not ExtentState.LOG
        or length < CHUNK_HEADER_BYTES
        or offset + length > disk.write_pointer(extent)
    ):
        raise CorruptionError("superblock points at an index run outside the log", extent=extent)
    try:
        chunk = decode(disk.read(extent, offset, length))
        if chunk.kind is not Kind.INDEX:
            raise CorruptChunk(f"expected an index run, found {chunk.kind.name}")
        run = decode_run(chunk.value)
    except CorruptChunk as err:
        raise CorruptionError(f"index run: {err.reason}", extent=extent, offset=offset) from None
    if run.covers_seq != sb.covers_seq:
        raise CorruptionError(
            "index run does not match the superblock", extent=extent, offset=offset
        )
    for key, loc in run.entries:
        if (
            not SUPERBLOCK_EXTENTS <= loc.extent < disk.geometry.extent_count
            or sb.states[loc.extent] is not ExtentState.LOG
            or loc.offset + loc.length > disk.write_pointer(loc.extent)
        ):
            raise CorruptionError(
                f"index run entry for {key!r} points outside the log", extent=extent, offset=offset
            )
        index.set(key, loc)
    return frozenset(loc.extent for _, loc in run.entries) | {extent}


def apply_plan(disk: Disk, plan: RecoveryPlan) -> None:
    """Make the disk match the plan, durably, before anything new is written."""
    for extent, length in plan.truncations:
        disk.truncate(extent, length)
    for extent in plan.resets:
        disk.reset(extent)
    # Always sync: what survived a process crash may still sit in the OS cache, and the node
    # is about to treat everything it replayed as durable.
    disk.sync()
