"""Helpers shared by several test modules."""

from __future__ import annotations

from kvnode import CrashPlan, Node, SimDisk


def crash_with_torn_tail(disk: SimDisk) -> None:
    """Put a synced key `a`, then an unsynced `b`, and crash tearing `b`'s last page."""
    node = Node.open(disk)
    node.put(b"a", b"1")
    node.sync()
    node.put(b"b", b"x" * 100)
    pending = disk.pending_writes()
    disk.crash(CrashPlan(keep={w.index for w in pending}, tears={pending[-1].index: 30}))
