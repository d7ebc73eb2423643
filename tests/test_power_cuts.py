"""Power cuts inside concurrent runs (`kvcheck.concurrency.power_cuts`): the shipped node holds,
and the two planted races that only a crash shows are caught, and only with a cut."""

from __future__ import annotations

import pytest
from hypothesis import given, settings

from kvcheck.concurrency.power_cuts import PowerCut, _Halting, check_cut, power_cuts, run_cut
from kvcheck.concurrency.races import ClientOp, RaceFound, Workload, check_interleaving, workloads
from kvcheck.concurrency.schedule import Schedule, schedules
from kvcheck.evidence.planted_races import SyncsOutsideTheLock, TicketBeforeWriting
from kvnode import SMALL_GEOMETRY, Node, SimDisk
from kvnode.simdisk import PowerLoss

#: Minimal cases the search found (seed 2), one per planted race.
FOUND = {
    TicketBeforeWriting: (
        Workload(
            clients=((ClientOp("put", b"a", 1, 65), ClientOp("put", b"a", 1500, 66),
                      ClientOp("put", b"a", 1500, 67)),),
            maintenance=("reclaim",),
        ),
        Schedule(strategy="random", choices=()),
        PowerCut(after=1),
    ),
    SyncsOutsideTheLock: (
        Workload(
            clients=((ClientOp("put", b"a", 1, 65),), (ClientOp("sync"),)),
            maintenance=("reclaim",),
        ),
        Schedule(strategy="random", choices=(1, 0, 0, 0, 1)),
        PowerCut(after=5),
    ),
}  # fmt: skip


@settings(max_examples=60, deadline=None)
@given(workload=workloads(), schedule=schedules("random"), cut=power_cuts())
def test_the_shipped_node_keeps_every_persistent_write_through_a_cut(
    workload: Workload, schedule: Schedule, cut: PowerCut
) -> None:
    check_cut(workload, schedule, cut)


@pytest.mark.parametrize("node_class", list(FOUND), ids=lambda c: c.__name__)
def test_a_planted_durability_race_shows_only_after_a_cut(node_class: type[Node]) -> None:
    workload, schedule, cut = FOUND[node_class]
    check_interleaving(workload, schedule, node_class=node_class)  # no crash: nothing wrong
    check_cut(workload, schedule, cut)  # the shipped node, same cut: nothing wrong
    with pytest.raises(RaceFound, match="acknowledged persistent"):
        check_cut(workload, schedule, cut, node_class=node_class)
    # Trying every point finds the same window without being told where it is.
    with pytest.raises(RaceFound, match="replay: check_cut"):
        check_cut(workload, schedule, PowerCut(after=None), node_class=node_class)


def test_after_the_power_fails_every_disk_call_fails_on_every_thread() -> None:
    disk = SimDisk(SMALL_GEOMETRY)
    halts: list[int] = []
    halting = _Halting(disk, lambda: halts.append(1))
    halting.append(2, b"x")
    disk.arm_power_loss(0)
    with pytest.raises(PowerLoss):
        halting.append(2, b"y")
    for call in (lambda: halting.read(2, 0, 1), halting.sync, lambda: halting.append(2, b"z")):
        with pytest.raises(PowerLoss):
            call()
    assert halts == [1] and halting.halted
    assert halting.geometry == SMALL_GEOMETRY  # attributes pass through


def test_calls_that_returned_after_the_cut_count_as_unseen() -> None:
    workload, schedule, cut = FOUND[SyncsOutsideTheLock]
    run = run_cut(workload, schedule, cut)
    assert run.cut_at is not None and run.failure is None
    assert run.recovered is not None  # the shipped node recovers from it
