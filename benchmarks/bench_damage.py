"""Sweep damage at rest exhaustively: every truncation, bit flip and zeroed sector of a store.

What runs, for each backend (see `kvcheck.crash.sweep` for the store, the cases and the outcomes):

* ``sim``: the store on a ``SimDisk``; every extent cut at every length below its own, every
  single-bit mask of every byte flipped, every page-aligned sector zeroed, each on a clone;
* ``file``: the store in a data directory; the same on a copy of its files, the format header
  file included.

Each case is fsck'd, reopened and read back whole. The table gives, per region of the store
(superblock records, index-run chunks, log chunks below and above the soft write pointers, the
format header), the cases, each outcome's count, how often fsck disagreed (it raised, or called
a disk clean that the node refused or misread) and how often it flagged damage the node never
noticed (allowed: dead data), and the wall time. Bad-case families follow, each with one
standalone recipe ending in the `replay(...)` call that reruns it. The exit status is 1 when
any case was wrong, missing, undocumented or an fsck disagreement.

The file backend fsyncs on every reopen, so it runs far faster with ``--workdir`` on a tmpfs.

Run from the repository root:

    python benchmarks/bench_damage.py [--backend sim|file|both] [--sample N] [--seed S]
                                      [--kinds cut,flip,zero] [--workdir DIR] [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from typing import Any

from kvcheck.crash.sweep import BACKENDS, KINDS, OUTCOMES, REGIONS, Case, SweepReport, sweep

COLUMNS = (
    ("cases", "cases"),
    ("correct", "correct"),
    ("refused", "refused"),
    ("damaged_keys_fail", "damaged"),
    ("wrong", "wrong"),
    ("missing", "missing"),
    ("undocumented", "undoc"),
    ("fsck disagrees", "fsck!="),
    ("fsck flags correct", "fsck+"),
)


def table(report: SweepReport) -> str:
    """Outcome counts per region, then the backend's total, with wall time per row."""
    head = f"{'region':<27}" + "".join(f"{title:>9}" for _, title in COLUMNS) + f"{'s':>8}"
    lines = [head]
    total: dict[str, int] = dict.fromkeys((key for key, _ in COLUMNS), 0)
    for region in REGIONS:
        counts = report.by_region.get(region)
        if not counts:
            continue
        row = [counts.get(key, 0) for key, _ in COLUMNS]
        for (key, _), value in zip(COLUMNS, row, strict=True):
            total[key] += value
        cells = "".join(f"{value:>9,}" for value in row)
        lines.append(f"{region:<27}{cells}{report.region_seconds.get(region, 0.0):>8.1f}")
    cells = "".join(f"{total[key]:>9,}" for key, _ in COLUMNS)
    lines.append(f"{'all':<27}{cells}{report.seconds:>8.1f}")
    return "\n".join(lines)


def families(report: SweepReport) -> str:
    """Each bad-case family with its count, the first case, and that case's recipe."""
    lines = []
    for (label, kind, region), count, first in report.families():
        lines.append(f"{label}: {count:,} x {kind} in {region}; first {first.case.describe()}")
        lines.append(f"  {first.recipe()}")
    for (name, where), count in sorted(report.undocumented.items()):
        lines.append(f"undocumented {name} raised at {where}: {count:,} cases")
    return "\n".join(lines) if lines else "no wrong, missing or undocumented case; fsck agreed"


class Progress:
    """A line on stderr every tenth of the cases, so a long sweep shows it is alive."""

    def __init__(self, backend: str):
        self.backend = backend
        self.start = time.perf_counter()
        self.tenth = 0

    def __call__(self, done: int, total: int) -> None:
        tenth = 10 * done // total
        if tenth > self.tenth:
            self.tenth = tenth
            elapsed = time.perf_counter() - self.start
            print(f"{self.backend}: {done:,}/{total:,} cases, {elapsed:.0f} s", file=sys.stderr)


def to_json(report: SweepReport) -> dict[str, Any]:
    """The report's counts and every bad case, with its recipe."""
    return {
        "backend": report.backend,
        "node": report.node,
        "cases": report.cases,
        "seconds": report.seconds,
        "counts": {outcome: report.counts[outcome] for outcome in OUTCOMES},
        "by_region": {region: dict(counts) for region, counts in report.by_region.items()},
        "fsck_flags_correct": report.fsck_flags_correct,
        "fsck_disagreements": len(report.fsck_disagreements),
        "undocumented": [
            {"type": name, "raised_at": where, "cases": count}
            for (name, where), count in sorted(report.undocumented.items())
        ],
        "bad": [
            {
                "case": result.case.describe(),
                "outcome": result.outcome,
                "fsck_ok": result.fsck_ok,
                "fsck_error": result.fsck_error,
                "recipe": result.recipe(),
            }
            for result in report.bad
        ],
    }


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0] if __doc__ else None)
    parser.add_argument("--backend", choices=(*BACKENDS, "both"), default="both")
    parser.add_argument(
        "--sample", type=int, help="a stratified sample of N cases per backend (default: all)"
    )
    parser.add_argument("--seed", type=int, default=0, help="the sample's seed (default 0)")
    parser.add_argument(
        "--kinds", default=",".join(KINDS), help="damage kinds to run (default cut,flip,zero)"
    )
    parser.add_argument("--workdir", help="where the file backend keeps its directories")
    parser.add_argument("--json", metavar="PATH", help="also write every figure here as JSON")
    args = parser.parse_args(argv)
    args.kinds = tuple(k for k in args.kinds.split(",") if k)
    if not args.kinds or set(args.kinds) - set(KINDS):
        parser.error(f"--kinds takes a comma-separated subset of {','.join(KINDS)}")
    if args.sample is not None and args.sample < 1:
        parser.error("--sample must be positive")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    backends = BACKENDS if args.backend == "both" else (args.backend,)
    kinds = frozenset(args.kinds)

    def select(case: Case) -> bool:
        return case.kind in kinds

    reports = []
    for backend in backends:
        report = sweep(
            backend,
            sample=args.sample,
            seed=args.seed,
            select=select,
            workdir=args.workdir,
            progress=Progress(backend),
        )
        reports.append(report)
        scope = "every case" if args.sample is None else f"a sample of {args.sample:,}"
        print(
            f"{backend}: {scope} ({', '.join(args.kinds)}), {report.cases:,} cases, "
            f"{report.seconds:.1f} s, {report.node}"
        )
        print(table(report))
        print(families(report))
        print()
    if args.json:
        with open(args.json, "w") as f:
            json.dump([to_json(r) for r in reports], f, indent=2)
            f.write("\n")
    return 0 if all(r.ok for r in reports) else 1


if __name__ == "__main__":
    sys.exit(main())
