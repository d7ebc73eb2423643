"""The harness: applies each operation to a target and to the models, and compares.

A property is a sequence of harness calls, so the same object runs inside Hypothesis state
machines and in the regression tests `kvcheck` writes: a failure found by one replays in the
other exactly.

Theory of operation. The harness keeps `ReferenceKV` over the state the store must hold. Most of
the time that state is known exactly and every result must match it: that is the checking here.
Three things are checked on their own terms, each by a part of `Harness` in its own module:

- an injected disk fault makes the state uncertain, and until the next reboot the harness keeps
  candidates, the states the store may legally hold (`kvcheck.machine.faults`);
- after a crash the recovered state must be one `CrashModel` allows (`kvcheck.machine.crashes`);
- after damage at rest every read must be right or raise `CorruptionError`, and `fsck` must have
  flagged whatever was lost (`kvcheck.machine.damage_check`).

After each, the store's state becomes the model's again and checking is exact. What the parts
share, the state and the steps they all take, is `kvcheck.machine.core`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kvcheck.machine.core import _FAILED, ConformanceError, show
from kvcheck.machine.crashes import Crashes, crash_plan
from kvcheck.machine.damage_check import DamageAtRest
from kvcheck.machine.faults import Faults
from kvcheck.machine.ops import Op
from kvcheck.machine.sweeps import Sweeps
from kvcheck.models import ReferenceKV
from kvnode.errors import DiskFullError, KVError

# `ConformanceError`, `show` and `crash_plan` live with the parts that use them; the rest of
# kvcheck imports them from here.
__all__ = ["ConformanceError", "Harness", "crash_plan", "show"]

_HEADER_BYTES = 24


class Harness(Faults, Crashes, DamageAtRest, Sweeps):
    """A target and the models side by side; every call records and checks one operation.

    `Harness(target, coverage, *, crashes=True, faults=False, damage=False, factory=None,
    sweeps=False)`: the constructor, and the state it sets up, are `HarnessCore`'s; `factory`,
    which makes a fresh target like `target`, lets sweeps (`kvcheck.machine.sweeps`) replay
    the log on replicas, and `sweeps` says the steps drawn include sweeps (for coverage).
    """

    # -- reads -----------------------------------------------------------------------------

    def get(self, key: bytes) -> None:
        """The store returns the model's value (or, after a fault, fails cleanly)."""
        self._begin(Op("get", (key,)))
        got = self._read(lambda: self.store.get(key))
        if got is not _FAILED:
            self._observe(
                lambda s: s.get(key) == got, lambda: f"get({show(key)}) returned {show(got)}"
            )
            want = self.model.get(key)
            if want is None:
                self.coverage.reach("get-miss")
            else:
                self.coverage.reach("get-hit")
                if self._written_at.get(key, len(self.log)) < self._last_moving_reclaim:
                    self.coverage.reach("get-after-moving-reclaim")
        self._check()

    def scan(self, start: bytes = b"", end: bytes | None = None) -> None:
        """The store returns the model's pairs in key order."""
        self._begin(Op("scan", (start, end)))
        got = self._read(lambda: self._scan(start, end))
        if got is not _FAILED:
            self._observe(
                lambda s: ReferenceKV(s).scan(start, end) == got,
                lambda: f"scan({show(start)}, {show(end)}) returned {show(got)}",
            )
            if len(self.model.scan(start, end)) >= 2:
                self.coverage.reach("scan-many")

    # -- mutations -------------------------------------------------------------------------

    def put(self, key: bytes, value: bytes) -> None:
        """Put on both sides (a disk-full refusal leaves the model unchanged)."""
        self._begin(Op("put", (key, value)))
        existed = key in self._data
        if self._mutate(lambda: self.store.put(key, value), lambda kv: kv.put(key, value)):
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
        if self._mutate(lambda: self.store.delete(key), lambda kv: kv.delete(key)) and existed:
            self.coverage.reach("delete-hit")
        self._check()

    # -- maintenance -----------------------------------------------------------------------

    def sync(self) -> None:
        """After a sync every earlier dependency is persistent (forward progress)."""
        self._begin(Op("sync"))
        if self._maintain(self.store.sync):
            self._check_forward_progress("sync")
        self._check()

    def flush_index(self) -> None:
        """A flush changes no contents."""
        self._begin(Op("flush_index"))
        self._maintain(self.store.flush_index)
        self._check()

    def reclaim(self) -> None:
        """Reclamation changes no contents."""
        self._begin(Op("reclaim"))
        moved_before = self._stat("chunks_moved")
        self._maintain(self.store.reclaim)
        moved_after = self._stat("chunks_moved")
        if moved_before is not None and moved_after is not None and moved_after > moved_before:
            self.coverage.reach("reclaim-moved-live")
            self._last_moving_reclaim = len(self.log)
        self._check()

    def drain(self) -> None:
        """Delete every key and sync; then the store must take `Target.drain_refill` values of
        the largest size under distinct keys (for the built-in node, as many as a fresh node
        takes), reclaiming space by itself if it must: a full disk must never stay full, nor
        keep space no key uses."""
        self._begin(Op("drain"))
        if self._relaxed:
            return  # after a fault, refusals are legitimate
        for key in list(self._data):
            try:
                self._pending.append(self.store.delete(key))
            except DiskFullError:
                self._expect(False, f"drain: delete({show(key)}) was refused for lack of space")
            self.model.delete(key)
            self._record(self._pending[-1])
        self.store.sync()
        self._check_forward_progress("sync")
        largest = self.target.limits.value_bytes_max
        for taken in range(self.target.drain_refill):
            key = b"k%d" % taken
            try:
                self._pending.append(self.store.put(key, b"\x00" * largest))
            except DiskFullError as err:
                self._expect(
                    False,
                    f"drain: with every key deleted, put({show(key)}) of {largest} bytes was "
                    f"refused after {taken} such put(s) ({err}): the space is not coming back",
                )
            self.model.put(key, b"\x00" * largest)
            self._record(self._pending[-1])
        self.coverage.reach("drained")
        self._check()

    # -- reboots -----------------------------------------------------------------------------

    def clean_reboot(self) -> None:
        """Close and reopen: everything is persistent at close, and nothing changes."""
        self._begin(Op("clean_reboot"))
        if not self.target.can_reboot:
            return
        self._close_store(check_progress=True)
        self._reopen(self._states(), "a clean reboot")
        covers, replayed = self._stat("index_covers_seq"), self._stat("replayed_at_open")
        if covers and replayed:
            self.coverage.reach("reboot-index-and-log")

    def close(self) -> None:
        """Close the store and release the target, keeping what its audit counted."""
        try:
            self._close_store(check_progress=False)
        finally:
            self.coverage.audit.update(getattr(self.target, "audit", {}))
            self.target.cleanup()

    def run(self, op: Op) -> None:
        """Apply `op` (as recorded in a log)."""
        getattr(self, op.kind)(*op.args)

    # -- machinery ---------------------------------------------------------------------------

    def _mutate(self, call: Callable[[], Any], apply: Callable[[ReferenceKV], Any]) -> bool:
        """Run a mutation on the store; True if it succeeded (and was applied to the model)."""
        try:
            dependency = call()
        except DiskFullError:
            self.coverage.reach("disk-full")
            return False
        except KVError:
            if not self._relaxed:
                raise
            self._split(apply)
            return False
        apply(self.model)
        for state in self._alternatives:
            apply(ReferenceKV(state, self.target.limits))
        self._pending.append(dependency)
        self._record(dependency)
        return True

    def _record(self, dependency: Any) -> None:
        if self._records:
            self.crash_model.record(dependency, self._data)

    def _check(self) -> None:
        got = self._read(self.store.scan)
        if got is _FAILED:
            return
        if not self._alternatives:
            want = self.model.scan()
            self._expect(
                got == want,
                f"after {self.log[-1]!r} the store holds {show(got)}, the model {show(want)}",
            )
        else:
            self._observe(
                lambda s: ReferenceKV(s).scan() == got, lambda: f"the store holds {show(got)}"
            )
