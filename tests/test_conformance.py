"""The conformance machine passes on the node (planted bugs are in `tests/test_catalog.py`)."""

from __future__ import annotations

import importlib
from collections.abc import Callable

import pytest
from hypothesis import HealthCheck, Phase, settings
from hypothesis.stateful import invariant, run_state_machine_as_test

import kvcheck.frontends.profiles
from kvcheck import (
    STATES,
    Coverage,
    Target,
    conformance_machine,
    filedisk_target,
    simdisk_target,
)
from kvcheck.machine.coverage import CRASH_STATES, DAMAGE_STATES, FAULT_STATES

TestConformanceOnSimDisk = conformance_machine(simdisk_target).TestCase
TestConformanceWithFaultsOnSimDisk = conformance_machine(simdisk_target, faults=True).TestCase

FileDiskMachine = conformance_machine(filedisk_target)
TestConformanceOnFileDisk = FileDiskMachine.TestCase
TestConformanceOnFileDisk.settings = settings(settings(), max_examples=15)


class KeyCount(conformance_machine(simdisk_target)):  # type: ignore[misc]
    """The README's worked example of a new property."""

    @invariant()
    def stats_count_the_keys(self) -> None:
        assert self.h.store.stats().keys == len(self.h.model.scan())


TestKeyCount = KeyCount.TestCase


def test_run_without_crashes_reaches_every_state_and_operation() -> None:
    coverage = Coverage()
    run_state_machine_as_test(
        conformance_machine(simdisk_target, coverage=coverage, crashes=False),
        settings=settings(settings.get_profile("kvcheck-ci"), max_examples=400),
    )
    assert coverage.missed_states() == []
    assert coverage.missed_ops() == []
    assert set(coverage.states) == set(STATES) - CRASH_STATES - FAULT_STATES - DAMAGE_STATES


@pytest.mark.parametrize("factory", [simdisk_target, filedisk_target], ids=["simdisk", "filedisk"])
def test_damage_machine_holds_on_the_node_and_reaches_every_damage_state(
    factory: Callable[[], Target],
) -> None:
    coverage = Coverage()
    run_state_machine_as_test(
        conformance_machine(factory, coverage=coverage, damage=True),
        settings=settings(settings.get_profile("kvcheck-ci"), max_examples=60),
    )
    assert coverage.ops["damage"] > 0
    assert all(coverage.states[state] for state in DAMAGE_STATES), coverage.states


def test_fault_machine_passes_on_the_node() -> None:
    coverage = Coverage()
    run_state_machine_as_test(
        conformance_machine(simdisk_target, coverage=coverage, faults=True),
        settings=settings(settings.get_profile("kvcheck-ci"), max_examples=150),
    )
    assert coverage.states["fault-surfaced"] > 0
    assert coverage.states["crash-kept-some"] > 0


def test_a_store_without_reboots_still_runs_every_other_operation() -> None:
    from kvcheck.models import ReferenceKV

    coverage = Coverage()
    run_state_machine_as_test(
        conformance_machine(ReferenceKV, coverage=coverage),
        settings=settings(settings.get_profile("kvcheck-ci"), max_examples=20),
    )
    assert "reclaim-moved-live" in coverage.not_applicable
    assert coverage.ops["put"] > 0


def test_profiles_do_not_inherit_the_loaded_profile() -> None:
    settings.register_profile(
        "odd",
        max_examples=3,
        stateful_step_count=2,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    settings.load_profile("odd")
    try:
        importlib.reload(kvcheck.frontends.profiles)
        dev = settings.get_profile("kvcheck-dev")
        assert dev.stateful_step_count == 40
        assert Phase.shrink in dev.phases
        assert settings.get_profile("kvcheck-nightly").max_examples == 5000
        assert settings.get_profile("kvcheck-ci").derandomize
    finally:
        settings.load_profile(kvcheck.frontends.profiles.default_profile())
