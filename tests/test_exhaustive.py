"""Exhaustive crash checking: it passes on the node and finds each planted crash bug."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from kvcheck.crash import exhaustive
from kvcheck.evidence.planted import CRASH_PLANTED
from kvcheck.machine import ops
from kvcheck.machine.ops import Op
from kvcheck.machine.targets import Target, load_factory, simdisk_target
from kvnode import SMALL_GEOMETRY, PendingWrite

# Puts big enough to fill an extent, so the sync rolls over and reclamation has a victim.
HISTORY = [
    ops.put(b"k1", b"\x01" * 3816),
    ops.put(b"k0", b"\x02" * 3816),
    ops.put(b"k1", b""),
    Op("sync"),
    Op("reclaim"),
]


def test_crash_variants_are_every_subset_then_each_with_one_torn_page() -> None:
    pending = [PendingWrite(0, "page", 2, 0, b"ab"), PendingWrite(1, "truncate", 3, 0)]
    variants = list(exhaustive.crash_variants(pending, tear_cuts=3))
    subsets = {keep for keep, tears in variants if not tears}
    assert subsets == {(False, False), (True, False), (False, True), (True, True)}
    assert all(keep[0] for keep, tears in variants if tears)  # only kept page writes tear


def test_every_crash_state_of_a_history_recovers_legally_on_the_node() -> None:
    report = exhaustive.ExhaustiveReport()
    exhaustive.check_history(HISTORY, simdisk_target, report)
    assert report.failure is None, report.failure
    assert report.points >= 3  # reclamation's writes, interrupted one by one
    assert report.crash_states >= report.points


def test_random_histories_run_within_the_budget() -> None:
    report = exhaustive.run(simdisk_target, seed=5, budget=1.0)
    assert report.failure is None
    assert report.histories >= 1
    assert report.seconds < 5


@pytest.mark.parametrize("bug", sorted(CRASH_PLANTED))
def test_exhaustive_mode_finds_each_planted_crash_bug(bug: str) -> None:
    factory: Callable[[], Target] = CRASH_PLANTED[bug]
    # The run stops at the first failure: the budget bounds only a run that finds nothing,
    # so it is generous, not a target (a loaded machine checks fewer histories a second).
    report = exhaustive.run(factory, seed=1, budget=90)
    assert report.failure is not None
    assert report.failure.log[-1].kind == "dirty_reboot"


def test_a_failure_replays_through_the_harness() -> None:
    from kvcheck import ConformanceError, Harness

    report = exhaustive.run(CRASH_PLANTED["early_persistence"], seed=1, budget=20)
    assert report.failure is not None
    harness = Harness(CRASH_PLANTED["early_persistence"]())
    with pytest.raises(ConformanceError):
        for op in report.failure.log:
            harness.run(op)


def test_small_geometry_is_what_the_default_target_uses() -> None:
    target = simdisk_target()
    assert target.page_bytes == SMALL_GEOMETRY.page_bytes


@pytest.mark.parametrize(
    ("spec", "finds"),
    [
        ("kvcheck.evidence.planted_stores:replace_file", False),
        ("kvcheck.evidence.planted_stores:rename_not_synced", True),
        ("kvcheck.evidence.planted_filedisk:header_not_synced", True),
    ],
)
def test_every_file_level_crash_state_of_short_histories(spec: str, finds: bool) -> None:
    report = exhaustive.run(load_factory(spec), seed=3, budget=1.5)
    assert (report.failure is not None) == finds, report.failure
    assert report.crash_states > 0
