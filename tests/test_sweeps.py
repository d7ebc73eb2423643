"""Sweeps: every crash point and every failed disk call inside one operation, on purpose."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from kvcheck.evidence.catalog import BUGS
from kvcheck.machine.core import ConformanceError
from kvcheck.machine.harness import Harness
from kvcheck.machine.targets import SimDiskTarget, Target, as_target, simdisk_target

BY_NAME = {bug.name: bug for bug in BUGS}


def harness(factory: Callable[[], object] = simdisk_target, *, faults: bool = False) -> Harness:
    return Harness(as_target(factory()), faults=faults, factory=factory)


def test_a_sweep_of_the_shipped_node_passes_and_logs_only_the_operation() -> None:
    h = harness(faults=True)
    for i in range(4):
        h.put(b"k%d" % i, b"v" * 300)
    h.crash_sweep(("flush_index",), (True, False), (), True, False)
    h.fault_sweep(("get", b"k1"), "read")
    assert [op.kind for op in h.log] == ["put"] * 4 + ["flush_index", "get"]
    assert h.coverage.ops["crash_sweep"] == 1 and h.coverage.states["crash-during-flush_index"]


def test_a_crash_sweep_finds_a_one_write_window_in_one_step() -> None:
    bug = BY_NAME["run_named_before_durable"]
    h = harness(bug.target_factory())
    h.put(b"k", b"v")
    with pytest.raises(ConformanceError, match="crash"):
        h.crash_sweep(("flush_index",), (False, True), (), True, False)
    # The failure is replayed on the harness as the plain step it stands for.
    assert h.log[-1].kind == "dirty_reboot" and h.log[-1].args[2] == ("flush_index",)


def test_a_fault_sweep_finds_a_read_error_swallowed_by_reclamation() -> None:
    bug = BY_NAME["copy_skipped_after_read_error"]
    h = harness(bug.target_factory(), faults=True)
    big = h.target.limits.value_bytes_max
    h.put(b"a", b"x" * (big // 3))
    h.put(b"b", b"y" * big)
    h.put(b"b", b"z")
    h.sync()
    with pytest.raises(AssertionError, match="freeing an extent the index still points into"):
        h.fault_sweep(("reclaim",), "read")
    kinds = [op.kind for op in h.log]
    assert "fail_disk" in kinds and kinds[-1] in ("reclaim", "clean_reboot")


def test_sweeps_are_drawn_only_when_asked_for() -> None:
    from hypothesis import find

    from kvcheck.machine.strategies import operations
    from kvnode import SMALL_GEOMETRY, Limits

    limits = Limits.for_geometry(SMALL_GEOMETRY)
    on = operations(limits, 256, crashes=True, faults_on=True, sweeps=True)
    assert find(on, lambda op: op.kind == "crash_sweep").kind == "crash_sweep"
    assert find(on, lambda op: op.kind == "fault_sweep").kind == "fault_sweep"
    off = operations(limits, 256, crashes=True, faults_on=True)
    assert not any("sweep" in repr(branch) for branch in off.branches)


class ReplayOnly(Target):
    """A SimDisk target that is not a `SimDiskTarget`, so sweeps replay the log to copy it."""

    def __init__(self, inner: SimDiskTarget) -> None:
        self.inner = inner
        self.limits, self.page_bytes = inner.limits, inner.page_bytes

    @property
    def disk(self) -> Any:  # type: ignore[override]
        return self.inner.disk

    def open(self) -> Any:
        return self.inner.open()

    def recover_copy(self) -> list[tuple[bytes, bytes]]:
        return self.inner.recover_copy()


def test_a_sweep_by_replay_finds_the_bug_too() -> None:
    planted = BY_NAME["run_named_before_durable"].target_factory()

    def factory() -> Target:
        return ReplayOnly(planted())  # type: ignore[arg-type]

    h = harness(factory)
    h.put(b"k", b"v")
    with pytest.raises(ConformanceError, match="failed to recover"):
        h.crash_sweep(("flush_index",), (False, True), (), True, False)
    assert h.log[-1].kind == "dirty_reboot"


def test_a_replica_failing_where_the_target_does_not_is_reported_as_not_deterministic() -> None:
    planted = BY_NAME["run_named_before_durable"].target_factory()
    h = Harness(
        ReplayOnly(SimDiskTarget()),
        factory=lambda: ReplayOnly(planted()),  # type: ignore[arg-type]
    )
    h.put(b"k", b"v")
    with pytest.raises(ConformanceError, match="is it deterministic"):
        h.crash_sweep(("flush_index",), (False, True), (), True, False)
