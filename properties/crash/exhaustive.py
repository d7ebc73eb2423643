"""Exhaustive crash checking: every crash state a short history can leave on a simulated disk
(`SimDisk`) or file system (`SimFS`: then the pending changes include creates, unlinks and
renames, and the persistence model decides what each subset leaves).

For a history, the last operation is interrupted by a power loss after each possible number of
disk writes in turn (and once after it completes). At each such point the pending (unsynced)
page writes are the disk's whole uncertainty: every subset of them may survive, and any kept
page may be torn. This module tries every subset, and for each kept page write up to
`tear_cuts` torn variants (one torn page per state), recovers each resulting disk twice, and
checks that the recovered state is one the crash model allows and that both recoveries agree.

Bounds, stated in every report: points with more than `pending_max` pending writes are skipped
(2^n grows fast), and torn variants cut each page at the given positions only.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import attrs

from kvcheck.machine import ops
from kvcheck.machine.harness import Harness, crash_plan
from kvcheck.machine.ops import Op
from kvcheck.machine.targets import Target
from kvnode.errors import KVError
from kvnode.limits import Limits
from kvnode.simdisk import PendingWrite


@attrs.define
class ExhaustiveFailure:
    """A crash state whose recovery broke a property, as a replayable operation log."""

    message: str
    log: list[Op]


@attrs.define
class ExhaustiveReport:
    """What exhaustive mode checked."""

    histories: int = 0
    points: int = 0
    crash_states: int = 0
    skipped_points: int = 0
    seconds: float = 0.0
    failure: ExhaustiveFailure | None = None

    @property
    def states_per_second(self) -> float:
        """Crash states checked per second."""
        return self.crash_states / self.seconds if self.seconds else 0.0


def crash_variants(
    pending: Sequence[PendingWrite], tear_cuts: int
) -> Iterator[tuple[tuple[bool, ...], tuple[tuple[int, int], ...]]]:
    """Every (keep, tears) over `pending`: each subset, then each with one page torn."""
    n = len(pending)
    for mask in range(2**n):
        keep = tuple(bool(mask >> i & 1) for i in range(n))
        yield keep, ()
        for position, write in enumerate(pending):
            if keep[position] and write.kind == "page" and len(write.data) > 1:
                span = len(write.data) - 1
                cuts = sorted({0, span // 2, span - 1})[:tear_cuts]
                for cut in cuts:
                    yield keep, ((position, cut),)


def check_history(
    history: Sequence[Op],
    factory: Callable[[], Target],
    report: ExhaustiveReport,
    *,
    pending_max: int = 10,
    tear_cuts: int = 3,
    deadline: float = float("inf"),
) -> None:
    """Check every crash state of `history`, adding to `report`; stop at the first failure
    (or, leaving the history partly checked, at `deadline` on the monotonic clock)."""
    *prefix, last = history
    during = (last.kind, *last.args)
    after = 0
    while report.failure is None and time.monotonic() < deadline:
        target = factory()
        if target.disk is None:
            raise TypeError("exhaustive crash checking needs a target on a SimDisk or a SimFS")
        harness = Harness(target)
        for op in prefix:
            harness.run(op)
        legal = harness.power_loss(during, after)
        report.points += 1
        pending = target.disk.pending_writes()
        if len(pending) > pending_max:
            report.skipped_points += 1
        else:
            point = (list(prefix), during, after)
            _check_point(target, legal, pending, point, report, tear_cuts, deadline)
        lost = harness.power_was_lost
        # The harness's store lost power: dropped before the target goes, so that no finalizer
        # of it runs once its file system is gone.
        del harness
        target.cleanup()
        if not lost:
            return  # the operation completed: that was the last point
        after += 1


def _check_point(
    target: Target,
    legal: list[dict[bytes, bytes]],
    pending: Sequence[PendingWrite],
    point: tuple[list[Op], tuple[object, ...], int],
    report: ExhaustiveReport,
    tear_cuts: int,
    deadline: float,
) -> None:
    prefix, during, after = point
    assert target.disk is not None
    for keep, tears in crash_variants(pending, tear_cuts):
        if report.crash_states % 256 == 0 and time.monotonic() >= deadline:
            return
        report.crash_states += 1
        disk = target.disk.clone()
        disk.crash(crash_plan(tuple(pending), keep, tears, False))
        problem = _recover_twice(target, disk, legal)
        if problem is not None:
            crash = Op("dirty_reboot", (keep, tears, during, after, False, False))
            report.failure = ExhaustiveFailure(problem, [*prefix, crash])
            return


_PROBE_KEY = b"exhaustive-probe"


def _recover_twice(target: Target, disk: Any, legal: list[dict[bytes, bytes]]) -> str | None:
    """Recover `disk` and a copy of it; both must find the same legal state, and a write made
    after recovery must survive the next crash (no stale bytes past a write pointer)."""
    try:
        copy = disk.clone()
        with target.using(disk):
            store = target.open()
            first = dict(store.scan())
            store.put(_PROBE_KEY, b"after recovery")
            store.close()  # every store makes everything durable at close
            disk.crash()
            again = target.open()
            after_probe = dict(again.scan())
            again.close()
        with target.using(copy):
            other = target.open()
            second = dict(other.scan())
            other.close()
    except KVError as err:
        return f"recovery failed: {type(err).__name__}: {err}"
    if first not in legal:
        return f"recovered {sorted(first.items())!r}, which no legal prefix of the history holds"
    if second != first:
        return "two recoveries of the same disk disagree"
    if after_probe != {**first, _PROBE_KEY: b"after recovery"}:
        return "a write synced after recovery did not survive the next crash intact"
    return None


def random_history(rnd: random.Random, limits: Limits, page_bytes: int, length: int) -> list[Op]:
    """A short history with the conformance strategies' biases, drawn from `rnd`."""
    keys = [b"k0", b"k1", b"k2"]
    sizes = [0, 1, page_bytes - 27, page_bytes - 26, page_bytes - 25, 700,
             limits.value_bytes_max]  # fmt: skip
    history: list[Op] = []
    for _ in range(length):
        roll = rnd.random()
        key = rnd.choice(keys)
        if roll < 0.55:
            history.append(ops.put(key, bytes([rnd.randrange(256)]) * rnd.choice(sizes)))
        elif roll < 0.7:
            history.append(ops.delete(key))
        elif roll < 0.8:
            history.append(Op("sync"))
        elif roll < 0.9:
            history.append(Op("flush_index"))
        else:
            history.append(Op("reclaim"))
    return history


def run(
    factory: Callable[[], Target],
    *,
    seed: int,
    budget: float,
    length: int = 5,
    pending_max: int = 10,
    tear_cuts: int = 3,
) -> ExhaustiveReport:
    """Check random short histories exhaustively until `budget` seconds are spent."""
    report = ExhaustiveReport()
    probe = factory()
    limits, page_bytes = probe.limits, probe.page_bytes
    probe.cleanup()
    rnd = random.Random(seed)
    began = time.monotonic()
    deadline = began + budget
    while report.failure is None and time.monotonic() < deadline:
        history = random_history(rnd, limits, page_bytes, length)
        check_history(
            history,
            factory,
            report,
            pending_max=pending_max,
            tear_cuts=tear_cuts,
            deadline=deadline,
        )
        report.histories += 1
    report.seconds = time.monotonic() - began
    return report
