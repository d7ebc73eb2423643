"""Time to find, and length after shrinking, of every planted bug, under the suite's settings.

Each bug runs through the property meant to catch it (conformance without crash steps for API
bugs, with crash steps for crash bugs, with faults for fault bugs), derandomized, in runs of at
most 20 steps, exactly as `tests/test_conformance.py` runs them.

Run from the repository root:

    .venv/bin/python benchmarks/bench_planted.py
"""

from __future__ import annotations

import time
from collections.abc import Callable

from hypothesis import settings
from hypothesis.stateful import run_state_machine_as_test

import kvcheck.frontends.profiles  # noqa: F401  (registers the profiles)
from kvcheck import ConformanceMachine, conformance_machine
from kvcheck.evidence.planted import CRASH_PLANTED, FAULT_PLANTED, PLANTED


def measure(name: str, factory: Callable[[], object], **modes: bool) -> None:
    config = settings(settings.get_profile("kvcheck-ci"), stateful_step_count=20, max_examples=2000)
    began = time.perf_counter()
    try:
        run_state_machine_as_test(conformance_machine(factory, **modes), settings=config)
    except AssertionError:
        harness = ConformanceMachine.last_harness
        log = [] if harness is None else harness.log
        seconds = time.perf_counter() - began
        print(f"{name:26} found, shrunk to {len(log):2} operations in {seconds:5.1f}s: {log}")
    else:
        print(f"{name:26} NOT FOUND in {time.perf_counter() - began:.1f}s")


def main() -> None:
    for name, factory in PLANTED.items():
        measure(name, factory, crashes=False)
    for name, factory in CRASH_PLANTED.items():
        measure(name, factory)
    for name, factory in FAULT_PLANTED.items():
        measure(name, factory, faults=True)


if __name__ == "__main__":
    main()
