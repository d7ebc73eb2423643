"""The races property as one Hypothesis test, for `kvcheck`'s main job and `kvcheck bugs`.

A client workload, a schedule and (in some examples) a power cut are drawn together, so a
failure shrinks all three: `check_interleaving` for a plain run, `check_cut` for a run cut
before each of its syncs in turn.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from hypothesis import given, settings
from hypothesis import strategies as st

from kvcheck.concurrency.power_cuts import PowerCut, check_cut, power_cuts
from kvcheck.concurrency.races import Workload, check_interleaving, workloads
from kvcheck.concurrency.schedule import Schedule, schedules
from kvcheck.machine.coverage import Coverage
from kvnode import Node

#: Examples per batch of the races property.
BATCH = 10


def race_test(
    node_class: type[Node],
    config: settings,
    coverage: Coverage | None = None,
    decisions: list[int] | None = None,
    *,
    cuts: bool | None = None,
    failed_at: list[float] | None = None,
) -> Callable[[], None]:
    """The races property as a Hypothesis test: a workload and a schedule drawn together, run
    on `node_class` (counting interleavings and operations into `coverage`, and scheduling
    choices into `decisions[0]`). With `cuts`, every example also cuts the power at every point
    of its run in turn (`kvcheck.concurrency.power_cuts`); False, none does; None, one in
    three does. The first failing example's `time.monotonic()` goes into `failed_at`."""
    # One example in three cuts the power at every point of the run in turn, for races whose
    # damage shows only after a crash (each such example is a run per point, so they are kept
    # fewer). Shrinking goes toward no cut.
    drawn = (
        power_cuts()
        if cuts
        else st.none()
        if cuts is False
        else st.integers(0, 2).flatmap(lambda n: st.none() if n < 2 else power_cuts())
    )

    @config
    @given(workload=workloads(), schedule=schedules("random"), cut=drawn)
    def race(workload: Workload, schedule: Schedule, cut: PowerCut | None) -> None:
        if coverage is not None:
            coverage.examples += 1
            coverage.steps += len(workload)
        if decisions is not None:
            decisions[0] += len(schedule.choices)
        try:
            if cut is None:
                check_interleaving(workload, schedule, node_class=node_class)
            else:
                check_cut(workload, schedule, cut, node_class=node_class)
        except Exception:
            if failed_at is not None and not failed_at:  # how long finding it took
                failed_at.append(time.monotonic())
            raise

    return race
