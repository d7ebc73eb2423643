"""The harness's state, and the steps every part of it takes.

`Harness` (`kvcheck.machine.harness`) is put together from parts, one per way of checking: exact
checking in `kvcheck.machine.harness` itself, and `kvcheck.machine.faults`,
`kvcheck.machine.crashes` and `kvcheck.machine.damage_check`. Each part is a subclass of
`HarnessCore`, so that mypy checks it against the one definition of what they share: the state
(set up here), recording an operation, reporting a disagreement, reading the store, and closing
and reopening it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kvcheck.machine.coverage import (
    CRASH_OPS,
    CRASH_STATES,
    DAMAGE_OPS,
    DAMAGE_STATES,
    FAULT_OPS,
    FAULT_STATES,
    NODE_STATES,
    SPACE_STATES,
    SWEEP_OPS,
    Coverage,
)
from kvcheck.machine.ops import Op, render_bytes
from kvcheck.machine.targets import Store, Target
from kvcheck.models import ReferenceKV
from kvcheck.models.crash import CrashModel
from kvnode.errors import DiskFullError, KVError

State = dict[bytes, bytes]


def show(value: object, limit: int = 400) -> str:
    """A compact, bounded rendering of a result for error messages."""
    if isinstance(value, bytes):
        text = render_bytes(value)
    elif isinstance(value, list):
        text = "[" + ", ".join(show(item, limit) for item in value) + "]"
    elif isinstance(value, tuple):
        text = "(" + ", ".join(show(item, limit) for item in value) + ")"
    else:
        text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


class ConformanceError(AssertionError):
    """The target and the model disagree."""


class _Failed:
    """Marks a store call that failed cleanly after a fault."""


_FAILED: Any = _Failed()


class HarnessCore:
    """The state of `Harness`, and the steps its parts share (see the module docstring)."""

    def __init__(
        self,
        target: Target,
        coverage: Coverage | None = None,
        *,
        crashes: bool = True,
        faults: bool = False,
        damage: bool = False,
        factory: Callable[[], object] | None = None,
        sweeps: bool = False,
    ):
        self.target = target
        #: Makes a fresh target like `target`, for sweeps' replicas (`kvcheck.machine.sweeps`).
        self.factory = factory
        self.flags = {"crashes": crashes, "faults": faults, "damage": damage}
        self.coverage = coverage if coverage is not None else Coverage()
        self.coverage.examples += 1
        self.log: list[Op] = []
        self._data: State = {}
        self.model = ReferenceKV(self._data, target.limits)
        self.store: Store = target.open()
        self._alternatives: list[State] = []  # other states the store may hold (faults)
        self._relaxed = False  # a fault was injected since the last reboot
        self.crash_model = CrashModel(self._data)
        # Only a crashable target needs the history of states (a copy per mutation).
        self._records = crashes and target.disk is not None
        self._pending: list[Any] = []  # dependencies not yet known persistent
        self._written_at: dict[bytes, int] = {}
        self._last_moving_reclaim = -1
        #: Whether the last `power_loss` interrupted its operation.
        self.power_was_lost = False
        if self._node_stats() is None:
            self.coverage.not_applicable |= NODE_STATES
        if target.disk is None or not crashes:
            self.coverage.not_applicable |= CRASH_STATES | CRASH_OPS
        if target.disk is None or not faults:
            self.coverage.not_applicable |= FAULT_STATES | FAULT_OPS
        elif "space" not in target.disk.FAULTS:
            self.coverage.not_applicable |= SPACE_STATES
        self._damage = damage and target.can_damage and target.can_reboot
        if not self._damage:
            self.coverage.not_applicable |= DAMAGE_STATES | DAMAGE_OPS
        if not sweeps:  # a harness may still sweep when asked, but its steps do not draw them
            self.coverage.not_applicable |= SWEEP_OPS
        # States the target says it cannot reach (a store that never fills: disk-full).
        self.coverage.not_applicable |= set(target.not_applicable)

    def _begin(self, op: Op) -> None:
        self.log.append(op)
        self.coverage.op(op.kind)

    def _scan(self, start: bytes = b"", end: bytes | None = None) -> list[tuple[bytes, bytes]]:
        """The store's scan as a list of pairs: a store may return any iterable of two-item
        sequences of bytes; anything else is reported as the contract it breaks."""
        result = self.store.scan(start, end)
        try:
            pairs = [tuple(pair) for pair in result]
        except TypeError:
            pairs = None
        if pairs is None or not all(
            len(p) == 2 and isinstance(p[0], bytes) and isinstance(p[1], bytes) for p in pairs
        ):
            self._expect(
                False,
                f"scan() must return an iterable of (key, value) pairs of bytes, "
                f"returned {show(result)}",
            )
        return pairs  # type: ignore[return-value]

    def _expect(self, ok: bool, message: str) -> None:
        if not ok:
            raise ConformanceError(f"step {len(self.log)}: {message}")

    def _states(self) -> list[State]:
        return [self._data, *self._alternatives]

    def _read(self, call: Callable[[], Any]) -> Any:
        """Call the store; after a fault a `KVError` is a clean failure, not a disagreement."""
        if not self._relaxed:
            return call()
        try:
            return call()
        except KVError:
            self.coverage.reach("fault-surfaced")
            return _FAILED

    def _become(self, state: State, alternatives: list[State]) -> None:
        if state is not self._data:
            self._data.clear()
            self._data.update(state)
        self._alternatives = [dict(s) for s in alternatives if s != self._data]

    def _maintain(self, call: Callable[[], Any]) -> bool:
        """Run sync, flush or reclaim; True if it succeeded."""
        try:
            result = self._read(call)
        except DiskFullError:
            self.coverage.reach("disk-full")
            return False
        return result is not _FAILED

    def _check_forward_progress(self, after: str) -> None:
        for dep in self._pending:
            persistent = getattr(dep, "is_persistent", None)
            if persistent is not None and not persistent():
                self._expect(False, f"a dependency is not persistent after {after}")
        self._pending.clear()

    def _close_store(self, *, check_progress: bool) -> None:
        """Close the store with the faults cleared; after a fault, closing may itself fail."""
        if self.target.disk is not None:
            self.target.disk.clear_faults()
        if self._relaxed:
            self._read(self.store.close)
        else:
            self.store.close()
            if check_progress:
                self._check_forward_progress("close")
        self._relaxed = False

    def _clear_faults(self) -> None:
        if self.target.disk is not None:
            self.target.disk.clear_faults()
        self._relaxed = False

    def _reopen(self, legal: list[State], after: str) -> None:
        """Open the store again; what it recovered must be a legal state, and becomes the model."""
        failure: str | None = None
        try:
            self.store = self.target.open()
            recovered = dict(self._scan())
        except KVError as err:
            # Not chained: Hypothesis tells failures apart by where their causes were raised,
            # and would shrink every recovery error site as a separate bug.
            failure = f"{type(err).__name__}: {err}"
        if failure is not None:
            self._expect(False, f"after {after} the store failed to recover: {failure}")
        if recovered not in legal:
            latest = legal[-1] if legal else {}
            self._expect(
                False,
                f"after {after} the store recovered {show(sorted(recovered.items()))}, which is "
                f"no state it may legally hold (the latest is {show(sorted(latest.items()))}; "
                f"{len(legal)} legal state(s) in all)",
            )
        self._become(recovered, [])
        self._pending.clear()
        self.crash_model = CrashModel(self._data)

    def _node_stats(self) -> Any:
        stats = getattr(self.store, "stats", None)
        try:
            result = stats() if callable(stats) else None
        except KVError:
            return None
        return result if hasattr(result, "chunks_moved") else None

    def _stat(self, name: str) -> int | None:
        stats = self._node_stats()
        return None if stats is None else int(getattr(stats, name))
