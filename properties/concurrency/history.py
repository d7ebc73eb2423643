"""Concurrent histories of key-value operations: recording them, and saving them as JSON.

A history is what several client threads saw: for each operation, when it was invoked, when (if
ever) it completed, and what came back. Times come from one logical clock shared by every thread
(a counter behind a lock), so "A completed before B was invoked" is exact, never a guess from
wall clocks. `Recorder` hands out the ticks; `RecordingClient` wraps a store so that each call
records itself; `kvcheck.concurrency.linearizability` checks the result.

Outcomes:

* ``ok``: the call returned; `result` is what it returned (get: bytes or None, scan: a tuple of
  (key, value) pairs, put and delete: None).
* ``failed``: the call raised an error the store raises before it changes anything, so the
  operation certainly did not happen (see `FAILED_ERRORS`). The checker drops these.
* ``indeterminate``: the operation may or may not have taken effect: any other error (say a
  `DiskIOError` mid-write), or the call never completed (`complete` is None).

JSON format (``History.to_json``), one object::

    {
      "format": "kvnode-history",
      "version": 1,
      "operations": [
        {"id": 0, "process": 1, "kind": "put", "key": "6b31", "value": "7631",
         "invoke": 0, "complete": 3, "outcome": "ok", "result": null, "error": null},
        {"id": 1, "process": 2, "kind": "scan", "start": "", "end": null,
         "invoke": 1, "complete": 5, "outcome": "ok", "result": [["6b31", "7631"]],
         "error": null},
        {"id": 2, "process": 3, "kind": "get", "key": "6b31",
         "invoke": 2, "complete": null, "outcome": "indeterminate", "result": null,
         "error": null}
      ]
    }

* Every byte string (keys, values, scan bounds, results) is lowercase hex; ``""`` is ``b""``.
* Arguments present by kind: put has ``key`` and ``value``; get and delete have ``key``; scan has
  ``start`` and ``end`` (``end`` null means unbounded: start <= key, no upper bound).
* ``invoke`` and ``complete`` are ticks of one logical clock, unique across the history;
  ``complete`` is null when the call never returned. ``id`` is unique (`Recorder` numbers
  operations in invocation order).
* ``result`` is null unless ``outcome`` is ``ok``; then it is the get's value (hex or null) or
  the scan's ``[[key, value], ...]`` in key order, and null for put and delete.
* ``error`` is the exception as ``"Type: message"`` for failed and indeterminate calls.

Other checkers: for Porcupine, each record is one `Operation` (ClientId = process, Input = kind
and arguments, Call = invoke, Output = result, Return = complete, or a time after every other
for indeterminate ones). For Knossos, each record is an ``:invoke`` event at ``invoke`` followed
by an ``:ok``, ``:fail`` or ``:info`` event (ok, failed, indeterminate) at ``complete``, or at the
end of the history when ``complete`` is null.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, Literal, Protocol, TypeVar

import attrs

from kvnode.errors import (
    DiskFullError,
    InvalidKeyError,
    InvalidValueError,
    KVTypeError,
    NodeClosedError,
    NodeFailedError,
)

Kind = Literal["put", "get", "delete", "scan"]
Outcome = Literal["ok", "failed", "indeterminate"]
Pairs = tuple[tuple[bytes, bytes], ...]
Result = bytes | Pairs | None

KINDS: tuple[Kind, ...] = ("put", "get", "delete", "scan")
OUTCOMES: tuple[Outcome, ...] = ("ok", "failed", "indeterminate")
FORMAT = "kvnode-history"
VERSION = 1

#: Errors `kvnode.Node` raises before it changes anything: argument checks, a closed node, a node
#: that refuses changes after an earlier write failure (`NodeFailedError`, checked on entry), and
#: `DiskFullError`, raised before the operation's own log append. Reclamation may have moved
#: bytes by then, but moving live data does not change what any read returns.
FAILED_ERRORS: tuple[type[BaseException], ...] = (
    InvalidKeyError,
    InvalidValueError,
    KVTypeError,
    NodeClosedError,
    NodeFailedError,
    DiskFullError,
)

T = TypeVar("T")


def classify_error(err: BaseException) -> Outcome:
    """``failed`` for errors raised before any change (`FAILED_ERRORS`), else ``indeterminate``."""
    return "failed" if isinstance(err, FAILED_ERRORS) else "indeterminate"


def short_bytes(data: bytes, limit: int = 24) -> str:
    """`repr(data)`, cut to about `limit` bytes so that huge values stay readable."""
    if len(data) <= limit:
        return repr(data)
    return f"{data[:limit]!r}...({len(data)} bytes)"


def _check_bytes(name: str, value: object, *, optional: bool = False) -> None:
    if not (type(value) is bytes or (optional and value is None)):
        raise ValueError(f"{name} must be bytes{' or None' if optional else ''}, not {value!r}")


@attrs.frozen
class Operation:
    """One call by one process: its arguments, its interval on the logical clock, its outcome."""

    id: int
    process: int
    kind: Kind
    invoke: int
    complete: int | None
    outcome: Outcome
    key: bytes | None = None  # put, get, delete
    value: bytes | None = None  # put
    start: bytes | None = None  # scan
    end: bytes | None = None  # scan; None: no upper bound
    result: Result = None
    #: The exception, as "Type: message", of a failed or indeterminate call.
    error: str | None = None

    def __attrs_post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown kind {self.kind!r}")
        if self.outcome not in OUTCOMES:
            raise ValueError(f"unknown outcome {self.outcome!r}")
        if self.complete is None and self.outcome != "indeterminate":
            raise ValueError("an operation that never completed can only be indeterminate")
        if self.complete is not None and self.complete <= self.invoke:
            raise ValueError(f"operation {self.id} completes at {self.complete} <= invoke")
        self._check_arguments()
        self._check_result()

    def _check_arguments(self) -> None:
        if self.kind == "scan":
            _check_bytes("scan start", self.start)
            _check_bytes("scan end", self.end, optional=True)
            if self.key is not None or self.value is not None:
                raise ValueError("a scan takes start and end, not key or value")
            return
        _check_bytes("key", self.key)
        if self.kind == "put":
            _check_bytes("value", self.value)
        elif self.value is not None:
            raise ValueError(f"a {self.kind} takes no value")
        if self.start is not None or self.end is not None:
            raise ValueError(f"a {self.kind} takes no scan bounds")

    def _check_result(self) -> None:
        if self.outcome != "ok" or self.kind in ("put", "delete"):
            if self.result is not None:
                raise ValueError(f"a {self.outcome} {self.kind} has no result")
        elif self.kind == "get":
            _check_bytes("get result", self.result, optional=True)
        elif not (
            isinstance(self.result, tuple)
            and all(
                isinstance(pair, tuple)
                and len(pair) == 2
                and type(pair[0]) is bytes
                and type(pair[1]) is bytes
                for pair in self.result
            )
        ):
            raise ValueError(
                f"a scan result must be a tuple of (key, value) pairs, not {self.result!r}"
            )

    @property
    def is_write(self) -> bool:
        """Puts and deletes: the operations that change the state."""
        return self.kind in ("put", "delete")

    def call(self) -> str:
        """The call as text, e.g. ``put(b'k', b'v')``."""
        if self.kind == "scan":
            assert self.start is not None
            end = "None" if self.end is None else short_bytes(self.end)
            return f"scan({short_bytes(self.start)}, {end})"
        assert self.key is not None
        if self.kind == "put":
            assert self.value is not None
            return f"put({short_bytes(self.key)}, {short_bytes(self.value)})"
        return f"{self.kind}({short_bytes(self.key)})"

    def reply(self) -> str:
        """What came back, e.g. ``-> b'v'``, ``-> ok``, ``failed (InvalidKeyError: ...)``."""
        if self.outcome == "failed":
            return f"failed ({self.error})"
        if self.outcome == "indeterminate":
            detail = "never completed" if self.complete is None else self.error
            return f"indeterminate ({detail})"
        if self.kind in ("put", "delete"):
            return "-> ok"
        if self.result is None or isinstance(self.result, bytes):
            return "-> " + ("None" if self.result is None else short_bytes(self.result))
        pairs = ", ".join(f"{short_bytes(k)}: {short_bytes(v)}" for k, v in self.result)
        return "-> {" + pairs + "}"

    def describe(self) -> str:
        """One line: process, call, reply and interval."""
        until = "..." if self.complete is None else str(self.complete)
        return f"p{self.process} {self.call()} {self.reply()} [{self.invoke}, {until}]"


def _as_tuple(operations: Iterable[Operation]) -> tuple[Operation, ...]:
    return tuple(operations)


@attrs.frozen
class History:
    """The operations of a concurrent run, in invocation order."""

    operations: tuple[Operation, ...] = attrs.field(converter=_as_tuple)

    def __attrs_post_init__(self) -> None:
        if len({op.id for op in self.operations}) != len(self.operations):
            raise ValueError("operation ids must be unique")

    def __len__(self) -> int:
        return len(self.operations)

    def __iter__(self) -> Iterator[Operation]:
        return iter(self.operations)

    @property
    def processes(self) -> tuple[int, ...]:
        """The process ids that appear, in increasing order."""
        return tuple(sorted({op.process for op in self.operations}))

    def to_dict(self) -> dict[str, Any]:
        """The JSON-ready form described in the module docstring."""
        return {
            "format": FORMAT,
            "version": VERSION,
            "operations": [_op_to_dict(op) for op in self.operations],
        }

    def to_json(self, indent: int | None = None) -> str:
        """The history as JSON text (format in the module docstring)."""
        return json.dumps(self.to_dict(), indent=indent)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> History:
        """Inverse of `to_dict`; raises ValueError on anything else."""
        if data.get("format") != FORMAT or data.get("version") != VERSION:
            raise ValueError(f"not a {FORMAT} version {VERSION} document")
        return cls(tuple(_op_from_dict(record) for record in data["operations"]))

    @classmethod
    def from_json(cls, text: str) -> History:
        """Inverse of `to_json`."""
        return cls.from_dict(json.loads(text))

    def save(self, path: str | Path) -> None:
        """Write the history as JSON to `path`."""
        Path(path).write_text(self.to_json(indent=1) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, path: str | Path) -> History:
        """Read a history that `save` wrote."""
        return cls.from_json(Path(path).read_text(encoding="utf-8"))


def _hex(data: bytes | None) -> str | None:
    return None if data is None else data.hex()


def _unhex(text: object) -> bytes | None:
    if text is None:
        return None
    if not isinstance(text, str):
        raise ValueError(f"expected a hex string or null, got {text!r}")
    return bytes.fromhex(text)


def _op_to_dict(op: Operation) -> dict[str, Any]:
    record: dict[str, Any] = {"id": op.id, "process": op.process, "kind": op.kind}
    if op.kind == "scan":
        record |= {"start": _hex(op.start), "end": _hex(op.end)}
    else:
        record["key"] = _hex(op.key)
        if op.kind == "put":
            record["value"] = _hex(op.value)
    result: object = op.result
    if isinstance(op.result, tuple):
        result = [[k.hex(), v.hex()] for k, v in op.result]
    elif isinstance(op.result, bytes):
        result = op.result.hex()
    record |= {
        "invoke": op.invoke,
        "complete": op.complete,
        "outcome": op.outcome,
        "result": result,
        "error": op.error,
    }
    return record


def _op_from_dict(record: dict[str, Any]) -> Operation:
    kind = record["kind"]
    raw = record.get("result")
    result: Result
    if kind == "scan" and raw is not None:
        result = tuple((_need(_unhex(k)), _need(_unhex(v))) for k, v in raw)
    else:
        result = _unhex(raw)
    return Operation(
        id=int(record["id"]),
        process=int(record["process"]),
        kind=kind,
        invoke=int(record["invoke"]),
        complete=None if record.get("complete") is None else int(record["complete"]),
        outcome=record["outcome"],
        key=_unhex(record.get("key")),
        value=_unhex(record.get("value")),
        start=_unhex(record.get("start")),
        end=_unhex(record.get("end")),
        result=result,
        error=record.get("error"),
    )


def _need(data: bytes | None) -> bytes:
    if data is None:
        raise ValueError("a scan pair holds bytes, not null")
    return data


class Recorder:
    """Collects a history from many threads: `invoke` before each call, `complete` after it.

    Thread-safe. One lock guards the clock and the operation list, so each tick is unique and a
    call's invocation tick precedes anything it could have caused. Handles are operation ids.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._clock = 0
        self._operations: list[Operation] = []

    def invoke(
        self,
        process: int,
        kind: Kind,
        *,
        key: bytes | None = None,
        value: bytes | None = None,
        start: bytes | None = None,
        end: bytes | None = None,
    ) -> int:
        """Record that `process` is about to call `kind`; returns the handle for `complete`."""
        with self._lock:
            op = Operation(
                id=len(self._operations),
                process=process,
                kind=kind,
                invoke=self._clock,
                complete=None,
                outcome="indeterminate",
                key=key,
                value=value,
                start=start,
                end=end,
            )
            self._clock += 1
            self._operations.append(op)
            return op.id

    def complete(
        self, handle: int, outcome: Outcome, result: Result = None, error: str | None = None
    ) -> Operation:
        """Record that the call behind `handle` returned (or raised); returns its record."""
        with self._lock:
            op = self._operations[handle]
            if op.complete is not None:
                raise ValueError(f"operation {handle} already completed")
            done = attrs.evolve(
                op, complete=self._clock, outcome=outcome, result=result, error=error
            )
            self._clock += 1
            self._operations[handle] = done
            return done

    def now(self) -> int:
        """The tick the next invocation or completion will get."""
        with self._lock:
            return self._clock

    def history(self) -> History:
        """Everything so far; calls still in flight appear as never completed (indeterminate)."""
        with self._lock:
            return History(tuple(self._operations))


class KVClient(Protocol):
    """The part of the store API a `RecordingClient` wraps (`ReferenceKV`, `kvnode.Node`)."""

    def put(self, key: bytes, value: bytes) -> Any: ...
    def get(self, key: bytes) -> bytes | None: ...
    def delete(self, key: bytes) -> Any: ...
    def scan(self, start: bytes = b"", end: bytes | None = None) -> list[tuple[bytes, bytes]]: ...


def _as_bytes(arg: object) -> bytes:
    # A wrongly typed argument is still recorded (the call fails with KVTypeError and the
    # checker drops it), as its repr, so that the history stays all bytes and serialisable.
    return arg if type(arg) is bytes else repr(arg).encode("utf-8", "backslashreplace")


class RecordingClient:
    """Wraps a store for one process (thread): every call records its invoke and complete.

    Errors are recorded (classified by `classify_error`) and then re-raised unchanged, so that
    the wrapper is transparent: a workload behaves the same with and without recording, and
    decides itself whether to carry on after an error.
    """

    def __init__(self, target: KVClient, recorder: Recorder, process: int):
        self.target = target
        self.recorder = recorder
        self.process = process

    def put(self, key: bytes, value: bytes) -> Any:
        """`target.put`, recorded."""
        handle = self.recorder.invoke(
            self.process, "put", key=_as_bytes(key), value=_as_bytes(value)
        )
        return self._run(handle, lambda: self.target.put(key, value), lambda _: None)

    def get(self, key: bytes) -> bytes | None:
        """`target.get`, recorded."""
        handle = self.recorder.invoke(self.process, "get", key=_as_bytes(key))
        return self._run(handle, lambda: self.target.get(key), lambda value: value)

    def delete(self, key: bytes) -> Any:
        """`target.delete`, recorded."""
        handle = self.recorder.invoke(self.process, "delete", key=_as_bytes(key))
        return self._run(handle, lambda: self.target.delete(key), lambda _: None)

    def scan(self, start: bytes = b"", end: bytes | None = None) -> list[tuple[bytes, bytes]]:
        """`target.scan`, recorded."""
        handle = self.recorder.invoke(
            self.process,
            "scan",
            start=_as_bytes(start),
            end=None if end is None else _as_bytes(end),
        )
        return self._run(
            handle,
            lambda: self.target.scan(start, end),
            lambda pairs: tuple((k, v) for k, v in pairs),
        )

    def _run(self, handle: int, call: Callable[[], T], result: Callable[[T], Result]) -> T:
        try:
            reply = call()
        except BaseException as err:
            outcome = classify_error(err)
            self.recorder.complete(handle, outcome, error=f"{type(err).__name__}: {err}")
            raise
        self.recorder.complete(handle, "ok", result(reply))
        return reply
