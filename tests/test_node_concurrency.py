"""What the node does outside its state lock: reads that meet moved chunks, and reclamation's
compare-and-set. A disk hook runs node calls at the moment a read reaches the disk, which is
when the reader holds no lock, so each interleaving is forced exactly, on one thread."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from kvcheck.concurrency.races import PRELUDE, ClientOp, Workload, check_interleaving
from kvcheck.concurrency.schedule import Schedule
from kvcheck.evidence.planted_races import CopiesWithoutCompare
from kvcheck.machine.targets import CHECK_GEOMETRY
from kvnode import DiskIOError, FileDisk, Node, NodeClosedError, SimDisk
from kvnode.disk import Disk
from kvnode.node import READ_ATTEMPTS

VICTIM = 2  # the prelude leaves extent 2 holding a dead `a` and live `b` and `c`


class HookedDisk:
    """Runs `hook` before each of the next `times` reads of `extent`, then reads."""

    def __init__(self, disk: Disk, extent: int, hook: Callable[[], None], times: int = 1):
        self.disk, self.extent, self.hook, self.times = disk, extent, hook, times

    def __getattr__(self, name: str) -> Any:
        return getattr(self.disk, name)

    def read(self, extent: int, offset: int, length: int) -> bytes:
        if extent == self.extent and self.times > 0:
            self.times -= 1
            self.hook()
        return self.disk.read(extent, offset, length)


def prelude_node(node_class: type[Node] = Node) -> tuple[Node, HookedDisk]:
    disk = HookedDisk(SimDisk(CHECK_GEOMETRY), VICTIM, lambda: None, times=0)
    node = node_class.open(disk)
    for key, value in PRELUDE:
        node.put(key, value)
    return node, disk


def test_a_get_whose_chunk_is_reclaimed_before_it_reads_looks_again() -> None:
    node, disk = prelude_node()
    disk.hook, disk.times = node.reclaim, 1
    assert node.get(b"b") == b"1" * 1000
    assert node.stats().reclaims == 1


def test_a_scan_whose_chunks_are_reclaimed_before_it_reads_looks_again() -> None:
    node, disk = prelude_node()
    disk.hook, disk.times = node.reclaim, 1
    assert node.scan() == [(b"a", b"3" * 1000), (b"b", b"1" * 1000), (b"c", b"2" * 1000)]


def test_a_reader_whose_chunk_keeps_moving_reads_under_the_lock_in_the_end() -> None:
    node, disk = prelude_node()
    puts = iter(range(READ_ATTEMPTS))

    class FailingRead(HookedDisk):
        """Each hooked read moves the key on, then fails, as a read of a reset extent would."""

        def read(self, extent: int, offset: int, length: int) -> bytes:
            if extent == self.extent and self.times > 0:
                self.times -= 1
                node.put(b"b", b"%d" % next(puts))
                raise DiskIOError("read", "extent was reset", extent=extent)
            return self.disk.read(extent, offset, length)

    node._disk = FailingRead(disk.disk, 3, lambda: None, times=READ_ATTEMPTS)
    node.put(b"b", b"first")  # in extent 3, where every read now fails and moves the key
    assert node.get(b"b") == b"%d" % (READ_ATTEMPTS - 1)


def test_a_read_error_while_the_locator_stays_put_is_raised() -> None:
    node, disk = prelude_node()
    disk.hook, disk.times = lambda: disk.disk.fail("read"), 1
    with pytest.raises(DiskIOError):
        node.get(b"b")


def test_reclamation_keeps_a_put_that_lands_while_it_copies_the_key() -> None:
    node, disk = prelude_node()
    disk.hook, disk.times = lambda: node.put(b"b", b"new"), 1  # at the copy of `b`
    node.reclaim()
    assert node.get(b"b") == b"new"
    assert node.stats().chunks_moved == 1  # `c` only: the copy of `b` would undo the put
    node.close()
    assert Node.open(disk.disk).get(b"b") == b"new"


def test_reclamation_keeps_a_delete_that_lands_while_it_copies_the_key() -> None:
    node, disk = prelude_node()
    disk.hook, disk.times = lambda: node.delete(b"b"), 1
    node.reclaim()
    assert node.get(b"b") is None


def test_without_the_compare_and_set_the_put_is_undone() -> None:
    node, disk = prelude_node(CopiesWithoutCompare)
    disk.hook, disk.times = lambda: node.put(b"b", b"new"), 1
    node.reclaim()
    assert node.get(b"b") == b"1" * 1000


def test_a_get_racing_close_on_real_files_fails_as_closed(tmp_path: Path) -> None:
    files = FileDisk.create(tmp_path / "data", CHECK_GEOMETRY)
    node = Node.open(files)
    node.put(b"k", b"v")
    node._disk = HookedDisk(files, VICTIM, node.close)
    with pytest.raises(NodeClosedError):
        node.get(b"k")


@pytest.mark.parametrize("task", ["reclaim", "flush_index"])
def test_a_put_that_opens_an_extent_at_any_point_of_maintenance_keeps_its_data(task: str) -> None:
    """A draft of the node's locking released the state lock between the flush that frees a
    victim and its reset, so a put could open the victim as its new active extent in between
    (onto its old bytes, to be wiped by the reset). The free-running test and PCT found it."""
    workload = Workload(((ClientOp("put", b"a", 1500, 65),),), (task,))  # overflows extent 3
    for switch_at in range(40):
        # Maintenance first, then the put, whole, at its `switch_at`-th decision.
        check_interleaving(workload, Schedule(choices=(1,) + (0,) * switch_at + (1,)))
