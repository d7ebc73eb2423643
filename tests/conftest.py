"""Shared fixtures, and the Hypothesis profile for the suite (`KV_PROFILE`, else ci/dev)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hypothesis import settings

from kvcheck.frontends import constants
from kvcheck.frontends.profiles import default_profile
from kvnode import SMALL_GEOMETRY, Node, SimDisk

settings.load_profile(default_profile())


def pytest_collection_finish(session: pytest.Session) -> None:
    """Before any test runs (not while pytest starts up, when Hypothesis asks plugins to keep
    off its storage): a derandomized test then draws the same examples alone and in the whole
    suite."""
    constants.settle()


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
