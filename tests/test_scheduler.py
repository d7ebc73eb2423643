"""The deterministic scheduler: replay, choices, PCT, cooperative locks, deadlocks and cleanup."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable

import pytest
from hypothesis import given

from kvcheck.concurrency.schedule import PCTChooser, RandomChooser, Schedule, schedules
from kvcheck.concurrency.scheduler import (
    Deadlock,
    Scheduler,
    Step,
    Stuck,
    TooManySteps,
    YieldingDisk,
    describe_trace,
)
from kvnode import SMALL_GEOMETRY, SimDisk


def steps(scheduler: Scheduler, name: str, count: int) -> Callable[[], None]:
    """A thread body that passes `count` yield points labelled name0, name1, ..."""

    def body() -> None:
        for i in range(count):
            scheduler.yield_point(f"{name}{i}")

    return body


def run(schedule: Schedule, threads: int = 2, count: int = 3) -> list[Step]:
    scheduler = Scheduler(schedule)
    for t in range(threads):
        scheduler.spawn(f"t{t}", steps(scheduler, f"t{t}.", count))
    scheduler.run()
    return scheduler.trace


class TestSchedule:
    def test_an_empty_random_schedule_runs_each_thread_to_its_end_in_turn(self) -> None:
        threads = [step.thread for step in run(Schedule())]
        assert threads == ["t0"] * 4 + ["t1"] * 4

    def test_choice_one_switches_to_the_next_runnable_thread(self) -> None:
        trace = run(Schedule(choices=(0, 0, 1)))
        assert [s.thread for s in trace[:4]] == ["t0", "t0", "t1", "t1"]

    def test_the_same_schedule_replays_the_same_interleaving(self) -> None:
        schedule = Schedule(choices=(1, 2, 0, 1, 1, 0, 3, 1))
        assert run(schedule, threads=3) == run(schedule, threads=3)

    def test_only_decisions_between_several_threads_use_up_choices(self) -> None:
        chooser = RandomChooser((1,))
        assert chooser.choose([4], 4, 0) == 4
        assert chooser.choose([0, 4], 4, 1) == 0  # the one choice, used here

    def test_pct_runs_the_highest_priority_thread_until_a_change_point(self) -> None:
        trace = run(Schedule("pct", ranks=(1, 0), change_points=(2,)))
        assert [s.thread for s in trace] == ["t1", "t1", "t0", "t0", "t0", "t0", "t1", "t1"]

    def test_pct_ranks_threads_beyond_the_ranks_last(self) -> None:
        assert PCTChooser((0,), ()).choose([0, 1, 2], None, 0) == 0
        assert PCTChooser((0,), ()).choose([1, 2], None, 0) == 1

    def test_ranks_must_be_a_permutation(self) -> None:
        with pytest.raises(ValueError, match="permutation"):
            Schedule("pct", ranks=(0, 0))

    def test_repr_is_the_call_that_rebuilds_it(self) -> None:
        for schedule in (Schedule(choices=(1, 0)), Schedule("pct", (), (1, 0), (7,))):
            assert eval(repr(schedule)) == schedule

    @given(schedules())
    def test_drawn_schedules_run_to_completion(self, schedule: Schedule) -> None:
        assert len(run(schedule, threads=3)) == 12


class TestLocks:
    def test_a_lock_keeps_a_read_modify_write_whole_under_every_schedule(self) -> None:
        for choices in [(), (1,), (0, 1), (1, 1, 1, 1), (0, 1, 0, 1, 0, 1)]:
            assert increments(Schedule(choices=choices)) == 2, choices

    def test_without_the_lock_some_schedule_loses_an_update(self) -> None:
        assert increments(Schedule(choices=(0, 1)), locked=False) == 1

    def test_threads_outside_the_run_use_the_locks_without_yielding(self) -> None:
        scheduler = Scheduler(Schedule())
        lock = scheduler.lock("x")
        with lock:
            assert not lock.free
        assert lock.free and scheduler.trace == []


def increments(schedule: Schedule, *, locked: bool = True) -> int:
    """Two threads each add one to a counter (under a lock if `locked`), yielding between read
    and write."""
    scheduler = Scheduler(schedule)
    lock, counter = scheduler.lock("counter"), [0]

    def increment() -> None:
        with lock if locked else contextlib.nullcontext():
            seen = counter[0]
            scheduler.yield_point("between read and write")
            counter[0] = seen + 1

    scheduler.spawn("a", increment)
    scheduler.spawn("b", increment)
    scheduler.run()
    return counter[0]


def opposite_orders(schedule: Schedule) -> Scheduler:
    scheduler = Scheduler(schedule)
    first, second = scheduler.lock("first"), scheduler.lock("second")

    def forward() -> None:
        with first, second:
            pass

    def backward() -> None:
        with second, first:
            pass

    scheduler.spawn("fwd", forward)
    scheduler.spawn("bwd", backward)
    return scheduler


class TestFailures:
    def test_opposite_lock_orders_deadlock_and_the_report_names_every_wait(self) -> None:
        scheduler = opposite_orders(Schedule(choices=(0, 0, 1)))
        with pytest.raises(Deadlock) as caught:
            scheduler.run()
        assert str(caught.value) == (
            "deadlock: fwd waits for second, held by bwd; bwd waits for first, held by fwd"
        )
        assert caught.value.trace == tuple(scheduler.trace)

    def test_opposite_lock_orders_complete_when_the_threads_do_not_overlap(self) -> None:
        opposite_orders(Schedule()).run()

    def test_a_deadlocked_run_unwinds_its_threads_and_frees_their_locks(self) -> None:
        scheduler = opposite_orders(Schedule(choices=(0, 0, 1)))
        with pytest.raises(Deadlock):
            scheduler.run()
        assert all(t.done for t in scheduler._threads)
        assert scheduler.errors == {}

    def test_a_thread_that_blocks_outside_the_scheduler_is_reported_stuck(self) -> None:
        never = threading.Event()
        scheduler = Scheduler(Schedule(), timeout_s=0.2)
        scheduler.spawn("waiter", never.wait)
        with pytest.raises(Stuck, match="waiter did not reach a yield point"):
            scheduler.run()
        never.set()

    def test_a_run_that_never_ends_stops_at_the_step_limit(self) -> None:
        scheduler = Scheduler(Schedule(), max_steps=50)

        def spin() -> None:
            while True:
                scheduler.yield_point("spin")

        scheduler.spawn("spinner", spin)
        with pytest.raises(TooManySteps):
            scheduler.run()

    def test_an_exception_ends_only_its_own_thread(self) -> None:
        scheduler = Scheduler(Schedule(choices=(1,)))

        def fail() -> None:
            scheduler.yield_point("before")
            raise KeyError("boom")

        scheduler.spawn("bad", fail)
        scheduler.spawn("good", steps(scheduler, "g", 2))
        scheduler.run()
        assert list(scheduler.errors) == ["bad"]
        assert Step("good", "done") in scheduler.trace


def test_a_yielding_disk_yields_before_each_disk_call_but_not_for_write_pointers() -> None:
    scheduler = Scheduler(Schedule())
    disk = YieldingDisk(SimDisk(SMALL_GEOMETRY), scheduler)

    def io() -> None:
        disk.append(2, b"abc")
        disk.write_pointer(2)
        disk.read(2, 1, 2)
        disk.sync()
        disk.reset(2)

    scheduler.spawn("io", io)
    scheduler.run()
    labels = [step.label for step in scheduler.trace]
    assert labels == ["disk.append e2", "disk.read e2@1", "disk.sync", "disk.reset e2", "done"]


def test_a_trace_is_described_as_one_line_per_turn() -> None:
    trace = [Step("a", "x"), Step("a", "y"), Step("b", "done"), Step("a", "done")]
    assert describe_trace(trace).splitlines() == [
        "       a: x, y",
        "       b: done",
        "       a: done",
    ]
