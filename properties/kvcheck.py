"""kvcheck: check that a key-value store conforms to the reference model, within a time budget.

By default it checks the built-in node on a simulated disk and on real files; `--target
module:factory` checks any store with the node's API instead. Exit status: 0 when every
property held, 1 when one failed (its minimal reproduction is printed), 2 on bad usage.
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
from hypothesis.stateful import get_state_machine_test

from properties import profiles
from properties.conformance import ConformanceMachine, conformance_machine
from properties.coverage import STATES, Coverage
from properties.harness import ConformanceError
from properties.report import PropertyResult, junit_xml, program, regression_tests, table
from properties.targets import Target, load_factory

BUILT_IN = {
    "simdisk": "properties.targets:simdisk_target",
    "filedisk": "properties.targets:filedisk_target",
}
#: Examples per Hypothesis run; the budget is spent in batches with consecutive seeds.
BATCH_EXAMPLES = 25


class Progress:
    """A live status line on a terminal; silence elsewhere."""

    def __init__(self, stream: object, enabled: bool):
        self._stream = stream
        self._enabled = enabled
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self, name: str, coverage: Coverage, budget: float) -> None:
        """Show `name`'s counters until `stop`."""
        if not self._enabled:
            return
        began = time.monotonic()

        def tick() -> None:
            while not self._stop.wait(0.25):
                self._write(
                    f"\r{name}: {coverage.examples} examples, {coverage.steps} steps, "
                    f"{time.monotonic() - began:4.0f}/{budget:.0f}s "
                )

        self._stop.clear()
        self._thread = threading.Thread(target=tick, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Clear the status line."""
        if self._thread is not None:
            self._stop.set()
            self._thread.join()
            self._thread = None
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
) -> PropertyResult:
    """Run the conformance machine in seeded batches until the budget is spent or it fails."""
    coverage = Coverage()
    machine = conformance_machine(factory, coverage=coverage, faults=faults, damage=damage)
    config = settings(base, max_examples=BATCH_EXAMPLES, database=None, deadline=None)
    began = time.monotonic()
    progress.start(name, coverage, budget)
    batch_seed = seed
    try:
        while True:
            test = hypothesis_seed(batch_seed)(get_state_machine_test(machine, settings=config))
            try:
                test()
            except Exception as err:  # the property failed; Hypothesis has shrunk it
                harness = ConformanceMachine.last_harness
                log = [] if harness is None else list(harness.log)
                failure = err.exceptions[-1] if isinstance(err, BaseExceptionGroup) else err
                if failure is not err:
                    failure.__notes__ = getattr(err, "__notes__", []) + getattr(
                        failure, "__notes__", []
                    )
                return PropertyResult(
                    name, spec, coverage, time.monotonic() - began, batch_seed, failure, log
                )
            if time.monotonic() - began >= budget:
                break
            batch_seed += 1
    finally:
        progress.stop()
    return PropertyResult(name, spec, coverage, time.monotonic() - began, seed)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kvcheck",
        description=__doc__.splitlines()[0],
        epilog="kvcheck bugs --help: run the bug catalog through the checks",
    )
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
    parser.add_argument("--junit-xml", metavar="PATH", help="write a JUnit XML report")
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
    """(name, spec, factory, kind) for every property to run on every target."""
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


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `kvcheck` command."""
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["bugs"]:
        from properties import bugs

        return bugs.main(argv[1:])
    args = _parser().parse_args(argv)
    if args.budget <= 0:
        print("kvcheck: error: --budget must be positive", file=sys.stderr)
        return 2
    specs = [BUILT_IN.get(t, t) for t in (args.target or list(BUILT_IN))]
    try:
        jobs = _jobs(specs)
    except (ValueError, TypeError) as err:
        print(f"kvcheck: error: {err}", file=sys.stderr)
        return 2
    base = settings.get_profile(args.profile or profiles.default_profile())
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(2**32)
    shares = len(jobs) + (1 if args.exhaustive_crashes else 0)
    print(f"kvcheck: {len(specs)} target(s), budget {args.budget:.0f}s, seed {seed}")
    progress = Progress(sys.stderr, sys.stderr.isatty() and not args.no_progress)
    results = []
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
            )
        )
    if args.exhaustive_crashes:
        results.append(_exhaustive(jobs, args.budget / shares, seed))
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
    failed = not all(r.ok for r in results)
    uncovered = args.require_coverage and any(
        r.coverage.missed_states() or r.coverage.missed_ops() for r in results
    )
    if uncovered and not failed:
        print("\nkvcheck: --require-coverage: some operations or states were never reached")
    return 1 if failed or uncovered else 0


def _exhaustive(
    jobs: list[tuple[str, str, Callable[[], Target], str]], budget: float, seed: int
) -> PropertyResult:
    """Exhaustive crash checking on the first target with a simulated disk."""
    from properties import exhaustive

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
