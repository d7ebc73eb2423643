"""The harness: applies each operation to a target and to `ReferenceKV`, and compares.

A property is a sequence of harness calls, so the same object runs inside Hypothesis state
machines and in the regression tests `kvcheck` writes: a failure found by one replays in the
other exactly.
"""

from __future__ import annotations

from typing import Any

from kvnode.errors import DiskFullError
from models import ReferenceKV
from properties.coverage import NODE_STATES, Coverage
from properties.ops import Op, render_bytes
from properties.targets import Store, Target

_HEADER_BYTES = 24


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


class Harness:
    """A target and the model side by side; every call records and checks one operation."""

    def __init__(self, target: Target, coverage: Coverage | None = None):
        self.target = target
        self.coverage = coverage if coverage is not None else Coverage()
        self.coverage.examples += 1
        self.log: list[Op] = []
        self._data: dict[bytes, bytes] = {}
        self.model = ReferenceKV(self._data, target.limits)
        self.store: Store = target.open()
        self._pending: list[Any] = []  # dependencies not yet known persistent
        self._written_at: dict[bytes, int] = {}
        self._last_moving_reclaim = -1
        if self._node_stats() is None:
            self.coverage.not_applicable |= NODE_STATES

    # -- operations ------------------------------------------------------------------------

    def get(self, key: bytes) -> None:
        """Both sides return the same value (or None)."""
        self._begin(Op("get", (key,)))
        got, want = self.store.get(key), self.model.get(key)
        self._expect(got == want, f"get({show(key)}) returned {show(got)}, the model {show(want)}")
        if want is None:
            self.coverage.reach("get-miss")
        else:
            self.coverage.reach("get-hit")
            if self._written_at.get(key, len(self.log)) < self._last_moving_reclaim:
                self.coverage.reach("get-after-moving-reclaim")
        self._check()

    def put(self, key: bytes, value: bytes) -> None:
        """Put on both sides (a disk-full refusal leaves the model unchanged)."""
        self._begin(Op("put", (key, value)))
        existed = key in self._data
        try:
            self._pending.append(self.store.put(key, value))
        except DiskFullError:
            self.coverage.reach("disk-full")
        else:
            self.model.put(key, value)
            self._written_at[key] = len(self.log)
            if existed:
                self.coverage.reach("overwrite")
            chunk = _HEADER_BYTES + len(key) + len(value)
            if min(chunk % self.target.page_bytes, -chunk % self.target.page_bytes) <= 1:
                self.coverage.reach("page-boundary-value")
            if len(value) >= self.target.limits.value_bytes_max - 1:
                self.coverage.reach("largest-value")
        self._check()

    def delete(self, key: bytes) -> None:
        """Delete on both sides."""
        self._begin(Op("delete", (key,)))
        existed = key in self._data
        try:
            self._pending.append(self.store.delete(key))
        except DiskFullError:
            self.coverage.reach("disk-full")
        else:
            self.model.delete(key)
            if existed:
                self.coverage.reach("delete-hit")
        self._check()

    def scan(self, start: bytes = b"", end: bytes | None = None) -> None:
        """Both sides return the same pairs in the same (key) order."""
        self._begin(Op("scan", (start, end)))
        got, want = self.store.scan(start, end), self.model.scan(start, end)
        self._expect(
            got == want,
            f"scan({show(start)}, {show(end)}) returned {show(got)}, the model {show(want)}",
        )
        if len(want) >= 2:
            self.coverage.reach("scan-many")

    def sync(self) -> None:
        """After a sync every earlier dependency is persistent (forward progress)."""
        self._begin(Op("sync"))
        self.store.sync()
        self._check_forward_progress("sync")
        self._check()

    def flush_index(self) -> None:
        """A flush changes no contents."""
        self._begin(Op("flush_index"))
        try:
            self.store.flush_index()
        except DiskFullError:
            self.coverage.reach("disk-full")
        self._check()

    def reclaim(self) -> None:
        """Reclamation changes no contents."""
        self._begin(Op("reclaim"))
        moved_before = self._stat("chunks_moved")
        try:
            self.store.reclaim()
        except DiskFullError:
            self.coverage.reach("disk-full")
        moved_after = self._stat("chunks_moved")
        if moved_before is not None and moved_after is not None and moved_after > moved_before:
            self.coverage.reach("reclaim-moved-live")
            self._last_moving_reclaim = len(self.log)
        self._check()

    def clean_reboot(self) -> None:
        """Close and reopen: everything is persistent at close, and nothing changes."""
        self._begin(Op("clean_reboot"))
        if not self.target.can_reboot:
            return
        self.store.close()
        self._check_forward_progress("close")
        self.store = self.target.open()
        covers, replayed = self._stat("index_covers_seq"), self._stat("replayed_at_open")
        if covers and replayed:
            self.coverage.reach("reboot-index-and-log")
        self._check()

    def close(self) -> None:
        """Close the store and release the target."""
        try:
            self.store.close()
        finally:
            self.target.cleanup()

    def run(self, op: Op) -> None:
        """Apply `op` (as recorded in a log)."""
        getattr(self, op.kind)(*op.args)

    # -- checks ----------------------------------------------------------------------------

    def _begin(self, op: Op) -> None:
        self.log.append(op)
        self.coverage.op(op.kind)

    def _expect(self, ok: bool, message: str) -> None:
        if not ok:
            raise ConformanceError(f"step {len(self.log)}: {message}")

    def _check(self) -> None:
        got, want = self.store.scan(), self.model.scan()
        if got != want:
            self._expect(
                False, f"after {self.log[-1]!r} the store holds {show(got)}, the model {show(want)}"
            )

    def _check_forward_progress(self, after: str) -> None:
        for dep in self._pending:
            persistent = getattr(dep, "is_persistent", None)
            if persistent is not None and not persistent():
                self._expect(False, f"a dependency is not persistent after {after}")
        self._pending.clear()

    def _node_stats(self) -> Any:
        stats = getattr(self.store, "stats", None)
        result = stats() if callable(stats) else None
        return result if hasattr(result, "chunks_moved") else None

    def _stat(self, name: str) -> int | None:
        stats = self._node_stats()
        return None if stats is None else int(getattr(stats, name))
