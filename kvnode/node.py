"""`Node`: the key-value API over a disk, a thin facade over the modules beside it.

Theory of operation: locking. A node has two locks, always taken in this order:

1. `_maintenance` (named "node.maintenance"): one index flush, reclamation or close at a time.
   Held for the whole of one. It guards nothing a client reads or writes, so clients never wait
   for it, except a write that needs reclaimed space, which takes it only after releasing 2.
2. `_lock` ("node.state"): guards every field (the index, extent states, soft write pointers,
   the active extent, sequence numbers, superblock fields, counters, closed and failed), and
   orders every disk *write*: append, truncate, reset and sync are called only while it is held.
   The log's order, the sequence numbers and the index therefore change together, so the order
   in which recovery replays chunks (by sequence number) is the order the index changed in.

Taking 1 while holding 2 could deadlock against a reclamation waiting for 2; nothing does.

What runs without the state lock, and why that is safe:

* Reading values (get, scan, and reclamation's copies). A reader takes its locators under the
  lock and reads the disk after releasing it. A chunk never changes once written; its locator
  names its sequence number, which is never reused while the node is open; and decoding checks
  the checksum, kind, key and sequence number. So a read returns the value the locator named at
  the instant it was taken (the operation's linearization point), or fails. It can fail only
  if the chunk moved meanwhile (reclamation copied it and reset its extent, which may since
  hold other bytes), and then the key's locator has changed: the reader looks again. A failure
  with the locator unchanged is a real error and is raised. After `READ_ATTEMPTS` such misses
  a reader reads under the lock, where nothing moves, so it cannot starve.
* Reclamation's copying. Holding the maintenance lock, it notes the victim's live locators under
  the state lock, reads each chunk without it, and then, under the state lock again, appends the
  copy and repoints the key only if the key still has the locator it noted (compare-and-set).
  Otherwise a client overwrote or deleted the key meanwhile, and installing the copy would undo
  that. Checking and appending in one hold of the lock gives a copy a sequence number after
  every write it did not undo, so a replay after a crash agrees with the index. The victim is
  not reset under the copier's feet: only reclamation resets extents, one at a time.

Index flushes, syncs and superblock updates run wholly under the state lock: writers wait for
them (about three syncs for a flush), readers already holding a locator do not. A write that
needs reclaimed space releases the state lock, reclaims, and tries again.
`kvnode.maintenance.Maintenance` runs flushes and reclamation on a background thread. The locks
come from a factory (`locks`), so a checker can substitute ones that yield to its scheduler.

Space. An extent may be reset only once the durable index run neither points into it nor
leaves chunks in it for replay. Freeing any other (after a drain, every extent: the old run
points into them and their tombstones are not covered) takes copies of its live chunks (less
than an extent: it has dead bytes) and then an index flush, whose run (at most an extent, by
the index-room check; tiny for an empty index) must fit somewhere. Invariant: one index run
always fits, in the active extent's tail or in a free extent. Client puts and flushes need the
whole reserve (`RESERVED_EXTENTS`: an extent for copies and one for a run): they never open one
of its extents, and write nothing while fewer are free. A delete, which a full disk must
accept, may dip into the reserve only as far as leaves room for the run of the index it leaves.
Reclamation evacuates a victim only if its copies and the run together fit in the active
extent's tail, or in one extent while one is free: appended in order, they then open at most
one extent while freeing one. While it runs with at most one extent beyond the reserve free,
client writes wait for it rather than take the room it counted on. So reclamation always
finishes, never leaves fewer free extents than it found or than the reserve, and once every key
is deleted, one flush of the empty index lets it free every extent but the active one.
On a file system (`FileDisk`), a free extent has no blocks until the node asks for them
(`FileDisk.reserve`, before it records the extent as opened), so the node holds the blocks of
`RESERVED_EXTENTS` free extents from open on, and takes them back after each reset. Client
writes open other extents; when the file system has no blocks for one, they reclaim (a reset
gives blocks back) and fail with `DiskFullError` only if that frees nothing. Deletes and
reclamation open the held ones, so a full file system still takes deletes.

Failures: an I/O error on a write or sync leaves the disk in a state the node cannot vouch for,
so the node refuses further changes (`NodeFailedError`) until it is reopened, which recovers it.
A read error fails only the operation that met it. Corrupt bytes raise `CorruptionError`; a read
never returns data that does not match its checksum, key and sequence number.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import TypeVar

import attrs

from kvnode.chunk import Kind
from kvnode.dependency import Dependency
from kvnode.disk import Disk
from kvnode.errors import (
    DiskFullError,
    InvalidKeyError,
    InvalidValueError,
    KVTypeError,
    NodeClosedError,
    NodeFailedError,
    ReadOnlyError,
)
from kvnode.index_run import ENTRY_OVERHEAD_BYTES, Locator
from kvnode.limits import CHUNK_HEADER_BYTES, Limits
from kvnode.locks import LockFactory, thread_lock
from kvnode.log import LogState, _NoSpace
from kvnode.reclaim import choose_victim
from kvnode.recovery import RecoveryPlan, apply_plan, plan_recovery
from kvnode.superblock import NO_EXTENT, ExtentState

T = TypeVar("T")
#: On close, flush the index when replaying the log would read more than this many bytes.
FLUSH_ON_CLOSE_BYTES = 1 << 20
#: Reads outside the state lock that may meet a moved chunk before a read under it.
READ_ATTEMPTS = 3
Entries = list[tuple[bytes, Locator]]


@attrs.frozen
class NodeStats:
    """A snapshot of a node's state and counters."""

    keys: int
    live_bytes: int
    log_bytes: int
    #: Log bytes written since the last index flush: what a reopen would replay.
    unflushed_bytes: int
    free_extents: int
    log_extents: int
    next_seq: int
    index_covers_seq: int
    durable_seq: int
    superblock_generation: int
    replayed_at_open: int
    index_flushes: int
    reclaims: int
    chunks_moved: int


def _check_open_args(disk: object, limits: object, read_only: object) -> None:
    """Refuse arguments of the wrong type before anything reads the disk."""
    for method in ("append", "read", "write_pointer", "truncate", "reset", "sync", "geometry"):
        if not hasattr(disk, method):
            raise KVTypeError(f"disk must implement the Disk protocol, not {type(disk).__name__}")
    if limits is not None and not isinstance(limits, Limits):
        raise KVTypeError(f"limits must be a Limits or None, not {type(limits).__name__}")
    if type(read_only) is not bool:
        raise KVTypeError(f"read_only must be a bool, not {type(read_only).__name__}")


class Node(LogState):
    """A log-structured key-value node; open one with `Node.open(disk)`."""

    def __init__(
        self,
        disk: Disk,
        plan: RecoveryPlan,
        limits: Limits | None = None,
        *,
        locks: LockFactory = thread_lock,
        read_only: bool = False,
    ):
        """Use `Node.open`, which recovers the disk first."""
        self._limits = limits or Limits.for_geometry(disk.geometry)
        if self._limits.key_bytes_max + self._limits.value_bytes_max + CHUNK_HEADER_BYTES > (
            disk.geometry.extent_bytes
        ):
            raise ValueError("limits allow a chunk larger than an extent")
        self._maintenance = locks("node.maintenance")
        self._lock = locks("node.state")
        self._closed = False
        super().__init__(disk, plan, read_only=read_only)

    @classmethod
    def open(
        cls,
        disk: Disk,
        limits: Limits | None = None,
        *,
        locks: LockFactory = thread_lock,
        read_only: bool = False,
    ) -> Node:
        """Recover whatever is on `disk` (formatting a blank one) and return a node over it.

        With `read_only`, nothing is written: recovery only plans, the node serves reads of
        what it would recover, and every change raises `ReadOnlyError`.
        """
        _check_open_args(disk, limits, read_only)
        plan = plan_recovery(disk)
        if not read_only:
            apply_plan(disk, plan)
        return cls(disk, plan, limits, locks=locks, read_only=read_only)

    @property
    def limits(self) -> Limits:
        """The largest key and value this node accepts."""
        return self._limits

    def __enter__(self) -> Node:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- public API ----------------------------------------------------------------------

    def put(self, key: bytes, value: bytes) -> Dependency:
        """Map `key` to `value`."""
        self._check_key(key)
        self._check_value(value)
        return self._with_space(lambda: self._put_locked(key, value))

    def get(self, key: bytes) -> bytes | None:
        """The value of `key`, or None if it has none."""
        self._check_key(key)

        def entry() -> Entries:
            loc = self._index.get(key)
            return [] if loc is None else [(key, loc)]

        pairs = self._read_consistent(entry)
        return pairs[0][1] if pairs else None

    def delete(self, key: bytes) -> Dependency:
        """Remove `key` (a no-op if absent; the dependency then waits for earlier writes)."""
        self._check_key(key)
        try:
            return self._with_space(lambda: self._delete_locked(key, client=True))
        except DiskFullError:
            # A full disk must still accept deletes, or space could never be freed. Holding
            # the maintenance lock keeps an evacuation from running short beside it.
            with self._maintenance, self._lock:
                self._check_writable()
                return self._delete_locked(key, client=False)

    def scan(self, start: bytes = b"", end: bytes | None = None) -> list[tuple[bytes, bytes]]:
        """Pairs with start <= key < end (no upper bound if `end` is None), in key order."""
        if type(start) is not bytes:
            raise KVTypeError(f"scan start must be bytes, not {type(start).__name__}")
        if end is not None and type(end) is not bytes:
            raise KVTypeError(f"scan end must be bytes or None, not {type(end).__name__}")
        return self._read_consistent(lambda: list(self._index.items(start, end)))

    def sync(self) -> None:
        """Make every earlier mutation durable: their dependencies turn persistent."""
        with self._lock:
            self._check_writable()
            self._sync_locked()

    def flush_index(self) -> None:
        """Write the index as an index run so recovery need not replay the log before it."""
        with self._maintenance:
            self._with_space(lambda: self._flush_locked(client=True), maintaining=True)

    def reclaim(self) -> None:
        """Evacuate the log extent with the most dead bytes and reset it for reuse."""
        with self._maintenance:
            with self._lock:
                self._check_writable()
            self._reclaim_once()

    def close(self) -> None:
        """Make everything durable and release the disk; closing twice is harmless."""
        with self._maintenance, self._lock:
            if self._closed:
                return
            try:
                if self._failed is None and not self._read_only:
                    replay_bytes = self._unflushed_log_bytes()
                    if replay_bytes > max(FLUSH_ON_CLOSE_BYTES, self._index.run_bytes):
                        # Only speeds up the next open: skip it rather than dip into the
                        # reserve, or when the file system has no room for it.
                        with contextlib.suppress(_NoSpace, DiskFullError):
                            self._flush_locked(client=True)
                    self._sync_locked()
                    self._disk_sync()  # the superblock record that sync appended
            finally:
                self._closed = True
                self._disk.close()

    def stats(self) -> NodeStats:
        """Counts of keys, bytes and extents, and the node's sequence numbers."""
        with self._lock:
            self._check_open()
            wps = [self._disk.write_pointer(e) for e in self._geometry.log_extents]
            states = [self._states[e] for e in self._geometry.log_extents]
            return NodeStats(
                keys=len(self._index),
                live_bytes=sum(self._index.live_bytes(e) for e in self._geometry.log_extents),
                log_bytes=sum(wps),
                unflushed_bytes=self._unflushed_log_bytes(),
                free_extents=states.count(ExtentState.FREE),
                log_extents=states.count(ExtentState.LOG),
                next_seq=self._next_seq,
                index_covers_seq=self._covers_seq,
                durable_seq=self._synced_seq,
                superblock_generation=self._sb_gen,
                replayed_at_open=self._replayed,
                **self._counters,
            )

    # -- argument and state checks ---------------------------------------------------------

    def _check_key(self, key: object) -> None:
        if type(key) is not bytes:
            raise KVTypeError(f"key must be bytes, not {type(key).__name__}")
        if not key:
            raise InvalidKeyError("key must not be empty")
        if len(key) > self._limits.key_bytes_max:
            raise InvalidKeyError(
                f"key of {len(key)} bytes exceeds key_bytes_max={self._limits.key_bytes_max}"
            )

    def _check_value(self, value: object) -> None:
        if type(value) is not bytes:
            raise KVTypeError(f"value must be bytes, not {type(value).__name__}")
        if len(value) > self._limits.value_bytes_max:
            limit = self._limits.value_bytes_max
            raise InvalidValueError(f"value of {len(value)} bytes exceeds value_bytes_max={limit}")

    def _check_open(self) -> None:
        if self._closed:
            raise NodeClosedError("node is closed")

    def _check_writable(self) -> None:
        self._check_open()
        if self._read_only:
            raise ReadOnlyError("node was opened read-only")
        if self._failed is not None:
            raise NodeFailedError(f"node refuses changes until reopened: {self._failed}")

    def _check_index_room(self, key: bytes) -> None:
        capacity = self._geometry.extent_bytes - CHUNK_HEADER_BYTES
        if self._index.run_bytes + ENTRY_OVERHEAD_BYTES + len(key) > capacity:
            raise DiskFullError(f"index full: an index run may take at most {capacity} bytes")

    # -- client writes and reads -------------------------------------------------------------

    def _put_locked(self, key: bytes, value: bytes) -> Dependency:
        if self._index.get(key) is None:
            self._check_index_room(key)
        loc = self._append_log(Kind.PUT, key, value, client=True)
        self._index.set(key, loc)
        return Dependency(self._clock, self._clock.tick())

    def _delete_locked(self, key: bytes, *, client: bool) -> Dependency:
        if self._index.get(key) is None:
            return Dependency(self._clock, self._clock.issued)
        self._append_log(Kind.TOMBSTONE, key, b"", client=client)
        self._index.remove(key)
        return Dependency(self._clock, self._clock.tick())

    def _with_space(self, attempt: Callable[[], T], *, maintaining: bool = False) -> T:
        """Run `attempt` under the state lock; when it would dip into the reserved extents,
        reclaim (with the state lock released: see the lock order) and try again."""
        why = "disk full: reclamation cannot free an extent"
        for _ in range(self._geometry.extent_count):
            with self._lock:
                self._check_writable()
                try:
                    return attempt()
                except _NoSpace as refused:
                    why = str(refused) or why
            if maintaining:
                freed = self._reclaim_once()
            else:
                with self._maintenance:
                    # The refusal may have been a running evacuation's, over by now: only if
                    # the attempt still finds no room does it need a reclamation of its own.
                    with self._lock:
                        self._check_writable()
                        with contextlib.suppress(_NoSpace):
                            return attempt()
                    freed = self._reclaim_once()
            if freed is None:
                break
        raise DiskFullError(why)

    def _read_consistent(self, snapshot: Callable[[], Entries]) -> list[tuple[bytes, bytes]]:
        """The values of the locators `snapshot` takes under the state lock, read outside it
        (see the module docstring for why a successful read is the value at the snapshot)."""
        for _ in range(READ_ATTEMPTS):
            with self._lock:
                self._check_open()
                entries = snapshot()
            pairs = []
            for key, loc in entries:
                try:
                    pairs.append((key, self._read_value(key, loc)))
                except Exception:
                    with self._lock:
                        self._check_open()
                        if self._index.get(key) == loc:
                            raise  # nothing moved: the failure is real
                    break
            else:
                return pairs
        with self._lock:
            self._check_open()
            return [(key, self._read_value(key, loc)) for key, loc in snapshot()]

    # -- maintenance: flushes and reclamation --------------------------------------------------

    def _reclaim_once(self) -> int | None:
        """Free one extent, or return None if none is worth it. The caller holds the
        maintenance lock and not the state lock (evacuation copies without it)."""
        with self._lock:
            self._check_writable()
            victim, droppable = self._choose_victim()
            if victim is None:
                return None
            if droppable:
                # Nothing in it is live or uncovered by the index run: free it without a flush.
                self._states[victim] = ExtentState.FREE
                self._soft_wps[victim] = 0
                self._write_superblock()
                self._disk_sync()
                self._reset_freed(victim)
                return victim
            self._evacuating = True
        try:
            self._evacuate(victim)
        finally:
            with self._lock:
                self._evacuating = False
        return victim

    def _choose_victim(self) -> tuple[int | None, bool]:
        count = self._geometry.extent_count
        copies = [self._index.live_bytes(e) for e in range(count)]
        live = list(copies)
        if self._index_loc[0] != NO_EXTENT:
            live[self._index_loc[0]] += self._index_loc[2]
        wps = [self._disk.write_pointer(e) for e in range(count)]
        droppable = [
            live[e] == 0 and wps[e] == self._soft_wps[e] and e not in self._run_extents
            for e in range(count)
        ]
        fits = self._evacuations_that_fit(copies, wps[self._active])
        capacity = self._geometry.extent_bytes
        victim = choose_victim(self._states, wps, live, self._active, droppable, fits, capacity)
        return victim, victim is not None and droppable[victim]

    def _evacuations_that_fit(self, copies: list[int], active_bytes: int) -> list[bool]:
        """For each extent holding `copies` live bytes, whether evacuating it would fit in the
        room reclamation may take (see the theory of operation)."""
        # The copies and then the run are appended in turn, each opening an extent if it does
        # not fit: when together they fit in one extent, everything from the first that did not
        # fit on goes into one fresh extent, so they take at most one, and none if they fit in
        # the active extent's tail. Moving an extent's worth to free one would gain nothing; a
        # flush alone is worth it even so, as it lets every extent with nothing live go.
        run = CHUNK_HEADER_BYTES + self._index.run_bytes
        extent_bytes = self._geometry.extent_bytes
        room = extent_bytes if self._free_extents() else extent_bytes - active_bytes
        return [c + run <= room and (c == 0 or c + run < extent_bytes) for c in copies]

    def _reset_freed(self, victim: int) -> None:
        # Only now, with the copies and the superblock that frees the victim durable.
        self._disk_reset(victim)
        self._disk_sync()
        self._counters["reclaims"] += 1

    def _evacuate(self, victim: int) -> None:
        """Copy the victim's live chunks forward, flush an index run that frees it, reset it."""
        with self._lock:
            moving = self._index.in_extent(victim)
        for key, loc in moving:
            value = self._read_value(key, loc)  # a read error aborts: the victim stays intact
            self._move_chunk(key, loc, value)
        # One hold for both: once the flush marks the victim free, a client could open it as
        # its active extent, and a reset after releasing the lock would wipe what it wrote.
        with self._lock:
            self._check_writable()
            self._flush_locked(freeing=victim)
            self._reset_freed(victim)

    def _move_chunk(self, key: bytes, loc: Locator, value: bytes) -> None:
        """Append a copy of `key`'s chunk and repoint the key at it, if it still has `loc`."""
        with self._lock:
            self._check_writable()
            if self._index.get(key) != loc:
                return  # overwritten or deleted since: the copy would undo that
            self._index.set(key, self._append_log(Kind.PUT, key, value, client=False))
            self._counters["chunks_moved"] += 1
