"""Power cuts inside concurrent runs: races whose damage shows only after a crash.

`check_cut(workload, schedule, cut)` runs `workload` as `kvcheck.concurrency.races` does, under
the controlled scheduler, but the simulated disk loses power just before its `cut.after`-th
sync (or after that many changes: appends, truncates, resets, syncs): the call that would come
next raises `PowerLoss`, and so does every disk call after it, on every thread, as if the
machine had stopped. By default every such point of the run is tried in turn. The disk then
crashes keeping the pending writes `cut` names (some torn), and a fresh node recovers it.
All three are values Hypothesis draws, so a failure shrinks the operations, the interleaving
and the crash together.

Then it checks:

* the history up to the cut is linearizable: calls that returned after the power failed, or
  began after it, are indeterminate (no client could have seen their results);
* the node reopens after a crash its disk allows (a node that cannot is a finding);
* what it recovered is the state after a linearization of the writes, in which every write
  whose dependency was persistent when the power failed takes effect, and any other write may
  or may not. (Prefix consistency across keys is the sequential crash property's to check: here
  an unsynced write to one key may survive while an earlier one to another key is lost.)

A failure raises `RaceFound` with the operations, the schedule, the cut, the interleaving, the
history, the checker's explanation and a replay line.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import attrs
from hypothesis import strategies as st

from kvcheck.concurrency.history import History, Operation, Recorder, RecordingClient
from kvcheck.concurrency.linearizability import check
from kvcheck.concurrency.races import (
    PRELUDE,
    Workload,
    race_found,
    run_client,
    run_maintenance,
)
from kvcheck.concurrency.schedule import Schedule
from kvcheck.concurrency.scheduler import ScheduleError, Scheduler, YieldingDisk, describe_trace
from kvcheck.machine.targets import CHECK_GEOMETRY
from kvnode import Node, SimDisk
from kvnode.errors import KVError
from kvnode.simdisk import CrashPlan, PowerLoss

#: Pending writes a cut can name by position (later ones are lost).
KEEP_MAX = 24
#: The disk calls `PowerCut.after` counts, as `SimDisk.arm_power_loss` does.
_CHANGES = frozenset({"append", "truncate", "reset", "sync"})
#: A cut this late never comes: the run ends first.
_NEVER = 1 << 30


@attrs.frozen
class PowerCut:
    """When power fails in a concurrent run, and which unsynced writes the disk keeps."""

    #: Disk changes let through before the power fails (with `at_syncs`, syncs: the power then
    #: fails just before a sync, where the most writes are pending); None: every such point of
    #: the run in turn.
    after: int | None
    #: Which pending writes survive, by position; those past the end are lost.
    keep: tuple[bool, ...] = ()
    #: (pending write, bytes of its page that reach the medium) for kept writes torn.
    tears: tuple[tuple[int, int], ...] = ()
    #: Count syncs only (see `after`).
    at_syncs: bool = True

    def plan(self, disk: SimDisk) -> CrashPlan:
        """The crash plan this cut makes of `disk`'s pending writes."""
        pending = disk.pending_writes()
        kept = {w.index for w, k in zip(pending, self.keep, strict=False) if k}
        torn = {
            pending[n % len(pending)].index: size
            for n, size in self.tears
            if pending and pending[n % len(pending)].index in kept
        }
        return CrashPlan(kept, torn)


def power_cuts(page_bytes: int = CHECK_GEOMETRY.page_bytes) -> st.SearchStrategy[PowerCut]:
    """Cuts just before every sync of the run in turn, and at its end (`after=None`), keeping
    any subset of the pending writes; shrinking goes toward keeping nothing. A sync is where a
    lie about durability shows: a mutation reported persistent whose writes are still pending.
    (Torn intermediate states inside operations are the sequential crash property's.)"""
    return st.builds(
        PowerCut,
        st.none(),
        st.lists(st.booleans(), max_size=KEEP_MAX).map(tuple),
        st.lists(
            st.tuples(st.integers(0, KEEP_MAX - 1), st.integers(0, page_bytes)), max_size=1
        ).map(tuple),
    )


class _Halting:
    """A disk that, once it has raised `PowerLoss`, raises it for every later call: the machine
    is off, for every thread. `on_halt` is called once, at the instant power fails."""

    def __init__(self, disk: SimDisk, on_halt: Callable[[], None]):
        self._disk = disk
        self._on_halt = on_halt
        self.halted = False
        #: Changes and syncs passed to the disk, and syncs alone (what `PowerCut.after` counts).
        self.changes = 0
        self.syncs = 0

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._disk, name)
        if not callable(attribute):
            return attribute

        def call(*args: Any, **kwargs: Any) -> Any:
            if self.halted:
                raise PowerLoss("power lost")
            if name in _CHANGES:
                self.changes += 1
                self.syncs += name == "sync"
            try:
                return attribute(*args, **kwargs)
            except PowerLoss:
                self.halted = True
                self._on_halt()
                raise

        return call


@attrs.frozen
class CutRun:
    """What a concurrent run cut by a power failure left behind."""

    history: History
    initial: dict[bytes, bytes]
    errors: tuple[str, ...]
    failure: str | None
    #: The recorder's tick when power failed (None: the run ended first).
    cut_at: int | None
    #: Operation ids whose dependency was persistent when the power failed.
    persistent: frozenset[int]
    #: What the node recovered after the crash, or why it could not.
    recovered: tuple[tuple[bytes, bytes], ...] | None
    recovery_error: str | None
    trace: str
    decisions: int
    #: Disk changes and syncs the run made before it ended or the power failed (as
    #: `PowerCut.after` counts them).
    changes: int


def run_cut(
    workload: Workload, schedule: Schedule, cut: PowerCut, *, node_class: type[Node] = Node
) -> CutRun:
    """Run `workload` interleaved by `schedule` until `cut` stops the disk; crash, recover."""
    disk = SimDisk(CHECK_GEOMETRY)
    scheduler = Scheduler(schedule)
    recorder = Recorder()
    cut_at: list[int] = []
    halting = _Halting(disk, lambda: cut_at.append(recorder.now()))
    node = node_class.open(YieldingDisk(halting, scheduler), locks=scheduler.lock)
    for key, value in PRELUDE:
        node.put(key, value)
    node.sync()
    initial = dict(node.scan())
    errors: list[str] = []
    dependencies: dict[tuple[int, int], Any] = {}
    for p, ops in enumerate(workload.clients):
        client = RecordingClient(node, recorder, p)
        scheduler.spawn(f"c{p}", functools.partial(run_client, client, ops, errors, dependencies))
    scheduler.spawn("maint", lambda: run_maintenance(node, workload.maintenance, errors))
    disk.arm_power_loss(_NEVER if cut.after is None else cut.after, syncs_only=cut.at_syncs)
    halting.changes = halting.syncs = 0  # counted from here, as the armed power loss counts
    failure: str | None = None
    try:
        scheduler.run()
    except ScheduleError as err:
        failure = str(err)
    errors += [
        f"{name} crashed: {type(e).__name__}: {e}"
        for name, e in scheduler.errors.items()
        if not isinstance(e, PowerLoss)
    ]
    history = recorder.history()
    persistent = _persistent_ops(history, workload, dependencies)
    if not cut_at:  # the run ended first: cut now, after everything
        cut_at.append(recorder.now())
        disk.disarm_power_loss()
    disk.crash(cut.plan(disk))
    recovered: tuple[tuple[bytes, bytes], ...] | None = None
    recovery_error: str | None = None
    try:
        again = node_class.open(disk)
        try:
            recovered = tuple(again.scan())
        finally:
            again.close()
    except KVError as err:
        recovery_error = f"{type(err).__name__}: {err}"
    return CutRun(
        history, initial, tuple(errors), failure, cut_at[0], persistent, recovered,
        recovery_error, describe_trace(scheduler.trace), scheduler.decisions,
        halting.syncs if cut.at_syncs else halting.changes,
    )  # fmt: skip


def _persistent_ops(
    history: History, workload: Workload, dependencies: dict[tuple[int, int], Any]
) -> frozenset[int]:
    """Ids of the mutations whose dependency is persistent now. A thread's calls are recorded
    in order, one per operation but syncs (which are not recorded)."""
    by_process: dict[int, list[Operation]] = {}
    for op in history.operations:
        by_process.setdefault(op.process, []).append(op)
    persistent = set()
    for (process, number), dependency in dependencies.items():
        calls = by_process.get(process, [])
        ordinal = sum(op.kind != "sync" for op in workload.clients[process][:number])
        if ordinal < len(calls) and dependency.is_persistent():
            persistent.add(calls[ordinal].id)
    return frozenset(persistent)


def _until_cut(history: History, cut_at: int) -> History:
    """The history as clients saw it: calls that returned after the cut, or began after it,
    never returned."""
    ops = []
    for op in history.operations:
        if op.invoke >= cut_at or (op.complete is not None and op.complete > cut_at):
            op = attrs.evolve(op, complete=None, outcome="indeterminate", result=None)
        ops.append(op)
    return History(tuple(ops))


def _recovery_history(run: CutRun, recovered: tuple[tuple[bytes, bytes], ...]) -> History:
    """Only the writes: those persistent when the power failed took effect, any other may or
    may not have; then one scan, after all of them, that saw what recovery found."""
    ops: list[Operation] = []
    for op in _until_cut(run.history, run.cut_at or 0).operations:
        if op.kind not in ("put", "delete") or op.outcome == "failed":
            continue
        if op.id not in run.persistent:
            op = attrs.evolve(op, complete=None, outcome="indeterminate", result=None)
        ops.append(attrs.evolve(op, id=len(ops)))
    tick = 1 + max([run.cut_at or 0, *(op.complete or op.invoke for op in run.history.operations)])
    final = Operation(
        id=len(ops), process=-1, kind="scan", invoke=tick, complete=tick + 1, outcome="ok",
        start=b"", end=None, result=recovered,
    )  # fmt: skip
    return History((*ops, final))


def judge_cut(run: CutRun) -> str | None:
    """What is wrong with `run` (None if nothing), with the checker's explanation."""
    if run.failure is not None:
        return run.failure
    if run.errors:
        return "unexpected errors:\n" + "\n".join(f"  {e}" for e in run.errors)
    seen = check(_until_cut(run.history, run.cut_at or 0), initial=run.initial)
    if not seen.ok:
        return "the history up to the power cut is not linearizable\n" + seen.explain()
    if run.recovered is None:
        return f"after the power cut the node could not recover: {run.recovery_error}"
    after = check(_recovery_history(run, run.recovered), initial=run.initial)
    if not after.ok:
        return (
            f"after the power cut the node recovered {run.recovered!r}, which no order of the "
            "writes allows that keeps every write acknowledged persistent\n" + after.explain()
        )
    return None


def check_cut(
    workload: Workload, schedule: Schedule, cut: PowerCut, *, node_class: type[Node] = Node
) -> None:
    """The property: run `workload` interleaved by `schedule`, cut the power as `cut` says
    (with `cut.after` None, at every point of the run in turn: just before each of its syncs,
    and at its end; with `at_syncs` off, after each of its disk changes), recover; raise
    `RaceFound` on a bug."""
    if cut.after is None:
        # The run is deterministic given the schedule, so a first run to its end says how many
        # points there are to cut at; the windows between them are tried one by one, not hit
        # by chance.
        points = run_cut(workload, schedule, attrs.evolve(cut, after=_NEVER), node_class=node_class)
        for after in range(points.changes + 1):
            check_cut(workload, schedule, attrs.evolve(cut, after=after), node_class=node_class)
        return
    run = run_cut(workload, schedule, cut, node_class=node_class)
    problem = judge_cut(run)
    if problem is None:
        return
    raise race_found(
        problem, workload, schedule, node_class, run.decisions, run.trace, run.history, None,
        call=f"check_cut({workload!r}, {schedule!r}, {cut!r}",
        more=[f"power cut: {cut!r} (at tick {run.cut_at})"],
    )  # fmt: skip
