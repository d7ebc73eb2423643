"""The conformance state machine: after every step, the target agrees with `ReferenceKV`.

Build one for any target with `conformance_machine(factory)` (in the spirit of schemathesis's
`as_state_machine()`), run it with `.TestCase` under unittest/pytest or with
`hypothesis.stateful.run_state_machine_as_test`, and extend it by subclassing::

    from hypothesis.stateful import invariant
    from kvcheck import conformance_machine, simdisk_target

    class KeyCount(conformance_machine(simdisk_target)):
        @invariant()
        def stats_count_the_keys(self) -> None:
            assert self.h.store.stats().keys == len(self.h.model.scan())

    TestKeyCount = KeyCount.TestCase

Inside a rule or invariant, `self.h` is the `Harness`: `self.h.store` the target's store,
`self.h.model` the model, `self.h.put(...)` and friends apply a step to both and compare.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, ClassVar

from hypothesis.stateful import RuleBasedStateMachine, rule

from kvcheck.machine.coverage import Coverage
from kvcheck.machine.harness import Harness
from kvcheck.machine.ops import Op
from kvcheck.machine.strategies import FAULT_KINDS, operations
from kvcheck.machine.targets import Target, as_target, simdisk_target
from kvnode import SMALL_GEOMETRY, Limits


class ConformanceMachine(RuleBasedStateMachine):
    """Drive a target and the model with the same random operations; compare every step."""

    #: Makes a fresh target for each example.
    target_factory: ClassVar[Callable[[], object]] = staticmethod(simdisk_target)
    #: Where examples report coverage; one object accumulates over a whole property run.
    coverage: ClassVar[Coverage | None] = None
    #: The harness of the most recent example: after a failure, the minimal one.
    last_harness: ClassVar[Harness | None] = None
    #: When (`time.monotonic()`) an example first failed since this was last set to None:
    #: how long the search took to find a failure, apart from shrinking it.
    first_failure_at: ClassVar[float | None] = None

    def __init__(self) -> None:
        super().__init__()
        cls = type(self)
        self.h = Harness(as_target(cls.target_factory()), cls.coverage, factory=cls.target_factory)
        ConformanceMachine.last_harness = self.h

    @rule(
        op=operations(Limits.for_geometry(SMALL_GEOMETRY), SMALL_GEOMETRY.page_bytes, crashes=True)
    )
    def step(self, op: Op) -> None:
        """Apply one operation to both sides and compare."""
        _noting_failure(self.h.run, op)

    def teardown(self) -> None:
        """Close the store and release the target."""
        _noting_failure(self.h.close)


def _noting_failure(call: Callable[..., Any], *args: Any) -> None:
    try:
        call(*args)
    except Exception:
        if ConformanceMachine.first_failure_at is None:
            ConformanceMachine.first_failure_at = time.monotonic()
        raise


def conformance_machine(
    target_factory: Callable[[], object],
    *,
    coverage: Coverage | None = None,
    crashes: bool = True,
    faults: bool = False,
    damage: bool = False,
    sweeps: bool = False,
) -> type[ConformanceMachine]:
    """A `ConformanceMachine` for `target_factory`, its strategies fitted to its limits.

    With `crashes` (the default) and a target on a `SimDisk`, the operations include dirty
    reboots; with `faults`, injected disk faults too. Run the machine with faults off as well,
    so that their relaxed comparison can never hide an unrelated bug. With `damage` and a
    target that can be damaged (`Target.can_damage`), steps damage its storage at rest. With
    `sweeps`, crash and fault sweeps (`kvcheck.machine.sweeps`) join the steps: every point
    of one operation tried on purpose, at about 2.5 times the cost of an example; off by
    default until their shrinking is cheaper.
    """
    probe: Target = as_target(target_factory())
    limits, page_bytes, has_disk = probe.limits, probe.page_bytes, probe.disk is not None
    fault_kinds = tuple(probe.disk.FAULTS) if probe.disk is not None else FAULT_KINDS
    damage_on = damage and probe.can_damage and probe.can_reboot
    probe.cleanup()
    strategy = operations(
        limits,
        page_bytes,
        crashes=crashes and has_disk,
        faults_on=faults and has_disk,
        damage_on=damage_on,
        fault_kinds=fault_kinds,
        sweeps=sweeps,
    )

    class Machine(ConformanceMachine):
        def __init__(self) -> None:
            RuleBasedStateMachine.__init__(self)
            cls = type(self)
            self.h = Harness(
                as_target(cls.target_factory()),
                cls.coverage,
                crashes=crashes,
                faults=faults,
                damage=damage,
                factory=cls.target_factory,
                sweeps=sweeps,
            )
            ConformanceMachine.last_harness = self.h

        @rule(op=strategy)
        def step(self, op: Op) -> None:
            """Apply one operation to both sides and compare."""
            _noting_failure(self.h.run, op)

    Machine.target_factory = staticmethod(target_factory)
    Machine.coverage = coverage
    name = getattr(target_factory, "__name__", "target")
    kind = "Damage" if damage else "Faults" if faults else "Conformance"
    Machine.__name__ = Machine.__qualname__ = f"{kind}_{name}"
    return Machine
