"""Kill a writer with SIGKILL many times and count acknowledged operations lost (target: none).

Run from the repository root:

    .venv/bin/python benchmarks/bench_sigkill.py [--trials 1000] [--seed 1] [--delay-max 0.6]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

from kvcheck.crash import sigkill


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--delay-max", type=float, default=0.6, help="longest wait before a kill")
    args = parser.parse_args()
    began = time.monotonic()
    with tempfile.TemporaryDirectory() as tmp:
        trials = sigkill.run(os.path.join(tmp, "data"), args.trials, args.seed, args.delay_max)
    seconds = time.monotonic() - began
    print(f"SIGKILL trials: {trials.kills} kills in {seconds:.0f}s (seed {args.seed})")
    print(f"  operations acknowledged as persistent: {trials.acknowledged}")
    print(f"  operations recovered in all:           {trials.done}")
    print(f"  acknowledged operations lost:          {0 if not trials.failures else 'SEE BELOW'}")
    for failure in trials.failures:
        print(f"  FAILURE: {failure}")
    raise SystemExit(1 if trials.failures else 0)


if __name__ == "__main__":
    main()
