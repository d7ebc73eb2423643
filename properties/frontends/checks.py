"""The main job's properties beyond the conformance machine: `races` and `codecs`, in a window.

- `races`: `kvcheck.concurrency.races.check_interleaving`, client threads and a maintenance
  thread (index flushes, reclamation) on one node under the controlled scheduler, the history
  checked for linearizability; Hypothesis draws the workload and the schedule together, so a
  failure shrinks both.
- `codecs`: every codec robustness property (`kvcheck.codecs.robustness.PROPERTIES`) on the
  shipped `kvnode`, one batch of each in turn.

Both search in seeded batches (the run's `Search`) until their window closes, shrink a failure
within the window (`runner.shrinking_limit`) and report it with a reproduction: a Python
program that replays it on its own.
"""

from __future__ import annotations

import importlib
import re
import time
from collections.abc import Callable
from types import ModuleType
from typing import Any

from hypothesis import seed as hypothesis_seed
from hypothesis import settings

import kvnode
from kvcheck.concurrency.property import BATCH, race_test
from kvcheck.frontends.progress import Progress
from kvcheck.frontends.report import PropertyResult
from kvcheck.frontends.runner import SHRINK_FLOOR, Search, failure_of, shrinking_limit
from kvcheck.machine.coverage import STATES, Coverage
from kvcheck.machine.ops import KINDS
from kvnode import Node

#: Examples per batch: interleavings for `races`, inputs per codec property for `codecs`.
RACE_BATCH = BATCH
CODEC_BATCH = 40


def _coverage() -> Coverage:
    coverage = Coverage()
    coverage.not_applicable |= set(STATES) | set(KINDS)  # the machine's states do not apply
    return coverage


def _search(
    name: str,
    spec: str,
    search: Search,
    progress: Progress,
    coverage: Coverage,
    batch: Callable[[int, int], Callable[[], None]],
    summary: Callable[[], str],
    reproduce: Callable[[BaseException, int, int], str],
    failed_at: list[float] | None = None,
) -> PropertyResult:
    """Run `batch(n, seed)` tests until the window closes or one fails (`failed_at`: where the
    tests note when an example first failed)."""
    began = time.monotonic()
    window = search.window
    progress.start(name, coverage, max(0.0, window.shrink_until - began))
    n = 0
    try:
        while True:
            seed = search.batch(n)
            batch_began = time.monotonic()
            with shrinking_limit(max(SHRINK_FLOOR, window.shrink_until - batch_began)):
                failure = failure_of(batch(n, seed))
            if failure is not None:
                found = failed_at[0] if failed_at else None
                return PropertyResult(
                    name, spec, coverage, time.monotonic() - began, seed, failure,
                    summary=summary(), reproduction=reproduce(failure, n, seed),
                    found_after=None if found is None else found - began,
                )  # fmt: skip
            n += 1
            now = time.monotonic()
            if search.stop() or now + (now - batch_began) / 2 >= window.search_until:
                break
    finally:
        progress.stop()
    return PropertyResult(
        name, spec, coverage, time.monotonic() - began, search.batch(0), summary=summary()
    )


def run_races(
    name: str,
    spec: str,
    search: Search,
    node_class: type[Node],
    *,
    base: settings,
    progress: Progress,
    by_time: bool = True,
) -> PropertyResult:
    """Controlled-scheduler linearizability of `node_class`, client threads racing its
    maintenance, in plain batches and batches that cut the power at every point. With
    `by_time` the two kinds share the time equally; without, they alternate, so that a seeded
    run does the same work on any machine."""
    coverage = _coverage()
    decisions = [0]
    config = settings(base, max_examples=RACE_BATCH, database=None, deadline=None,
                      derandomize=False, print_blob=True)  # fmt: skip
    failed_at: list[float] = []
    tests = {cuts: race_test(node_class, config, coverage, decisions, cuts=cuts,
                             failed_at=failed_at)
             for cuts in (False, True)}  # fmt: skip
    # A run cut at every point costs a run per point: plain batches and cut batches share the
    # time equally, not the examples, so neither kind of race is starved.
    spent = {False: 0.0, True: 0.0}
    cut_runs = [0]

    def batch(n: int, seed: int) -> Callable[[], None]:
        cuts = spent[True] < spent[False] if by_time else n % 2 == 1
        test = hypothesis_seed(seed)(tests[cuts])

        def timed() -> None:
            began = time.monotonic()
            try:
                test()
            finally:
                spent[cuts] += time.monotonic() - began
                cut_runs[0] += RACE_BATCH * cuts

        return timed

    def summary() -> str:
        return (
            f"{coverage.examples} interleavings of {coverage.steps} client and maintenance "
            f"operations, {decisions[0]} scheduling choices; {cut_runs[0]} of them with the "
            "power cut at every point in turn"
        )

    def reproduce(failure: BaseException, n: int, seed: int) -> str:
        replay = [line for line in str(failure).splitlines() if line.startswith("replay: ")]
        call = replay[-1][len("replay: ") :] if replay else "check_interleaving(...)"
        lines = [
            "from kvcheck.concurrency.power_cuts import PowerCut, check_cut",
            "from kvcheck.concurrency.races import ClientOp, Workload, check_interleaving",
            "from kvcheck.concurrency.schedule import Schedule",
        ]
        if node_class is not Node:
            # The replay line names the class; import it from where it is defined.
            lines.append(f"from {node_class.__module__} import {node_class.__qualname__}")
        return "\n".join([*lines, "", call])

    return _search(name, spec, search, progress, coverage, batch, summary, reproduce, failed_at)


def codec_tests(node_class: type[Node], config: settings) -> dict[str, Callable[[], None]]:
    """Every codec robustness property of the package `node_class` comes from, by name."""
    from kvcheck.codecs.robustness import PROPERTIES

    package = node_package(node_class)
    return {name: config(PROPERTIES[name](package)) for name in sorted(PROPERTIES)}


def node_package(node_class: type[Node]) -> ModuleType:
    """The package whose codecs `node_class` uses: that of the first `Node` class it derives
    from that is defined in a package's `node` module (`kvnode`, or a patched copy of it)."""
    for cls in node_class.__mro__:
        package, _, module = cls.__module__.rpartition(".")
        if cls.__name__ == "Node" and module == "node" and package:
            return importlib.import_module(package)
    return kvnode


def run_codecs(
    name: str,
    spec: str,
    search: Search,
    node_class: type[Node],
    *,
    base: settings,
    progress: Progress,
) -> PropertyResult:
    """Every codec robustness property of the codecs `node_class` uses, in turn."""
    from kvcheck.codecs.robustness import PROPERTIES

    package = node_package(node_class)
    coverage = _coverage()
    names = sorted(PROPERTIES)
    config = settings(base, max_examples=CODEC_BATCH, database=None, deadline=None,
                      derandomize=False, print_blob=True)  # fmt: skip

    def batch(n: int, seed: int) -> Callable[[], None]:
        test: Any = hypothesis_seed(seed)(config(PROPERTIES[names[n % len(names)]](package)))

        def counted() -> None:
            test()
            coverage.examples += CODEC_BATCH

        return counted

    def summary() -> str:
        return f"{len(names)} codec properties, about {coverage.examples} inputs"

    def reproduce(failure: BaseException, n: int, seed: int) -> str:
        prop = names[n % len(names)]
        notes = [line for note in getattr(failure, "__notes__", []) for line in note.splitlines()]
        found = (re.search(r"@reproduce_failure\(.*\)", line) for line in notes)
        blob = next((match.group(0) for match in found if match), None)
        falsifying = [f"# {line}" for line in notes if line and "reproduce_failure" not in line]
        lines = [*falsifying, "from hypothesis import reproduce_failure", ""]
        lines.append("from kvcheck.codecs.robustness import PROPERTIES")
        if package is kvnode:
            lines.append("import kvnode as package")
        else:  # a patched copy of the node: build it again by the bug's name
            lines.append("from kvcheck.evidence.catalog import BY_NAME")
            lines.append("from kvcheck.evidence.patched import patched_package")
            bug = package.__name__.removeprefix("kvnode_planted_")
            lines.append(f"bug = BY_NAME[{bug!r}]")
            lines.append("package = patched_package(bug.package, bug.patches)")
        lines.append("")
        test = f"PROPERTIES[{prop!r}](package)"
        blob_call = blob[1:] if blob else None  # `@reproduce_failure(...)` as a call
        lines.append(f"{blob_call}({test})()" if blob_call else f"{test}()")
        return "\n".join(lines)

    return _search(name, spec, search, progress, coverage, batch, summary, reproduce)


def run_symbolic(
    name: str,
    spec: str,
    search: Search,
    node_class: type[Node],
    *,
    base: settings,
    progress: Progress,
) -> PropertyResult:
    """CrossHair over every contract of the node package's pure modules, one module at a time,
    each given an equal share of what is left of the window (no counterexample by then is
    evidence, not a proof)."""
    from kvcheck.codecs.symbolic import MODULES, PLUGIN, Budget, crosshair
    from kvcheck.evidence.patched import SHARED

    coverage = _coverage()
    package = node_package(node_class).__name__
    # A patched copy shares some modules with kvnode instead of copying them.
    modules = [f"{'kvnode' if m in SHARED else package}.{m}" for m in MODULES]
    began = time.monotonic()
    progress.start(name, coverage, max(0.0, search.window.search_until - began))
    unfinished: list[str] = []
    try:
        for number, module in enumerate(modules):
            share = (search.window.search_until - time.monotonic()) / (len(modules) - number)
            outcome = crosshair([module], Budget(), package, timeout=max(0.5, share))
            coverage.examples += 1
            if outcome.returncode == -1:
                unfinished.append(module.rpartition(".")[2])
            elif outcome.returncode != 0:
                break
    finally:
        progress.stop()
    seconds = time.monotonic() - began
    if outcome.returncode in (0, -1):
        cut = (
            f"; stopped at its share of the deadline: {', '.join(unfinished)}" if unfinished else ""
        )
        summary = f"{len(modules)} modules' contracts: no counterexample in {seconds:.1f}s{cut}"
        return PropertyResult(name, spec, coverage, seconds, search.batch(0), summary=summary)
    report = outcome.report or f"crosshair exited {outcome.returncode}"
    if not outcome.counterexample:
        report = f"CrossHair could not run (exit status {outcome.returncode}):\n{report}"
    replay = [
        *(f"# {line}" for line in report.splitlines()[:20]),
        "# replay (a shell command; KVNODE_PACKAGE names the package the plugin patches):",
        f"#   KVNODE_PACKAGE={package} python -m crosshair check --extra_plugin {PLUGIN} {module}",
    ]
    return PropertyResult(
        name, spec, coverage, seconds, search.batch(0), AssertionError(report),
        summary=f"{len(modules)} modules' contracts", reproduction="\n".join(replay),
    )  # fmt: skip
