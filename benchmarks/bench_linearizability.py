"""Benchmark the linearizability checker on realistic histories, and against brute force.

What is measured:

* fast path against search: the same histories checked by `check` (which uses the polynomial
  read-mapping check when every written value is unique) and by `check(..., method="search")`,
  the Wing & Gong / Lowe search alone, capped at `--cap` seconds ("over N s" when it does not
  finish). The histories write unique values (writer id and sequence number): many processes on
  one hot key, rounds of fully overlapping calls, twenty overlapping puts followed by a get that
  no order explains, and 50 keys with 2% short scans. Each row prints both times and the ratio;
  the verdicts must agree whenever the search finishes;

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
                                                         [--cap 20] [--only-fast]
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import random
import signal
import sys
import time
from collections.abc import Callable, Iterator, Sequence

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


def simulate_unique(
    rng: random.Random,
    n: int,
    *,
    processes: int,
    keys: int,
    scans: float = 0.0,
    deletes: float = 0.0,
    think: float = 4.0,
) -> History:
    """Like `simulate`, but every put writes a value of its own: b"<process>.<sequence>"."""
    names = [b"key%03d" % i for i in range(keys)]
    free_at = [0.0] * processes
    spans = []
    for _ in range(n):
        p = rng.randrange(processes)
        invoke = free_at[p] + rng.expovariate(think)
        complete = invoke + rng.expovariate(0.5) + 1e-6
        free_at[p] = complete
        spans.append((p, invoke, complete, rng.uniform(invoke, complete)))
    ticks = sorted(t for _, invoke, complete, _ in spans for t in (invoke, complete))
    tick = {t: i for i, t in enumerate(ticks)}
    state: dict[bytes, bytes] = {}
    ops: list[Operation | None] = [None] * n
    written = [0] * processes
    for i in sorted(range(n), key=lambda i: spans[i][3]):
        p, invoke, complete, _ = spans[i]
        t0, t1 = tick[invoke], tick[complete]
        roll = rng.random()
        if roll < scans:
            lo = rng.randrange(max(1, keys - 2))
            hi = lo + rng.randint(2, 3)
            start, end = names[lo], names[hi] if hi < keys else None
            seen = tuple(
                sorted((k, v) for k, v in state.items() if start <= k and (end is None or k < end))
            )
            ops[i] = Operation(i, p, "scan", t0, t1, "ok", start=start, end=end, result=seen)
            continue
        key = rng.choice(names)
        if roll < 0.45:
            written[p] += 1
            value = b"%d.%d" % (p, written[p])
            state[key] = value
            ops[i] = Operation(i, p, "put", t0, t1, "ok", key=key, value=value)
        elif roll < 0.45 + deletes:
            state.pop(key, None)
            ops[i] = Operation(i, p, "delete", t0, t1, "ok", key=key)
        else:
            ops[i] = Operation(i, p, "get", t0, t1, "ok", key=key, result=state.get(key))
    return History(op for op in ops if op is not None)


def overlapping_rounds(rng: random.Random, width: int, rounds: int) -> History:
    """`rounds` rounds of `width` calls on one key, all in flight at once, puts and gets."""
    ops: list[Operation] = []
    state: bytes | None = None
    clock = 0
    for r in range(rounds):
        invoked = {p: clock + p for p in range(width)}
        clock += width
        completes = list(range(clock, clock + width))
        rng.shuffle(completes)
        clock += width
        for p in rng.sample(range(width), width):  # the order the calls take effect in
            if rng.random() < 0.5:
                state = b"%d.%d" % (p, r)
                ops.append(
                    Operation(
                        len(ops), p, "put", invoked[p], completes[p], "ok", key=b"k", value=state
                    )
                )
            else:
                ops.append(
                    Operation(
                        len(ops), p, "get", invoked[p], completes[p], "ok", key=b"k", result=state
                    )
                )
    return History(sorted(ops, key=lambda op: op.invoke))


def puts_then_stale_get(width: int) -> History:
    """`width` overlapping puts, then a get of the initial absence: not linearizable."""
    ops = [
        Operation(p, p, "put", p, width + p, "ok", key=b"k", value=b"%d.1" % p)
        for p in range(width)
    ]
    ops.append(Operation(width, width, "get", 2 * width, 2 * width + 1, "ok", key=b"k"))
    return History(ops)


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


class _Cap(Exception):
    pass


@contextlib.contextmanager
def time_cap(seconds: float) -> Iterator[None]:
    """Raise `_Cap` in the main thread after `seconds` (a wall-clock alarm; Unix only)."""

    def expire(signum: int, frame: object) -> None:
        raise _Cap

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def bench_fast_path(repeat: int, cap: float, only_fast: bool) -> list[str]:
    rng = random.Random(SEED)
    # The last row has no target: with deletes, reads of None can often be explained by more than
    # one delete, so the fast path declines and the search decides (its cost is shown as is).
    cases: list[tuple[str, History, float | None]] = [
        ("4 threads, 1 key", simulate_unique(rng, 40_000, processes=4, keys=1), 0.5),
        ("16 threads, 1 key", simulate_unique(rng, 2_000, processes=16, keys=1), 0.5),
        ("32 threads, 1 key", simulate_unique(rng, 2_000, processes=32, keys=1), 0.5),
        ("32 threads, 1 key", simulate_unique(rng, 100_000, processes=32, keys=1), 1.0),
        ("20 overlapping puts, then a get", puts_then_stale_get(20), 0.5),
        ("16 overlapping puts/gets x100", overlapping_rounds(rng, 16, 100), 0.5),
        (
            "4 threads, 50 keys, 2% scans",
            simulate_unique(rng, 100_000, processes=PROCESSES, keys=KEYS, scans=0.02),
            1.0,
        ),
        (
            "4 threads, 50 keys, 2% scans, 5% del",
            simulate_unique(rng, 100_000, processes=PROCESSES, keys=KEYS, scans=0.02, deletes=0.05),
            None,
        ),
    ]
    lines = [
        f"{'history':<37} {'ops':>7} {'in flight':>9} {'verdict':>7} {'new s':>7} "
        f"{'target':>7} {'search s':>10} {'search/new':>11}"
    ]
    for label, history, target in cases:
        result = check(history)
        new = best_time(lambda: check(history), repeat)  # noqa: B023
        if only_fast:
            old_text, ratio = "-", "-"
        else:
            try:
                with time_cap(cap):
                    gc.collect()
                    started = time.perf_counter()
                    searched = check(history, method="search")
                    old = time.perf_counter() - started
            except _Cap:
                old_text, ratio = f"over {cap:g}", f"> {cap / new:,.0f}x"
            else:
                if searched.ok != result.ok:
                    raise AssertionError(f"{label}: the fast path and the search disagree")
                old_text, ratio = f"{old:.3f}", f"{old / new:,.1f}x"
        verdict = "ok" if result.ok else "NOT ok"
        goal = "-" if target is None else f"< {target:g}"
        missed = target is not None and new >= target
        lines.append(
            f"{label:<37} {len(history):>7,} {in_flight(history):>9.1f} {verdict:>7} "
            f"{new:>7.3f} {goal:>7} {old_text:>10} {ratio:>11}"
            + ("  MISSED TARGET" if missed else "")
        )
    return lines


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
    parser.add_argument(
        "--cap", type=float, default=20.0, help="seconds the search may take (default 20)"
    )
    parser.add_argument(
        "--only-fast", action="store_true", help="time the fast path only, not the search"
    )
    args = parser.parse_args(argv)
    if min(args.sizes + args.small) < 1 or args.repeat < 1 or args.count < 1 or args.cap <= 0:
        parser.error("sizes, --repeat, --small, --count and --cap must be positive")
    return args


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    print(
        f"linearizability checker, Python {sys.version.split()[0]}: {PROCESSES} processes, "
        f"{KEYS} keys, best of {args.repeat}"
    )
    print()
    print("fast path (unique values) against the search alone:")
    print("\n".join(bench_fast_path(args.repeat, args.cap, args.only_fast)))
    print()
    print("\n".join(bench_checker(args.sizes, args.repeat)))
    for size in args.small:
        print()
        print("\n".join(bench_brute_force(args.count, size, args.repeat)))


if __name__ == "__main__":
    main()
