"""`LogState`: the node's on-disk state, and the writes that change it.

What the node keeps about its log (extent states, soft write pointers, the active extent,
sequence numbers, where the index run and the newest superblock record are) and the mechanics
every operation shares: appending chunks, opening extents, superblock records, syncs and index
runs. Nothing here locks: `kvnode.node.Node`, the one subclass, calls all of it with its state
lock held (see its theory of operation), except `_read_value`, which only reads.

Failures: a write or sync that raises leaves the disk in a state the node cannot vouch for, so
`_guard` marks the node failed (`_failed`), and the node refuses changes until it is reopened.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from kvnode.chunk import Kind, decode_value, encode
from kvnode.dependency import DurabilityClock
from kvnode.disk import Disk
from kvnode.errors import CorruptChunk, CorruptionError, DiskFullError
from kvnode.index_run import ENTRY_OVERHEAD_BYTES, Locator, encode_run
from kvnode.limits import CHUNK_HEADER_BYTES, RESERVED_EXTENTS, SUPERBLOCK_EXTENTS
from kvnode.recovery import RecoveryPlan
from kvnode.superblock import NO_EXTENT, ExtentState, Superblock

T = TypeVar("T")


class _NoSpace(Exception):
    """A client write found no room it may take: reclaim, then try again. The message, if
    any, says why, for the `DiskFullError` raised if reclamation cannot help."""


class LogState:
    """The log and superblock of one node: its state, and appends, syncs and index runs."""

    #: True while reclamation evacuates an extent (`kvnode.node.Node._reclaim_once`).
    _evacuating = False

    def __init__(self, disk: Disk, plan: RecoveryPlan, *, read_only: bool = False):
        """Take over the state recovery found, formatting a blank disk (unless `read_only`)."""
        self._disk = disk
        self._read_only = read_only
        self._geometry = disk.geometry
        self._clock = DurabilityClock()
        self._index = plan.index
        self._failed: str | None = None
        self._counters = {"index_flushes": 0, "reclaims": 0, "chunks_moved": 0}
        self._replayed = plan.replayed
        self._run_extents = plan.run_extents
        self._next_seq = plan.last_seq + 1
        self._synced_seq = plan.last_seq
        #: Free extents whose blocks the file system has set aside for this node (see
        #: `_back_reserve`); the others may find no room when opened.
        self._backed: set[int] = set()
        if plan.found is None:
            self._format(write=not read_only)
            self._back_reserve()
            return
        sb = plan.found.superblock
        self._states = list(sb.states)
        self._soft_wps = list(sb.soft_wps)
        self._active = sb.active_extent
        self._covers_seq = sb.covers_seq
        self._index_loc = (sb.index_extent, sb.index_offset, sb.index_length)
        self._sb_gen = sb.generation
        self._sb_extent = plan.found.extent
        self._recorded_seq = sb.durable_seq
        self._back_reserve()

    def _format(self, *, write: bool = True) -> None:
        count = self._geometry.extent_count
        self._states = [ExtentState.SUPERBLOCK] * SUPERBLOCK_EXTENTS + [ExtentState.FREE] * (
            count - SUPERBLOCK_EXTENTS
        )
        self._soft_wps = [0] * count
        self._active = SUPERBLOCK_EXTENTS
        self._states[self._active] = ExtentState.LOG
        self._covers_seq = 0
        self._index_loc = (NO_EXTENT, 0, 0)
        self._sb_gen = 0
        self._sb_extent = 0
        self._recorded_seq = 0
        if write:
            self._write_superblock()
            self._disk_sync()

    # -- disk writes: any failure leaves the node refusing changes --------------------------

    def _guard(self, fn: Callable[[], T]) -> T:
        try:
            return fn()
        except DiskFullError:
            # A disk raises this only for an append it undid (a full file system), so nothing
            # on the disk changed, and a chunk append changes the node's state only once it
            # succeeds: the node goes on, and writes again once there is room. (A superblock
            # record can be appended after the node acted on it; `FileDisk` reports running
            # out of space there as `DiskIOError`.)
            raise
        except Exception as err:
            self._failed = f"{type(err).__name__}: {err}"
            raise

    def _disk_append(self, extent: int, data: bytes) -> int:
        return self._guard(lambda: self._disk.append(extent, data))

    def _disk_reset(self, extent: int) -> None:
        self._guard(lambda: self._disk.reset(extent))
        # A reset gives the extent's blocks back to the file system: take them for the
        # reserve again if it is short.
        self._back_reserve()

    def _disk_reserve(self, extent: int) -> None:
        """Have the file system set aside the extent's blocks (`FileDisk.reserve`): raises
        `DiskFullError`, with nothing changed, if it has no room. Disks without a file system
        below them (`SimDisk`, wrappers of one) need no such method."""
        reserve = getattr(self._disk, "reserve", None)
        if reserve is not None:
            self._guard(lambda: reserve(extent))

    def _back_reserve(self) -> None:
        """Hold file system blocks for `RESERVED_EXTENTS` free extents, as far as there is
        room. On a full file system the reserve is what lets deletes and reclamation go on:
        without it, a tombstone that needs a new extent would find no blocks for it."""
        if self._read_only or getattr(self._disk, "reserve", None) is None:
            return
        for extent in self._geometry.log_extents:
            if len(self._backed) >= RESERVED_EXTENTS:
                return
            if self._states[extent] is ExtentState.FREE and extent not in self._backed:
                try:
                    self._disk_reserve(extent)
                except DiskFullError:
                    return  # the file system is full: back more once something is reset
                self._backed.add(extent)

    def _disk_sync(self) -> None:
        through, seq = self._clock.issued, self._next_seq - 1
        self._guard(self._disk.sync)
        self._clock.synced(through)
        self._synced_seq = seq

    # -- the log ---------------------------------------------------------------------------

    def _read_value(self, key: bytes, loc: Locator) -> bytes:
        if loc.offset + loc.length > self._disk.write_pointer(loc.extent):
            raise CorruptionError(
                "locator points past the write pointer", extent=loc.extent, offset=loc.offset
            )
        try:
            return decode_value(
                self._disk.read(loc.extent, loc.offset, loc.length), Kind.PUT, key, loc.seq
            )
        except CorruptChunk as err:
            raise CorruptionError(err.reason, extent=loc.extent, offset=loc.offset) from None

    def _append_log(self, kind: Kind, key: bytes, value: bytes, *, client: bool) -> Locator:
        data = encode(kind, self._next_seq, key, value)
        if client:
            self._check_reserve(kind)
        if kind is Kind.TOMBSTONE:
            self._check_run_fits_after(key, len(data), client=client)
        if self._disk.write_pointer(self._active) + len(data) > self._geometry.extent_bytes:
            self._open_extent(client=client)
        offset = self._disk_append(self._active, data)
        self._next_seq += 1
        return Locator(self._active, offset, len(data), self._next_seq - 1)

    def _open_extent(self, *, client: bool) -> None:
        free = [e for e in self._geometry.log_extents if self._states[e] is ExtentState.FREE]
        if client and len(free) <= RESERVED_EXTENTS:
            raise _NoSpace
        if not free:
            raise DiskFullError("no free extent left, even for reclamation")
        # Client writes take extents outside the backed reserve, and reclamation and full-disk
        # deletes the backed ones first, so the reserve's blocks are there when they need them.
        backed = [e for e in free if e in self._backed]
        unbacked = [e for e in free if e not in self._backed]
        extent = (unbacked or backed)[0] if client else (backed or unbacked)[0]
        assert self._disk.write_pointer(extent) == 0, f"free extent {extent} holds data"
        try:
            self._disk_reserve(extent)
        except DiskFullError as err:
            if client:  # reclamation gives blocks back to the file system when it resets
                raise _NoSpace(f"file system full: {err}") from None
            raise
        self._backed.discard(extent)
        self._states[extent] = ExtentState.LOG
        self._soft_wps[extent] = 0
        self._active = extent
        # Recovery only scans extents the superblock calls LOG: record the new one, durably,
        # before anything is written to it. Then a chunk in an extent the newest valid record
        # calls free can only mean that record is not the newest durable one (the newer was
        # damaged), and recovery refuses rather than reset the extent.
        self._write_superblock()
        self._disk_sync()

    def _free_extents(self) -> int:
        return self._states.count(ExtentState.FREE)

    def _check_reserve(self, kind: Kind) -> None:
        """Refuse a client write (raise `_NoSpace`) that could take room reclamation needs
        (see the theory of operation in `kvnode.node`)."""
        free = self._free_extents()
        if self._evacuating and free <= RESERVED_EXTENTS + 1:
            # The running evacuation may need all that is left: wait for it to finish.
            raise _NoSpace
        if kind is not Kind.TOMBSTONE and free < RESERVED_EXTENTS:
            # A delete on a full disk dipped into the reserve: reclaim it before writing more.
            raise _NoSpace

    def _check_run_fits_after(self, key: bytes, length: int, *, client: bool) -> None:
        """Refuse a tombstone of `length` bytes for `key` unless an index run of the index
        without `key` would still fit after it, in the active extent's tail or a free extent:
        `_NoSpace` for a client write (reclaim first), `DiskFullError` for a full-disk delete."""
        extent_bytes = self._geometry.extent_bytes
        used = self._disk.write_pointer(self._active)
        opening = used + length > extent_bytes
        free = self._free_extents() - opening
        run = CHUNK_HEADER_BYTES + self._index.run_bytes - ENTRY_OVERHEAD_BYTES - len(key)
        if free >= 1 or (free == 0 and (0 if opening else used) + length + run <= extent_bytes):
            return
        if client:
            raise _NoSpace
        raise DiskFullError("disk full: a delete must leave room for the index flush")

    def _sync_locked(self) -> None:
        self._disk_sync()
        if self._synced_seq > self._recorded_seq:
            # Rides along with the next sync; lets recovery tell mid-log damage from a torn tail.
            self._write_superblock()

    def _write_superblock(self) -> None:
        record = Superblock(
            generation=self._sb_gen + 1,
            covers_seq=self._covers_seq,
            durable_seq=self._synced_seq,
            active_extent=self._active,
            index_extent=self._index_loc[0],
            index_offset=self._index_loc[1],
            index_length=self._index_loc[2],
            states=tuple(self._states),
            soft_wps=tuple(self._soft_wps),
        ).encode()
        extent = self._sb_extent
        if self._disk.write_pointer(extent) + len(record) > self._geometry.extent_bytes:
            # The full extent keeps the newest durable record until the other one holds one.
            self._disk_sync()
            extent = 1 - extent
            self._disk_reset(extent)
        self._disk_append(extent, record)
        self._sb_extent = extent
        self._sb_gen += 1
        self._recorded_seq = self._synced_seq

    def _unflushed_log_bytes(self) -> int:
        return sum(
            self._disk.write_pointer(e) - self._soft_wps[e]
            for e in self._geometry.log_extents
            if self._states[e] is ExtentState.LOG
        )

    # -- index runs ----------------------------------------------------------------------------

    def _flush_locked(self, *, client: bool = False, freeing: int | None = None) -> None:
        if client:
            self._check_reserve(Kind.INDEX)
        self._disk_sync()  # everything the run points at is durable before the run
        covers = self._next_seq - 1
        entries = list(self._index.items())
        value = encode_run(covers, entries)
        # Until a newer run replaces it, the extents this run points into must stay readable.
        run_extents = frozenset(loc.extent for _, loc in entries)
        assert freeing not in run_extents, "freeing an extent the index still points into"
        length = CHUNK_HEADER_BYTES + len(value)
        if self._disk.write_pointer(self._active) + length > self._geometry.extent_bytes:
            self._open_extent(client=client)
        soft_wps = [
            self._disk.write_pointer(e) if s is ExtentState.LOG else 0
            for e, s in enumerate(self._states)
        ]
        offset = self._disk_append(self._active, encode(Kind.INDEX, covers + 1, b"", value))
        self._next_seq += 1
        self._disk_sync()  # the run is durable before the superblock names it
        self._covers_seq = covers
        self._index_loc = (self._active, offset, length)
        self._run_extents = run_extents | {self._active}
        self._soft_wps = soft_wps
        if freeing is not None:
            self._states[freeing] = ExtentState.FREE
            self._soft_wps[freeing] = 0
        self._write_superblock()
        self._disk_sync()
        self._counters["index_flushes"] += 1
