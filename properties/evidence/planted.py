"""Targets with planted bugs, to show that the properties catch what they claim to.

Each factory returns the built-in node on a simulated disk, either behind a wrapper that
misbehaves at the API or as a subclass that breaks one mechanism inside the node; the shipped
node is never changed. Try one: `kvcheck --target kvcheck.evidence.planted:scan_out_of_order`.
"""

from __future__ import annotations

import contextlib
from typing import Any

import attrs

from kvcheck.machine.targets import SimDiskTarget
from kvnode import Dependency, DiskFullError, DiskIOError, Limits, Node
from kvnode.disk import Disk
from kvnode.index_run import Locator
from kvnode.locks import LockFactory, thread_lock
from kvnode.recovery import apply_plan, plan_recovery


class _Wrapper:
    """Delegates everything to the node it wraps."""

    def __init__(self, node: Node, target: _PlantedTarget):
        self._node = node
        self._target = target

    def __getattr__(self, name: str) -> Any:
        return getattr(self._node, name)


class _PlantedTarget(SimDiskTarget):
    wrapper: type[_Wrapper] = _Wrapper

    def __init__(self) -> None:
        super().__init__()
        self.forgotten: set[bytes] = set()
        self.deleted: dict[bytes, bytes] = {}

    def open(self) -> Any:
        return self.wrapper(super().open(), self)


class _ForgetsAfterReclaim(_Wrapper):
    """Reclamation that moved live chunks forgets the smallest key (as if it skipped a copy)."""

    def reclaim(self) -> None:
        moved = self._node.stats().chunks_moved
        self._node.reclaim()
        pairs = self._visible()
        if self._node.stats().chunks_moved > moved and pairs:
            self._target.forgotten.add(pairs[0][0])

    def put(self, key: bytes, value: bytes) -> Any:
        self._target.forgotten.discard(key)
        return self._node.put(key, value)

    def get(self, key: bytes) -> bytes | None:
        return None if key in self._target.forgotten else self._node.get(key)

    def scan(self, start: bytes = b"", end: bytes | None = None) -> list[tuple[bytes, bytes]]:
        return [(k, v) for k, v in self._node.scan(start, end) if k not in self._target.forgotten]

    def _visible(self) -> list[tuple[bytes, bytes]]:
        return self.scan()


class _LosesDeletesOnReboot(_Wrapper):
    """Recovery that ignores tombstones: keys deleted before a clean reboot come back."""

    def __init__(self, node: Node, target: _PlantedTarget):
        super().__init__(node, target)
        for key, value in target.deleted.items():
            with contextlib.suppress(DiskFullError):
                node.put(key, value)
        target.deleted.clear()

    def delete(self, key: bytes) -> Any:
        old = self._node.get(key)
        if old is not None:
            self._target.deleted[key] = old
        return self._node.delete(key)

    def put(self, key: bytes, value: bytes) -> Any:
        self._target.deleted.pop(key, None)
        return self._node.put(key, value)


class _ScansOutOfOrder(_Wrapper):
    """A scan that returns pairs in reverse key order once there are several."""

    def scan(self, start: bytes = b"", end: bytes | None = None) -> list[tuple[bytes, bytes]]:
        pairs = self._node.scan(start, end)
        return pairs[::-1] if len(pairs) > 2 else pairs


def _planted(wrapper: type[_Wrapper]) -> _PlantedTarget:
    target = _PlantedTarget()
    target.wrapper = wrapper
    target.name = wrapper.__name__.strip("_")
    return target


def forget_after_reclaim() -> _PlantedTarget:
    """The node, but reclamation forgets a key."""
    return _planted(_ForgetsAfterReclaim)


def lose_delete_after_reboot() -> _PlantedTarget:
    """The node, but deletes are lost across a clean reboot."""
    return _planted(_LosesDeletesOnReboot)


def scan_out_of_order() -> _PlantedTarget:
    """The node, but scans of three or more pairs come back in reverse order."""
    return _planted(_ScansOutOfOrder)


def never_reclaims() -> SimDiskTarget:
    """The node, but reclamation never frees anything."""
    return _node_bug(_NeverReclaims)


PLANTED = {
    "never_reclaims": never_reclaims,
    "forget_after_reclaim": forget_after_reclaim,
    "lose_delete_after_reboot": lose_delete_after_reboot,
    "scan_out_of_order": scan_out_of_order,
}


# -- bugs inside the node: subclasses that change one mechanism ------------------------------


class _EarlyPersistence(Node):
    """A put's dependency claims persistence before any sync (as if the write were durable)."""

    def put(self, key: bytes, value: bytes) -> Dependency:
        super().put(key, value)
        return Dependency.persistent()


class _ResetBeforeDurable(Node):
    """Reclamation resets the victim right after copying, before the copies are durable."""

    def _evacuate(self, victim: int) -> None:
        with self._lock:
            moving = self._index.in_extent(victim)
        for key, loc in moving:
            self._move_chunk(key, loc, self._read_value(key, loc))
        with self._lock:
            self._disk_reset(victim)  # the bug: the copies and the new index run are not durable
            self._flush_locked(freeing=victim)
            self._reset_freed(victim)


class _StaleReplay(Node):
    """Recovery that does not truncate what lies beyond the recovered end of the log."""

    @classmethod
    def open(
        cls,
        disk: Disk,
        limits: Limits | None = None,
        *,
        locks: LockFactory = thread_lock,
        read_only: bool = False,
    ) -> Node:
        plan = attrs.evolve(plan_recovery(disk), truncations=())
        apply_plan(disk, plan)
        return cls(disk, plan, limits, locks=locks)


class _StaleReadAfterError(Node):
    """A get that meets a read error answers from a cache of earlier reads (maybe stale)."""

    def _read_value(self, key: bytes, loc: Locator) -> bytes:
        cache: dict[bytes, bytes] = self.__dict__.setdefault("_cache", {})
        try:
            value = super()._read_value(key, loc)
        except DiskIOError:
            if key in cache:
                return cache[key]
            raise
        cache[key] = value
        return value


class _NeverReclaims(Node):
    """Reclamation that never finds a victim: once full, the disk stays full."""

    def _reclaim_once(self) -> int | None:
        return None


def _node_bug(node_class: type[Node]) -> SimDiskTarget:
    target = SimDiskTarget(node_class=node_class)
    target.name = node_class.__name__.strip("_")
    return target


def early_persistence() -> SimDiskTarget:
    """The node, but a put's dependency is persistent at once."""
    return _node_bug(_EarlyPersistence)


def reset_before_durable() -> SimDiskTarget:
    """The node, but reclamation resets the victim before the copies are durable."""
    return _node_bug(_ResetBeforeDurable)


def stale_replay() -> SimDiskTarget:
    """The node, but recovery leaves stale bytes beyond the write pointers."""
    return _node_bug(_StaleReplay)


def stale_read_after_error() -> SimDiskTarget:
    """The node, but a get returns cached (possibly old) data after a read error."""
    return _node_bug(_StaleReadAfterError)


#: Bugs the crash properties must find (machine with crashes on, faults off).
CRASH_PLANTED = {
    "early_persistence": early_persistence,
    "reset_before_durable": reset_before_durable,
    "stale_replay": stale_replay,
}
#: Bugs the fault properties must find (machine with faults on).
FAULT_PLANTED = {"stale_read_after_error": stale_read_after_error}
