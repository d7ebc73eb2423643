"""Concurrency properties: client threads and maintenance against one node, checked for
linearizability against the dict model.

`check_interleaving(workload, schedule)` is the property. It opens a node on a small simulated
disk whose first log extent is already full of live and dead chunks (`PRELUDE`, so that the
first reclamation has chunks to move), then runs each client's operations on a thread of its
own and the maintenance operations (index flushes, reclamation) on another, all under the
deterministic scheduler, interleaved as `schedule` says. Then it checks that:

* no operation raised anything but `DiskFullError` (no faults are injected, so anything else,
  a `CorruptionError` say, is a bug), and no thread deadlocked or hung;
* the recorded history, with a final scan after every thread is done, is linearizable;
* a clean reopen recovers exactly what that final scan saw.

A failure raises `RaceFound`, whose message holds the operations, the schedule, the interleaving
(which thread ran to which yield point), the history and the checker's explanation; with
`KV_TIMELINE_DIR` set it also writes the history as an HTML timeline there. Both arguments are
values Hypothesis draws (`workloads()`, `kvcheck.concurrency.schedule.schedules()`), so
Hypothesis shrinks the operations and the interleaving together, and its printed falsifying example
(or `reproduce_failure` blob) replays the failure exactly.

`run_free` is the smoke test's counterpart: the same checks with OS threads running freely, a
`Maintenance` worker in the background, and no control over the interleaving.
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import os
import random
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, Literal

import attrs
from hypothesis import strategies as st

from kvcheck.concurrency.history import History, Recorder, RecordingClient
from kvcheck.concurrency.linearizability import LinearizabilityResult, check
from kvcheck.concurrency.schedule import Schedule
from kvcheck.concurrency.scheduler import ScheduleError, Scheduler, YieldingDisk, describe_trace
from kvcheck.machine.targets import CHECK_GEOMETRY
from kvnode import Maintenance, MaintenancePolicy, Node, SimDisk
from kvnode.disk import Disk
from kvnode.errors import DiskFullError, KVError

ClientKind = Literal["get", "put", "delete", "scan", "sync"]
MaintenanceKind = Literal["reclaim", "flush_index"]
MAINTENANCE_KINDS: tuple[MaintenanceKind, ...] = ("reclaim", "flush_index")
KEYS = (b"a", b"b", b"c")
#: Value sizes: tiny, a few pages, and over a third of an extent (so extents roll over).
SIZES = (1, 600, 1500)
#: Written before the threads start: the first log extent ends up holding a dead `a` and live
#: `b` and `c`, and the fourth put opens the next extent, so the first is a reclamation victim
#: with chunks to move.
PRELUDE = ((b"a", b"0" * 1000), (b"b", b"1" * 1000), (b"c", b"2" * 1000), (b"a", b"3" * 1000))


@attrs.frozen
class ClientOp:
    """One client call; `put`'s value is `fill` repeated `size` times."""

    kind: ClientKind
    key: bytes = b""
    size: int = 0
    fill: int = 0

    @property
    def value(self) -> bytes:
        """The value a put writes."""
        return bytes([self.fill]) * self.size

    def __repr__(self) -> str:
        if self.kind == "put":
            return f"ClientOp({self.kind!r}, {self.key!r}, {self.size}, {self.fill})"
        if self.kind in ("get", "delete"):
            return f"ClientOp({self.kind!r}, {self.key!r})"
        return f"ClientOp({self.kind!r})"


@attrs.frozen
class Workload:
    """What each client thread calls, in order, and what the maintenance thread runs."""

    clients: tuple[tuple[ClientOp, ...], ...]
    maintenance: tuple[MaintenanceKind, ...] = ()

    def __len__(self) -> int:
        return sum(len(ops) for ops in self.clients) + len(self.maintenance)

    def describe(self) -> str:
        """One line per thread."""
        lines = [
            f"  c{p}: {', '.join(_call(op) for op in ops)}" for p, ops in enumerate(self.clients)
        ]
        if self.maintenance:
            lines.append(f"  maint: {', '.join(self.maintenance)}")
        return "\n".join(lines)


def _call(op: ClientOp) -> str:
    if op.kind == "put":
        return f"put({op.key!r}, {bytes([op.fill])!r} * {op.size})"
    return f"{op.kind}({op.key!r})" if op.kind in ("get", "delete") else f"{op.kind}()"


class RaceFound(AssertionError):
    """A concurrent run broke a property; the message says how to replay it."""


def _alphabet() -> tuple[ClientOp, ...]:
    ops = [ClientOp("get", key) for key in KEYS]
    ops += [ClientOp("put", key, size) for size in SIZES for key in KEYS]
    ops += [ClientOp("delete", key) for key in KEYS]
    return (*ops, ClientOp("scan"), ClientOp("sync"))


#: Every client operation a workload draws from, simplest first: shrinking moves toward gets.
#: Puts get their fill byte when a workload is drawn.
ALPHABET = _alphabet()


def workloads(
    clients: tuple[int, int] = (1, 3),
    ops: tuple[int, int] = (1, 3),
    maintenance: tuple[int, int] = (1, 2),
) -> st.SearchStrategy[Workload]:
    """Between `clients[0]` and `clients[1]` clients of `ops` operations each (on three keys,
    so that they collide), and `maintenance` flushes or reclamations. One draw per operation
    keeps generation cheap. Puts get distinct fill bytes, so a value read names its put."""
    op = st.sampled_from(ALPHABET)
    thread = st.lists(op, min_size=ops[0], max_size=ops[1])
    threads = st.lists(thread, min_size=clients[0], max_size=clients[1])
    tasks = st.lists(
        st.sampled_from(MAINTENANCE_KINDS), min_size=maintenance[0], max_size=maintenance[1]
    )
    return st.builds(_numbered, threads, tasks)


def _numbered(threads: list[list[ClientOp]], tasks: list[MaintenanceKind]) -> Workload:
    fills = iter(range(ord("A"), 256))
    clients = tuple(
        tuple(attrs.evolve(op, fill=next(fills)) if op.kind == "put" else op for op in ops)
        for ops in threads
    )
    return Workload(clients, tuple(tasks))


@attrs.frozen
class Run:
    """What a concurrent run left behind."""

    history: History
    #: The node's contents when the threads started.
    initial: dict[bytes, bytes]
    #: Errors the operations should not have raised.
    errors: tuple[str, ...]
    #: Why the run did not complete (a deadlock, say), or None.
    failure: str | None = None
    #: What a clean reopen recovered after the run (None if the run did not complete).
    recovered: list[tuple[bytes, bytes]] | None = None
    #: The interleaving, for reports.
    trace: str = ""
    decisions: int = 0
    #: Flushes and reclamations the background worker did (free runs).
    background: int = 0


def run_client(
    client: RecordingClient,
    ops: Sequence[ClientOp],
    errors: list[str],
    dependencies: dict[tuple[int, int], Any] | None = None,
) -> None:
    """Call `ops` in turn; a refusal for lack of space is fine, any other error is noted. With
    `dependencies`, each mutation's dependency is kept under (process, its place in `ops`)."""
    node: Any = client.target
    for number, op in enumerate(ops):
        try:
            if op.kind in ("put", "delete"):
                dependency = (
                    client.put(op.key, op.value) if op.kind == "put" else client.delete(op.key)
                )
                if dependencies is not None:
                    dependencies[(client.process, number)] = dependency
            elif op.kind == "get":
                client.get(op.key)
            elif op.kind == "scan":
                client.scan()
            else:
                node.sync()
        except DiskFullError:
            pass
        except KVError as err:
            errors.append(f"c{client.process} {_call(op)} raised {type(err).__name__}: {err}")


def run_maintenance(node: Node, tasks: Sequence[MaintenanceKind], errors: list[str]) -> None:
    """Run flushes and reclamations; a full disk is fine, any other error is noted."""
    for task in tasks:
        try:
            getattr(node, task)()
        except DiskFullError:
            pass
        except KVError as err:
            errors.append(f"maint {task}() raised {type(err).__name__}: {err}")


def run_controlled(workload: Workload, schedule: Schedule, *, node_class: type[Node] = Node) -> Run:
    """Run `workload` on a fresh node, its threads interleaved as `schedule` says."""
    disk = SimDisk(CHECK_GEOMETRY)
    scheduler = Scheduler(schedule)
    node = node_class.open(YieldingDisk(disk, scheduler), locks=scheduler.lock)
    for key, value in PRELUDE:
        node.put(key, value)
    initial = dict(node.scan())
    recorder = Recorder()
    errors: list[str] = []
    for p, ops in enumerate(workload.clients):
        client = RecordingClient(node, recorder, p)
        scheduler.spawn(f"c{p}", functools.partial(run_client, client, ops, errors))
    scheduler.spawn("maint", lambda: run_maintenance(node, workload.maintenance, errors))
    failure: str | None = None
    try:
        scheduler.run()
    except ScheduleError as err:
        failure = str(err)
    errors += [f"{name} crashed: {type(e).__name__}: {e}" for name, e in scheduler.errors.items()]
    recovered = None
    if failure is None:
        recovered = _finish(node, lambda: disk, recorder, len(workload.clients), errors)
    return Run(
        recorder.history(),
        initial,
        tuple(errors),
        failure,
        recovered,
        describe_trace(scheduler.trace),
        scheduler.decisions,
    )


def _finish(
    node: Node,
    reopen: Callable[[], Disk],
    recorder: Recorder,
    process: int,
    errors: list[str],
) -> list[tuple[bytes, bytes]] | None:
    """Scan once more after every thread is done (recorded), close, and reopen."""
    try:
        RecordingClient(node, recorder, process).scan()
        node.close()
        again = Node.open(reopen())
        try:
            return again.scan()
        finally:
            again.close()
    except KVError as err:
        errors.append(f"after the run: {type(err).__name__}: {err}")
        return None


def judge(run: Run) -> tuple[str | None, LinearizabilityResult | None]:
    """What is wrong with `run` (None if nothing), and the checker's result if it ran."""
    if run.failure is not None:
        return run.failure, None
    if run.errors:
        return "unexpected errors:\n" + "\n".join(f"  {e}" for e in run.errors), None
    result = check(run.history, initial=run.initial)
    if not result.ok:
        return "the history is not linearizable", result
    final = run.history.operations[-1].result
    if run.recovered is not None and tuple(run.recovered) != final:
        return f"a clean reopen recovered {run.recovered!r}, not {final!r}", result
    return None, result


def check_interleaving(
    workload: Workload, schedule: Schedule, *, node_class: type[Node] = Node
) -> None:
    """The property: run `workload` interleaved by `schedule`; raise `RaceFound` on a bug."""
    run = run_controlled(workload, schedule, node_class=node_class)
    problem, result = judge(run)
    if problem is None:
        return
    # One raise site for every kind of failure: Hypothesis tells bugs apart by where they were
    # raised, and would otherwise shrink a deadlock and a lost write as two separate bugs.
    raise race_found(
        problem, workload, schedule, node_class, run.decisions, run.trace, run.history, result,
        call=f"check_interleaving({workload!r}, {schedule!r}",
    )  # fmt: skip


def race_found(
    problem: str,
    workload: Workload,
    schedule: Schedule,
    node_class: type[Node],
    decisions: int,
    trace: str,
    history: History,
    result: LinearizabilityResult | None,
    *,
    call: str,
    more: Sequence[str] = (),
) -> RaceFound:
    """The report of a failing concurrent run: the problem, the operations, the schedule (and
    `more` lines), the interleaving, the history, the checker's explanation, the timeline's
    path if one was written, and the replay line (`call` with its closing arguments)."""
    target = "" if node_class is Node else f", node_class={node_class.__qualname__}"
    lines = [
        problem,
        f"operations ({len(workload)}):",
        workload.describe(),
        f"schedule: {schedule!r} ({decisions} decisions)",
        *more,
        "interleaving (each thread's turns, and the yield points where they ended):",
        trace,
        "history:",
        *(f"  {op.describe()}" for op in history),
    ]
    if result is not None and not result.ok:
        lines.append(result.explain())
    timeline = write_failure(history, result, problem)
    if timeline:
        lines.append(f"timeline: {timeline}")
    lines.append(f"replay: {call}{target})")
    return RaceFound("\n".join(lines))


def write_failure(
    history: History, result: LinearizabilityResult | None, problem: str
) -> str | None:
    """With `KV_TIMELINE_DIR` set, write a failing run's history there as JSON and as an HTML
    timeline, named by a digest of the history, so each failure keeps its own pair (shrinking
    writes one per failing attempt; the last printed is the minimal one). The HTML's path, or
    None."""
    where = os.environ.get("KV_TIMELINE_DIR")
    if not where:
        return None
    from kvcheck.concurrency.timeline import write_timeline

    text = history.to_json(indent=1)
    stem = Path(where) / f"race-{hashlib.blake2b(text.encode(), digest_size=6).hexdigest()}"
    stem.parent.mkdir(parents=True, exist_ok=True)
    stem.with_suffix(".json").write_text(text, encoding="utf-8")
    write_timeline(history, result, stem.with_suffix(".html"), problem)
    return str(stem.with_suffix(".html"))


# -- free-running threads ------------------------------------------------------------------


def random_ops(rng: random.Random, count: int, fills: Iterator[int]) -> list[ClientOp]:
    """`count` client operations drawn with `rng`, weighted toward puts and gets."""
    ops = []
    for _ in range(count):
        kind: ClientKind = rng.choice(("put", "put", "get", "get", "delete", "scan", "sync"))
        key = rng.choice(KEYS) if kind in ("get", "put", "delete") else b""
        size = rng.choice(SIZES) if kind == "put" else 0
        ops.append(ClientOp(kind, key, size, next(fills) % 256 if kind == "put" else 0))
    return ops


def run_free(
    open_disk: Callable[[], Disk],
    *,
    clients: int = 3,
    ops: int = 150,
    seed: int = 0,
    timeout_s: float = 60.0,
) -> Run:
    """Run random client operations on OS threads against a node on `open_disk()`, with a
    `Maintenance` worker flushing and reclaiming as often as it can. `open_disk` is called
    again to reopen the disk after the run."""
    node = Node.open(open_disk())
    for key, value in PRELUDE:
        node.put(key, value)
    initial = dict(node.scan())
    rng = random.Random(seed)
    fills = itertools.count(ord("A"))
    work = [random_ops(rng, ops, fills) for _ in range(clients)]
    recorder = Recorder()
    errors: list[str] = []
    policy = MaintenancePolicy(flush_after_bytes=4096, reclaim_at_free_extents=8, interval_s=1e-4)
    maintenance = Maintenance(node, policy)
    threads = [
        threading.Thread(
            target=_noting_crashes,
            args=(f"c{p}", errors, RecordingClient(node, recorder, p), work[p]),
            daemon=True,
        )
        for p in range(clients)
    ]
    # Switch threads every 10 us rather than every 5 ms, or they would rarely overlap.
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)
    try:
        maintenance.start()
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + timeout_s
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))
    finally:
        sys.setswitchinterval(interval)
    if any(thread.is_alive() for thread in threads):
        return Run(recorder.history(), initial, tuple(errors), f"threads hung for {timeout_s}s")
    try:
        maintenance.stop()
    except Exception as err:
        errors.append(f"maintenance crashed: {type(err).__name__}: {err}")
    recovered = _finish(node, open_disk, recorder, clients, errors)
    background = sum(maintenance.done.values())
    return Run(recorder.history(), initial, tuple(errors), None, recovered, background=background)


def _noting_crashes(
    name: str, errors: list[str], client: RecordingClient, ops: Sequence[ClientOp]
) -> None:
    # An OS thread's uncaught exception is only printed; the property must fail on it.
    try:
        run_client(client, ops, errors)
    except BaseException as err:
        errors.append(f"{name} crashed: {type(err).__name__}: {err}")


def check_free(open_disk: Callable[[], Disk], **options: Any) -> Run:
    """`run_free`, raising `RaceFound` on a bug."""
    run = run_free(open_disk, **options)
    problem, result = judge(run)
    if problem is not None:
        explanation = "" if result is None or result.ok else "\n" + result.explain()
        raise RaceFound(f"free-running threads: {problem}{explanation}")
    return run
