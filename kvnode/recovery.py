"""Recovery: from whatever a crash left on the disk, the state the node reopens with.

Theory of operation. Every log chunk carries a sequence number, and sequence numbers are handed
out one by one with no gaps. The newest valid superblock record names an index run that reflects
every mutation up to `covers_seq`, and for each log extent a soft write pointer below which
everything is covered by that run. Recovery:

1. reads every record position of both superblock extents (records have one fixed size for a
   geometry) and takes the newest record that decodes: a torn record fails its checksum, and a
   damaged one anywhere, before, between or after valid ones, hides no newer valid record;
2. loads the index run it names;
3. scans every log extent from its soft write pointer, stopping at the first chunk that does not
   decode or whose sequence number does not increase (a torn tail, or stale bytes from before a
   reset);
4. replays the scanned chunks in sequence order from `covers_seq + 1`, stopping at the first
   missing number: chunks after a gap were written after a chunk that did not survive, so
   replaying them would invent a state that never existed (prefix consistency);
5. truncates every extent to the end of what was replayed and empties every free extent, and
   syncs, so that stale bytes beyond a write pointer can never be replayed by a later recovery.

Failing closed. A crash can only lose writes that were never synced, and the node orders its
writes so that a crash never takes away the newest *durable* record. Damage at rest can: then
the newest valid record is older than the disk, and trusting it would reset, truncate or drop
newer durable data. So before anything is destroyed on a record's authority, recovery looks for
evidence of newer durable state, and raises `CorruptionError` naming extent and offset instead
of repairing:

* replay must reach the record's `durable_seq` (everything up to it was synced before the record
  was written) and the `covers_seq` of every valid index-run chunk it scanned (a run is appended
  only after everything it covers was synced);
* an extent the record calls free may hold only chunks the record's index run covers (the
  leftovers of a reclamation whose reset did not persist): a new extent's record is synced
  before anything is written to it, so a newer chunk there means a newer record was lost;
* likewise a log extent's first chunk, when the record's soft write pointer lies past it: a
  newer one means the extent was reset and reused since;
* an index-run chunk found beyond the point where a scan stopped shows that the bytes before
  it were synced, so the stop is damage, not a torn tail.

`plan_recovery` only reads; `apply_plan` makes the writes.
"""

from __future__ import annotations

import attrs

from kvnode.chunk import MAGIC, Kind, decode, decode_header, decode_prefix
from kvnode.chunk_reader import ChunkReader
from kvnode.disk import Disk
from kvnode.errors import CorruptChunk, CorruptionError
from kvnode.index import MemIndex
from kvnode.index_run import Locator, decode_run
from kvnode.limits import CHUNK_HEADER_BYTES, SUPERBLOCK_EXTENTS
from kvnode.superblock import NO_EXTENT, ExtentState, Superblock, record_bytes


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
class BadRecord:
    """A superblock record position that holds no valid record."""

    extent: int
    offset: int
    reason: str
    #: Every byte is zero: a page a crash never wrote, rather than damaged bytes.
    blank: bool
    #: A valid record follows in the same extent, so this is no torn tail a crash left.
    followed: bool


@attrs.frozen
class SuperblockFound:
    """The newest valid superblock record, where it ends, and the positions that hold none."""

    superblock: Superblock
    extent: int
    end: int
    bad: tuple[BadRecord, ...] = ()


def find_superblock(disk: Disk, *, every_record: bool = False) -> SuperblockFound | None:
    """The newest valid superblock record at any record position of either superblock extent.

    Headers first: records are checksummed newest first until one verifies, so an open costs
    one checksum, not one per record. With `every_record` (fsck), every record is verified and
    every unreadable position reported.
    """
    size = record_bytes(disk.geometry.extent_count)
    images: dict[int, memoryview] = {}
    candidates: list[tuple[int, int, int]] = []  # (generation, extent, offset)
    bad: list[tuple[int, int, str]] = []
    for extent in range(SUPERBLOCK_EXTENTS):
        wp = disk.write_pointer(extent)
        images[extent] = image = memoryview(disk.read(extent, 0, wp) if wp else b"")
        for pos in range(0, wp, size):
            try:
                candidates.append((_record_header(disk, image, extent, pos, size), extent, pos))
            except CorruptChunk as err:
                bad.append((extent, pos, err.reason))
    best: SuperblockFound | None = None
    verified: dict[int, int] = {}  # extent -> offset of its last valid record seen
    for _generation, extent, pos in sorted(candidates, reverse=True):
        if best is not None and not every_record:
            break
        piece = images[extent][pos : pos + size]
        try:
            if best is None:
                best = SuperblockFound(Superblock.decode(piece), extent, pos + size)
            else:
                decode(piece)  # older records are only checked, not parsed: fsck reads many
        except CorruptChunk as err:
            bad.append((extent, pos, err.reason))
            continue
        verified[extent] = max(verified.get(extent, -1), pos)
    if best is None:
        return None
    found = tuple(
        BadRecord(e, p, r, not any(images[e][p : p + size]), p < verified.get(e, -1))
        for e, p, r in sorted(bad)
    )
    return attrs.evolve(best, bad=found)


def _record_header(disk: Disk, image: memoryview, extent: int, pos: int, size: int) -> int:
    """The generation a record position's header claims (its checksum not yet verified)."""
    piece = image[pos : pos + size]
    if len(piece) < CHUNK_HEADER_BYTES:
        raise CorruptChunk(f"incomplete record of {len(piece)} bytes")
    header = decode_header(piece)
    if header.kind is not Kind.SUPERBLOCK or header.key_len:
        raise CorruptChunk(f"expected a superblock chunk, found {header.kind.name}")
    if header.total_bytes != size:
        try:
            record = Superblock.decode(image[pos:])
        except CorruptChunk:
            raise CorruptChunk(f"record of {header.total_bytes} bytes, not {size}") from None
        raise CorruptionError(
            f"superblock describes {len(record.states)} extents, "
            f"disk has {disk.geometry.extent_count}",
            extent=extent,
            offset=pos,
        )
    if len(piece) < size:
        raise CorruptChunk(f"incomplete record of {len(piece)} bytes")
    return header.seq


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
    #: Valid chunks after a gap in the sequence, which the truncations drop: writes a crash
    #: kept out of order (they were never synced, or replay would have had to reach them).
    dropped: tuple[Scanned, ...] = ()


def plan_recovery(disk: Disk) -> RecoveryPlan:
    """Work out the recovered state without writing anything; `CorruptionError` when the disk
    holds evidence of durable state the newest valid superblock record cannot account for."""
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
    _check_not_reused(disk, sb)
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
    dropped = tuple(c for c in merged if c.seq > last)
    beyond = [run for e, stop, _ in torn for run in _runs_beyond(disk, e, stop)]
    _check_replay_reaches_durable(sb, merged + beyond, last, torn, dropped)
    truncations = tuple((e, end) for e, end in ends.items() if disk.write_pointer(e) > end)
    if disk.write_pointer(found.extent) > found.end:
        truncations += ((found.extent, found.end),)
    resets = _free_extents_to_reset(disk, sb)
    return RecoveryPlan(
        found, index, last, last - sb.covers_seq, truncations, resets, torn, run_extents, dropped
    )


def _check_not_reused(disk: Disk, sb: Superblock) -> None:
    """Refuse when a log extent was reset and written again since the record: everything below
    a soft write pointer was written before the flush that set it, so the extent's first chunk
    cannot be newer than the record's index run covers. (One header per extent: the rest of
    the covered log is not read at open.)"""
    for extent in disk.geometry.log_extents:
        if sb.states[extent] is not ExtentState.LOG or sb.soft_wps[extent] < CHUNK_HEADER_BYTES:
            continue
        try:
            header = decode_header(disk.read(extent, 0, CHUNK_HEADER_BYTES))
        except CorruptChunk:
            continue  # a damaged chunk, not evidence of reuse: reads of it will fail
        if header.seq > sb.covers_seq:
            raise CorruptionError(
                f"the extent starts with chunk seq {header.seq}, newer than superblock record "
                f"{sb.generation}'s index run covers ({sb.covers_seq}): it was reset and "
                f"reused after a newer superblock record that must have been damaged",
                extent=extent,
                offset=0,
            )


def _runs_beyond(disk: Disk, extent: int, stop: int) -> list[Scanned]:
    """Valid index-run chunks after the point where a scan of `extent` stopped. A crash tears
    only what was never synced, and a run is appended after a sync, so a run beyond a tear
    means the bytes before it were durable: damage, not a torn tail."""
    end = disk.write_pointer(extent)
    if stop + CHUNK_HEADER_BYTES >= end:
        return []
    tail = disk.read(extent, stop + 1, end - stop - 1)
    runs = []
    at = tail.find(MAGIC)
    while at >= 0:
        try:
            chunk = decode_prefix(memoryview(tail)[at:])
        except CorruptChunk:
            pass
        else:
            if chunk.kind is Kind.INDEX:
                offset = stop + 1 + at
                runs.append(
                    Scanned(chunk.seq, chunk.kind, b"", extent, offset, chunk.encoded_bytes)
                )
        at = tail.find(MAGIC, at + 1)
    return runs


def _check_replay_reaches_durable(
    sb: Superblock,
    scanned: list[Scanned],
    last: int,
    torn: tuple[tuple[int, int, str], ...],
    dropped: tuple[Scanned, ...],
) -> None:
    """Refuse a replay that stops short of what the disk shows was synced."""
    required, why = sb.durable_seq, f"seq {sb.durable_seq} was durable"
    for chunk in scanned:
        # A run is appended only after everything it covers (seq - 1 and below) was synced.
        if chunk.kind is Kind.INDEX and chunk.seq - 1 > required:
            required = chunk.seq - 1
            why = (
                f"the index run at extent {chunk.extent} offset {chunk.offset} shows seq "
                f"{required} was durable"
            )
    if last >= required:
        return
    if torn:
        extent, offset, reason = min(torn, key=lambda t: (t[0], t[1]))
    elif dropped:
        extent, offset = dropped[0].extent, dropped[0].offset
        reason = f"seq {last + 1} is missing before seq {dropped[0].seq}"
    else:
        extent, offset, reason = None, None, "chunks missing"
    raise CorruptionError(
        f"log ends at seq {last} but {why} ({reason})", extent=extent, offset=offset
    )


def _free_extents_to_reset(disk: Disk, sb: Superblock) -> tuple[int, ...]:
    """Free extents that hold bytes: reset them, unless they hold chunks the record's index
    run does not cover, which only a newer, lost record can account for."""
    resets = []
    for extent in disk.geometry.log_extents:
        if sb.states[extent] is not ExtentState.FREE or not disk.write_pointer(extent):
            continue
        newer = [c for c in scan_extent(disk, extent, 0, 0).chunks if c.seq > sb.covers_seq]
        if newer:
            raise CorruptionError(
                f"superblock record {sb.generation} calls this extent free, but it holds "
                f"chunk seq {newer[0].seq}, newer than its index run covers ({sb.covers_seq}): "
                f"a newer superblock record must have been damaged",
                extent=extent,
                offset=newer[0].offset,
            )
        resets.append(extent)
    return tuple(resets)


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
    """Make the disk match the plan, durably, before anything new is written.

    A plan that truncates a superblock extent or resets an extent is made twice first: a read
    that returned flipped bits once would otherwise have recovery destroy a valid record, or
    what a valid record names, on its word. (A log tail it truncates holds nothing promised
    durable, or the plan would have refused.) If the disk reads back
    differently the second time, nothing is written and `CorruptionError` is raised.
    """
    if plan.resets or any(extent < SUPERBLOCK_EXTENTS for extent, _ in plan.truncations):
        again = plan_recovery(disk)
        if _destroys(again) != _destroys(plan):
            raise CorruptionError(
                "the disk read back differently on a second look; recovery destroys nothing "
                "on the word of a read it cannot repeat"
            )
    for extent, length in plan.truncations:
        disk.truncate(extent, length)
    for extent in plan.resets:
        disk.reset(extent)
    # Always sync: what survived a process crash may still sit in the OS cache, and the node
    # is about to treat everything it replayed as durable.
    disk.sync()


def _destroys(plan: RecoveryPlan) -> tuple[object, ...]:
    """What a plan is about to destroy, and on whose authority."""
    generation = None if plan.found is None else plan.found.superblock.generation
    return (generation, plan.last_seq, plan.truncations, plan.resets)
