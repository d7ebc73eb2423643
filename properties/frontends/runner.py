"""Running one property within a deadline: seeded batches of search, then bounded shrinking.

`--budget` is a deadline for the whole run, shrinking included. Hypothesis shrinks a failure
for up to five minutes by default, so a store whose failures shrink slowly once turned a 60 s
budget into six minutes. Here the budget is cut into windows (`plan`): the properties share
`1 - SHRINK_SHARE` of it for searching, one slot each (time a property leaves unused passes to
the next), and a failure may be shrunk until its slot's end plus the held-back share. Hypothesis
is told the time left by its `MAX_SHRINKING_SECONDS`, which it documents as patchable; when
shrinking stops there, the failure is reported as found, with the sequence shrinking reached
and a note that it may not be minimal.
"""

from __future__ import annotations

import contextlib
import hashlib
import time
from collections.abc import Callable, Iterator

import attrs
from hypothesis import seed as hypothesis_seed
from hypothesis import settings
from hypothesis.database import ExampleDatabase
from hypothesis.internal.conjecture import engine
from hypothesis.reporting import current_reporter, with_reporter
from hypothesis.stateful import get_state_machine_test

from kvcheck.frontends.database import SavedFailures
from kvcheck.frontends.progress import Progress
from kvcheck.frontends.report import PropertyResult
from kvcheck.machine.conformance import ConformanceMachine, conformance_machine
from kvcheck.machine.coverage import Coverage
from kvcheck.machine.targets import Target, TargetError

#: Examples per Hypothesis run; the budget is spent in batches, each with its own seed.
BATCH_EXAMPLES = 25
#: The share of the budget held back from searching, for shrinking a failure.
SHRINK_SHARE = 0.2
#: Shrinking gets at least this long, even when a failure is found at its window's very end.
SHRINK_FLOOR = 1.0
#: The share of its slot a property searches before, if it has reached every coverage state,
#: it stops and leaves the rest to the properties after it.
NEED_SHARE = 0.3
# What Hypothesis reports when it stops shrinking at `MAX_SHRINKING_SECONDS`.
_SLOW_SHRINK = "stopped because it is making very slow progress"


@attrs.frozen
class Window:
    """When one property must stop searching, and when shrinking its failure must stop
    (`time.monotonic()` instants)."""

    search_until: float
    shrink_until: float


def plan(start: float, budget: float, slots: int) -> list[Window]:
    """The windows of `slots` properties run one after another from `start` within `budget`."""
    reserve = budget * SHRINK_SHARE
    searching = budget - reserve
    windows = []
    for slot in range(slots):
        search_until = start + searching * (slot + 1) / slots
        windows.append(Window(search_until, min(start + budget, search_until + reserve)))
    return windows


@contextlib.contextmanager
def shrinking_limit(seconds: float) -> Iterator[list[str]]:
    """Hypothesis shrinks for at most `seconds` inside this block; yields the list that
    collects what Hypothesis reported (its slow-shrinking warning is kept out of the output,
    which says the same in kvcheck's words). The limit is a process global, so a process runs
    one property at a time; `--workers` spreads them over processes."""
    reported: list[str] = []
    outer = current_reporter()

    def collect(value: object) -> None:
        text = str(value)
        reported.append(text)
        if _SLOW_SHRINK not in text:
            outer(value)

    with with_reporter(collect):
        saved = engine.MAX_SHRINKING_SECONDS
        engine.MAX_SHRINKING_SECONDS = seconds  # type: ignore[assignment]
        try:
            yield reported
        finally:
            engine.MAX_SHRINKING_SECONDS = saved


def batch_seed(seed: int, index: int) -> int:
    """The seed of batch `index` of a run seeded `seed`: `seed` itself for the first, so that
    `--seed B` replays a failing batch B as its first batch; the others derived by hashing, so
    that runs with different seeds search different spaces (consecutive seeds would make
    `--seed 2` repeat `--seed 1`'s batches but its first)."""
    if index == 0:
        return seed
    digest = hashlib.blake2b(f"kvcheck-batch:{seed}:{index}".encode(), digest_size=4).digest()
    return int.from_bytes(digest, "big")


@attrs.define
class Search:
    """One property's search: which seeds, within which window, stopped early by `stop`."""

    window: Window
    #: The run's seed.
    seed: int
    #: Workers sharing a property take every `shards`-th batch, starting at their `shard`.
    shard: int = 0
    shards: int = 1
    stop: Callable[[], bool] = lambda: False
    #: Search until the window closes even with every state reached: nothing comes after it.
    last: bool = False

    def batch(self, n: int) -> int:
        """The seed of this search's `n`-th batch."""
        return batch_seed(self.seed, self.shard + n * self.shards)


def run_conformance(
    name: str,
    spec: str,
    factory: Callable[[], Target],
    search: Search,
    *,
    base: settings,
    progress: Progress,
    crashes: bool = True,
    faults: bool = False,
    damage: bool = False,
    database: ExampleDatabase | None = None,
) -> PropertyResult:
    """Run the conformance machine in seeded batches until its window closes or it fails.

    A failure saved in `database` by an earlier run (of this property on this target, by any
    process sharing the database) is replayed first; a new one is saved for the next run.
    """
    coverage = Coverage()
    machine = conformance_machine(
        factory, coverage=coverage, crashes=crashes, faults=faults, damage=damage
    )
    # Hypothesis ignores the database of a seeded test, so kvcheck keeps its own record of
    # failures there: the `@reproduce_failure` blob of each, replayed before the search.
    saved = SavedFailures(database, name)
    config = settings(base, max_examples=BATCH_EXAMPLES, database=None, deadline=None,
                      print_blob=True)  # fmt: skip
    began = time.monotonic()
    ConformanceMachine.first_failure_at = None
    window = search.window
    progress.start(name, coverage, max(0.0, window.shrink_until - began))
    batches = 0
    batch_seconds = 0.0
    try:
        for replay in saved.replays(get_state_machine_test(machine, settings=config)):
            failure = failure_of(replay)
            if failure is not None:
                return _failed(name, spec, coverage, began, search.seed, failure, replayed=True)
        while True:
            seed = search.batch(batches)
            test = hypothesis_seed(seed)(get_state_machine_test(machine, settings=config))
            batch_began = time.monotonic()
            limit = max(SHRINK_FLOOR, window.shrink_until - batch_began)
            with shrinking_limit(limit) as reported:
                failure = failure_of(test)
            if failure is not None:
                cut = any(_SLOW_SHRINK in text for text in reported)
                result = _failed(name, spec, coverage, began, seed, failure, cut=cut)
                saved.save(result.blob)
                return result
            now = time.monotonic()
            batch_seconds = max(batch_seconds, now - batch_began)
            # Another batch only if it is likely to end in the window: a slow store's batch can
            # take many seconds, and overrunning would eat into the next property's slot.
            if search.stop() or now + batch_seconds / 2 >= window.search_until:
                break
            # Time by need: a property that has reached every state it can gives the rest of
            # its slot to the properties after it, once it has searched a fair share.
            covered = not coverage.missed_states() and not coverage.missed_ops()
            slot = window.search_until - began
            if covered and not search.last and now - began >= NEED_SHARE * slot:
                break
            batches += 1
    finally:
        progress.stop()
    return PropertyResult(name, spec, coverage, time.monotonic() - began, search.batch(0))


def failure_of(test: Callable[[], None]) -> BaseException | None:
    """Run a Hypothesis test (a machine's, or any); the failure it raised (Hypothesis has
    shrunk it), or None."""
    try:
        test()
    except Exception as err:
        failure = err.exceptions[-1] if isinstance(err, BaseExceptionGroup) else err
        cause = failure.__cause__
        if not isinstance(failure, TargetError) and isinstance(cause, TargetError):
            failure = cause
        if failure is not err:
            failure.__notes__ = getattr(err, "__notes__", []) + getattr(failure, "__notes__", [])
        return failure
    return None


def _failed(
    name: str,
    spec: str,
    coverage: Coverage,
    began: float,
    seed: int,
    failure: BaseException,
    *,
    cut: bool = False,
    replayed: bool = False,
) -> PropertyResult:
    harness = ConformanceMachine.last_harness
    log = [] if harness is None else list(harness.log)
    found = ConformanceMachine.first_failure_at
    return PropertyResult(
        name, spec, coverage, time.monotonic() - began, seed, failure, log,
        shrink_cut=cut, replayed=replayed, found_after=None if found is None else found - began,
    )  # fmt: skip
