"""The harness: applies each operation to a target and to the models, and compares.

A property is a sequence of harness calls, so the same object runs inside Hypothesis state
machines and in the regression tests `kvcheck` writes: a failure found by one replays in the
other exactly.

Theory of operation. The harness keeps `ReferenceKV` over the state the store must hold. Most of
the time that state is known exactly and every result must match it. Two things make it
uncertain, and the harness then keeps *candidates*, the states the store may legally hold:

- an injected disk fault (`fail_disk`, `flip_bit`): from then until the next reboot any
  operation may fail with a `KVError`, but none may return data that is in no candidate; a
  mutation that fails may or may not have happened, so it doubles the candidates. Each result
  the store does return prunes the candidates to those that agree with it.
- a crash (`dirty_reboot`): the recovered state must be one `CrashModel` allows, the state after
  a prefix of the history holding every mutation whose dependency was persistent.

Damage at rest (`damage`) is checked on its own terms: the store is closed cleanly (so
everything is persistent), its storage damaged, and reopened; every read must then return the
model's value or raise `CorruptionError`, and `fsck` must have flagged the damage if anything
was refused or unreadable. A store that lost anything is then put back as it was before the
damage, so checking stays exact.

After either, the store's state becomes the model's again and checking is exact.
"""

from __future__ import annotations

import contextlib
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
    Coverage,
)
from kvcheck.machine.damage import Damage
from kvcheck.machine.ops import Op, render_bytes
from kvcheck.machine.targets import Store, Target
from kvcheck.models import ReferenceKV
from kvcheck.models.crash import CrashModel
from kvnode.errors import CorruptionError, DataDirError, DiskFullError, KVError
from kvnode.simdisk import CrashPlan, PendingWrite, PowerLoss

_HEADER_BYTES = 24
#: Candidate states kept at most while faults make the store's state uncertain.
_CANDIDATES_MAX = 16
State = dict[bytes, bytes]
Pairs = list[tuple[bytes, bytes]]


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
    """A target and the models side by side; every call records and checks one operation."""

    def __init__(
        self,
        target: Target,
        coverage: Coverage | None = None,
        *,
        crashes: bool = True,
        faults: bool = False,
        damage: bool = False,
    ):
        self.target = target
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
        self._damage = damage and target.can_damage and target.can_reboot
        if not self._damage:
            self.coverage.not_applicable |= DAMAGE_STATES | DAMAGE_OPS
        # States the target says it cannot reach (a store that never fills: disk-full).
        self.coverage.not_applicable |= set(target.not_applicable)

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

    # -- reboots, crashes and faults ---------------------------------------------------------

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

    def fail_disk(self, op: str, times: int | None = 1) -> None:
        """Make the next `times` disk `op`s ("read", "write" or "sync") fail (None: until the
        next reboot). From now until then, operations may fail but never return wrong data."""
        self._begin(Op("fail_disk", (op, times)))
        if self.target.disk is None:
            return
        self.target.disk.fail(op, times)  # type: ignore[arg-type]
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

    def close(self) -> None:
        """Close the store and release the target."""
        try:
            self._close_store(check_progress=False)
        finally:
            self.target.cleanup()

    def run(self, op: Op) -> None:
        """Apply `op` (as recorded in a log)."""
        getattr(self, op.kind)(*op.args)

    # -- machinery ---------------------------------------------------------------------------

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

    def _become(self, state: State, alternatives: list[State]) -> None:
        if state is not self._data:
            self._data.clear()
            self._data.update(state)
        self._alternatives = [dict(s) for s in alternatives if s != self._data]

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
            self.coverage.reach("fault-surfaced")
            # It may or may not have happened: every candidate splits in two.
            happened = [dict(s) for s in self._states()]
            for state in happened:
                apply(ReferenceKV(state, self.target.limits))
            self.crash_model.maybe(happened[0])
            merged = self._alternatives + [s for s in happened if s not in self._states()]
            self._alternatives = merged[: _CANDIDATES_MAX - 1]
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

    def _maintain(self, call: Callable[[], Any]) -> bool:
        """Run sync, flush or reclaim; True if it succeeded."""
        try:
            result = self._read(call)
        except DiskFullError:
            self.coverage.reach("disk-full")
            return False
        return result is not _FAILED

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


_CRASH_DURING = {
    "put": "crash-during-put",
    "delete": "crash-during-put",
    "sync": "crash-during-sync",
    "flush_index": "crash-during-flush_index",
    "reclaim": "crash-during-reclaim",
    "clean_reboot": "crash-during-close",
}


class _Failed:
    """Marks a store call that failed cleanly after a fault."""


_FAILED: Any = _Failed()


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
