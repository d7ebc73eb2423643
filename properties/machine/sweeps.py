"""Sweeps: a power cut at every point inside one operation, or a failure of each of its disk
calls, tried on purpose rather than hit by chance.

A random `dirty_reboot(during=op, after=n)` finds a window one disk write wide (between naming
an index run in the superblock and syncing the run) only when a run reaches the right state
*and* `n` happens to land in the window: for an operation making twenty disk changes, about one
crash in twenty. A sweep removes the second chance. `crash_sweep(during, plan)` cuts the power
before each of the operation's disk changes in turn (or before each of its syncs), recovers
under the drawn crash plan and checks the recovered state; `fault_sweep(during, kind)` fails
each of its disk calls of `kind` in turn, then reboots cleanly and checks what survived. Each
point runs on a replica of the harness: a deep copy where the whole target lives in memory (a
`SimDiskTarget`), else a fresh target from the factory brought to the same state by replaying
the log (the harness is deterministic, and the logs are a few dozen steps). Then the operation
runs on the harness itself, uninterrupted, and the run goes on.

A failing point is replayed on the harness itself as the plain steps it stands for
(`dirty_reboot(..., during, after=k, ...)`, or `fail_disk(kind, 1, k)`, the operation and a
`clean_reboot`), so the log, the report and the regression test hold only plain steps and
replay without sweeps. Off a `SimDiskTarget`, a sweep needs the target's factory to build
replicas; without one it only runs the operation.
"""

from __future__ import annotations

import contextlib
import copy
import copyreg
import functools
import threading
from collections.abc import Callable
from typing import Any

from kvcheck.machine.core import ConformanceError, HarnessCore
from kvcheck.machine.coverage import Coverage
from kvcheck.machine.ops import Op
from kvcheck.machine.targets import SimDiskTarget, as_target

#: Points tried per sweep at most: an operation with more disk changes is swept up to here.
POINTS_MAX = 48


class Sweeps(HarnessCore):
    """The sweeping operations of `Harness` (see the module docstring)."""

    power_was_lost: bool

    def crash_sweep(
        self,
        during: tuple[Any, ...],
        keep: tuple[bool, ...] = (),
        tears: tuple[tuple[int, int], ...] = (),
        keep_rest: bool = False,
        at_syncs: bool = False,
    ) -> None:
        """A power cut before each of `during`'s disk changes (each of its syncs, with
        `at_syncs`), each recovered under the plan `keep`, `tears`, `keep_rest` (as in
        `dirty_reboot`) and checked; then `during` runs."""
        self.coverage.op("crash_sweep")
        if self._can_sweep():
            for after in range(POINTS_MAX):
                plain = Op("dirty_reboot", (keep, tears, during, after, keep_rest, at_syncs))
                if not self._try_point([plain], lambda r: bool(r.power_was_lost)):
                    break  # the operation finished before this point: every point was tried
        self.run(_op(during))  # type: ignore[attr-defined]

    def fault_sweep(self, during: tuple[Any, ...], kind: str) -> None:
        """`during` with its first disk call of `kind` failing, then its second, and so on,
        each followed by a clean reboot, and checked; then `during` runs with no fault."""
        self.coverage.op("fault_sweep")
        disk = self.target.disk
        if self._can_sweep() and disk is not None and kind in disk.FAULTS:
            for skip in range(POINTS_MAX):
                plain = [Op("fail_disk", (kind, 1, skip)), _op(during), Op("clean_reboot")]
                if not self._try_point(plain, lambda r: not r.target.disk.fault_armed(kind)):
                    break  # the operation made fewer calls: every one of them has failed
        self.run(_op(during))  # type: ignore[attr-defined]

    def _can_sweep(self) -> bool:
        copyable = self.factory is not None or isinstance(self.target, SimDiskTarget)
        return copyable and self.target.disk is not None and not self._relaxed

    def _try_point(self, steps: list[Op], inside: Callable[[Any], bool]) -> bool:
        """Run `steps` on a replica; whether the point fell inside the operation (`inside`,
        asked after its second step, or its only one). If the replica fails, run the steps
        on the harness itself, where they fail the same way."""
        replica = self._replica()
        if replica is None:
            return False
        reached = False
        try:
            for n, step in enumerate(steps):
                replica.run(step)
                if n == min(1, len(steps) - 1):
                    reached = inside(replica)
        except Exception as found:  # the replica found something: show it on the harness
            _discard(replica)
            for step in steps:
                self.run(step)  # type: ignore[attr-defined]
            raise ConformanceError(
                f"a sweep found this on a replica, but the target did not do it again from "
                f"the same steps (is it deterministic?): {type(found).__name__}: {found}"
            ) from None
        _discard(replica)
        return reached

    def _replica(self) -> Any:
        """A copy of this harness, target and store included: a deep copy where the whole
        target lives in memory (`SimDiskTarget`), else a new harness on a fresh target brought
        to this state by replaying the log; None if the replay does not reproduce it (a target
        that is not deterministic)."""
        if isinstance(self.target, SimDiskTarget):
            return _deep_copy(self)
        assert self.factory is not None
        replica = type(self)(as_target(self.factory()), Coverage(), factory=None, **self.flags)
        try:
            for op in self.log:
                replica.run(op)  # type: ignore[attr-defined]
        except Exception:  # it passed on the harness itself: the target is not deterministic
            _discard(replica)
            return None
        replica.coverage = self.coverage  # what the sweep reaches counts; the replay did not
        return replica


def _deep_copy(harness: Any) -> Any:
    """`harness` copied whole but for its coverage and factory (shared). Locks are copied as
    new, unheld locks: a copy is taken between steps, when the node holds none."""
    memo: dict[int, Any] = {id(harness.coverage): harness.coverage}
    memo[id(harness.factory)] = harness.factory
    saved = {kind: copyreg.dispatch_table.get(kind) for kind in _LOCKS}
    try:
        for kind, make in _LOCKS.items():
            copyreg.dispatch_table[kind] = functools.partial(_new_lock, make)
        return copy.deepcopy(harness, memo)
    finally:
        for kind, before in saved.items():
            if before is None:
                del copyreg.dispatch_table[kind]
            else:
                copyreg.dispatch_table[kind] = before


def _new_lock(make: Callable[[], Any], _lock: object) -> tuple[Callable[[], Any], tuple[()]]:
    return make, ()


_LOCKS: dict[type, Callable[[], Any]] = {
    type(threading.Lock()): threading.Lock,
    type(threading.RLock()): threading.RLock,
}


def _op(during: tuple[Any, ...]) -> Op:
    return Op(during[0], tuple(during[1:]))


def _discard(replica: Any) -> None:
    replica.coverage = Coverage()  # its close and audit are not the property's
    with contextlib.suppress(Exception):  # a replica left broken is thrown away all the same
        replica.close()
