"""Any store kept in a directory, on the simulated file system: held to the durability it
promises through dirty reboots and faults, with its fsyncs audited. The record file written
right holds; each planted mistake fails, including one no process kill can show."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import settings

from kvcheck import Harness
from kvcheck.adapters import stdlib
from kvcheck.crash import process_kill
from kvcheck.evidence import planted_stores
from kvcheck.machine.conformance import conformance_machine
from kvcheck.machine.fs_targets import DirectoryTarget
from kvcheck.machine.targets import as_target, load_factory


def run_machine(factory: object, *, faults: bool = False, examples: int = 60) -> None:
    machine = conformance_machine(factory, faults=faults)  # type: ignore[arg-type]
    test = machine.TestCase
    test.settings = settings(max_examples=examples, stateful_step_count=30)
    test("runTest").runTest()


def test_a_factory_returning_a_directory_store_becomes_a_directory_target() -> None:
    target = as_target(planted_stores.replace_file())
    try:
        assert isinstance(target, DirectoryTarget) and target.disk is not None
    finally:
        target.cleanup()


@pytest.mark.parametrize("faults", [False, True])
def test_the_record_file_written_right_holds(faults: bool) -> None:
    run_machine(load_factory("kvcheck.evidence.planted_stores:replace_file"), faults=faults)


@pytest.mark.parametrize("bug", ["rewrite_in_place", "acknowledge_before_writing",
                                 "rename_not_synced"])  # fmt: skip
def test_each_planted_mistake_fails_under_power_loss(bug: str) -> None:
    with pytest.raises(AssertionError, match="after a crash"):
        run_machine(load_factory(f"kvcheck.evidence.planted_stores:{bug}"))


def test_a_rename_left_unsynced_survives_every_kill(tmp_path: Path) -> None:
    # What only the simulated file system shows: a killed process loses nothing the OS had.
    trials = process_kill.run(
        "kvcheck.evidence.planted_stores:rename_not_synced", str(tmp_path / "d"), 10, seed=3,
        delay_max=0.2,
    )  # fmt: skip
    assert trials.failure is None and trials.outcomes["all there"] == 10


def test_the_fsync_audit_counts_a_sync_that_makes_nothing_durable() -> None:
    h = Harness(DirectoryTarget(stdlib.dbm_dumb()))
    h.put(b"k", b"v")
    h.sync()
    h.put(b"k", b"w")
    h.clean_reboot()
    h.close()
    assert h.coverage.audit["sync made nothing durable"] == 1
    # The clean reboot's close and the last one: nothing dbm.dumb wrote was ever fsynced.
    assert h.coverage.audit["close made nothing durable"] == 2

    h = Harness(DirectoryTarget(planted_stores.replace_file()))
    h.put(b"k", b"v")
    h.close()
    assert h.coverage.audit == {}  # it fsyncs as it writes: nothing is left for close


def test_a_store_doing_its_io_in_c_is_sent_to_the_kill_trials() -> None:
    from kvcheck.machine.targets import TargetError

    with pytest.raises(TargetError, match="kvcheck sigkill"):
        as_target(stdlib.sqlite(), name="kvcheck.adapters.stdlib:sqlite")
