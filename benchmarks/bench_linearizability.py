"""Benchmark the linearizability checker on realistic histories, and against brute force.

What is measured:

* checker ops/s: `check` on a 4-process history of N operations (1,000 and 10,000 by default)
  over 50 keys, mostly puts, gets and deletes: wall clock of one check, best of `--repeat`;
* the same with a few short scans (each over 2-3 adjacent keys), which tie keys into groups
  that must be searched together, and with the partitioning switched off (one search over the
  whole dict), to show what partitioning buys;
* brute force: many short histories (7 and 12 operations by default; 3 processes, 2 keys; half
  of them with one result corrupted), checked by `check` and by `brute_force_check`: time per
  history of each and the ratio. Brute force grows factorially with concurrency; WGL does not.

The histories are linearizable by construction: each operation gets a random interval (each
process's intervals in sequence, the processes' overlapping) and a random point inside it, and
is applied to a real dict in the order of the points, which fixes the results it reports. So the
checker must find a linearization, which is its expensive case: it cannot stop at the first
contradiction.

Run from the repository root:

    .venv/bin/python benchmarks/bench_linearizability.py [--sizes 1000 10000] [--repeat 3]
                                                         [--small 7 12] [--count 200]
"""

from __future__ import annotations

import argparse
import gc
import random
import sys
import time
from collections.abc import Callable, Sequence

import attrs

from kvcheck.concurrency.history import History, Operation
from kvcheck.concurrency.linearizability import brute_force_check, check

SEED = 20240601
PROCESSES = 4
KEYS = 50


def simulate(
    rng: random.Random, n: int, *, processes: int, keys: int, scans: float = 0.0
) -> History:
    """`n` operations whose effects happen at random points of overlapping intervals."""
    names = [b"key%03d" % i for i in range(keys)]
    free_at = [0.0] * processes  # when each process's previous call returned
    spans = []
    for _ in range(n):
        p = rng.randrange(processes)
        invoke = free_at[p] + rng.expovariate(4.0)  # short think time: mostly busy
        complete = invoke + rng.expovariate(0.5) + 1e-6
        free_at[p] = complete
        spans.append((p, invoke, complete, rng.uniform(invoke, complete)))
    ticks = sorted(t for _, invoke, complete, _ in spans for t in (invoke, complete))
    tick = {t: i for i, t in enumerate(ticks)}  # real times to a logical clock, order kept
    state: dict[bytes, bytes] = {}
    ops: list[Operation | None] = [None] * n
    for i in sorted(range(n), key=lambda i: spans[i][3]):
        p, invoke, complete, _ = spans[i]
        t0, t1 = tick[invoke], tick[complete]
        roll = rng.random()
        if roll < scans:
            lo = rng.randrange(keys - 2)
            start, end = names[lo], names[lo + rng.randint(2, 3)] if lo + 3 < keys else None
            seen = tuple(
                sorted((k, v) for k, v in state.items() if start <= k and (end is None or k < end))
            )
            ops[i] = Operation(i, p, "scan", t0, t1, "ok", start=start, end=end, result=seen)
            continue
        key = rng.choice(names)
        if roll < 0.45:
            value = b"%d" % rng.randrange(1000)
            state[key] = value
            ops[i] = Operation(i, p, "put", t0, t1, "ok", key=key, value=value)
        elif roll < 0.55:
            state.pop(key, None)
            ops[i] = Operation(i, p, "delete", t0, t1, "ok", key=key)
        else:
            ops[i] = Operation(i, p, "get", t0, t1, "ok", key=key, result=state.get(key))
    return History(op for op in ops if op is not None)


def corrupt_one_read(rng: random.Random, history: History) -> History:
    """The same history with one get's result changed, so it is (usually) not linearizable."""
    reads = [op for op in history if op.kind == "get"]
    if not reads:
        return history
    victim = rng.choice(reads)
    wrong = b"never written" if victim.result is None else None
    return History(attrs.evolve(op, result=wrong) if op is victim else op for op in history)


def in_flight(history: History) -> float:
    """Operations in flight at an average tick: how concurrent the history is."""
    busy = sum(op.complete - op.invoke for op in history if op.complete is not None)
    return busy / (max(op.complete or op.invoke for op in history) + 1)


def best_time(fn: Callable[[], object], repeat: int) -> float:
    """Best wall clock of `repeat` runs of `fn`, garbage collected before each."""
    best = float("inf")
    for _ in range(repeat):
        gc.collect()
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def bench_checker(sizes: Sequence[int], repeat: int) -> list[str]:
    lines = [
        f"{'history':<34} {'ops':>7} {'in flight':>9} {'groups':>7} {'seconds':>9} {'ops/s':>10}"
    ]
    for n in sizes:
        for label, scans, partition in (
            ("put/get/delete", 0.0, True),
            ("put/get/delete + 2% short scans", 0.02, True),
            ("put/get/delete, partitioning off", 0.0, False),
        ):
            history = simulate(
                random.Random(SEED + n), n, processes=PROCESSES, keys=KEYS, scans=scans
            )
            result = check(history, partition=partition)
            if not result.ok:
                raise AssertionError(
                    f"simulated history judged not linearizable:\n{result.explain()}"
                )
            seconds = best_time(lambda: check(history, partition=partition), repeat)  # noqa: B023
            lines.append(
                f"{label:<34} {n:>7,} {in_flight(history):>9.1f} {result.partitions:>7} "
                f"{seconds:>9.3f} {n / seconds:>10,.0f}"
            )
    return lines


def bench_brute_force(count: int, size: int, repeat: int) -> list[str]:
    rng = random.Random(SEED + size)
    histories = []
    for i in range(count):
        history = simulate(rng, size, processes=3, keys=2)
        histories.append(corrupt_one_read(rng, history) if i % 2 else history)
    verdicts = [check(h).ok for h in histories]
    if verdicts != [brute_force_check(h) for h in histories]:
        raise AssertionError("check and brute_force_check disagree")
    wgl = best_time(lambda: [check(h) for h in histories], repeat)
    brute = best_time(lambda: [brute_force_check(h) for h in histories], repeat)
    return [
        f"{count} histories of {size} operations (3 processes, 2 keys), "
        f"{verdicts.count(True)} linearizable:",
        f"  check (WGL):  {wgl * 1e6 / count:>8.0f} us per history",
        f"  brute force:  {brute * 1e6 / count:>8.0f} us per history",
        f"  brute force / WGL: {brute / wgl:.1f}x",
    ]


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0] if __doc__ else None)
    parser.add_argument(
        "--sizes", type=int, nargs="+", default=[1000, 10_000], help="history lengths"
    )
    parser.add_argument("--repeat", type=int, default=3, help="repeats; best is kept (default 3)")
    parser.add_argument(
        "--small", type=int, nargs="+", default=[7, 12], help="brute-force history lengths"
    )
    parser.add_argument("--count", type=int, default=200, help="brute-force histories")
    args = parser.parse_args(argv)
    if min(args.sizes + args.small) < 1 or args.repeat < 1 or args.count < 1:
        parser.error("sizes, --repeat, --small and --count must be positive")
    return args


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    print(
        f"linearizability checker, Python {sys.version.split()[0]}: {PROCESSES} processes, "
        f"{KEYS} keys, best of {args.repeat}"
    )
    print()
    print("\n".join(bench_checker(args.sizes, args.repeat)))
    for size in args.small:
        print()
        print("\n".join(bench_brute_force(args.count, size, args.repeat)))


if __name__ == "__main__":
    main()
