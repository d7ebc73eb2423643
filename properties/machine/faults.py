"""Injected disk faults, and the candidate states they leave the harness with.

From a fault (`fail_disk`, `flip_bit`) until the next reboot any operation may fail with a
`KVError`, but none may return data that is in no candidate: the states the store may legally
hold. A mutation that fails may or may not have happened, so it doubles the candidates
(`_split`); each result the store does return prunes them to those that agree with it
(`_observe`). A reboot makes checking exact again.

The candidates themselves, and the reads that take a failure for an answer after a fault, are in
`kvcheck.machine.core`: closing and reopening the store use them too.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kvcheck.machine.core import HarnessCore, State, show
from kvcheck.machine.ops import Op
from kvcheck.models import ReferenceKV

#: Candidate states kept at most while faults make the store's state uncertain.
_CANDIDATES_MAX = 16


class Faults(HarnessCore):
    """The fault-injecting operations of `Harness`, and how faults make checking uncertain."""

    def fail_disk(self, op: str, times: int | None = 1, skip: int = 0) -> None:
        """After `skip` more disk `op`s ("read", "write" or "sync") succeed, make the next
        `times` fail, or the file system fill ("space", where the device models it) (None:
        until the next reboot). From now until then, operations may fail but never return wrong
        data; a store that says it refused a write for lack of space (`DiskFullError`) promises
        that write changed nothing."""
        self._begin(Op("fail_disk", (op, times) if not skip else (op, times, skip)))
        if self.target.disk is None or op not in self.target.disk.FAULTS:
            return
        self.target.disk.fail(op, times, skip=skip)
        self._relaxed = True
        self.coverage.reach(f"fault-{op}" if times == 1 else f"fault-{op}-until-reboot")

    def flip_bit(self, bit: int) -> None:
        """Flip bit `bit` (modulo its length) of the next disk read's result."""
        self._begin(Op("flip_bit", (bit,)))
        if self.target.disk is None:
            return
        self.target.disk.flip_bit_on_read(bit)
        self._relaxed = True
        self.coverage.reach("fault-bitflip")

    def _observe(self, agrees: Callable[[State], bool], what: Callable[[], str]) -> None:
        """Keep the candidate states a result agrees with; fail if it agrees with none."""
        if not self._alternatives and agrees(self._data):
            return
        states = [s for s in self._states() if agrees(s)]
        want = (
            show(self.model.scan())
            if not self._alternatives
            else f"any of {len(self._states())} states"
        )
        self._expect(bool(states), f"{what()}, but the model holds {want}")
        self._become(states[0], states[1:])

    def _split(self, apply: Callable[[ReferenceKV], Any]) -> None:
        """A mutation failed after a fault: every candidate splits in two, as it may or may not
        have happened."""
        self.coverage.reach("fault-surfaced")
        happened = [dict(s) for s in self._states()]
        for state in happened:
            apply(ReferenceKV(state, self.target.limits))
        self.crash_model.maybe(happened[0])
        merged = self._alternatives + [s for s in happened if s not in self._states()]
        self._alternatives = merged[: _CANDIDATES_MAX - 1]
