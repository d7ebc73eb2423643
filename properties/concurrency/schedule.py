"""Schedules: which thread runs at each yield point, as a value that Hypothesis draws and shrinks.

A run under `kvcheck.concurrency.scheduler.Scheduler` is a sequence of *steps*: one thread
runs from one yield point to the next. Before each step the scheduler asks a `Chooser` which
runnable thread goes; a `Schedule` builds the chooser, so the schedule alone fixes the
interleaving, and the same schedule replays the same run. Two strategies:

* ``random``: `choices`, one integer per *decision* (a step where more than one thread could
  run). Choice c picks the runnable thread c places after the one that ran last, in thread
  order, wrapping around; so 0 means "keep running the same thread", which is also what happens
  once the list runs out. Hypothesis shrinks integers toward 0 and lists toward short, so a
  shrunk schedule keeps only the switches the failure needs.
* ``pct``: Probabilistic Concurrency Testing (Burckhardt, Kothari, Musuvathi and Nagarakatte,
  ASPLOS 2010). Threads have distinct priorities (`ranks`: thread t's rank, 0 the highest; a
  permutation), the highest-priority runnable thread runs, and at each of the d-1
  `change_points` (step numbers) the thread that just ran drops below every other. It finds a bug
  of depth d (d ordering constraints) with probability at least 1/(n k^(d-1)) per run, for n
  threads and k steps, however the k steps are spread.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal, Protocol

import attrs
from hypothesis import strategies as st

Strategy = Literal["random", "pct"]


class Chooser(Protocol):
    """Picks the thread to run next."""

    def choose(self, runnable: Sequence[int], last: int | None, step: int) -> int:
        """One of `runnable` (thread indices, increasing); `last` ran the previous step."""
        ...


@attrs.frozen(repr=False)
class Schedule:
    """An interleaving, as data: see the module docstring for what the fields mean."""

    strategy: Strategy = "random"
    choices: tuple[int, ...] = attrs.field(default=(), converter=tuple)
    ranks: tuple[int, ...] = attrs.field(default=(), converter=tuple)
    change_points: tuple[int, ...] = attrs.field(default=(), converter=tuple)

    def __attrs_post_init__(self) -> None:
        if self.strategy not in ("random", "pct"):
            raise ValueError(f"unknown schedule strategy {self.strategy!r}")
        if any(c < 0 for c in self.choices + self.change_points):
            raise ValueError("choices and change points must not be negative")
        if sorted(self.ranks) != list(range(len(self.ranks))):
            raise ValueError(f"ranks must be a permutation of 0..n-1, not {self.ranks}")

    def chooser(self) -> Chooser:
        """A fresh chooser that follows this schedule from the first step."""
        if self.strategy == "random":
            return RandomChooser(self.choices)
        return PCTChooser(self.ranks, self.change_points)

    @property
    def length(self) -> int:
        """Choices (random) or priority change points (pct): what shrinking minimises."""
        return len(self.choices) if self.strategy == "random" else len(self.change_points)

    def __repr__(self) -> str:
        fields = [f"strategy={self.strategy!r}"]
        if self.strategy == "random":
            fields.append(f"choices={self.choices!r}")
        else:
            fields += [f"ranks={self.ranks!r}", f"change_points={self.change_points!r}"]
        return f"Schedule({', '.join(fields)})"


class RandomChooser:
    """Follows a list of relative choices, then keeps running whichever thread ran last."""

    def __init__(self, choices: Sequence[int]):
        self._choices = choices
        self._next = 0

    def choose(self, runnable: Sequence[int], last: int | None, step: int) -> int:
        """See `Chooser`; only decisions between several threads use up a choice."""
        if len(runnable) == 1:
            return runnable[0]
        choice = self._choices[self._next] if self._next < len(self._choices) else 0
        self._next += 1
        base = runnable.index(last) if last in runnable else 0
        return runnable[(base + choice) % len(runnable)]


class PCTChooser:
    """Runs the highest-priority runnable thread; demotes the last one at each change point."""

    def __init__(self, ranks: Sequence[int], change_points: Sequence[int]):
        # Initial priorities all exceed the demoted ones (1 .. d-1), as in the paper.
        depth = len(change_points) + 1
        self._priority = {t: depth + len(ranks) - rank for t, rank in enumerate(ranks)}
        self._changes: dict[int, int] = {}
        for n, point in enumerate(sorted(change_points)):
            self._changes.setdefault(point, depth - 1 - n)

    def choose(self, runnable: Sequence[int], last: int | None, step: int) -> int:
        """See `Chooser`. Threads beyond `ranks` rank below all ranked ones, in index order."""
        if last is not None and step in self._changes:
            self._priority[last] = self._changes[step]
        return max(runnable, key=lambda t: (self._priority.get(t, 0), -t))


def schedules(
    strategy: Strategy | Literal["any"] = "any",
    *,
    threads: int = 4,
    choices_max: int = 32,
    depth_max: int = 3,
    steps_max: int = 64,
) -> st.SearchStrategy[Schedule]:
    """Schedules for runs of up to `threads` threads.

    `choices_max` bounds a random schedule's decisions (later ones keep the running thread);
    `depth_max` is PCT's d, and change points fall in the first `steps_max` steps.
    """
    random = st.builds(
        Schedule,
        st.just("random"),
        choices=st.lists(st.integers(0, threads - 1), max_size=choices_max).map(tuple),
    )
    pct = st.builds(
        Schedule,
        st.just("pct"),
        ranks=st.permutations(range(threads)).map(tuple),
        change_points=st.lists(st.integers(0, steps_max - 1), max_size=depth_max - 1).map(tuple),
    )
    if strategy == "random":
        return random
    if strategy == "pct":
        return pct
    return st.one_of(random, pct)
