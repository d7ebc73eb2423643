"""Mutation score from a seeded random sample of mutants, for when the full run is too long.

`mutmut run` tries every mutant of the storage engine (about 1,700, most of them run against
the stateful properties), which takes hours on 2 cores. This runs mutmut on a random sample of
the mutants not yet tried, chosen with a fixed seed so the same sample replays, and then prints
the score over every mutant tried so far, with a 95% interval for the whole population.

Run from the repository root, after `mutmut run` has generated the mutants (stop it once it
starts testing them, or let it run):

    KV_PROFILE=mutation .venv/bin/python benchmarks/mutation_sample.py [--size 200] [--seed 1]
"""

from __future__ import annotations

import argparse
import math
import random
import subprocess
import sys
from collections import Counter


def statuses() -> dict[str, str]:
    """Every mutant's status, from `mutmut results --all true`."""
    out = subprocess.run(
        [sys.executable, "-m", "mutmut", "results", "--all", "true"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    found = {}
    for line in out.splitlines():
        name, sep, status = line.strip().rpartition(": ")
        if sep:
            found[name] = status
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=200, help="mutants to try (default 200)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--max-children", type=int, default=2)
    parser.add_argument("--report-only", action="store_true", help="just print the score")
    args = parser.parse_args()
    if not args.report_only:
        untried = sorted(name for name, status in statuses().items() if status == "not checked")
        sample = random.Random(args.seed).sample(untried, min(args.size, len(untried)))
        cmd = [sys.executable, "-m", "mutmut", "run", "--max-children", str(args.max_children)]
        subprocess.run([*cmd, *sample], check=False)
    counts = Counter(statuses().values())
    tried = sum(n for status, n in counts.items() if status != "not checked")
    killed = counts["killed"] + counts["timeout"]
    print(", ".join(f"{status} {n}" for status, n in sorted(counts.items())))
    if tried:
        p = killed / tried
        half = 1.96 * math.sqrt(p * (1 - p) / tried)
        interval = f"95% interval {p - half:.1%} to {p + half:.1%}"
        print(f"killed {killed} of {tried} tried: {p:.1%} ({interval})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
