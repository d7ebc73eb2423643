"""Benchmark file-level crash checking: steps per second of the conformance machine with dirty
reboots on `FileDisk` over the simulated file system, against the node on `SimDisk`.

Both run the same machine (crashes on, faults off) under the same derandomized settings; only
the target differs. The ratio is what a file system in Python costs next to a simulated disk:
every file operation of `FileDisk` goes through the interception and `SimFS`.

Run from the repository root:

    .venv/bin/python benchmarks/bench_simfs.py [--examples N] [--steps N] [--repeat R]
        [--only simdisk|simfs]

`--only` runs one side, the same fixed work, for timing the two as whole commands.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

from bench_conformance import derandomized, timed
from hypothesis import settings

from kvcheck import Coverage, Target, conformance_machine, simdisk_target
from kvcheck.machine.fs_targets import simfs_target


def steps_per_second(factory: Callable[[], Target], config: settings) -> tuple[float, int]:
    coverage = Coverage()
    seconds = timed(conformance_machine(factory, coverage=coverage), config)
    return coverage.steps / seconds, coverage.ops["dirty_reboot"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=200)
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--only", choices=("simdisk", "simfs"))
    args = parser.parse_args()
    config = derandomized(args.examples, args.steps)
    sides = {"simdisk": simdisk_target, "simfs": simfs_target}
    if args.only:
        rate, crashed = steps_per_second(sides[args.only], config)
        print(f"{args.only}: {rate:,.0f} steps/s ({crashed} dirty reboots)")
        return
    best: dict[str, float] = {"simdisk": 0.0, "simfs": 0.0}
    crashes: dict[str, int] = {}
    for _ in range(args.repeat):
        for name, factory in sides.items():
            rate, crashes[name] = steps_per_second(factory, config)
            best[name] = max(best[name], rate)
    print(
        f"conformance steps/s with dirty reboots, best of {args.repeat} ({args.examples} "
        f"examples x up to {args.steps} steps, derandomized)"
    )
    print(f"  node on SimDisk                    {best['simdisk']:10,.0f}  "
          f"({crashes['simdisk']} dirty reboots)")  # fmt: skip
    print(f"  node on FileDisk over SimFS        {best['simfs']:10,.0f}  "
          f"({crashes['simfs']} dirty reboots)")  # fmt: skip
    print(f"  ratio SimFS / SimDisk              {best['simfs'] / best['simdisk']:10.2f}")


if __name__ == "__main__":
    main()
