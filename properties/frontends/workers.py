"""Spreading `kvcheck`'s properties over processes (`--workers N`), and merging what they found.

The properties are dealt into N lanes, each a process that runs its share one after another
within the same deadline. With more workers than properties, a property is split into shards
that take every N-th batch of the run (`kvcheck.frontends.runner.batch_seed`), so no two workers
repeat a batch;
their coverage is summed and the shortest failure kept. Every worker opens the same example
database, so a failure any of them saved is replayed first by all of them on the next run.
One worker runs in this process, with the live status line.
"""

from __future__ import annotations

import multiprocessing
import pickle
import signal
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, wait
from typing import Any

import attrs
from hypothesis import settings

from kvcheck.frontends import constants, profiles
from kvcheck.frontends.database import from_url
from kvcheck.frontends.progress import Progress
from kvcheck.frontends.report import PropertyResult
from kvcheck.frontends.runner import Search, Window, plan, run_conformance
from kvcheck.machine.coverage import STATES, Coverage
from kvcheck.machine.harness import ConformanceError
from kvcheck.machine.targets import load_factory


@attrs.frozen
class Job:
    """One property on one target: `kind` is one of `cli.PROPERTIES` or exhaustive."""

    name: str
    spec: str
    kind: str


@attrs.frozen
class Task:
    """Shard `shard` of `shards` of a job."""

    job: Job
    shard: int = 0
    shards: int = 1


@attrs.frozen
class Run:
    """What every task of one `kvcheck` run shares."""

    start: float  # time.monotonic(), the same clock in every process on one machine
    budget: float
    seed: int
    profile: str
    database: str


def deal(jobs: Sequence[Job], workers: int) -> list[list[Task]]:
    """The tasks of each of `workers` lanes (fewer if there are fewer jobs and no shards)."""
    if workers <= len(jobs):
        return [[Task(job) for job in jobs[lane::workers]] for lane in range(workers)]
    lanes = []
    shardable = [job for job in jobs if job.kind != "exhaustive"] or list(jobs)
    spare = workers - len(jobs)
    for job in jobs:
        shards = 1
        if job in shardable:
            position = shardable.index(job)
            shards += spare // len(shardable) + (position < spare % len(shardable))
        lanes += [[Task(job, shard, shards)] for shard in range(shards)]
    return lanes


def run_lane(
    tasks: Sequence[Task],
    run: Run,
    progress: Progress,
    results: list[tuple[Task, PropertyResult]],
    stop: Callable[[], bool] = lambda: False,
) -> None:
    """Run a lane's tasks in order within the run's deadline, appending to `results` as each
    ends (so that after Ctrl-C, `results` holds what finished)."""
    database = from_url(run.database)
    base = profiles.settings_for(run.profile)  # importing `profiles` registered it here too
    constants.settle()  # as in the parent: every process draws what one process would
    windows = plan(run.start, run.budget, len(tasks))
    for number, (task, window) in enumerate(zip(tasks, windows, strict=True)):
        if stop():
            break
        last = number == len(tasks) - 1
        result = _run_task(task, window, run, base, progress, database, stop, last)
        results.append((task, result))


def _run_task(
    task: Task,
    window: Window,
    run: Run,
    base: settings,
    progress: Progress,
    database: Any,
    stop: Callable[[], bool],
    last: bool = False,
) -> PropertyResult:
    job = task.job
    factory = load_factory(job.spec)
    if job.kind == "exhaustive":
        return _exhaustive(job, factory, window, run.seed)
    search = Search(window, run.seed, task.shard, task.shards, stop, last)
    if job.kind in ("races", "codecs", "symbolic"):
        from kvcheck.frontends import checks

        probe = factory()
        node_class = probe.node_class  # type: ignore[attr-defined]  # a SimDiskTarget (cli)
        probe.cleanup()
        check = {"races": checks.run_races, "codecs": checks.run_codecs}.get(
            job.kind, checks.run_symbolic
        )
        return check(job.name, job.spec, search, node_class, base=base, progress=progress)
    return run_conformance(
        job.name, job.spec, factory, search, base=base, progress=progress,
        crashes=job.kind != "conformance", faults=job.kind == "faults",
        damage=job.kind == "damage", database=database,
    )  # fmt: skip


def _exhaustive(job: Job, factory: Any, window: Window, seed: int) -> PropertyResult:
    """Every crash state of random short histories, until the window's search part ends."""
    from kvcheck.crash import exhaustive

    report = exhaustive.run(
        factory, seed=seed, budget=max(0.1, window.search_until - time.monotonic())
    )
    summary = (
        f"{report.histories} histories, {report.points} power-loss points, "
        f"{report.crash_states} crash states ({report.states_per_second:,.0f}/s); "
        f"{report.skipped_points} points skipped (more than 10 pending writes)"
    )
    coverage = Coverage(examples=report.histories, steps=report.crash_states)
    coverage.not_applicable |= set(STATES)
    failure = report.failure
    return PropertyResult(
        job.name, job.spec, coverage, report.seconds, seed,
        None if failure is None else ConformanceError(failure.message),
        [] if failure is None else failure.log, summary=summary,
    )  # fmt: skip


def run_all(
    jobs: Sequence[Job], workers: int, run: Run, progress: Progress
) -> tuple[list[PropertyResult], bool]:
    """Run every job on `workers` processes; the merged results in job order, and whether
    Ctrl-C cut the run short."""
    lanes = deal(jobs, workers)
    done: list[tuple[Task, PropertyResult]] = []
    interrupted = False
    if len(lanes) == 1:
        try:
            run_lane(lanes[0], run, progress, done)
        except KeyboardInterrupt:
            progress.stop()
            interrupted = True
    else:
        interrupted = _run_pool(lanes, run, progress, done)
    return merge(jobs, done), interrupted


def _run_pool(
    lanes: list[list[Task]],
    run: Run,
    progress: Progress,
    done: list[tuple[Task, PropertyResult]],
) -> bool:
    context = multiprocessing.get_context("spawn")
    stopping = context.Event()
    interrupted = False
    with ProcessPoolExecutor(
        len(lanes), mp_context=context, initializer=_worker_init, initargs=(stopping,)
    ) as pool:
        futures = [pool.submit(_lane_in_worker, lane, run) for lane in lanes]
        progress.start_status(
            lambda: (
                f"{sum(f.done() for f in futures)}/{len(futures)} workers done, "
                f"{time.monotonic() - run.start:4.0f}/{run.budget:.0f}s"
            )
        )
        try:
            wait(futures)
        except KeyboardInterrupt:
            # The workers ignore SIGINT; told to stop, each ends after its current batch and
            # returns what it has, so the table and reports still cover the whole run so far.
            interrupted = True
            stopping.set()
            wait(futures)
        finally:
            progress.stop()
    for lane, future in zip(lanes, futures, strict=True):
        done += _lane_result(lane, future, run.seed)
    return interrupted


_STOPPING: Any = None


def _worker_init(stopping: Any) -> None:
    global _STOPPING
    _STOPPING = stopping
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _lane_in_worker(lane: list[Task], run: Run) -> list[tuple[Task, PropertyResult]]:
    results: list[tuple[Task, PropertyResult]] = []
    run_lane(lane, run, Progress(None, False), results, stop=_STOPPING.is_set)
    return [(task, portable(result)) for task, result in results]


def _lane_result(
    lane: list[Task], future: Future[list[tuple[Task, PropertyResult]]], seed: int
) -> list[tuple[Task, PropertyResult]]:
    """The lane's results; if its worker died (killed, out of memory), a failed result for each
    of its tasks saying so, since what they found is lost."""
    try:
        return future.result()
    except Exception as err:
        error = WorkerError(f"its worker process died: {type(err).__name__}: {err}")
        return [
            (task, PropertyResult(task.job.name, task.job.spec, Coverage(), 0.0, seed, error))
            for task in lane
        ]


class WorkerError(RuntimeError):
    """A worker process died before returning its results."""


class ForeignFailure(Exception):
    """A failure whose exception cannot cross a process boundary, by its type name and text."""

    def __init__(self, type_name: str, text: str):
        super().__init__(text)
        self.type_name = type_name

    def __reduce__(self) -> Any:
        return (ForeignFailure, (self.type_name, str(self)), self.__dict__)


def portable(result: PropertyResult) -> PropertyResult:
    """`result` with its failure in a form that survives pickling (a store's own exception
    type may not)."""
    error = result.error
    if error is None:
        return result
    try:
        pickle.loads(pickle.dumps(error))
    except Exception:
        foreign = ForeignFailure(type(error).__name__, str(error))
        foreign.__notes__ = list(getattr(error, "__notes__", []))
        return attrs.evolve(result, error=foreign)
    return result


def merge(jobs: Sequence[Job], done: Sequence[tuple[Task, PropertyResult]]) -> list[PropertyResult]:
    """One result per job that ran, in job order: its shards' coverage summed, the shortest
    failure kept, the longest time."""
    merged = []
    for job in jobs:
        shards = [result for task, result in done if task.job == job]
        if shards:
            merged.append(_merge_shards(shards))
    return merged


def _merge_shards(shards: list[PropertyResult]) -> PropertyResult:
    if len(shards) == 1:
        return shards[0]
    coverage = Coverage(not_applicable=set(shards[0].coverage.not_applicable))
    for shard in shards:
        coverage.ops.update(shard.coverage.ops)
        coverage.states.update(shard.coverage.states)
        coverage.audit.update(shard.coverage.audit)
        coverage.examples += shard.coverage.examples
        coverage.steps += shard.coverage.steps
    failed = sorted((r for r in shards if not r.ok), key=lambda r: (len(r.log), r.seed))
    chosen = failed[0] if failed else min(shards, key=lambda r: r.seed)
    return attrs.evolve(chosen, coverage=coverage, seconds=max(r.seconds for r in shards))
