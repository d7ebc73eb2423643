"""Real crashes: a writer process on `FileDisk`, killed with SIGKILL at random moments.

The writer applies a deterministic sequence of operations (operation i depends only on i), syncs
every `SYNC_EVERY` operations, and after each sync whose dependencies all report persistent it
acknowledges the last operation's number on stdout. The parent kills it at a random moment,
reopens the directory, and checks that the recovered state is the state after some prefix of
the sequence that includes every acknowledged operation: nothing acknowledged is lost, nothing
is reordered or invented. The next trial continues the same sequence on the same directory, so
the store is recovered again and again. A process kill keeps what reached the OS, so this checks
the node's own ordering and recovery, not the disk's; `SimDisk` crashes cover the rest.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time

import attrs

from kvnode import FileDisk, Geometry, Node
from kvnode.fsck import fsck

GEOMETRY = Geometry(page_bytes=4096, extent_bytes=64 * 1024, extent_count=48)
KEYS = 300
SYNC_EVERY = 10
FLUSH_EVERY = 500


def operation(i: int) -> tuple[bytes, bytes | None]:
    """Operation i: (key, value) for a put, (key, None) for a delete."""
    key = b"key-%04d" % (i * 7919 % KEYS)
    if i % 9 == 4:
        return key, None
    return key, (b"%d:" % i) * (1 + i % 40)


def writer(path: str, start: int) -> None:
    """Apply operations start, start+1, ... until killed, acknowledging durable ones."""
    disk = FileDisk.open(path) if os.path.exists(path) else FileDisk.create(path, GEOMETRY)
    node = Node.open(disk)
    deps = []
    i = start
    while True:
        key, value = operation(i)
        deps.append(node.delete(key) if value is None else node.put(key, value))
        if (i + 1) % FLUSH_EVERY == 0:
            node.flush_index()
        if (i + 1) % SYNC_EVERY == 0:
            node.sync()
            if all(d.is_persistent() for d in deps):
                sys.stdout.write(f"{i}\n")
                sys.stdout.flush()
            deps.clear()
        i += 1


@attrs.define
class Trials:
    """The parent's view of a run of kill trials on one directory."""

    path: str
    done: int = 0  # operations known applied (the recovered prefix)
    state: dict[bytes, bytes] = attrs.field(factory=dict)
    kills: int = 0
    acknowledged: int = 0
    failures: list[str] = attrs.field(factory=list)

    def apply_through(self, end: int) -> None:
        """Advance the expected state to the prefix of length `end`."""
        for i in range(self.done, end):
            key, value = operation(i)
            if value is None:
                self.state.pop(key, None)
            else:
                self.state[key] = value
        self.done = end


def trial(trials: Trials, rnd: random.Random, delay_max: float = 0.6) -> None:
    """One writer run, killed after a random delay, then recovered and checked."""
    child = subprocess.Popen(
        [sys.executable, "-m", "kvcheck.crash.sigkill", "--writer", trials.path, str(trials.done)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    time.sleep(rnd.uniform(0.0, delay_max))
    child.send_signal(signal.SIGKILL)
    out, err = child.communicate(timeout=60)
    trials.kills += 1
    if child.returncode != -signal.SIGKILL:
        trials.failures.append(f"writer exited with {child.returncode}: {err.decode()[-500:]}")
        return
    acks = [int(line) for line in out.split()]
    acked = (acks[-1] + 1) if acks else trials.done
    trials.acknowledged += max(0, acked - trials.done)
    if not os.path.exists(trials.path):
        return  # killed before the directory was made
    disk = FileDisk.open(trials.path)
    report = fsck(disk)
    disk.close()
    if not report.ok:
        trials.failures.append(f"fsck after kill {trials.kills}: {list(map(str, report.damage))}")
        return
    with Node.open(FileDisk.open(trials.path)) as node:
        recovered = dict(node.scan())
    trials.apply_through(acked)
    # The writer may have applied up to one unsynced batch beyond the last acknowledgement.
    for _ in range(SYNC_EVERY + 1):
        if recovered == trials.state:
            return
        trials.apply_through(trials.done + 1)
    trials.failures.append(
        f"kill {trials.kills}: recovered state is no prefix of the sequence that holds all "
        f"{acked} acknowledged operations"
    )


def run(path: str, count: int, seed: int, delay_max: float = 0.6) -> Trials:
    """`count` kill trials on the data directory `path` (created by the first writer)."""
    trials = Trials(path)
    rnd = random.Random(seed)
    for _ in range(count):
        trial(trials, rnd, delay_max)
        if trials.failures:
            break
    return trials


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--writer":
        writer(sys.argv[2], int(sys.argv[3]))
    else:
        sys.exit("usage: python -m kvcheck.crash.sigkill --writer DIR START")
