"""The Drain promise: with every key deleted and synced, the node takes as many values of the
largest size as a fresh node does.

Found by the Drain property: reclamation could spend the reserved extents on an evacuation that
needed two extents to free one, or that could not finish, until no free extent was left and the
durable index run pointed into every other log extent. Then even an empty index could not be
flushed, so nothing could ever be freed again. The sequence below reached that state; the
reserve rules in the node's theory of operation (the part about space) keep it from happening.
The old rules are planted as the catalog's `reserve_spent_by_reclamation`, which
`tests/test_catalog.py` requires the conformance machine to find.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from kvcheck.evidence.catalog import BY_NAME
from kvcheck.machine.targets import CHECK_GEOMETRY, fresh_capacity
from kvnode import DiskFullError, FileDisk, Limits, Node, SimDisk
from kvnode.disk import Disk
from kvnode.limits import RESERVED_EXTENTS

LIMITS = Limits.for_geometry(CHECK_GEOMETRY)
LARGEST = LIMITS.value_bytes_max
CAPACITY = fresh_capacity(CHECK_GEOMETRY)


def old_reserve_node() -> type[Node]:
    """The node with the reserve as it was (the catalog's `reserve_spent_by_reclamation`)."""
    return BY_NAME["reserve_spent_by_reclamation"].node_class()


def replay(node: Node) -> None:
    """The sequence the Drain property found, ending with the drain that could not finish."""

    def drain() -> None:
        for key, _ in node.scan():
            node.delete(key)
        node.sync()

    node.put(b"k0", b"\x00" * 229)
    drain()
    node.put(b"k0", b"\x00" * 3816)
    assert node.get(b"k0") == b"\x00" * 3816
    node.put(b"k0", b"")
    node.put(b"k0", b"")
    node.put(b"k0", b"\x00" * 177)
    node.put(b"k2", b"")
    node.put(b"\x00", b"")
    node.put(b"\x00\x00\x00", b"\x00" * 3816)
    node.put(b"\x00" * 35, b"\x00" * 195)
    node.put(b"\x00\x00\x00\x00", b"\x00" * 3815)
    node.flush_index()
    node.put(b"k1", b"")
    node.put(b"k3", b"")
    node.reclaim()
    drain()
    node.put(b"k0", b"\x00" * LARGEST)


def drain_and_refill(node: Node) -> None:
    """Delete every key, sync, and put as many values of the largest size as a fresh node
    takes."""
    for key, _ in node.scan():
        node.delete(key)
    node.sync()
    for i in range(CAPACITY):
        node.put(b"d%d" % i, b"\x00" * LARGEST)


@pytest.fixture(params=["simdisk", "filedisk"])
def reopen(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[[], Node]]:
    """Opens a node, the first time on a blank disk, then on what the previous one left."""
    sim = SimDisk(CHECK_GEOMETRY)
    path = tmp_path / "data"
    opened: list[Node] = []

    def open_node() -> Node:
        disk: Disk
        if request.param == "simdisk":
            disk = sim
        else:
            disk = FileDisk.open(path) if opened else FileDisk.create(path, CHECK_GEOMETRY)
        opened.append(Node.open(disk))
        return opened[-1]

    yield open_node
    opened[-1].close()


def test_the_largest_put_after_a_drain_succeeds_and_is_kept(reopen: Callable[[], Node]) -> None:
    node = reopen()
    assert node.limits.value_bytes_max == LARGEST
    replay(node)
    assert node.get(b"k0") == b"\x00" * LARGEST
    assert node.scan() == [(b"k0", b"\x00" * LARGEST)]
    assert node.stats().free_extents >= RESERVED_EXTENTS
    node.close()
    node = reopen()
    assert node.scan() == [(b"k0", b"\x00" * LARGEST)]
    drain_and_refill(node)  # and a drain from here gives back a fresh node's worth
    assert len(node.scan()) == CAPACITY


def test_the_old_reserve_ran_dry_on_this_sequence() -> None:
    node = old_reserve_node().open(SimDisk(CHECK_GEOMETRY))
    with pytest.raises(DiskFullError, match="no free extent left"):
        replay(node)
