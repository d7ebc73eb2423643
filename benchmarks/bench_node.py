"""Benchmark kvnode against sqlite3: per-operation put and get throughput, and node memory.

What is measured, for each backend, in one process:

* puts/s: N single-key puts of fresh keys in a shuffled order (wall clock / N);
* gets/s: N single-key gets of those keys in another shuffled order, after the puts;
* close ms: one final sync/close that makes everything durable, timed apart from both.

Backends:

* ``kvnode-sim``: kvnode on ``SimDisk(DEFAULT_GEOMETRY)`` (in memory; the CPU cost of the node);
* ``kvnode-file``: kvnode on ``FileDisk`` in a temporary directory;
* ``sqlite3``: a table ``(k BLOB PRIMARY KEY, v BLOB)`` with ``journal_mode=WAL``,
  ``synchronous=NORMAL`` and autocommit; one ``INSERT OR REPLACE`` or ``SELECT`` per operation.

Comparability: neither side fsyncs per operation. ``Node.put`` only appends to the log, and
sqlite3 in WAL mode with ``synchronous=NORMAL`` does not fsync on commit (its automatic WAL
checkpoints, every 1000 WAL pages, do fsync; that is its stock behaviour and is counted in
puts/s). Both end durable through the final close (``Node.close`` syncs; closing the last sqlite3
connection checkpoints the WAL with fsync), reported separately as "close ms".

Machines are noisy: each repeat runs every backend once, rotating their order, and the table
reports the best of the repeats per figure.

Memory: with tracemalloc, the memory kvnode (on ``FileDisk``, so stored values live on disk,
not in the heap) retains after loading N keys with B-byte values, then with 10*B-byte values.
The two should match: the node keeps an index entry per key, not the bytes stored.

Run from the repository root:

    .venv/bin/python benchmarks/bench_node.py [--keys N] [--value-bytes B] [--repeat R]
                                              [--json PATH]
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import sqlite3
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from typing import Any, Protocol

from kvnode import DEFAULT_GEOMETRY, FileDisk, Node, SimDisk

BACKENDS = ("kvnode-sim", "kvnode-file", "sqlite3")
SEED = 20240601


class Store(Protocol):
    """The three operations the benchmark drives, whatever the backend."""

    def put(self, key: bytes, value: bytes) -> object: ...

    def get(self, key: bytes) -> bytes | None: ...

    def close(self) -> None: ...


class SqliteStore:
    """sqlite3 configured as the module docstring says, with kvnode's put/get/close shape."""

    def __init__(self, path: str):
        # isolation_level=None: autocommit, so every statement is its own transaction.
        self._conn = sqlite3.connect(path, isolation_level=None)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=NORMAL")
        self._conn.execute("CREATE TABLE kv (k BLOB PRIMARY KEY, v BLOB)")

    def put(self, key: bytes, value: bytes) -> None:
        self._conn.execute("INSERT OR REPLACE INTO kv (k, v) VALUES (?, ?)", (key, value))

    def get(self, key: bytes) -> bytes | None:
        row = self._conn.execute("SELECT v FROM kv WHERE k = ?", (key,)).fetchone()
        return None if row is None else bytes(row[0])

    def close(self) -> None:
        self._conn.close()


@contextmanager
def open_store(backend: str) -> Iterator[Store]:
    """A fresh, empty store; file-backed ones live in a temporary directory removed after."""
    with tempfile.TemporaryDirectory(prefix="bench-node-") as tmp:
        store: Store
        if backend == "kvnode-sim":
            store = Node.open(SimDisk(DEFAULT_GEOMETRY))
        elif backend == "kvnode-file":
            store = Node.open(FileDisk.create(os.path.join(tmp, "data"), DEFAULT_GEOMETRY))
        elif backend == "sqlite3":
            store = SqliteStore(os.path.join(tmp, "kv.sqlite3"))
        else:
            raise ValueError(f"unknown backend {backend!r}")
        try:
            yield store
        finally:
            # Both close idempotently; this one only matters when the benchmark failed midway.
            store.close()


@dataclass
class Run:
    """Figures from one backend in one repeat."""

    backend: str
    puts_per_s: float
    gets_per_s: float
    close_ms: float


@dataclass
class Workload:
    """Keys, one value per key, and the orders to put and get them in (same for every backend)."""

    keys: list[bytes]
    values: list[bytes]
    get_order: list[bytes]


def make_workload(n: int, value_bytes: int, rng: random.Random) -> Workload:
    """Shuffled keys so neither store sees the sorted append its B-tree/index likes best."""
    keys = [b"key%012d" % i for i in range(n)]
    rng.shuffle(keys)
    values = [rng.randbytes(value_bytes) for _ in range(n)]
    get_order = keys[:]
    rng.shuffle(get_order)
    return Workload(keys, values, get_order)


def timed(fn: Callable[[], None]) -> float:
    """Seconds `fn` takes; collects garbage first so an earlier backend's litter costs nothing."""
    gc.collect()
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def put_all(store: Store, work: Workload) -> None:
    put = store.put
    for key, value in zip(work.keys, work.values, strict=True):
        put(key, value)


def get_all(store: Store, work: Workload) -> None:
    get = store.get
    for key in work.get_order:
        if get(key) is None:
            raise AssertionError(f"lost key {key!r}")


def run_backend(backend: str, work: Workload) -> Run:
    """Put every key, get every key, then close durably; time each phase apart."""
    n = len(work.keys)
    with open_store(backend) as store:
        put_s = timed(lambda: put_all(store, work))
        get_s = timed(lambda: get_all(store, work))
        close_s = timed(store.close)
    return Run(backend, n / put_s, n / get_s, close_s * 1000)


def run_repeats(work: Workload, repeat: int) -> list[Run]:
    """Every backend once per repeat, rotating the order so none always runs first or last."""
    runs = []
    for r in range(repeat):
        for i in range(len(BACKENDS)):
            backend = BACKENDS[(i + r) % len(BACKENDS)]
            runs.append(run_backend(backend, work))
    return runs


def best_of(runs: Sequence[Run]) -> dict[str, Run]:
    """Per backend, the best of each figure independently (highest rate, lowest close time)."""
    best = {}
    for backend in BACKENDS:
        mine = [r for r in runs if r.backend == backend]
        best[backend] = Run(
            backend,
            max(r.puts_per_s for r in mine),
            max(r.gets_per_s for r in mine),
            min(r.close_ms for r in mine),
        )
    return best


@dataclass
class Memory:
    """Heap a kvnode on FileDisk retains after loading `keys` keys of `value_bytes` each."""

    keys: int
    value_bytes: int
    retained_bytes: int

    @property
    def bytes_per_key(self) -> float:
        return self.retained_bytes / self.keys


def measure_memory(n: int, value_bytes: int, seed: int) -> Memory:
    """Traced heap growth from before `Node.open` to after the load, node still open.

    Expect the larger values to cost up to 28 bytes more per key: a chunk length above 256 is
    an int object of its own in each locator, where a smaller one is CPython's shared small int.
    """
    rng = random.Random(seed)
    order = list(range(n))
    rng.shuffle(order)
    filler = rng.randbytes(value_bytes)
    with tempfile.TemporaryDirectory(prefix="bench-node-mem-") as tmp:
        gc.collect()
        tracemalloc.start()
        try:
            before = tracemalloc.get_traced_memory()[0]
            node = Node.open(FileDisk.create(os.path.join(tmp, "data"), DEFAULT_GEOMETRY))
            # Keys are made inside the traced window because the index keeps them; values are
            # made and dropped per put, so only what the node itself holds on to is counted.
            for i in order:
                node.put(b"key%012d" % i, filler[:-1] + bytes([i & 0xFF]))
            gc.collect()
            retained = tracemalloc.get_traced_memory()[0] - before
        finally:
            tracemalloc.stop()
        node.close()
    return Memory(n, value_bytes, retained)


def format_throughput(best: dict[str, Run]) -> str:
    lines = [f"{'backend':<12} {'puts/s':>12} {'gets/s':>12} {'close ms':>10}"]
    for run in best.values():
        lines.append(
            f"{run.backend:<12} {run.puts_per_s:>12,.0f} {run.gets_per_s:>12,.0f}"
            f" {run.close_ms:>10.1f}"
        )
    return "\n".join(lines)


def ratios(best: dict[str, Run]) -> dict[str, float]:
    """kvnode-file over sqlite3; above 1 means kvnode is faster."""
    file, lite = best["kvnode-file"], best["sqlite3"]
    return {"puts": file.puts_per_s / lite.puts_per_s, "gets": file.gets_per_s / lite.gets_per_s}


def format_memory(small: Memory, large: Memory) -> str:
    lines = [f"{'value bytes':>11} {'keys':>8} {'retained':>12} {'bytes/key':>10}"]
    for m in (small, large):
        lines.append(
            f"{m.value_bytes:>11} {m.keys:>8} {m.retained_bytes:>12,} {m.bytes_per_key:>10.1f}"
        )
    lines.append(f"large/small retained: {large.retained_bytes / small.retained_bytes:.3f}")
    return "\n".join(lines)


def report(args: argparse.Namespace, best: dict[str, Run], small: Memory, large: Memory) -> str:
    ratio = ratios(best)
    return "\n".join(
        [
            f"kvnode vs sqlite3 {sqlite3.sqlite_version}, Python {sys.version.split()[0]}: "
            f"{args.keys:,} keys, {args.value_bytes}-byte values, best of {args.repeat}",
            "Per-operation puts and gets; no fsync per operation on either side (kvnode put",
            "only appends; sqlite3 WAL + synchronous=NORMAL does not fsync on commit).",
            "puts/s and gets/s exclude the final durable close, shown as 'close ms'.",
            "",
            format_throughput(best),
            "",
            f"kvnode-file / sqlite3: puts {ratio['puts']:.2f}x, gets {ratio['gets']:.2f}x"
            " (> 1 means kvnode is faster)",
            "",
            "Memory kvnode-file retains with the node open (tracemalloc; values live on disk):",
            format_memory(small, large),
        ]
    )


def to_json(
    args: argparse.Namespace, runs: list[Run], best: dict[str, Run], mem: list[Memory]
) -> dict[str, Any]:
    return {
        "config": {"keys": args.keys, "value_bytes": args.value_bytes, "repeat": args.repeat},
        "versions": {"python": sys.version.split()[0], "sqlite": sqlite3.sqlite_version},
        "note": "puts/s and gets/s exclude the final durable close (close_ms); no per-op fsync",
        "best": {name: asdict(run) for name, run in best.items()},
        "ratio_file_over_sqlite": ratios(best),
        "runs": [asdict(run) for run in runs],
        "memory": [asdict(m) | {"bytes_per_key": m.bytes_per_key} for m in mem],
    }


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0] if __doc__ else None)
    parser.add_argument("--keys", type=int, default=20_000, help="keys per run (default 20000)")
    parser.add_argument("--value-bytes", type=int, default=100, help="value size (default 100)")
    parser.add_argument("--repeat", type=int, default=3, help="repeats; best is kept (default 3)")
    parser.add_argument("--json", metavar="PATH", help="also write every figure here as JSON")
    args = parser.parse_args(argv)
    if args.keys < 1 or args.value_bytes < 1 or args.repeat < 1:
        parser.error("--keys, --value-bytes and --repeat must be positive")
    return args


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    work = make_workload(args.keys, args.value_bytes, random.Random(SEED))
    runs = run_repeats(work, args.repeat)
    best = best_of(runs)
    small = measure_memory(args.keys, args.value_bytes, SEED)
    large = measure_memory(args.keys, 10 * args.value_bytes, SEED)
    print(report(args, best, small, large))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(to_json(args, runs, best, [small, large]), f, indent=2)
            f.write("\n")


if __name__ == "__main__":
    main()
