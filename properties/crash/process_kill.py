"""Process crashes for any store kept in a directory: a writer killed with SIGKILL, again and again.

For stores the interpreter cannot see into (C extensions such as `sqlite3`), and as a first
check of any store: a child process opens the store (`kvcheck.machine.directory`), applies a
deterministic sequence of operations (operation i depends only on i) and acknowledges on stdout
each operation the store has promised durable, by its own promise (on return, after a sync every
`BATCH` operations, or after a close every `BATCH` operations). The parent kills it at a random
moment, reopens the directory itself, reads every key, and classifies the outcome:

- `all there`: the state after some prefix of the sequence holding every acknowledged
  operation (the writer may have applied a few more that it had not acknowledged);
- `promised data missing`: the state after a shorter prefix, so acknowledged operations are gone;
- `not a prefix`: no prefix's state at all (a wrong value, a lost or reordered write);
- `unopenable`: opening the directory again raised;
- `not idempotent`: opening it a second time found something else.

Every trial continues the sequence on the same directory, so the store recovers again and
again. A kill keeps everything that reached the OS, so this checks the store's own ordering,
atomicity and recovery, not its fsyncs: a power loss can lose more.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from typing import Any

import attrs

from kvcheck.machine.directory import DirectoryStore, load_directory_store

KEYS = 64
#: A `"sync"` or `"close"` store is synced (or closed and reopened) every this many operations.
BATCH = 10
OUTCOMES = ("all there", "promised data missing", "not a prefix", "unopenable", "not idempotent")


def operation(i: int) -> tuple[bytes, bytes | None]:
    """Operation i: (key, value) for a put, (key, None) for a delete."""
    key = b"key-%02d" % (i * 37 % KEYS)
    if i % 7 == 3:
        return key, None
    return key, (b"%d;" % i) * (1 + i % 50)


def writer(spec: str, path: str, start: int) -> None:
    """Apply operations start, start+1, ... until killed, acknowledging promised ones."""
    kind = load_directory_store(spec)
    store = kind.open_checked(path)
    _say("ready")
    i = start
    while True:
        key, value = operation(i)
        if value is None:
            store.delete(key)
        else:
            store.put(key, value)
        i += 1
        if kind.durable == "return":
            _say(str(i))
        elif i % BATCH == 0:
            if kind.durable == "sync":
                store.sync()
            else:
                store.close()
                store = kind.open_checked(path)
            _say(str(i))


def _say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


@attrs.define
class Trials:
    """The parent's view of a run of kill trials on one directory."""

    spec: str
    path: str
    done: int = 0  # operations known applied (the prefix recovered last)
    state: dict[bytes, bytes] = attrs.field(factory=dict)
    outcomes: Counter[str] = attrs.field(factory=Counter)
    acknowledged: int = 0
    failure: str | None = None

    @property
    def kills(self) -> int:
        """Trials so far."""
        return sum(self.outcomes.values())


def _after(state: dict[bytes, bytes], start: int, end: int) -> dict[bytes, bytes]:
    state = dict(state)
    for i in range(start, end):
        key, value = operation(i)
        if value is None:
            state.pop(key, None)
        else:
            state[key] = value
    return state


def _read_all(kind: DirectoryStore, path: str) -> dict[bytes, bytes]:
    store = kind.open_checked(path)
    try:
        found = {}
        for n in range(KEYS):
            key = b"key-%02d" % n
            value = store.get(key)
            if value is not None:
                found[key] = bytes(value)
        return found
    finally:
        store.close()


def trial(trials: Trials, kind: DirectoryStore, rnd: random.Random, delay_max: float) -> None:
    """One writer run, killed after a random delay once it is writing, then checked."""
    child = subprocess.Popen(
        [sys.executable, "-m", "kvcheck.crash.process_kill", "--writer", trials.spec,
         trials.path, str(trials.done)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=os.getcwd(),
    )  # fmt: skip
    assert child.stdout is not None
    ready = child.stdout.readline()
    if ready.strip() == b"ready":
        time.sleep(rnd.uniform(0.0, delay_max))
    child.send_signal(signal.SIGKILL)
    out, err = child.communicate(timeout=60)
    if child.returncode != -signal.SIGKILL:
        trials.failure = f"the writer exited with {child.returncode}: {err.decode()[-800:]}"
        return
    acks = [int(line) for line in out.split() if line.isdigit()]
    acked = max(acks, default=trials.done)
    trials.acknowledged += acked - trials.done
    outcome, recovered = _judge(trials, kind, acked)
    trials.outcomes[outcome] += 1
    if outcome != "all there":
        trials.failure = _explain(trials, outcome, acked, recovered)


def _judge(trials: Trials, kind: DirectoryStore, acked: int) -> tuple[str, Any]:
    try:
        recovered = _read_all(kind, trials.path)
    except Exception as err:
        return "unopenable", f"{type(err).__name__}: {err}"
    try:
        again = _read_all(kind, trials.path)
    except Exception as err:
        return "not idempotent", f"a second open raised {type(err).__name__}: {err}"
    if again != recovered:
        return "not idempotent", recovered
    # The writer may have applied up to a batch past its last acknowledgement.
    for end in range(acked, acked + BATCH + 2):
        if recovered == _after(trials.state, trials.done, end):
            trials.state = _after(trials.state, trials.done, end)
            trials.done = end
            return "all there", recovered
    for end in range(trials.done, acked):
        if recovered == _after(trials.state, trials.done, end):
            return "promised data missing", recovered
    return "not a prefix", recovered


def _explain(trials: Trials, outcome: str, acked: int, recovered: Any) -> str:
    promised = _after(trials.state, trials.done, acked)
    if not isinstance(recovered, dict):
        return f"kill {trials.kills}: {outcome}: {recovered}"
    lost = sorted(k for k in promised if recovered.get(k) != promised[k])
    extra = sorted(k for k in recovered if k not in promised)
    return (
        f"kill {trials.kills}: {outcome}: operations 0..{acked - 1} were promised durable; "
        f"{len(lost)} key(s) differ from that state (first: {lost[:3]}), {len(extra)} key(s) "
        f"it does not hold are present (first: {extra[:3]})"
    )


def run(spec: str, path: str, count: int, seed: int, delay_max: float = 0.5) -> Trials:
    """`count` kill trials of the store `spec` names on the directory `path`, stopping at the
    first failure."""
    kind = load_directory_store(spec)
    trials = Trials(spec, path)
    rnd = random.Random(seed)
    for _ in range(count):
        trial(trials, kind, rnd, delay_max)
        if trials.failure is not None:
            break
    return trials


def keep(path: str, into: str) -> str:
    """Copy the killed directory `path` to `into` (replacing it) for inspection; the copy's
    path."""
    if os.path.exists(into):
        shutil.rmtree(into)
    shutil.copytree(path, into)
    return into


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "--writer":
        writer(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    else:
        sys.exit("usage: python -m kvcheck.crash.process_kill --writer MODULE:FACTORY DIR START")
