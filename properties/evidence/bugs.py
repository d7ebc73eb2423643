"""`kvcheck bugs`: run every catalog bug through its check and tabulate what was found.

For each bug and seed, the check runs with Hypothesis seeded explicitly (so a row replays with
`kvcheck bugs --only NAME --seeds 1 --first-seed SEED`) until it fails or its example budget is
spent. A row reports the median time to detect over the seeds (time to the first failure plus
shrinking, as a user waits for it), and the minimized counterexample of the first seed that
found it: operations, crashes among them, and bytes the operations write.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

import attrs
from hypothesis import seed as hypothesis_seed
from hypothesis import settings
from hypothesis.stateful import get_state_machine_test

from kvcheck.codecs.robustness import PROPERTIES
from kvcheck.evidence.catalog import BUGS, Bug
from kvcheck.evidence.patched import patched_package
from kvcheck.frontends import profiles
from kvcheck.machine.conformance import ConformanceMachine, conformance_machine

#: Stateful runs: at most this many examples of at most this many steps, as the suite runs them.
EXAMPLES = 2000
STEPS = 20


@attrs.frozen
class Detection:
    """One bug through its check with one seed."""

    bug: str
    seed: int
    detected: bool
    seconds: float
    operations: int | None = None
    crashes: int | None = None
    bytes_written: int | None = None
    message: str = ""


def _config(profile: str, **overrides: Any) -> settings:
    return settings(
        profiles.settings_for(profile),
        derandomize=False,
        database=None,
        print_blob=False,
        **overrides,
    )


def _stateful(bug: Bug, seed: int, profile: str) -> Detection:
    machine = conformance_machine(
        bug.target_factory(),
        crashes=bug.check != "conformance",
        faults=bug.check == "faults",
        damage=bug.check == "damage",
    )
    config = _config(profile, max_examples=EXAMPLES, stateful_step_count=STEPS)
    test = hypothesis_seed(seed)(get_state_machine_test(machine, settings=config))
    began = time.monotonic()
    try:
        test()
    except Exception as err:  # the property failed: the bug was found and shrunk
        seconds = time.monotonic() - began
        harness = ConformanceMachine.last_harness
        log = [] if harness is None else list(harness.log)
        return Detection(
            bug.name,
            seed,
            True,
            seconds,
            operations=len(log),
            crashes=sum(op.kind == "dirty_reboot" for op in log),
            bytes_written=sum(op.written_bytes for op in log),
            message=_first_line(err),
        )
    return Detection(bug.name, seed, False, time.monotonic() - began)


def _codec(bug: Bug, seed: int, profile: str) -> Detection:
    assert bug.codec_property is not None
    test = PROPERTIES[bug.codec_property](patched_package(bug.package, bug.patches))
    began = time.monotonic()
    try:
        hypothesis_seed(seed)(_config(profile, max_examples=300)(test))()
    except Exception as err:  # the property failed
        return Detection(
            bug.name, seed, True, time.monotonic() - began, operations=1, message=_first_line(err)
        )
    return Detection(bug.name, seed, False, time.monotonic() - began)


def _races(bug: Bug, seed: int, profile: str) -> Detection:
    """The main job's races property on the bug's node, seeded: `EXAMPLES` examples in batches
    that alternate between plain interleavings and power cuts before every sync (by count, not
    by time as `kvcheck` shares them, so that a seed does the same work on any machine)."""
    import re

    from kvcheck.concurrency.property import BATCH, race_test
    from kvcheck.concurrency.races import RaceFound

    config = _config(profile, max_examples=BATCH)
    tests = {cuts: race_test(bug.node_class(), config, cuts=cuts) for cuts in (False, True)}
    began = time.monotonic()
    for n in range(EXAMPLES // BATCH):
        try:
            hypothesis_seed(seed * 1_000_003 + n)(tests[n % 2 == 1])()
        except RaceFound as err:
            text = str(err)
            counted = re.search(r"^operations \((\d+)\):", text, re.MULTILINE)
            return Detection(
                bug.name,
                seed,
                True,
                time.monotonic() - began,
                operations=int(counted.group(1)) if counted else None,
                crashes=int("\npower cut: " in text),
                message=_first_line(err),
            )
    return Detection(bug.name, seed, False, time.monotonic() - began)


def _first_line(err: BaseException) -> str:
    if isinstance(err, BaseExceptionGroup):
        err = err.exceptions[0]
    return f"{type(err).__name__}: {err}".split("\n")[0][:160]


_RUNNERS: dict[str, Callable[[Bug, int, str], Detection]] = {
    "conformance": _stateful,
    "crashes": _stateful,
    "faults": _stateful,
    "damage": _stateful,
    "codec": _codec,
    "races": _races,
}


def detect(bug: Bug, seed: int, profile: str = "ci") -> Detection:
    """Run `bug` through its check once, seeded."""
    return _RUNNERS[bug.check](bug, seed, profile)


@attrs.frozen
class Row:
    """A bug's line in the catalog table."""

    bug: Bug
    runs: tuple[Detection, ...]

    @property
    def detected(self) -> bool:
        """Found with every seed."""
        return all(run.detected for run in self.runs)

    @property
    def median_seconds(self) -> float:
        """Median time to detect over the seeds (a miss counts as its whole run)."""
        return statistics.median(run.seconds for run in self.runs)

    @property
    def example(self) -> Detection | None:
        """The first run that found the bug."""
        return next((run for run in self.runs if run.detected), None)

    def as_json(self) -> dict[str, Any]:
        """The row as plain data."""
        return {
            "bug": self.bug.name,
            "kind": self.bug.kind,
            "check": self.bug.check,
            "detected": self.detected,
            "found_with_seeds": [run.seed for run in self.runs if run.detected],
            "median_seconds": round(self.median_seconds, 2),
            "counterexample": None if self.example is None else attrs.asdict(self.example),
        }


def run_catalog(
    bugs: Sequence[Bug] = BUGS,
    seeds: Sequence[int] = range(5),
    profile: str = "ci",
    progress: Callable[[Detection], None] | None = None,
) -> list[Row]:
    """Every bug through its check with every seed."""
    rows = []
    for bug in bugs:
        runs = []
        for seed in seeds:
            run = detect(bug, seed, profile)
            runs.append(run)
            if progress is not None:
                progress(run)
        rows.append(Row(bug, tuple(runs)))
    return rows


def table(rows: Sequence[Row]) -> str:
    """The catalog as a Markdown table."""
    lines = [
        "| bug | kind | check | detected | median s | operations | crashes | bytes written |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        ex = row.example
        found = f"{sum(r.detected for r in row.runs)}/{len(row.runs)}"
        cells = (
            ["-", "-", "-"]
            if ex is None
            else [_cell(ex.operations), _cell(ex.crashes), _cell(ex.bytes_written)]
        )
        lines.append(
            f"| {row.bug.name} | {row.bug.kind} | {row.bug.check} | {found} | "
            f"{row.median_seconds:.1f} | {' | '.join(cells)} |"
        )
    return "\n".join(lines)


def _cell(value: int | None) -> str:
    return "-" if value is None else f"{value:,}"


def write_json(rows: Sequence[Row], path: str) -> None:
    """Write the table as JSON."""
    with open(path, "w", encoding="utf-8") as out:
        json.dump([row.as_json() for row in rows], out, indent=2)
        out.write("\n")


def main(argv: Sequence[str] | None = None) -> int:
    """`kvcheck bugs`: run the catalog, print the table, optionally write JSON."""
    import argparse

    parser = argparse.ArgumentParser(
        prog="kvcheck bugs", description="Run every catalog bug through its check."
    )
    parser.add_argument(
        "--only", action="append", metavar="NAME", help="just this bug (repeatable)"
    )
    parser.add_argument("--seeds", type=int, default=5, help="seeds per bug (default 5)")
    parser.add_argument("--first-seed", type=int, default=0, help="first seed (default 0)")
    parser.add_argument("--profile", default="ci", help="Hypothesis profile (default ci)")
    parser.add_argument("--json", metavar="PATH", help="also write the table as JSON")
    parser.add_argument("--list", action="store_true", help="list the catalog and exit")
    args = parser.parse_args(argv)
    if args.list:
        for bug in BUGS:
            print(f"{bug.name:28} {bug.kind:13} {bug.check:12} {bug.description}")
        return 0
    by_name = {bug.name: bug for bug in BUGS}
    unknown = [name for name in args.only or [] if name not in by_name]
    if unknown or args.seeds < 1:
        problem = f"unknown bug {unknown[0]!r} (see --list)" if unknown else "--seeds must be >= 1"
        print(f"kvcheck bugs: error: {problem}", file=sys.stderr)
        return 2
    chosen = [by_name[name] for name in args.only] if args.only else list(BUGS)
    seeds = range(args.first_seed, args.first_seed + args.seeds)

    def progress(run: Detection) -> None:
        verdict = "found" if run.detected else "NOT FOUND"
        print(f"  {run.bug} seed {run.seed}: {verdict} in {run.seconds:.1f}s", file=sys.stderr)

    rows = run_catalog(chosen, seeds, args.profile, progress)
    print(table(rows))
    if args.json:
        write_json(rows, args.json)
    missed = [row.bug.name for row in rows if not row.detected]
    if missed:
        print(f"kvcheck bugs: not detected with every seed: {', '.join(missed)}", file=sys.stderr)
    return 1 if missed else 0
