"""Damage at rest: what a store must do when its storage was damaged while it was closed.

The store is closed cleanly (so everything is persistent), its storage damaged (the kinds of
damage are `kvcheck.machine.damage`), and reopened; every read must then return the model's
value or raise `CorruptionError`, and `fsck` must have flagged the damage if anything was
refused or unreadable. A store that lost anything is then put back as it was before the damage,
so checking stays exact.
"""

from __future__ import annotations

import contextlib

from kvcheck.machine.core import HarnessCore, show
from kvcheck.machine.damage import Damage
from kvcheck.machine.ops import Op
from kvcheck.models.crash import CrashModel
from kvnode.errors import CorruptionError, DataDirError, KVError


class DamageAtRest(HarnessCore):
    """The damaging operation of `Harness`."""

    #: Whether damage at rest is on, for a target that can be damaged and rebooted.
    _damage: bool

    def damage(
        self,
        how: str,
        region: int = 0,
        offset: int = 0,
        from_end: bool = False,
        bits: int = 0,
        flush_first: bool = False,
    ) -> None:
        """Close the store (flushing its index first if `flush_first`, so that an index run is
        there to damage), damage its storage at rest (see `kvcheck.machine.damage`), reopen: it
        refuses with a documented error, or every read is right or raises `CorruptionError`;
        and if anything was lost, `fsck` said so before the reopen."""
        self._begin(Op("damage", (how, region, offset, from_end, bits, flush_first)))
        if not self._damage or self._relaxed or self._alternatives:
            return
        if flush_first:
            self._maintain(self.store.flush_index)
        self._close_store(check_progress=True)
        saved = self.target.save()
        where = self.target.damage(Damage(how, region, offset, from_end, bits))  # type: ignore[arg-type]
        if where is None:
            self._reopen(self._states(), "a clean reboot")
            return
        report = self.target.fsck()
        lost = self._open_damaged(where)
        if lost is None:
            self.coverage.reach("damage-tolerated")
            self._pending.clear()
            self.crash_model = CrashModel(self._data)
            return
        self._expect(
            report is None or not report.ok,
            f"after damage ({where}) {lost}, but fsck called the store clean",
        )
        self.target.restore(saved)
        self._reopen(self._states(), f"putting back the storage damaged ({where})")

    def _open_damaged(self, where: str) -> str | None:
        """Reopen after damage and read everything; what was lost, or None if nothing was."""
        try:
            self.store = self.target.open()
        except (CorruptionError, DataDirError) as err:
            self.coverage.reach("damage-refused")
            return f"reopening was refused ({type(err).__name__}: {err})"
        failed: list[bytes] = []
        try:
            got = self._scan()
        except CorruptionError:
            got = None
        want = self.model.scan()
        if got is not None:
            self._expect(
                got == want,
                f"after damage ({where}) the store holds {show(got)}, the model {show(want)}",
            )
        for key in sorted(set(self._written_at) | set(self._data)):
            try:
                value = self.store.get(key)
            except CorruptionError:
                failed.append(key)
                continue
            expected = self.model.get(key)
            missing = " (a synced key silently missing)" if value is None else ""
            self._expect(
                value == expected,
                f"after damage ({where}) get({show(key)}) returned {show(value)}{missing}, "
                f"the model holds {show(expected)}",
            )
        if got is None and not failed:
            self._expect(False, f"after damage ({where}) scan raised but every get succeeded")
        if not failed:
            return None
        self.coverage.reach("damage-read-failed")
        with contextlib.suppress(KVError):
            self.store.close()
        return f"get({show(failed[0])}) raised CorruptionError"
