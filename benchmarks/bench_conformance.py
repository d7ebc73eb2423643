"""Benchmark the conformance check: steps per second against the real node, against a bare dict.

Both machines draw the same operations from the same strategies under the same settings; the
bare one applies each operation to a plain dict and checks nothing. The ratio says what the node
and the checks cost next to the search itself (target: at least 0.7).

Run from the repository root:

    .venv/bin/python benchmarks/bench_conformance.py [--examples N] [--steps N] [--repeat R]
"""

from __future__ import annotations

import argparse
import time
from typing import ClassVar

from hypothesis import HealthCheck, settings
from hypothesis.stateful import RuleBasedStateMachine, rule, run_state_machine_as_test

from kvcheck import Coverage, Op, conformance_machine, simdisk_target
from kvcheck.machine.strategies import operations
from kvnode import SMALL_GEOMETRY, Limits

LIMITS = Limits.for_geometry(SMALL_GEOMETRY)


class BareMachine(RuleBasedStateMachine):
    """The same operations applied to a dict, with no store, model or comparison."""

    steps: ClassVar[int] = 0

    def __init__(self) -> None:
        super().__init__()
        self.data: dict[bytes, bytes] = {}

    @rule(op=operations(LIMITS, SMALL_GEOMETRY.page_bytes))
    def step(self, op: Op) -> None:
        BareMachine.steps += 1
        if op.kind == "put":
            self.data[op.args[0]] = op.args[1]  # type: ignore[index, assignment]
        elif op.kind == "delete":
            self.data.pop(op.args[0], None)  # type: ignore[arg-type]
        elif op.kind == "get":
            self.data.get(op.args[0])  # type: ignore[arg-type]
        elif op.kind == "scan":
            sorted(self.data.items())


def derandomized(examples: int, steps: int) -> settings:
    """The settings every conformance benchmark runs under: fixed work, the same each run."""
    return settings(
        max_examples=examples,
        stateful_step_count=steps,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )


def timed(machine: type[RuleBasedStateMachine], config: settings) -> float:
    start = time.perf_counter()
    run_state_machine_as_test(machine, settings=config)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=200)
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    config = derandomized(args.examples, args.steps)
    best_node = best_bare = 0.0
    for _ in range(args.repeat):
        coverage = Coverage()
        machine = conformance_machine(simdisk_target, coverage=coverage, crashes=False)
        node_seconds = timed(machine, config)
        best_node = max(best_node, coverage.steps / node_seconds)
        BareMachine.steps = 0
        bare_seconds = timed(BareMachine, config)
        best_bare = max(best_bare, BareMachine.steps / bare_seconds)
    print(
        f"conformance steps/s, best of {args.repeat} ({args.examples} examples x up to "
        f"{args.steps} steps, derandomized)"
    )
    print(f"  node on SimDisk + model + checks  {best_node:10,.0f}")
    print(f"  bare dict, same strategies        {best_bare:10,.0f}")
    print(f"  ratio node / bare                 {best_node / best_bare:10.2f}  (target >= 0.7)")


if __name__ == "__main__":
    main()
