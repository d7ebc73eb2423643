"""kvcheck: check that a key-value store conforms to the reference model, within a time budget.

By default it checks the built-in node on a simulated disk, on real files and on a simulated
file system, with every property (`PROPERTIES`); `--target module:factory` checks any store
with the node's API instead, with every property that applies to it.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections.abc import Sequence

from kvcheck.frontends import constants, profiles
from kvcheck.frontends.applicable import PROPERTIES, not_applicable
from kvcheck.frontends.database import DEFAULT_DIRECTORY, DatabaseError, from_url
from kvcheck.frontends.progress import Progress
from kvcheck.frontends.report import PropertyResult, junit_xml, program, regression_tests, table
from kvcheck.frontends.runner import SHRINK_SHARE
from kvcheck.frontends.workers import Job, Run, run_all
from kvcheck.machine.coverage import STATES, Coverage
from kvcheck.machine.ops import KINDS
from kvcheck.machine.targets import TargetError, load_factory
from kvnode.cli import version
from kvnode.simdisk import SimDisk

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
    "simfs": "kvcheck.machine.fs_targets:simfs_target",
}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kvcheck",
        description=__doc__.splitlines()[0],
        epilog=EXIT_STATUSES + "\n\nkvcheck bugs --help: run the bug catalog through the checks"
        "\nkvcheck sigkill --help: kill a writer of any store kept in a directory, and check",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"kvcheck {version()}")
    parser.add_argument(
        "--target",
        action="append",
        metavar="MODULE:FACTORY",
        help="store to check (repeatable); 'simdisk', 'filedisk' (real files) and 'simfs' "
        "(FileDisk on the simulated file system) name the built-in node (default: all three)",
    )
    parser.add_argument(
        "--budget",
        type=float,
        default=60.0,
        metavar="SECONDS",
        help="deadline for the whole run, shrinking included: the properties share "
        f"{1 - SHRINK_SHARE:.0%}% of it for searching, the rest is held for shrinking a "
        "failure (default 60)",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        metavar="N",
        help="spread the properties and seeds over N processes sharing the example database "
        "(default 1)",
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
    parser.add_argument(
        "--symbolic",
        action="store_true",
        help="also check the CrossHair contracts of the node's codecs (symbolic execution)",
    )
    names = ", ".join(PROPERTIES)
    parser.add_argument(
        "--only",
        action="append",
        metavar="PROPERTY",
        help=f"run only these properties (repeatable, or comma-separated): {names}",
    )
    parser.add_argument(
        "--skip", action="append", metavar="PROPERTY", help="run every property but these"
    )
    return parser


def _selected(only: list[str] | None, skip: list[str] | None) -> list[str]:
    """The properties `--only` and `--skip` leave, in `PROPERTIES` order."""
    picked = {name for arg in only or [] for name in arg.split(",") if name}
    dropped = {name for arg in skip or [] for name in arg.split(",") if name}
    unknown = sorted((picked | dropped) - set(PROPERTIES))
    if unknown:
        raise ValueError(
            f"unknown property {', '.join(map(repr, unknown))}: choose from {', '.join(PROPERTIES)}"
        )
    chosen = [name for name in PROPERTIES if (not picked or name in picked) and name not in dropped]
    if not chosen:
        raise ValueError("--only and --skip leave no property to run")
    return chosen


def _jobs(
    specs: list[str], exhaustive: bool, selected: list[str], symbolic: bool = False
) -> tuple[list[Job], list[PropertyResult]]:
    """Every selected property to run on every target, and those that do not apply (with why).
    Each factory is called once here, as a probe of what its target supports."""
    jobs: dict[str, list[Job]] = {name: [] for name in PROPERTIES}
    skipped = []
    disk_specs: list[tuple[bool, int, str]] = []
    for spec in specs:
        factory = load_factory(spec)
        probe = factory()
        has_disk, on_simdisk = probe.disk is not None, isinstance(probe.disk, SimDisk)
        why = not_applicable(probe)
        probe.cleanup()
        for name in selected:
            reason = why.get(name)
            job = Job(f"{name}[{_short(spec)}]", spec, name)
            if reason is None:
                jobs[name].append(job)
            else:
                skipped.append(_not_applicable(job, reason))
        if has_disk:
            # Exhaustive crash checking prefers a SimDisk: its crash states are the cheapest.
            disk_specs.append((not on_simdisk, len(disk_specs), spec))
    ordered = [job for name in PROPERTIES for job in jobs[name]]
    if symbolic:
        # Once, on the first target whose node's codecs the codec properties check.
        codecs = [spec for spec in specs if _node_on_simdisk(spec)]
        if not codecs:
            raise ValueError("--symbolic needs a target running the node on a SimDisk (simdisk)")
        ordered.insert(0, Job(f"symbolic[{_short(codecs[0])}]", codecs[0], "symbolic"))
    if exhaustive:
        # Exhaustive crash checking runs on one target with a simulated disk or file system.
        if not disk_specs:
            raise ValueError("--exhaustive-crashes needs a target on a SimDisk or a SimFS")
        first = min(disk_specs)[2]
        ordered.append(Job(f"exhaustive[{_short(first)}]", first, "exhaustive"))
    return ordered, skipped


def _node_on_simdisk(spec: str) -> bool:
    probe = load_factory(spec)()
    try:
        return not_applicable(probe)["codecs"] is None
    finally:
        probe.cleanup()


def _not_applicable(job: Job, reason: str) -> PropertyResult:
    coverage = Coverage()
    coverage.not_applicable |= set(STATES) | set(KINDS)
    return PropertyResult(job.name, job.spec, coverage, 0.0, 0, not_applicable=reason)


def _usage(message: str) -> int:
    print(f"kvcheck: error: {message}", file=sys.stderr)
    return EXIT_USAGE


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `kvcheck` command."""
    argv = sys.argv[1:] if argv is None else list(argv)
    constants.settle()  # a seed then draws the same examples whatever was imported before
    if argv[:1] == ["bugs"]:
        from kvcheck.evidence import bugs

        return bugs.main(argv[1:])
    if argv[:1] == ["sigkill"]:
        from kvcheck.frontends import sigkill_cli

        return sigkill_cli.main(argv[1:])
    args = _parser().parse_args(argv)
    if args.budget <= 0:
        return _usage("--budget must be positive")
    try:
        from_url(args.database)  # each worker opens its own; this finds a bad URL first
    except DatabaseError as err:
        return _usage(f"--database {err}")
    if args.workers < 1:
        return _usage("--workers must be at least 1")
    specs = [BUILT_IN.get(t, t) for t in (args.target or list(BUILT_IN))]
    try:
        selected = _selected(args.only, args.skip)
        jobs, skipped = _jobs(specs, args.exhaustive_crashes, selected, args.symbolic)
        profile = profiles.qualified(args.profile) if args.profile else profiles.default_profile()
    except TargetError as err:
        print(f"kvcheck: target failed: {err}", file=sys.stderr)
        return EXIT_TARGET
    except ValueError as err:
        return _usage(str(err))
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(2**32)
    workers = f", {args.workers} workers" if args.workers > 1 else ""
    print(
        f"kvcheck: {len(specs)} target(s), budget {args.budget:.0f}s{workers}, seed {seed}",
        flush=True,
    )
    progress = Progress(sys.stderr, not args.no_progress, terminal=sys.stderr.isatty())
    run = Run(time.monotonic(), args.budget, seed, profile, args.database)
    results, interrupted = run_all(jobs, args.workers, run, progress) if jobs else ([], False)
    results += skipped
    if interrupted:
        print("\nkvcheck: interrupted; the properties so far:")
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


def _short(spec: str) -> str:
    for name, built_in in BUILT_IN.items():
        if spec == built_in:
            return name
    return spec


def _explain_failure(result: PropertyResult, regression: str | None) -> None:
    print(f"\nFAILED {result.name}: {result.message}")
    if result.replayed:
        print("(replayed from the example database: a failure an earlier run found)")
    elif result.found_after is not None:
        print(
            f"(first failing example after {result.found_after:.1f}s; found and shrunk in "
            f"{result.seconds:.1f}s)"
        )
    if result.shrink_cut:
        print(
            f"\nShrinking stopped at the deadline: this sequence ({len(result.log)} operations) "
            "fails but may not be minimal. The next run replays it first as it is; to shrink "
            f"it further: {result.replay} --database none --budget MORE\n"
        )
    elif result.reproduction is not None:
        print("\nMinimal failing case, as a program:\n")
    else:
        print(f"\nMinimal failing sequence ({len(result.log)} operations), as a program:\n")
    print(program(result, indent="    "))
    print("\nReplay exactly:")
    print(f"  {result.replay}")
    if regression is None:
        print("  kvcheck ... --write-regression PATH   (writes it as a pytest test)")
    if result.blob and result.reproduction is None:
        print(f"  or decorate the machine's test with {result.blob}")


if __name__ == "__main__":
    sys.exit(main())
