"""Nodes with planted races, to show that the concurrency properties catch what they claim to.

Each is a subclass of the built-in node that breaks one piece of its locking (see the theory
of operation in `kvnode.node`); the shipped node is never changed. None of them misbehaves when
operations run one at a time: the sequential properties pass them all. Run one with
`check_interleaving(workload, schedule, node_class=RACES["lost_put_during_reclaim"])`, or
`benchmarks/bench_races.py` for how quickly each is found and how far it shrinks.
"""

from __future__ import annotations

from kvnode import Dependency, Node
from kvnode.chunk import Kind, encode
from kvnode.index_run import Locator
from kvnode.limits import CHUNK_HEADER_BYTES


class CopiesWithoutCompare(Node):
    """Reclamation installs each copy without checking that the key still points at the chunk
    it copied: a put (or delete) that lands while reclamation copies its key is undone."""

    def _move_chunk(self, key: bytes, loc: Locator, value: bytes) -> None:
        with self._lock:
            self._check_writable()
            # The bug: no compare-and-set against `loc`.
            self._index.set(key, self._append_log(Kind.PUT, key, value, client=False))
            self._counters["chunks_moved"] += 1


class PublishesBeforeWriting(Node):
    """A put reserves its chunk's place in the log and publishes the locator under the lock,
    then writes the chunk in a second critical section (to keep the first one short): a reader
    in between follows the locator to bytes that are not there yet."""

    def put(self, key: bytes, value: bytes) -> Dependency:
        self._check_key(key)
        self._check_value(value)
        loc = self._with_space(lambda: self._reserve(key, value))
        with self._lock:
            self._check_writable()
            self._disk_append(loc.extent, encode(Kind.PUT, loc.seq, key, value))
            return Dependency(self._clock, self._clock.tick())

    def _reserve(self, key: bytes, value: bytes) -> Locator:
        if self._index.get(key) is None:
            self._check_index_room(key)
        length = CHUNK_HEADER_BYTES + len(key) + len(value)
        if self._disk.write_pointer(self._active) + length > self._geometry.extent_bytes:
            self._open_extent(client=True)
        loc = Locator(self._active, self._disk.write_pointer(self._active), length, self._next_seq)
        self._next_seq += 1
        self._index.set(key, loc)  # the bug: published before the chunk is written
        return loc


class SyncLocksMaintenanceInside(Node):
    """Sync takes the maintenance lock inside the state lock, to keep the superblock record it
    appends apart from a reclamation's: the reverse of the order reclamation takes them in, so
    a sync and a reclamation that each get their first lock deadlock."""

    def sync(self) -> None:
        with self._lock:
            self._check_writable()
            with self._maintenance:  # the bug: maintenance after state
                self._sync_locked()


class SyncsOutsideTheLock(Node):
    """Sync runs the slow disk sync without the state lock, so puts are not held up behind it,
    and reads the durable watermark after it: a put that lands while the disk syncs is marked
    durable though its chunk reached the disk after the sync began. Nothing is wrong until the
    power fails; then an acknowledged-persistent put can be gone."""

    def sync(self) -> None:
        with self._lock:
            self._check_writable()
        self._guard(self._disk.sync)  # the bug: unlocked, and the watermark is taken after
        with self._lock:
            self._clock.synced(self._clock.issued)
            self._synced_seq = self._next_seq - 1
            if self._synced_seq > self._recorded_seq:
                self._write_superblock()


class TicketBeforeWriting(Node):
    """A put takes its durability ticket in a first critical section (to hand out tickets in
    arrival order) and writes and publishes its chunk in a second: a sync in between covers the
    ticket, so the put reports persistent though its chunk was written after the sync. Readers
    never see anything wrong; only a power failure shows the lie."""

    def put(self, key: bytes, value: bytes) -> Dependency:
        self._check_key(key)
        self._check_value(value)
        with self._lock:
            self._check_writable()
            ticket = self._clock.tick()  # the bug: the ticket before the write
        self._with_space(lambda: self._put_locked(key, value))
        return Dependency(self._clock, ticket)


#: Races whose damage shows only after a power failure, for `kvcheck.concurrency.power_cuts`.
CUT_RACES: dict[str, type[Node]] = {
    "sync_outside_the_lock": SyncsOutsideTheLock,
    "ticket_before_writing": TicketBeforeWriting,
}

#: The planted races by name, each a node class for `check_interleaving(node_class=...)`.
RACES: dict[str, type[Node]] = {
    "lost_put_during_reclaim": CopiesWithoutCompare,
    "locator_before_chunk": PublishesBeforeWriting,
    "lock_order_deadlock": SyncLocksMaintenanceInside,
}
