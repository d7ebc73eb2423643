"""A short tour of the node: durability, crash recovery, reclamation, and real files."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable

from kvnode.filedisk import FileDisk
from kvnode.fsck import fsck
from kvnode.limits import SMALL_GEOMETRY
from kvnode.node import Node
from kvnode.simdisk import CrashPlan, SimDisk


def run(out: Callable[[str], None]) -> None:
    """Print the tour to `out`."""
    _crashes(out)
    _reclamation(out)
    _files(out)


def _crashes(out: Callable[[str], None]) -> None:
    out("== crash recovery on a simulated disk ==")
    disk = SimDisk(SMALL_GEOMETRY)
    node = Node.open(disk)
    for i in range(3):
        node.put(b"synced-%d" % i, b"value %d" % i)
    node.sync()
    late = node.put(b"unsynced", b"may be lost")
    out(f"3 keys synced; 1 more put, persistent={late.is_persistent()}")
    disk.crash(CrashPlan.keep_nothing())
    node = Node.open(disk)
    out(f"crash keeping no unsynced write -> recovered keys: {[k for k, _ in node.scan()]}")
    node.put(b"torn", b"x" * 600)
    pending = disk.pending_writes()
    disk.crash(CrashPlan(keep={w.index for w in pending}, tears={pending[-1].index: 10}))
    node = Node.open(disk)
    out(f"crash tearing the last page of a put -> 'torn' present: {node.get(b'torn') is not None}")
    out(f"the torn tail was truncated; stats: {node.stats().keys} keys")
    node.close()


def _reclamation(out: Callable[[str], None]) -> None:
    out("== reclamation ==")
    node = Node.open(SimDisk(SMALL_GEOMETRY))
    for round_ in range(40):
        for i in range(4):
            node.put(b"k%d" % i, bytes([round_]) * 500)
    before = node.stats()
    node.reclaim()
    after = node.stats()
    out(
        f"{before.reclaims} reclaims ran on their own while writing; free extents "
        f"{before.free_extents} -> {after.free_extents} after one more; "
        f"live bytes {after.live_bytes} of {after.log_bytes} written"
    )
    node.close()


def _files(out: Callable[[str], None]) -> None:
    out("== real files ==")
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "data")
        with Node.open(FileDisk.create(path)) as node:
            for i in range(1000):
                node.put(b"key-%04d" % i, b"value-%d" % i)
        with Node.open(FileDisk.open(path)) as node:
            ok = all(node.get(b"key-%04d" % i) == b"value-%d" % i for i in range(1000))
            out(f"1000 keys written, closed, reopened: all read back = {ok}")
        disk = FileDisk.open(path)
        report = fsck(disk)
        disk.close()
        out(f"fsck: {report.chunks_verified} chunks verified, clean = {report.ok}")
