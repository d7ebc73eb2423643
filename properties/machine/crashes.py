"""Crashes: power lost, possibly part-way through an operation, and what recovery must find.

After a crash (`dirty_reboot`) the recovered state must be one `CrashModel` allows: the state
after a prefix of the history holding every mutation whose dependency was persistent. Which
pending writes reach the disk, and which pages tear, is a `CrashPlan` (`crash_plan`); exhaustive
mode (`kvcheck.crash.exhaustive`) calls `power_loss` once and then tries every such plan.
"""

from __future__ import annotations

from typing import Any

from kvcheck.machine.core import HarnessCore, State, show
from kvcheck.machine.ops import Op
from kvcheck.models import ReferenceKV
from kvnode.simdisk import CrashPlan, PendingWrite, PowerLoss


class Crashes(HarnessCore):
    """The crashing operations of `Harness`."""

    #: Whether the last `power_loss` interrupted its operation.
    power_was_lost: bool

    def dirty_reboot(
        self,
        keep: tuple[bool, ...] = (),
        tears: tuple[tuple[int, int], ...] = (),
        during: tuple[Any, ...] | None = None,
        after: int = 0,
        keep_rest: bool = False,
        at_syncs: bool = False,
    ) -> None:
        """Lose power (optionally `after` disk writes into operation `during`, or `after` of
        its syncs with `at_syncs`) and recover.

        Of the pending writes, those `keep` marks by position survive, and those past the end
        of `keep` survive if `keep_rest`; `tears` (position, cut) tear kept page writes.
        """
        self._begin(Op("dirty_reboot", (keep, tears, during, after, keep_rest, at_syncs)))
        disk = self.target.disk
        if disk is None:
            return
        legal = self.power_loss(during, after, at_syncs=at_syncs)
        plan = crash_plan(disk.pending_writes(), keep, tears, keep_rest)
        self._crash_coverage(disk.pending_writes(), plan)
        disk.crash(plan)
        # The store that lost power belongs to a process that no longer exists: on a real file
        # system its descriptors are gone, so it is never closed (only reopened).
        self.store = _LOST
        self._reopen(legal, "a crash")
        again = self.target.recover_copy()
        self._expect(
            again == self.model.scan(), f"recovering the same disk again found {show(again)}"
        )

    def power_loss(
        self, during: tuple[Any, ...] | None = None, after: int = 0, *, at_syncs: bool = False
    ) -> list[State]:
        """Lose power now, or `after` disk writes into operation `during`, without crashing
        the disk yet; return the states a recovery may legally find. (Exhaustive mode calls
        this once, then tries every crash of the disk as it is left.)"""
        disk = self.target.disk
        if disk is None:
            raise ValueError("power loss needs a target on a SimDisk")
        self.power_was_lost = during is not None and self._run_until_power_loss(
            disk, during, after, at_syncs
        )
        self._clear_faults()
        return self.crash_model.legal_states()

    def _run_until_power_loss(
        self, disk: Any, during: tuple[Any, ...], after: int, at_syncs: bool
    ) -> bool:
        """Run operation `during` with the power failing after `after` disk writes (or syncs);
        True if the power failed before the operation finished."""
        kind, *args = during
        disk.arm_power_loss(after, syncs_only=at_syncs)
        before = len(self.log)
        try:
            getattr(self, kind)(*args)
        except PowerLoss:
            self.coverage.reach(_CRASH_DURING[kind])
            if kind in ("put", "delete"):  # it may or may not have happened
                happened = dict(self._data)
                method = getattr(ReferenceKV(happened, self.target.limits), kind)
                method(*args)
                self.crash_model.maybe(happened)
            return True
        finally:
            disk.disarm_power_loss()
            del self.log[before:]  # the nested operation is part of this dirty reboot
        return False

    def _crash_coverage(self, pending: tuple[PendingWrite, ...], plan: CrashPlan) -> None:
        if not pending or not plan.keep:
            self.coverage.reach("crash-kept-nothing")
        elif len(plan.keep) < len(pending):
            self.coverage.reach("crash-kept-some")
        if plan.tears:
            self.coverage.reach("crash-torn-page")


_CRASH_DURING = {
    "put": "crash-during-put",
    "delete": "crash-during-put",
    "sync": "crash-during-sync",
    "flush_index": "crash-during-flush_index",
    "reclaim": "crash-during-reclaim",
    "clean_reboot": "crash-during-close",
}


def crash_plan(
    pending: tuple[PendingWrite, ...],
    keep: tuple[bool, ...],
    tears: tuple[tuple[int, int], ...],
    keep_rest: bool,
) -> CrashPlan:
    """The crash plan `keep`, `tears` and `keep_rest` describe for these pending writes."""
    marks = list(keep[: len(pending)]) + [keep_rest] * (len(pending) - len(keep))
    kept = {w.index for w, k in zip(pending, marks, strict=True) if k}
    torn = {}
    for position, cut in tears:
        if pending:
            write = pending[position % len(pending)]
            if write.index in kept and write.kind == "page" and len(write.data) > 1:
                torn[write.index] = 1 + cut % (len(write.data) - 1)
    return CrashPlan(kept, torn)


class _Lost:
    """Stands for a store that lost power: closing it does nothing."""

    def close(self) -> None:
        """Nothing to close: the process that had it open is gone."""


_LOST: Any = _Lost()
