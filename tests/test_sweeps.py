"""Sweeps: every crash point and every failed disk call inside one operation, on purpose."""

from __future__ import annotations

import pytest

from kvcheck.evidence.catalog import BUGS
from kvcheck.machine.core import ConformanceError
from kvcheck.machine.harness import Harness
from kvcheck.machine.targets import as_target, simdisk_target

BY_NAME = {bug.name: bug for bug in BUGS}


def harness(factory=simdisk_target, **flags: bool) -> Harness:
    return Harness(as_target(factory()), factory=factory, **flags)


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
    with pytest.raises(Exception, match=r"extent|holds|lost|model"):
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
    assert not any(
        "sweep" in repr(branch)
        for branch in off.branches  # type: ignore[attr-defined]
    )
