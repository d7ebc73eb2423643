"""Symbolic checks: run CrossHair over the node's pure modules, and show it finds planted bugs.

`python -m kvcheck.codecs.symbolic` checks every contract in `MODULES` and exits 1 on any
counterexample. With `--planted` it then runs the same command over each planted codec bug of
`kvcheck.evidence.planted_codecs` and exits 1 if one goes unreported. CI runs both.

CrossHair explores execution paths with an SMT solver, within a budget: `--per-condition-timeout`
seconds per contract, ending early after `--max-uninteresting-iterations` paths that reach no
new code. Finding no counterexample within that budget is evidence, not a proof; the README
says what each contract covers.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import attrs

from kvcheck.evidence.patched import copies_root
from kvcheck.evidence.planted_codecs import CODEC_BUGS, CodecBug

#: Modules of `kvnode` whose docstring contracts CrossHair checks.
MODULES = ("fields", "chunk", "superblock", "index_run", "format_header", "reclaim", "limits")
PLUGIN = Path(__file__).with_name("crosshair_plugin.py")


@attrs.frozen
class Budget:
    """How hard CrossHair looks at each contract."""

    per_condition_timeout: float = 10.0
    max_uninteresting_iterations: int = 100


_DEFAULT = Budget()


@attrs.frozen
class Outcome:
    """One CrossHair run: its exit status, its report and how long it took."""

    returncode: int
    report: str
    seconds: float

    @property
    def counterexample(self) -> bool:
        """CrossHair exits 1 when it found a counterexample, 2 on a usage error."""
        return self.returncode == 1


def crosshair(
    targets: Sequence[str], budget: Budget, package: str = "kvnode", timeout: float | None = None
) -> Outcome:
    """Run `crosshair check` on `targets` (files or dotted names) with the checksum stand-in;
    stopped after `timeout` seconds (returncode -1: no verdict, what it reported so far)."""
    cmd = [
        sys.executable, "-m", "crosshair", "check",
        "--per_condition_timeout", str(budget.per_condition_timeout),
        "--max_uninteresting_iterations", str(budget.max_uninteresting_iterations),
        "--extra_plugin", str(PLUGIN), "--", *targets,
    ]  # fmt: skip
    path = os.pathsep.join([str(copies_root()), str(Path.cwd()), os.environ.get("PYTHONPATH", "")])
    env = dict(os.environ, KVNODE_PACKAGE=package, PYTHONPATH=path)
    start = time.monotonic()
    try:
        done = subprocess.run(
            cmd, env=env, capture_output=True, text=True, check=False, timeout=timeout
        )
    except subprocess.TimeoutExpired as stopped:
        said = b"".join(part or b"" for part in (stopped.stdout, stopped.stderr))
        return Outcome(-1, said.decode(errors="replace").strip(), time.monotonic() - start)
    return Outcome(done.returncode, (done.stdout + done.stderr).strip(), time.monotonic() - start)


def check_shipped(budget: Budget) -> Outcome:
    """Check every contract in `MODULES` of the shipped package."""
    return crosshair([f"kvnode.{name}" for name in MODULES], budget)


def check_planted(bug: CodecBug, budget: Budget) -> Outcome:
    """Check the contracts that should report `bug`, in a copy of the package that has it."""
    bug.load()
    return crosshair([f"{bug.package}.{target}" for target in bug.symbolic], budget, bug.package)


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: check the shipped contracts, and with `--planted`, the planted bugs."""
    parser = argparse.ArgumentParser(prog="python -m kvcheck.codecs.symbolic", description=__doc__)
    parser.add_argument(
        "--planted", action="store_true", help="also require every planted codec bug to be found"
    )
    parser.add_argument(
        "--per-condition-timeout", type=float, default=_DEFAULT.per_condition_timeout
    )
    parser.add_argument(
        "--max-uninteresting-iterations", type=int, default=_DEFAULT.max_uninteresting_iterations
    )
    args = parser.parse_args(argv)
    budget = Budget(args.per_condition_timeout, args.max_uninteresting_iterations)
    failed = False
    shipped = check_shipped(budget)
    verdict = {0: "no counterexample", 1: "COUNTEREXAMPLE"}.get(shipped.returncode, "ERROR")
    print(f"kvnode ({', '.join(MODULES)}): {verdict} in {shipped.seconds:.1f} s")
    if shipped.returncode:
        print(shipped.report)
        failed = True
    if args.planted:
        for bug in CODEC_BUGS:
            outcome = check_planted(bug, budget)
            found = "found" if outcome.counterexample else "NOT FOUND"
            print(f"planted {bug.name}: {found} in {outcome.seconds:.1f} s")
            print("  " + (outcome.report.splitlines() or ["(no output)"])[0][:300])
            failed |= not outcome.counterexample
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
