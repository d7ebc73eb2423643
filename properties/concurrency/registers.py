"""Linearizability in polynomial time when every written value is unique (read-mapped registers).

Theory of operation. When each put on a key writes a value no other put on that key writes (and
not the key's initial value), every successful read names the write it saw: the *read mapping*
is known, and checking a register becomes polynomial (Gibbons & Korach, "Testing shared
memories", 1997; Jepsen's Elle uses the same idea). `check_registers` decides one group of keys
(see `kvcheck.concurrency.linearizability`) this way, or returns None when its preconditions do
not hold, and the caller then runs the exact search instead.

* Clusters. For each key, a *cluster* is a write and the reads that saw it; the key's initial
  contents (a value, or absence) form one more cluster whose write is virtual and precedes
  everything. A get contributes one read; a scan contributes a read of every key of the group in
  its range (absence is a read of None). An indeterminate write that nobody read is left out: it
  may never have happened. A read naming a value no included write wrote is not linearizable.
* Deletes. A delete writes None, which is not unique, so a read of None must first be attributed
  to one *source*: the initial absence or a delete. A source is a candidate unless it was invoked
  after the read completed, or some acknowledged write on the key was invoked after the source
  completed and completed before the read was invoked (the source was certainly overwritten).
  No candidate: not linearizable. One: the read joins that source's cluster. More: the read
  mapping is not known, and `check_registers` gives up (None).
* Time. Ticks are doubled, a call at ``2t`` and a return at ``2t + 1``, so a call and a return
  at the same tick overlap, as in the search. Every operation must take effect strictly inside
  its doubled interval.
* One key. A linearization puts each cluster's operations in one contiguous *span*, write first.
  Let ``f`` be the earliest completion and ``s`` the latest invocation among a cluster's
  operations. If some operation of cluster A completed before some operation of cluster B was
  invoked (``f_A < s_B``), A's span must precede B's: A *must precede* B. The key is
  linearizable iff no read completed before its own write was invoked and no two clusters must
  each precede the other. (Such 2-cycles are exactly Gibbons & Korach's overlapping *forward
  zones*, ``f <= s``, and backward zones, ``s < f``, contained in a forward zone; longer cycles
  always contain a 2-cycle, because ``f_A < s_B`` is a Ferrers relation.) A witness: span each
  forward cluster just around ``[f, s]`` and put each backward cluster at one instant just after
  ``s``, or just after the forward zone that holds ``s``; every operation's point is then inside
  its interval and spans are disjoint. Sorting clusters and checking neighbours is O(n log n).
* Scans read many keys at one instant, which couples the keys. Every key is first checked with
  each scan as an ordinary read (necessary conditions, so a failure is a true verdict). Then each
  scan gets a fixed point: the earliest instant its clusters' must-precede constraints allow on
  every key it reads, outside other clusters' forward zones. Those limits are all necessary, so a
  scan with no such instant is not linearizable. With the points fixed the keys are independent
  again and the one-key check applies; if it passes, the witness covers every key at once. If it
  fails, the choice of points may be to blame, not the history, so `check_registers` gives up
  (None) rather than guess.
* Safety net. A witness is replayed against a dict and checked against real-time order before
  it is reported; if that ever failed, `check_registers` would give up rather than be wrong.

Explanations. On failure the reported culprit is a read (one that names no write, completed
before its write began, or lies on a 2-cycle, where the later-invoked read is blamed). To find a
long linearizable prefix, the culprit is set aside and the operations invoked before it completed
are checked again (reads of writes invoked later left out too, and set aside as culprits if they
completed before that); another failure sets aside its culprit and cuts earlier; a success is
the prefix. Every operation it leaves out was invoked
after the culprit completed or could still take effect later, so the prefix is a valid start of
a linearization of the group, and the culprit is the set-aside read with the earliest deadline.
"""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Iterable, Mapping, Sequence

import attrs

from kvcheck.concurrency.history import Operation, Pairs

#: A completion time later than any other: writes that may take effect whenever after their call.
_NEVER = 1 << 62
_OK, _BAD, _UNDECIDED = range(3)
#: Passes of the explanation that set aside one culprit each before setting aside all at once.
_PATIENCE = 16


@attrs.frozen
class Found:
    """One group's verdict: a linearization (ok), or a prefix, culprit, pending ops and state."""

    ok: bool
    order: tuple[Operation, ...]
    culprit: Operation | None = None
    pending: tuple[Operation, ...] = ()
    state: Pairs = ()


@attrs.frozen
class _Slot:
    """One key's clusters after a successful check, enough to place scans and build a witness."""

    writes: list[int]  # per cluster: the write's op index, or -1 - slot for the initial one
    reads: list[list[int]]
    first: list[int]  # f: earliest completion
    last: list[int]  # s: latest invocation
    top: list[int]  # the op invoked last (a read, on a tie)
    forward: list[int]  # forward clusters (f <= s) by f; their zones are disjoint
    starts: list[int]  # f of each forward cluster, in that order
    at: list[int]  # backward clusters: the time they are placed just after; else 0


def check_registers(
    keys: Sequence[bytes],
    ops: Sequence[Operation],
    initial: Mapping[bytes, bytes],
    *,
    verify: bool = True,
) -> Found | None:
    """Decide one group with unique written values in polynomial time; None if it cannot.

    `keys` are the group's sorted keys and `ops` its included operations. None means the
    preconditions fail (a value written twice, a read of None with several possible sources) or
    scans could not be placed; the caller should then search. `verify=False` skips replaying
    the witness, so that tests exercise the algorithm itself rather than its safety net.
    """
    if not keys:
        # Only scans of empty ranges (or nothing): each is fine anywhere iff it saw nothing.
        if any(op.result for op in ops):
            return None  # the search explains it
        return Found(True, tuple(sorted(ops, key=lambda op: op.invoke)))
    registers = _Registers.build(keys, ops, initial)
    if registers is None:
        return None
    registers.verify = verify
    if not registers.bad:
        outcome, items = registers.arrange(range(len(ops)))
        if outcome == _OK:
            return Found(True, tuple(ops[i] for i in items))
        if outcome == _UNDECIDED:
            return None
        return registers.explain(items)
    return registers.explain(sorted(registers.bad))


class _Registers:
    """One group's operations, indexed, timed and read-mapped."""

    def __init__(self, keys: Sequence[bytes], ops: Sequence[Operation]) -> None:
        self.keys = keys
        self.ops = ops
        self.slot_of = {key: j for j, key in enumerate(keys)}
        # Scans get points between doubled ticks, so ticks are spaced to leave room for all.
        self.scale = 2 + sum(op.kind == "scan" for op in ops)
        self.inv: list[int] = []
        self.comp: list[int] = []
        self.slot: list[int] = []
        self.is_read: list[bool] = []
        self.ok: list[bool] = []
        #: Writes that certainly took effect, and so always form a cluster.
        self.acknowledged: list[bool] = []
        #: Per read: the (slot, source) of each key it reads; a source is the index of a write,
        #: or -1 - slot for the key's initial contents.
        self.sources: list[tuple[tuple[int, int], ...]] = [()] * len(ops)
        #: Reads that cannot be mapped to any write: not linearizable whatever the order.
        self.bad: set[int] = set()
        self.initial: list[bytes | None] = []
        self.verify = True

    @classmethod
    def build(
        cls, keys: Sequence[bytes], ops: Sequence[Operation], initial: Mapping[bytes, bytes]
    ) -> _Registers | None:
        self = cls(keys, ops)
        self.initial = [initial.get(key) for key in keys]
        scale, slot_of, sources = self.scale, self.slot_of, self.sources
        inv, comp, slots = self.inv, self.comp, self.slot
        is_read, ok, acknowledged = self.is_read, self.ok, self.acknowledged
        writer: list[dict[bytes, int]] = [{} for _ in keys]  # per slot: value -> its put
        writes_of: list[list[int]] = [[] for _ in keys]
        absent: list[list[int]] = [[] for _ in keys]  # per slot: reads that saw None
        scans: list[int] = []
        gets: list[int] = []
        for i, op in enumerate(ops):
            inv.append(2 * op.invoke * scale)
            done = op.outcome == "ok"
            ok.append(done)
            comp.append(_NEVER if not done else (2 * op.complete + 1) * scale)  # type: ignore[operator]
            kind = op.kind
            if kind == "scan":
                slots.append(-1)
                is_read.append(True)
                acknowledged.append(False)
                scans.append(i)
                continue
            s = slot_of[op.key]  # type: ignore[index]
            slots.append(s)
            if kind == "get":
                is_read.append(True)
                acknowledged.append(False)
                gets.append(i)
                continue
            is_read.append(False)
            acknowledged.append(done)
            writes_of[s].append(i)
            if kind == "put":
                value = op.value
                if value == self.initial[s] or value in writer[s]:
                    return None  # a value written twice: the read mapping is not known
                writer[s][value] = i  # type: ignore[index]
        unknown = -2 - len(keys)

        def source_of(s: int, value: bytes) -> int:
            if value == self.initial[s]:
                return -1 - s
            return writer[s].get(value, unknown)

        for i in gets:
            s = slots[i]
            seen_value = ops[i].result
            if seen_value is None:
                absent[s].append(i)
                continue
            assert isinstance(seen_value, bytes)
            source = source_of(s, seen_value)
            if source == unknown:
                self.bad.add(i)  # it saw a value nobody wrote
            else:
                sources[i] = ((s, source),)
        # Per multi-key read: (slot, source, or None for a read of None, attributed below).
        seen: dict[int, list[tuple[int, int | None]]] = {}
        for i in scans:
            op = ops[i]
            pairs = self._scan_pairs(op)
            if pairs is None:
                self.bad.add(i)
                continue
            lo, hi = _scan_run(keys, op)
            mine: list[tuple[int, int | None]] = []
            seen[i] = mine
            for s in range(lo, hi):
                found_value = pairs.get(keys[s])
                if found_value is None:
                    mine.append((s, None))
                    absent[s].append(i)
                else:
                    mine.append((s, source_of(s, found_value)))
        chosen: dict[tuple[int, int], int] = {}
        for s, readers in enumerate(absent):
            if readers:
                found = self._attribute_absence(s, readers, writes_of[s])
                if found is None:
                    return None
                chosen.update(found)
        for i in gets:
            if ops[i].result is None:
                source = chosen.get((i, slots[i]), unknown)
                if source == unknown:
                    self.bad.add(i)  # no source of None could be the last write it saw
                else:
                    sources[i] = ((slots[i], source),)
        for i, pairs_seen in seen.items():
            mapped = []
            for s, maybe in pairs_seen:
                source = chosen.get((i, s), unknown) if maybe is None else maybe
                if source == unknown:
                    self.bad.add(i)
                    break
                mapped.append((s, source))
            else:
                sources[i] = tuple(mapped)
        return self

    def _scan_pairs(self, op: Operation) -> dict[bytes, bytes] | None:
        """The scan's result as a dict, or None if no state could produce it."""
        assert isinstance(op.result, tuple) and op.start is not None
        pairs = dict(op.result)
        result_keys = [k for k, _ in op.result]
        if len(pairs) != len(result_keys) or result_keys != sorted(result_keys):
            return None  # a dict's scan is sorted with no duplicates
        for key in result_keys:
            if key not in self.slot_of or key < op.start or (op.end is not None and key >= op.end):
                return None
        return pairs

    def _attribute_absence(
        self, s: int, readers: list[int], writes: list[int]
    ) -> dict[tuple[int, int], int] | None:
        """Map each read of None on slot `s` to its only candidate source (see the docstring).

        `writes` are the slot's puts and deletes. None if some read has several candidates; a
        read with none is left out of the result.
        """
        ops, inv, comp = self.ops, self.inv, self.comp
        sources = [i for i in writes if ops[i].kind == "delete"]
        if self.initial[s] is None:
            sources.append(-1 - s)

        def start(x: int) -> int:
            return inv[x] if x >= 0 else -2 * self.scale

        def end(x: int) -> int:
            return comp[x] if x >= 0 else -self.scale

        done = sorted((comp[i], inv[i]) for i in writes if ops[i].outcome == "ok")
        write_ends = [c for c, _ in done]
        latest_start = []  # latest invocation among writes completed so far
        best = -_NEVER
        for _, i in done:
            best = max(best, i)
            latest_start.append(best)
        by_end = sorted(sources, key=end)
        ends = [end(x) for x in by_end]
        by_start = sorted(sources, key=start)
        chosen: dict[tuple[int, int], int] = {}
        active: set[int] = set()
        n_started = n_ended = 0
        for r in sorted(readers, key=lambda r: comp[r]):
            deadline = comp[r]
            # Sources still in flight when the read completed: they may take effect before it.
            while n_started < len(by_start) and start(by_start[n_started]) < deadline:
                active.add(by_start[n_started])
                n_started += 1
            while n_ended < len(by_end) and ends[n_ended] <= deadline:
                active.discard(by_end[n_ended])
                n_ended += 1
            j = bisect.bisect_left(write_ends, inv[r])
            overwritten_before = latest_start[j - 1] if j else -_NEVER
            lo = bisect.bisect_right(ends, overwritten_before)
            hi = bisect.bisect_right(ends, deadline)
            count = max(0, hi - lo) + len(active)
            if count > 1:
                return None
            if count == 1:
                chosen[r, s] = by_end[lo] if hi > lo else next(iter(active))
        return chosen

    # -- checking a set of operations --------------------------------------------------------

    def arrange(self, active: Sequence[int] | range) -> tuple[int, list[int]]:
        """(_OK, a linearization), (_BAD, culprit reads) or (_UNDECIDED, [])."""
        clusters: list[dict[int, list[int]]] = [{} for _ in self.keys]
        scans = []
        is_read, acknowledged, sources, slot_of = (
            self.is_read,
            self.acknowledged,
            self.sources,
            self.slot,
        )
        for i in active:
            if is_read[i]:
                mapped = sources[i]
                if len(mapped) == 1:
                    s, source = mapped[0]
                    clusters[s].setdefault(source, []).append(i)
                    continue
                scans.append(i)
                for s, source in mapped:
                    clusters[s].setdefault(source, []).append(i)
            elif acknowledged[i]:
                clusters[slot_of[i]].setdefault(i, [])
        slots: list[_Slot] = []
        culprits: list[int] = []
        for members in clusters:
            slot = self._check_slot(members, self.inv, self.comp, culprits)
            if slot is not None:
                slots.append(slot)
        if culprits:
            return _BAD, culprits
        inv, comp = self.inv, self.comp
        free = [i for i in scans if not sources[i]]  # a scan over no key of the group
        scans = [i for i in scans if sources[i]]
        if scans:
            inv, comp = list(inv), list(comp)
            changed = self._place_scans(scans, slots, inv, comp)
            if isinstance(changed, int):
                return _BAD, [changed]
            for s in sorted(changed):
                again = slots[s], changed[s]
                slot = self._check_slot(clusters[s], inv, comp, culprits, again)
                if slot is None:
                    return _UNDECIDED, []  # the scans' points may be to blame, not the history
                slots[s] = slot
        order = self._witness(slots, inv, comp, scans, free)
        if self.verify and not self._valid(order, sum(self.ok[i] for i in active)):
            return _UNDECIDED, []
        return _OK, order

    def _check_slot(
        self,
        members: dict[int, list[int]],
        inv: list[int],
        comp: list[int],
        culprits: list[int],
        again: tuple[_Slot, set[int]] | None = None,
    ) -> _Slot | None:
        """The one-key check; on failure appends culprits and returns None.

        `again`: an earlier result for the same members and the clusters whose times changed
        since; the others keep their earliest completion and latest invocation.
        """
        writes = list(members)
        n = len(writes)
        if again is None:
            first, last, top = [0] * n, [0] * n, [0] * n
            redo: Iterable[int] = range(n)
        else:
            first, last, top = list(again[0].first), list(again[0].last), list(again[0].top)
            redo = sorted(again[1])
        failed = False
        for c in redo:
            w = writes[c]
            f, s, t = (comp[w], inv[w], w) if w >= 0 else (-self.scale, -2 * self.scale, w)
            begun = s
            for r in members[w]:
                if comp[r] < begun:
                    culprits.append(r)  # it saw a write that had not even been invoked
                    failed = True
                f = min(f, comp[r])
                if inv[r] >= s:
                    s, t = inv[r], r
            first[c], last[c], top[c] = f, s, t
        if failed:
            return None
        forward = sorted((c for c in range(n) if first[c] <= last[c]), key=first.__getitem__)
        for a, b in itertools.pairwise(forward):
            if first[b] <= last[a]:  # overlapping forward zones: each must precede the other
                culprits.append(self._blame(top[a], top[b]))
                failed = True
        if failed:
            return None
        starts = [first[c] for c in forward]
        at = [0] * n
        for c in range(n):
            if first[c] <= last[c]:
                continue
            at[c] = last[c]
            j = bisect.bisect_left(starts, last[c]) - 1  # the zone that may hold its window
            if j >= 0 and last[c] <= last[forward[j]]:
                z = forward[j]
                if first[c] <= last[z]:  # a backward zone inside a forward one
                    culprits.append(self._blame(top[c], top[z]))
                    failed = True
                at[c] = last[z]
        if failed:
            return None
        return _Slot(writes, [members[w] for w in writes], first, last, top, forward, starts, at)

    def _blame(self, a: int, b: int) -> int:
        """The read to blame for a 2-cycle between the clusters whose latest ops are a and b."""
        reads = [x for x in (a, b) if x >= 0 and self.is_read[x]]
        assert reads, "a 2-cycle always has a read at the end of a forward zone"
        return max(reads, key=lambda x: (self.inv[x], self.comp[x], x))

    def _place_scans(
        self, scans: list[int], slots: list[_Slot], inv: list[int], comp: list[int]
    ) -> dict[int, set[int]] | int:
        """Give each scan a point (in `inv` and `comp`) its clusters allow.

        Returns the clusters, by slot, that hold a scan and so have new times; or a scan that
        no point suits. Every limit is necessary (a must-precede bound, or another cluster's
        forward zone, which that cluster's span covers), so such a scan is truly misplaced.
        """
        cluster_of: dict[int, dict[int, int]] = {}
        bounds: dict[int, _Bounds] = {}
        changed: dict[int, set[int]] = {}
        for n, i in enumerate(scans):
            lo, hi = inv[i], comp[i]
            mine = []
            for s, source in self.sources[i]:
                if s not in bounds:
                    cluster_of[s] = {w: c for c, w in enumerate(slots[s].writes)}
                    bounds[s] = _Bounds(slots[s])
                    changed[s] = set()
                c = cluster_of[s][source]
                changed[s].add(c)
                mine.append((s, c))
                w = slots[s].writes[c]
                lo = max(lo, inv[w] if w >= 0 else -2 * self.scale, bounds[s].after(c))
                hi = min(hi, bounds[s].before(c))
            moved = True
            while moved:  # step past other clusters' forward zones, which no point may enter
                moved = False
                for s, c in mine:
                    slot = slots[s]
                    j = bisect.bisect_right(slot.starts, lo) - 1
                    if j >= 0 and slot.forward[j] != c and slot.last[slot.forward[j]] > lo:
                        lo = slot.last[slot.forward[j]]
                        moved = True
            point = lo + 1 + n
            if point >= hi:
                return i
            inv[i] = comp[i] = point
        return changed

    def _witness(
        self, slots: list[_Slot], inv: list[int], comp: list[int], scans: list[int], free: list[int]
    ) -> list[int]:
        """Every clustered op sorted by its point (module docstring); scans sit at theirs."""
        # A point is (time, code, cluster, member, op), packed in one int because ints sort
        # three times faster than tuples. Codes: 0 just before the time (a forward cluster's
        # write), 1 after that (its reads invoked earlier), 2 at it (a scan), 3 just after it (a
        # read invoked then), 4 a backward cluster (write, then reads) and 5 a scan of no key.
        n = len(self.ops) + 1
        per_code = (2 * n + 2) * n
        per_time = 8 * per_code
        offset = 4 * self.scale  # the initial contents' virtual write is at negative times
        keyed: list[int] = []
        add = keyed.append
        for slot in slots:
            first, last, at, reads = slot.first, slot.last, slot.at, slot.reads
            for c, w in enumerate(slot.writes):
                f = first[c]
                if f <= last[c]:
                    base = (f + offset) * per_time
                    if w >= 0:
                        add(base + w)
                    for r in reads[c]:
                        v = inv[r]
                        if v == comp[r]:
                            continue  # a multi-key scan, at its fixed point (below)
                        if v < f:
                            add(base + per_code + r)
                        else:
                            add((v + offset) * per_time + 3 * per_code + r)
                else:
                    base = (at[c] + offset) * per_time + 4 * per_code + 2 * c * n
                    if w >= 0:
                        add(base + w)
                    for r in reads[c]:
                        add(base + n + r)
        for i in scans:
            add((inv[i] + offset) * per_time + 2 * per_code + i)
        for i in free:
            add((inv[i] + offset) * per_time + 5 * per_code + i)
        keyed.sort()
        return [key % n for key in keyed]

    def _valid(self, order: Sequence[int], acknowledged: int) -> bool:
        """Whether `order` holds the `acknowledged` ok ops once each, respects real time, and a
        dict returns in it what each read saw."""
        if len(set(order)) != len(order) or sum(self.ok[i] for i in order) != acknowledged:
            return False
        latest = -1
        state: dict[bytes, bytes | None] = dict(zip(self.keys, self.initial, strict=True))
        for i in order:
            op = self.ops[i]
            if op.outcome == "ok" and op.complete is not None and op.complete < latest:
                return False
            latest = max(latest, op.invoke)
            if op.kind == "scan":
                lo, hi = _scan_run(self.keys, op)
                seen = tuple((k, v) for k in self.keys[lo:hi] if (v := state[k]) is not None)
                if seen != op.result:
                    return False
                continue
            assert op.key is not None
            if op.kind == "get":
                if state[op.key] != op.result:
                    return False
            else:
                state[op.key] = op.value  # None for a delete
        return True

    # -- explanations -----------------------------------------------------------------------

    def explain(self, culprits: Sequence[int]) -> Found | None:
        """The failure, with a long linearizable prefix (module docstring); None: search."""
        ops = self.ops

        def deadline(i: int) -> tuple[int, int]:
            complete = ops[i].complete
            assert complete is not None  # culprits are acknowledged reads
            return complete, i

        aside = set(self.bad)
        aside.add(min(culprits, key=deadline))
        passes = 0
        while True:
            culprit = min(aside, key=deadline)
            cut = deadline(culprit)[0]
            active, early = [], []
            for i, op in enumerate(ops):
                if op.invoke > cut or i in aside:
                    continue
                if all(src < 0 or ops[src].invoke <= cut for _, src in self.sources[i]):
                    active.append(i)
                elif deadline(i)[0] < cut:
                    early.append(i)  # it completed before the write it saw was even invoked
            if early:
                aside.update(early)
                continue
            outcome, items = self.arrange(active)
            if outcome == _UNDECIDED:
                return None
            if outcome == _OK:
                break
            passes += 1
            aside.update(items if passes > _PATIENCE else [min(items, key=deadline)])
        prefix = set(items)
        pending = tuple(
            ops[i]
            for i in sorted(range(len(ops)), key=lambda i: (ops[i].invoke, i))
            if ops[i].invoke <= cut and i not in prefix and i != culprit
        )
        state: dict[bytes, bytes | None] = dict(zip(self.keys, self.initial, strict=True))
        for i in items:
            op = ops[i]
            if op.is_write:
                assert op.key is not None
                state[op.key] = op.value
        contents = tuple((k, v) for k, v in state.items() if v is not None)
        return Found(
            False,
            tuple(ops[i] for i in items),
            culprit=ops[culprit],
            pending=pending,
            state=contents,
        )


class _Bounds:
    """Must-precede limits of one key's clusters: where a scan read of cluster c may go."""

    def __init__(self, slot: _Slot) -> None:
        first, last = slot.first, slot.last
        n = len(first)
        self.by_first = sorted(range(n), key=first.__getitem__)
        self.firsts = [first[c] for c in self.by_first]
        self.by_last = sorted(range(n), key=last.__getitem__)
        self.lasts = [last[c] for c in self.by_last]
        self.slot = slot
        # Running top two (value, cluster), so that a query can leave out the cluster asked about.
        self.prefix_last = _top_two([last[c] for c in self.by_first], self.by_first, largest=True)
        back = list(reversed(self.by_last))
        self.suffix_first = _top_two([first[c] for c in back], back, largest=False)

    def after(self, c: int) -> int:
        """The latest invocation among clusters that must precede c (-1 if none)."""
        slot = self.slot
        j = bisect.bisect_left(self.firsts, slot.last[c])
        if j == 0:
            return -1
        (v1, c1), (v2, _) = self.prefix_last[j - 1]
        return v1 if c1 != c else v2

    def before(self, c: int) -> int:
        """The earliest completion among clusters that c must precede (_NEVER if none)."""
        slot = self.slot
        j = bisect.bisect_right(self.lasts, slot.first[c])
        k = len(self.lasts) - 1 - j  # index into the reversed running minimum
        if k < 0:
            return _NEVER
        (v1, c1), (v2, _) = self.suffix_first[k]
        return v1 if c1 != c else v2


def _top_two(
    values: Sequence[int], ids: Sequence[int], *, largest: bool
) -> list[tuple[tuple[int, int], tuple[int, int]]]:
    sign = 1 if largest else -1
    best = second = (-_NEVER, -1)  # signed, so that one comparison serves max and min
    out = []
    for v, c in zip(values, ids, strict=True):
        key = sign * v
        if key > best[0]:
            best, second = (key, c), best
        elif key > second[0]:
            second = (key, c)
        out.append(((sign * best[0], best[1]), (sign * second[0], second[1])))
    return out


def _scan_run(keys: Sequence[bytes], op: Operation) -> tuple[int, int]:
    assert op.start is not None
    lo = bisect.bisect_left(keys, op.start)
    hi = len(keys) if op.end is None else bisect.bisect_left(keys, op.end)
    return lo, max(lo, hi)
