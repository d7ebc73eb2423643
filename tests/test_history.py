"""Recording histories: the logical clock, error classification, JSON, and real threads."""

from __future__ import annotations

import json
import random
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kvcheck.concurrency.history import (
    History,
    Operation,
    Recorder,
    RecordingClient,
    classify_error,
)
from kvcheck.concurrency.linearizability import check
from kvcheck.models import ReferenceKV
from kvnode import SMALL_GEOMETRY, Node, SimDisk
from kvnode.errors import CorruptionError, DiskFullError, DiskIOError, KVError, NodeFailedError

# -- value objects -------------------------------------------------------------------------


def test_operation_that_never_completed_must_be_indeterminate() -> None:
    with pytest.raises(ValueError, match="never completed"):
        Operation(0, 0, "put", 0, None, "ok", key=b"k", value=b"v")


def test_operation_must_complete_after_its_invocation() -> None:
    with pytest.raises(ValueError, match="completes"):
        Operation(0, 0, "get", 5, 5, "ok", key=b"k")


def test_operation_result_must_fit_its_kind() -> None:
    with pytest.raises(ValueError, match="no result"):
        Operation(0, 0, "put", 0, 1, "ok", key=b"k", value=b"v", result=b"v")
    with pytest.raises(ValueError, match="scan result"):
        Operation(0, 0, "scan", 0, 1, "ok", start=b"", result=b"v")
    with pytest.raises(ValueError, match="no result"):
        Operation(0, 0, "get", 0, 1, "failed", key=b"k", result=b"v")


def test_history_rejects_duplicate_operation_ids() -> None:
    op = Operation(0, 0, "get", 0, 1, "ok", key=b"k")
    with pytest.raises(ValueError, match="unique"):
        History([op, op])


# -- JSON ----------------------------------------------------------------------------------

EVERY_SHAPE = History(
    [
        Operation(0, 1, "put", 0, 3, "ok", key=b"k\x00", value=b"\xff" * 3),
        Operation(1, 2, "get", 1, 4, "ok", key=b"k\x00", result=b"\xff\xff\xff"),
        Operation(2, 3, "get", 2, 5, "ok", key=b"absent", result=None),
        Operation(3, 1, "scan", 6, 9, "ok", start=b"", end=None, result=((b"a", b""),)),
        Operation(4, 2, "scan", 7, 8, "ok", start=b"a", end=b"b", result=()),
        Operation(5, 3, "delete", 10, 11, "failed", key=b"", error="InvalidKeyError: empty"),
        Operation(6, 1, "put", 12, 13, "indeterminate", key=b"x", value=b"", error="DiskIOError"),
        Operation(7, 2, "delete", 14, None, "indeterminate", key=b"x"),
    ]
)


def test_json_round_trip_preserves_every_field_and_byte(tmp_path: Path) -> None:
    assert History.from_json(EVERY_SHAPE.to_json()) == EVERY_SHAPE
    EVERY_SHAPE.save(tmp_path / "history.json")
    assert History.load(tmp_path / "history.json") == EVERY_SHAPE


def test_json_encodes_bytes_as_hex_and_arguments_by_kind() -> None:
    data = json.loads(EVERY_SHAPE.to_json())
    assert data["format"] == "kvnode-history" and data["version"] == 1
    put, get, _, scan, *_, hung = data["operations"]
    assert put == {
        "id": 0,
        "process": 1,
        "kind": "put",
        "key": "6b00",
        "value": "ffffff",
        "invoke": 0,
        "complete": 3,
        "outcome": "ok",
        "result": None,
        "error": None,
    }
    assert get["result"] == "ffffff" and "value" not in get
    assert scan["start"] == "" and scan["end"] is None and scan["result"] == [["61", ""]]
    assert hung["complete"] is None and hung["outcome"] == "indeterminate"


def test_json_of_another_format_is_rejected() -> None:
    with pytest.raises(ValueError, match="kvnode-history"):
        History.from_json('{"format": "other", "version": 1, "operations": []}')


small = st.binary(max_size=4)


@st.composite
def operations(draw: st.DrawFn, n: int) -> Operation:
    kind = draw(st.sampled_from(["put", "get", "delete", "scan"]))
    outcome = draw(st.sampled_from(["ok", "failed", "indeterminate"]))
    invoke = draw(st.integers(0, 100))
    complete = None if outcome == "indeterminate" and draw(st.booleans()) else invoke + 1
    result: Any = None
    if outcome == "ok" and kind == "get":
        result = draw(st.none() | small)
    elif outcome == "ok" and kind == "scan":
        result = tuple(draw(st.lists(st.tuples(small, small), max_size=3)))
    args: dict[str, Any] = (
        {"start": draw(small), "end": draw(st.none() | small)}
        if kind == "scan"
        else {"key": draw(small)} | ({"value": draw(small)} if kind == "put" else {})
    )
    error = None if outcome == "ok" else draw(st.none() | st.text(max_size=8))
    return Operation(
        n,
        draw(st.integers(0, 5)),
        kind,
        invoke,
        complete,
        outcome,
        result=result,
        error=error,
        **args,
    )


@given(st.integers(0, 6).flatmap(lambda n: st.tuples(*(operations(i) for i in range(n)))))
def test_json_round_trip_of_random_operations(ops: tuple[Operation, ...]) -> None:
    history = History(ops)
    assert History.from_json(history.to_json()) == history


# -- the recorder --------------------------------------------------------------------------


def test_recorder_ticks_one_clock_for_invocations_and_completions() -> None:
    recorder = Recorder()
    a = recorder.invoke(0, "put", key=b"k", value=b"v")
    b = recorder.invoke(1, "get", key=b"k")
    recorder.complete(b, "ok", b"v")
    recorder.complete(a, "ok")
    ops = recorder.history().operations
    assert [(op.invoke, op.complete) for op in ops] == [(0, 3), (1, 2)]
    with pytest.raises(ValueError, match="already completed"):
        recorder.complete(a, "ok")


def test_call_still_in_flight_is_recorded_as_never_completed() -> None:
    recorder = Recorder()
    recorder.invoke(0, "delete", key=b"k")
    (op,) = recorder.history().operations
    assert op.complete is None and op.outcome == "indeterminate"


@pytest.mark.parametrize(
    ("error", "outcome"),
    [
        (DiskFullError("full"), "failed"),
        (NodeFailedError("refusing"), "failed"),
        (DiskIOError("write", "boom"), "indeterminate"),
        (CorruptionError("bad crc"), "indeterminate"),
        (KVError("other"), "indeterminate"),
        (RuntimeError("bug"), "indeterminate"),
    ],
)
def test_errors_raised_before_any_change_are_failed_and_others_indeterminate(
    error: BaseException, outcome: str
) -> None:
    assert classify_error(error) == outcome


class FaultyKV(ReferenceKV):
    """`ReferenceKV` that raises a planted error from its next put instead of (or after) it."""

    def __init__(self) -> None:
        super().__init__()
        self.fault: tuple[KVError, bool] | None = None  # (error, raise after the write?)

    def put(self, key: bytes, value: bytes) -> Any:
        if self.fault is None:
            return super().put(key, value)
        error, after = self.fault
        self.fault = None
        if after:
            super().put(key, value)
        raise error


def test_recording_client_classifies_errors_from_a_reference_kv() -> None:
    recorder = Recorder()
    target = FaultyKV()
    client = RecordingClient(target, recorder, process=7)
    client.put(b"k", b"v")
    assert client.get(b"k") == b"v"
    assert client.scan(b"", None) == [(b"k", b"v")]
    with pytest.raises(KVError, match="key must be"):
        client.put(b"", b"v")  # InvalidKeyError
    with pytest.raises(KVError, match="value_bytes_max"):
        client.put(b"k", b"v" * (target.limits.value_bytes_max + 1))  # InvalidValueError
    with pytest.raises(TypeError):
        client.get("k")  # type: ignore[arg-type]  # KVTypeError
    target.fault = (DiskFullError("disk full"), False)
    with pytest.raises(DiskFullError):
        client.put(b"k", b"lost")
    target.fault = (DiskIOError("write", "torn"), True)
    with pytest.raises(DiskIOError):
        client.put(b"k", b"maybe")
    target.close()
    with pytest.raises(ValueError, match="closed"):
        client.delete(b"k")  # NodeClosedError

    ops = recorder.history().operations
    assert {op.process for op in ops} == {7}
    assert [(op.kind, op.outcome) for op in ops] == [
        ("put", "ok"),
        ("get", "ok"),
        ("scan", "ok"),
        ("put", "failed"),
        ("put", "failed"),
        ("get", "failed"),
        ("put", "failed"),
        ("put", "indeterminate"),
        ("delete", "failed"),
    ]
    assert ops[1].result == b"v" and ops[2].result == ((b"k", b"v"),)
    assert ops[5].key == b"'k'"  # a wrongly typed argument is kept as its repr
    assert ops[3].error is not None and ops[3].error.startswith("InvalidKeyError")
    assert ops[7].error == "DiskIOError: write failed: torn"
    # The indeterminate put did happen here; the checker must accept it either way.
    assert check(History(ops)).ok


def test_history_with_stale_per_client_cache_is_caught() -> None:
    class CachingClient(RecordingClient):
        """Serves repeated gets from a private cache: stale once another client writes."""

        def __init__(self, *args: Any) -> None:
            super().__init__(*args)
            self.cache: dict[bytes, bytes | None] = {}

        def get(self, key: bytes) -> bytes | None:
            if key in self.cache:
                handle = self.recorder.invoke(self.process, "get", key=key)
                self.recorder.complete(handle, "ok", self.cache[key])
                return self.cache[key]
            self.cache[key] = super().get(key)
            return self.cache[key]

    recorder, kv = Recorder(), ReferenceKV()
    writer, reader = RecordingClient(kv, recorder, 0), CachingClient(kv, recorder, 1)
    writer.put(b"x", b"1")
    assert reader.get(b"x") == b"1"
    writer.put(b"x", b"2")
    assert reader.get(b"x") == b"1"
    result = check(recorder.history())
    assert not result.ok
    assert result.culprit == recorder.history().operations[3]


# -- real threads --------------------------------------------------------------------------


class LockedKV:
    """`ReferenceKV` behind one lock: each call is atomic, so any history must be linearizable.

    Each call yields the GIL while it holds the lock, as a store doing I/O would, so that other
    threads get to invoke their calls meanwhile and the intervals really overlap (see `Yielding`).
    """

    def __init__(self) -> None:
        self._kv = ReferenceKV()
        self._lock = threading.Lock()

    def put(self, key: bytes, value: bytes) -> Any:
        with self._lock:
            time.sleep(0)
            return self._kv.put(key, value)

    def get(self, key: bytes) -> bytes | None:
        with self._lock:
            time.sleep(0)
            return self._kv.get(key)

    def delete(self, key: bytes) -> Any:
        with self._lock:
            time.sleep(0)
            return self._kv.delete(key)

    def scan(self, start: bytes = b"", end: bytes | None = None) -> list[tuple[bytes, bytes]]:
        with self._lock:
            time.sleep(0)
            return self._kv.scan(start, end)


class Yielding:
    """Passes each call on after yielding the GIL, so that threads overlap inside their calls.

    Without it the GIL would pass every 5 ms, longer than a whole thread's run here: the threads
    would take turns and never overlap.
    """

    def __init__(self, target: Any) -> None:
        self._target = target

    def put(self, key: bytes, value: bytes) -> Any:
        time.sleep(0)
        return self._target.put(key, value)

    def get(self, key: bytes) -> bytes | None:
        time.sleep(0)
        return self._target.get(key)  # type: ignore[no-any-return]

    def delete(self, key: bytes) -> Any:
        time.sleep(0)
        return self._target.delete(key)

    def scan(self, start: bytes = b"", end: bytes | None = None) -> list[tuple[bytes, bytes]]:
        time.sleep(0)
        return self._target.scan(start, end)  # type: ignore[no-any-return]


def hammer(client: RecordingClient, seed: int, steps: int, barrier: threading.Barrier) -> None:
    """Random calls on a few keys, so that threads collide on them."""
    rng = random.Random(seed)
    keys = [b"k%d" % i for i in range(4)]
    barrier.wait()
    for step in range(steps):
        roll = rng.random()
        try:
            if roll < 0.4:
                client.put(rng.choice(keys), b"%d.%d" % (seed, step))
            elif roll < 0.5:
                client.delete(rng.choice(keys))
            elif roll < 0.9:
                client.get(rng.choice(keys))
            else:
                client.scan(b"k1", b"k3")
        except KVError:
            pass  # recorded with its outcome; the thread carries on, as a real client would


def run_threads(target: Any, threads: int, steps: int) -> History:
    recorder = Recorder()
    barrier = threading.Barrier(threads)
    workers = [
        threading.Thread(
            target=hammer, args=(RecordingClient(target, recorder, p), p, steps, barrier)
        )
        for p in range(threads)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return recorder.history()


def concurrent_pairs(history: History) -> int:
    """Pairs of operations by different processes whose intervals overlap."""
    ops = sorted(history, key=lambda op: op.invoke)
    pairs = 0
    for n, a in enumerate(ops):
        for b in ops[n + 1 :]:
            if a.complete is not None and b.invoke > a.complete:
                break
            pairs += b.process != a.process
    return pairs


def test_threads_hammering_a_locked_reference_kv_produce_a_linearizable_history() -> None:
    history = run_threads(LockedKV(), threads=4, steps=300)
    assert len(history) == 1200 and history.processes == (0, 1, 2, 3)
    assert all(op.outcome == "ok" for op in history)
    assert concurrent_pairs(history) > 0  # the threads did overlap
    result = check(history)
    assert result.ok, result.explain()


def test_threads_hammering_a_node_produce_a_linearizable_history() -> None:
    node = Node.open(SimDisk(SMALL_GEOMETRY))
    try:
        history = run_threads(Yielding(node), threads=3, steps=300)
    finally:
        node.close()
    assert concurrent_pairs(history) > 0
    result = check(history)
    assert result.ok, result.explain()
