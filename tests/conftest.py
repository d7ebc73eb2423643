"""Shared fixtures: small simulated disks and nodes over them."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from kvnode import SMALL_GEOMETRY, Node, SimDisk


@pytest.fixture
def disk() -> SimDisk:
    """A blank small simulated disk."""
    return SimDisk(SMALL_GEOMETRY)


@pytest.fixture
def node(disk: SimDisk) -> Iterator[Node]:
    """A node over the `disk` fixture."""
    n = Node.open(disk)
    yield n
    n.close()
