"""kvcheck: check that a key-value store conforms to the reference model, within a time budget.

By default it checks the built-in node on a simulated disk and on real files; `--target
module:factory` checks any store with the node's API instead.
"""

from __future__ import annotations

import argparse
import random
import sys
import threading
import time
from collections.abc import Callable, Sequence

from hypothesis import seed as hypothesis_seed
from hypothesis import settings
from hypothesis.database import ExampleDatabase
from hypothesis.stateful import get_state_machine_test

from kvcheck.frontends import profiles
from kvcheck.frontends.database import DEFAULT_DIRECTORY, DatabaseError, SavedFailures, from_url
from kvcheck.frontends.report import PropertyResult, junit_xml, program, regression_tests, table
from kvcheck.machine.conformance import ConformanceMachine, conformance_machine
from kvcheck.machine.coverage import STATES, Coverage
from kvcheck.machine.harness import ConformanceError
from kvcheck.machine.targets import Target, TargetError, load_factory
from kvnode.cli import version

#: Exit statuses (`--help` and the README list them).
EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_TARGET, EXIT_COVERAGE = 0, 1, 2, 3, 4
EXIT_STATUSES = """exit status:
  0  every property held
  1  a property failed (its minimal reproduction is printed)
  2  bad usage
  3  the target itself failed: its module or factory cannot be loaded, the factory raised,
     or the store lacks a method of the API
  4  --require-coverage, and an operation or reachable state was never reached
  130 interrupted (the table so far is printed and the reports written)"""

BUILT_IN = {
    "simdisk": "kvcheck.machine.targets:simdisk_target",
    "filedisk": "kvcheck.machine.targets:filedisk_target",
}
#: Examples per Hypothesis run; the budget is spent in batches with consecutive seeds.
BATCH_EXAMPLES = 25


class Progress:
    """A live status line on a terminal; off a terminal (a CI log), a heartbeat line every
    `HEARTBEAT` seconds, so a long run visibly lives."""

    HEARTBEAT = 10.0

    def __init__(self, stream: object, enabled: bool, *, terminal: bool = True):
        self._stream = stream
        self._enabled = enabled
        self._terminal = terminal
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self, name: str, coverage: Coverage, budget: float) -> None:
        """Show `name`'s counters until `stop`."""
        if not self._enabled:
            return
        began = time.monotonic()
        interval = 0.25 if self._terminal else self.HEARTBEAT

        def tick() -> None:
            while not self._stop.wait(interval):
                status = (
                    f"{name}: {coverage.examples} examples, {coverage.steps} steps, "
                    f"{time.monotonic() - began:4.0f}/{budget:.0f}s"
                )
                self._write(f"\r{status} " if self._terminal else f"kvcheck: {status}\n")

        self._stop.clear()
        self._thread = threading.Thread(target=tick, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Clear the status line."""
        if self._thread is not None:
            self._stop.set()
            self._thread.join()
            self._thread = None
            if self._terminal:
                self._write("\r\033[K")

    def _write(self, text: str) -> None:
        self._stream.write(text)  # type: ignore[attr-defined]
        self._stream.flush()  # type: ignore[attr-defined]


def run_conformance(
    name: str,
    spec: str,
    factory: Callable[[], Target],
    *,
    budget: float,
    seed: int,
    base: settings,
    progress: Progress,
    faults: bool = False,
    damage: bool = False,
    database: ExampleDatabase | None = None,
) -> PropertyResult:
    """Run the conformance machine in seeded batches until the budget is spent or it fails.

    A failure saved in `database` by an earlier run (of this property on this target, by any
    process sharing the database) is replayed first; a new one is saved for the next run.
    """
    coverage = Coverage()
    machine = conformance_machine(factory, coverage=coverage, faults=faults, damage=damage)
    # Hypothesis ignores the database of a seeded test, so kvcheck keeps its own record of
    # failures there: the `@reproduce_failure` blob of each, replayed before the search.
    saved = SavedFailures(database, name)
    config = settings(base, max_examples=BATCH_EXAMPLES, database=None, deadline=None,
                      print_blob=True)  # fmt: skip
    began = time.monotonic()
    progress.start(name, coverage, budget)
    batch_seed = seed
    try:
        for replay in saved.replays(get_state_machine_test(machine, settings=config)):
            failure = _failure_of(replay)
            if failure is not None:
                return _failed(name, spec, coverage, began, seed, failure)
        while True:
            test = hypothesis_seed(batch_seed)(get_state_machine_test(machine, settings=config))
            failure = _failure_of(test)
            if failure is not None:
                result = _failed(name, spec, coverage, began, batch_seed, failure)
                saved.save(result.blob)
                return result
            if time.monotonic() - began >= budget:
                break
            batch_seed += 1
    finally:
        progress.stop()
    return PropertyResult(name, spec, coverage, time.monotonic() - began, seed)


def _failure_of(test: Callable[[], None]) -> BaseException | None:
    """Run a machine's test; the failure it raised (Hypothesis has shrunk it), or None."""
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
    name: str, spec: str, coverage: Coverage, began: float, seed: int, failure: BaseException
) -> PropertyResult:
    harness = ConformanceMachine.last_harness
    log = [] if harness is None else list(harness.log)
    return PropertyResult(name, spec, coverage, time.monotonic() - began, seed, failure, log)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kvcheck",
        description=__doc__.splitlines()[0],
        epilog=EXIT_STATUSES + "\n\nkvcheck bugs --help: run the bug catalog through the checks",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"kvcheck {version()}")
    parser.add_argument(
        "--target",
        action="append",
        metavar="MODULE:FACTORY",
        help="store to check (repeatable); 'simdisk' and 'filedisk' name the built-in node "
        "(default: both)",
    )
    parser.add_argument(
        "--budget",
        type=float,
        default=60.0,
        metavar="SECONDS",
        help="time to spend searching, shared by the targets (default 60)",
    )
    parser.add_argument(
        "--seed", type=int, default=None, help="seed of the first batch (default: random, printed)"
    )
    parser.add_argument(
        "--profile",
        choices=profiles.PROFILES,
        default=None,
        help="Hypothesis profile for step counts (default: ci under CI, else dev)",
    )
    parser.add_argument(
        "--database",
        default=DEFAULT_DIRECTORY,
        metavar="URL",
        help="example database, where failures are saved to replay first: a directory "
        f"(default {DEFAULT_DIRECTORY}), redis://HOST:PORT/DB (shared by workers and "
        "machines), or none",
    )
    parser.add_argument("--junit-xml", metavar="PATH", help="write a JUnit XML report")
    parser.add_argument("--json", metavar="PATH", help="write a JSON report (schema: README)")
    parser.add_argument(
        "--write-regression",
        metavar="PATH",
        help="on failure, write the minimal sequence as a pytest test file",
    )
    parser.add_argument(
        "--require-coverage",
        action="store_true",
        help="fail when an operation or reachable state was never reached",
    )
    parser.add_argument("--no-progress", action="store_true", help="no live status line")
    parser.add_argument(
        "--exhaustive-crashes",
        action="store_true",
        help="also check every crash state of random short histories",
    )
    return parser


def _jobs(specs: list[str]) -> list[tuple[str, str, Callable[[], Target], str]]:
    """(name, spec, factory, kind) for every property to run on every target. The factory is
    called once here, as a probe of what the target supports."""
    jobs = []
    for spec in specs:
        factory = load_factory(spec)
        probe = factory()
        has_disk, can_damage = probe.disk is not None, probe.can_damage and probe.can_reboot
        probe.cleanup()
        jobs.append((f"conformance[{_short(spec)}]", spec, factory, "conformance"))
        if has_disk:
            jobs.append((f"faults[{_short(spec)}]", spec, factory, "faults"))
        if can_damage:
            jobs.append((f"damage[{_short(spec)}]", spec, factory, "damage"))
    return jobs


def _usage(message: str) -> int:
    print(f"kvcheck: error: {message}", file=sys.stderr)
    return EXIT_USAGE


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `kvcheck` command."""
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["bugs"]:
        from kvcheck.evidence import bugs

        return bugs.main(argv[1:])
    args = _parser().parse_args(argv)
    if args.budget <= 0:
        return _usage("--budget must be positive")
    try:
        database = from_url(args.database)
    except DatabaseError as err:
        return _usage(f"--database {err}")
    specs = [BUILT_IN.get(t, t) for t in (args.target or list(BUILT_IN))]
    try:
        jobs = _jobs(specs)
    except TargetError as err:
        print(f"kvcheck: target failed: {err}", file=sys.stderr)
        return EXIT_TARGET
    except ValueError as err:
        return _usage(str(err))
    base = settings.get_profile(
        profiles.qualified(args.profile) if args.profile else profiles.default_profile()
    )
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(2**32)
    shares = len(jobs) + (1 if args.exhaustive_crashes else 0)
    print(f"kvcheck: {len(specs)} target(s), budget {args.budget:.0f}s, seed {seed}", flush=True)
    terminal = sys.stderr.isatty()
    progress = Progress(sys.stderr, not args.no_progress, terminal=terminal)
    results: list[PropertyResult] = []
    interrupted = False
    try:
        for name, spec, factory, kind in jobs:
            results.append(
                run_conformance(
                    name,
                    spec,
                    factory,
                    budget=args.budget / shares,
                    seed=seed,
                    base=base,
                    progress=progress,
                    faults=kind == "faults",
                    damage=kind == "damage",
                    database=database,
                )
            )
        if args.exhaustive_crashes:
            results.append(_exhaustive(jobs, args.budget / shares, seed))
    except KeyboardInterrupt:
        interrupted = True
        progress.stop()
        print("\nkvcheck: interrupted; the properties that finished:")
    return _report(args, results, seed, interrupted)


def _report(
    args: argparse.Namespace, results: list[PropertyResult], seed: int, interrupted: bool
) -> int:
    """Print the table and every failure, write the requested files, and choose the status."""
    print(table(results))
    for result in results:
        if not result.ok:
            _explain_failure(result, args.write_regression)
    if args.write_regression and not all(r.ok for r in results):
        with open(args.write_regression, "w") as out:
            out.write(regression_tests(results))
        print(f"\nwrote the failing sequences as a regression test: {args.write_regression}")
        print(f"replay: python -m pytest {args.write_regression}")
    if args.junit_xml:
        with open(args.junit_xml, "wb") as out:
            out.write(junit_xml(results))
    if args.json:
        from kvcheck.frontends.json_report import write_json

        write_json(args.json, results, seed=seed, budget=args.budget, interrupted=interrupted)
    if interrupted:
        return 130
    if any(isinstance(r.error, TargetError) for r in results):
        return EXIT_TARGET
    if not all(r.ok for r in results):
        return EXIT_FAILED
    if args.require_coverage and any(
        r.coverage.missed_states() or r.coverage.missed_ops() for r in results
    ):
        print("\nkvcheck: --require-coverage: some operations or states were never reached")
        return EXIT_COVERAGE
    return EXIT_OK


def _exhaustive(
    jobs: list[tuple[str, str, Callable[[], Target], str]], budget: float, seed: int
) -> PropertyResult:
    """Exhaustive crash checking on the first target with a simulated disk."""
    from kvcheck.crash import exhaustive

    for _name, spec, factory, kind in jobs:
        if kind == "faults":  # the first target that has a SimDisk
            report = exhaustive.run(factory, seed=seed, budget=budget)
            summary = (
                f"{report.histories} histories, {report.points} power-loss points, "
                f"{report.crash_states} crash states ({report.states_per_second:,.0f}/s); "
                f"{report.skipped_points} points skipped (more than 10 pending writes)"
            )
            coverage = Coverage(examples=report.histories, steps=report.crash_states)
            coverage.not_applicable |= set(STATES)
            failure = report.failure
            return PropertyResult(
                f"exhaustive[{_short(spec)}]",
                spec,
                coverage,
                report.seconds,
                seed,
                None if failure is None else ConformanceError(failure.message),
                [] if failure is None else failure.log,
                summary=summary,
            )
    raise ValueError("--exhaustive-crashes needs a target on a simulated disk")


def _short(spec: str) -> str:
    for name, built_in in BUILT_IN.items():
        if spec == built_in:
            return name
    return spec


def _explain_failure(result: PropertyResult, regression: str | None) -> None:
    print(f"\nFAILED {result.name}: {result.message}")
    print(f"\nMinimal failing sequence ({len(result.log)} operations), as a program:\n")
    print(program(result, indent="    "))
    print("\nReplay exactly:")
    print(f"  kvcheck --target {result.target} --seed {result.seed}")
    if regression is None:
        print("  kvcheck ... --write-regression PATH   (writes it as a pytest test)")
    if result.blob:
        print(f"  or decorate the machine's test with {result.blob}")


if __name__ == "__main__":
    sys.exit(main())
