"""Time to find, and size after shrinking, of every planted race, under each schedule strategy.

Each race runs through `check_interleaving` exactly as `tests/test_concurrency.py` runs it: the
`ci` profile (derandomized), workloads of one to three clients with one to three operations
each plus one or two maintenance tasks, at most 2,000 examples. Reported: runs and seconds until
the first failure, seconds spent shrinking, and the shrunk operations and schedule, as the call
that replays the race.

Run from the repository root:

    .venv/bin/python benchmarks/bench_races.py [--examples 2000]
"""

from __future__ import annotations

import argparse
import time
from typing import Any

from hypothesis import given, settings

import kvcheck.frontends.profiles  # noqa: F401  (registers the profiles)
from kvcheck.concurrency.races import RaceFound, Workload, check_interleaving, workloads
from kvcheck.concurrency.schedule import Schedule, Strategy, schedules
from kvcheck.evidence.planted_races import RACES
from kvnode import Node


def measure(name: str, node_class: type[Node], strategy: Strategy, examples: int) -> None:
    seen: dict[str, Any] = {"runs": 0}

    @settings(settings.get_profile("kvcheck-ci"), max_examples=examples)
    @given(workload=workloads(), schedule=schedules(strategy))
    def race(workload: Workload, schedule: Schedule) -> None:
        seen["runs"] += 1
        try:
            check_interleaving(workload, schedule, node_class=node_class)
        except RaceFound:
            seen.setdefault("found", (seen["runs"], time.perf_counter()))
            seen["last"] = (workload, schedule)
            raise

    began = time.perf_counter()
    try:
        race()
    except RaceFound:
        runs, found_at = seen["found"]
        workload, schedule = seen["last"]
        print(
            f"{name:24} {strategy:6} found after {runs:4} runs in {found_at - began:5.2f}s, "
            f"shrunk in {time.perf_counter() - found_at:5.2f}s to {len(workload)} operations, "
            f"schedule length {schedule.length}"
        )
        print(
            f"    check_interleaving({workload!r}, {schedule!r}, node_class={node_class.__name__})"
        )
    else:
        print(f"{name:24} {strategy:6} NOT FOUND in {examples} runs")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=2000)
    args = parser.parse_args()
    for strategy in ("random", "pct"):
        for name, node_class in RACES.items():
            measure(name, node_class, strategy, args.examples)


if __name__ == "__main__":
    main()
