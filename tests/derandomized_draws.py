"""Print every operation a derandomized conformance run draws; run by tests/test_constants.py.

`--settle` settles Hypothesis's pool of constants first (as kvcheck and the suite do);
`--import-more` then imports more of the toolkit and plants three bugs (patched copies of the
node), as the rest of the suite would have by the time a test runs.
"""

from __future__ import annotations

import sys

from hypothesis import settings
from hypothesis.stateful import run_state_machine_as_test

from kvcheck.frontends import constants
from kvcheck.machine import harness
from kvcheck.machine.conformance import conformance_machine
from kvcheck.machine.targets import simdisk_target

if "--settle" in sys.argv:
    constants.settle()
if "--import-more" in sys.argv:
    import kvcheck.concurrency.power_cuts
    import kvcheck.crash.sweep  # noqa: F401
    from kvcheck.evidence.catalog import BY_NAME

    for name in ("covers_one_too_many", "length_unbounded", "tombstones_not_replayed"):
        BY_NAME[name].node_class()

drawn: list[str] = []
run = harness.Harness.run


def recording(self: harness.Harness, op: object) -> None:
    drawn.append(repr(op))
    run(self, op)  # type: ignore[arg-type]


harness.Harness.run = recording  # type: ignore[method-assign]
run_state_machine_as_test(
    conformance_machine(simdisk_target),
    settings=settings(max_examples=30, derandomize=True, database=None, stateful_step_count=20),
)
print("\n".join(drawn))
