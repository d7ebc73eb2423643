"""Is a concurrent key-value history linearizable against `ReferenceKV`'s semantics (a dict)?

Theory of operation. A history is linearizable when every operation can be given a point in time
inside its interval, such that applying the operations one at a time in the order of their points
to a dict yields exactly the results the clients saw. `check` searches for such an order with the
Wing & Gong algorithm as improved by Lowe ("Testing for linearizability", 2017), the one
Porcupine and Knossos use:

* Each operation contributes a *call* entry at its invocation and a *return* entry at its
  completion; the entries sit in one doubly linked list in time order (a call sorts before a
  return at the same tick, so operations that merely touch count as concurrent).
* Walking the list from its head, every call met before the first return is a *minimal*
  operation: nothing still unlinearized completed before it began, so it may go next. The search
  applies it to the model; if the model agrees with its result, it unlinks the call and its
  return (pushing them on a stack) and starts again from the head.
* Meeting a return means that operation had to be linearized by now and was not: a dead end.
  The search pops the last choice, relinks it, and tries the next call after it.
* Memoisation (Lowe): a configuration is the set of linearized operations (a bitset int) and the
  model state (a tuple of values, one slot per key, so it hashes); one already explored is never
  explored again. This turns the factorial search into one bounded by distinct configurations.

Outcomes. Failed operations are dropped: they did not happen. An indeterminate read observes
nothing and is dropped too. An indeterminate write (put or delete) may have taken effect at any
time after its invocation, or never: it gets a call entry but no return entry (its completion is
at infinity), so the search may place it anywhere after its call; and when the walk runs off the
end of the list, every operation left is such an optional write, and the search succeeds without
them.

Partitioning (P-compositionality: linearizability is local, Herlihy & Wing). Operations on
different keys do not interact, so each key's sub-history is checked on its own, which keeps
every search small. A scan reads many keys at once: it ties together every key of the history in
its range [start, end). Since each scan covers a contiguous run of the sorted keys, the groups
of keys that must be checked together are the merged, overlapping runs; each other key stays on
its own. A scan whose range holds no key forms a group of its own, with no keys. On success, the
per-group orders are merged into one linearization of the whole history (each operation's point
is the latest invocation at or before it in its group's order, which stays within its interval).

Unique values (the fast path). The search is exponential in the worst case, which high
concurrency on one key reaches. When every put on a key writes a distinct value, each read names
the write it saw, and `kvcheck.concurrency.registers` decides the group in O(n log n) instead
(its docstring has the algorithm). `check` tries it first on each group and searches only the
groups it declines: values written twice (say, a history loaded from JSON), reads of None that
more than one delete could explain, or scans it could not place. Both are exact; the fast path
only changes the cost, and on failure it reports a prefix, state and culprit of the same kind.

Explanations. When a group has no linearization, the result reports the deepest dead end the
search met: the longest prefix it managed to linearize, the model state after it, and the
*culprit*, the operation whose return entry was reached there, i.e. the operation that had to
take effect before it completed, when neither it nor any other pending operation could be placed
next (each contradicted the state, or led only to dead ends already explored).
"""

from __future__ import annotations

import bisect
import contextlib
import gc
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Literal

import attrs

from kvcheck.concurrency.history import History, Operation, Pairs, short_bytes
from kvcheck.concurrency.registers import Found as _Found
from kvcheck.concurrency.registers import check_registers

#: "auto": the polynomial read-mapping check where it applies, else the search; "search": always
#: the search (the general algorithm, and the oracle the fast path is tested against).
Method = Literal["auto", "search"]
_PUT, _DELETE, _GET, _SCAN = range(4)
_CODES = {"put": _PUT, "delete": _DELETE, "get": _GET, "scan": _SCAN}
State = tuple[bytes | None, ...]
#: A persistent stack of linearized operation indices: (index, rest) or None.
_Path = tuple[int, "_Path"] | None


@attrs.frozen
class LinearizabilityResult:
    """The verdict, with a linearization (ok) or the longest linearizable prefix (not ok)."""

    ok: bool
    #: ok: a linearization of every operation that took effect (optional writes it leaves out
    #: did not happen in it). Not ok: the longest linearizable prefix of the failing group.
    linearization: tuple[Operation, ...]
    #: Not ok: the operation that could not be placed after that prefix.
    culprit: Operation | None = None
    #: Not ok: the other operations invoked and not yet linearized at that point.
    pending: tuple[Operation, ...] = ()
    #: Not ok: the failing group's model contents after the prefix, in key order.
    state: Pairs = ()
    #: Not ok: the keys of the failing group (checked together because scans tie them).
    keys: tuple[bytes, ...] = ()
    #: How many independent groups the history was split into.
    partitions: int = 0
    #: Operations left out of the check: failed ones and indeterminate reads.
    dropped: tuple[Operation, ...] = ()

    def explain(self, limit: int = 40) -> str:
        """A plain-text account of the verdict, listing at most `limit` operations per section."""
        if self.ok:
            lines = [
                f"linearizable: {_count(self.linearization)} in "
                f"{self.partitions} independent group(s); {len(self.dropped)} dropped "
                "(failed, or indeterminate reads)",
                "a linearization:",
                *_numbered(self.linearization, limit),
            ]
            return "\n".join(lines)
        assert self.culprit is not None
        keys = ", ".join(short_bytes(k) for k in self.keys) or "(none)"
        state = ", ".join(f"{short_bytes(k)}: {short_bytes(v)}" for k, v in self.state)
        lines = [
            "NOT linearizable",
            f"keys checked together: {keys}",
            f"longest linearizable prefix ({_count(self.linearization)}):",
            *_numbered(self.linearization, limit),
            f"model state after it: {{{state}}}",
            f"cannot place: {self.culprit.describe()}",
            "  it must take effect before it completes, but after the prefix neither it nor",
            "  any other pending operation can go next (each contradicts the state or leads",
            "  only to dead ends already explored)",
        ]
        if self.pending:
            lines.append("other pending operations:")
            lines += [f"  {op.describe()}" for op in self.pending[:limit]]
        return "\n".join(lines)


def _count(ops: Sequence[Operation]) -> str:
    return f"{len(ops)} operation" + ("" if len(ops) == 1 else "s")


def _numbered(ops: Sequence[Operation], limit: int) -> list[str]:
    # The end of a long prefix is where it went wrong, so that is the part kept.
    skipped = max(0, len(ops) - limit)
    lines = [f"  ... ({skipped} earlier)"] if skipped else []
    lines += [f"  {n:>4}. {op.describe()}" for n, op in enumerate(ops[skipped:], skipped + 1)]
    return lines or ["  (none)"]


def included(op: Operation) -> bool:
    """Whether `op` takes part in the check: not failed, and not an indeterminate read."""
    return op.outcome == "ok" or (op.outcome == "indeterminate" and op.is_write)


@attrs.frozen
class _Group:
    keys: tuple[bytes, ...]  # sorted
    ops: tuple[Operation, ...]


def check(
    history: History | Iterable[Operation],
    *,
    initial: Mapping[bytes, bytes] | None = None,
    partition: bool = True,
    method: Method = "auto",
) -> LinearizabilityResult:
    """Check `history` against a dict that starts as `initial` (default empty).

    With `partition=False` the whole history is checked as one group (slower; for testing).
    With `method="search"` every group is searched, even where values are unique.
    """
    with _collector_paused():
        return _check(history, dict(initial or {}), partition, method)


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    # Checking builds hundreds of thousands of small tuples and lists and no reference cycles;
    # the cyclic collector would rescan the whole history again and again meanwhile (about a
    # third of the fast path's time on large histories).
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _check(
    history: History | Iterable[Operation],
    start: dict[bytes, bytes],
    partition: bool,
    method: Method,
) -> LinearizabilityResult:
    ops = [op for op in history if included(op)]
    dropped = tuple(op for op in history if not included(op))
    groups = _partition(ops, start) if partition else [_whole(ops, start)]
    orders = []
    for group in groups:
        found = check_registers(group.keys, group.ops, start) if method == "auto" else None
        if found is None:
            found = _search(group, start)
        if not found.ok:
            return LinearizabilityResult(
                ok=False,
                linearization=found.order,
                culprit=found.culprit,
                pending=found.pending,
                state=found.state,
                keys=group.keys,
                partitions=len(groups),
                dropped=dropped,
            )
        orders.append(found.order)
    return LinearizabilityResult(
        ok=True, linearization=_merge(orders), partitions=len(groups), dropped=dropped
    )


def _whole(ops: Sequence[Operation], initial: Mapping[bytes, bytes]) -> _Group:
    keys = {op.key for op in ops if op.key is not None} | set(initial)
    return _Group(tuple(sorted(keys)), tuple(ops))


def _partition(ops: Sequence[Operation], initial: Mapping[bytes, bytes]) -> list[_Group]:
    """Independent groups, ordered by their first invocation."""
    universe = sorted({op.key for op in ops if op.key is not None} | set(initial))
    # Each scan covers the contiguous run universe[lo:hi]; overlapping runs merge into one group.
    runs: list[tuple[int, int]] = []
    for op in ops:
        if op.kind == "scan":
            lo, hi = _scan_run(universe, op)
            if lo < hi:
                runs.append((lo, hi))
    group_of = list(range(len(universe)))  # index of each key's group leader in `universe`
    runs.sort()
    merged_hi = -1
    leader = -1
    for lo, hi in runs:
        if lo >= merged_hi:
            leader = lo
        for j in range(max(lo, merged_hi), hi):
            group_of[j] = leader
        merged_hi = max(merged_hi, hi)
    members: dict[int, list[Operation]] = {}
    keyless: list[list[Operation]] = []
    for op in ops:
        if op.kind == "scan":
            lo, hi = _scan_run(universe, op)
            if lo == hi:
                keyless.append([op])
                continue
            members.setdefault(group_of[lo], []).append(op)
        else:
            assert op.key is not None
            members.setdefault(group_of[bisect.bisect_left(universe, op.key)], []).append(op)
    keys_of: dict[int, list[bytes]] = {}
    for j, key in enumerate(universe):
        keys_of.setdefault(group_of[j], []).append(key)
    groups = [_Group(tuple(keys_of[leader]), tuple(group)) for leader, group in members.items()]
    groups += [_Group((), tuple(group)) for group in keyless]
    groups.sort(key=lambda g: min(op.invoke for op in g.ops))
    return groups


def _scan_run(universe: Sequence[bytes], op: Operation) -> tuple[int, int]:
    assert op.start is not None
    lo = bisect.bisect_left(universe, op.start)
    hi = len(universe) if op.end is None else bisect.bisect_left(universe, op.end)
    return lo, max(lo, hi)


def _search(group: _Group, initial: Mapping[bytes, bytes]) -> _Found:
    """WGL over one group (see the module docstring); the loop is flat because it is hot."""
    keys, ops = group.keys, group.ops
    slot_of = {k: j for j, k in enumerate(keys)}
    single = len(keys) == 1
    codes = [_CODES[op.kind] for op in ops]
    slots = [slot_of[op.key] if op.key is not None else -1 for op in ops]
    written = [op.value for op in ops]  # what a write stores: a put's value, None for a delete
    expected = [op.result for op in ops]  # what a read must see
    ranges = [_scan_slots(keys, op) if op.kind == "scan" else () for op in ops]

    # Entry 0 is the head; entries 1..m are calls and returns in time order; -1 ends the list.
    events = sorted(
        [(op.invoke, 0, i) for i, op in enumerate(ops)]
        + [(op.complete, 1, i) for i, op in enumerate(ops) if op.complete is not None and _ok(op)]
    )
    m = len(events)
    nxt = [*range(1, m + 1), -1]
    prv = [-1, *range(m)]
    is_call = [False] + [kind == 0 for _, kind, _ in events]
    op_of = [-1] + [i for _, _, i in events]
    return_of = [-1] * len(ops)
    for e, (_, kind, i) in enumerate(events, 1):
        if kind == 1:
            return_of[i] = e
    match = [-1] + [return_of[i] if kind == 0 else -1 for _, kind, i in events]

    state: State = tuple(initial.get(k) for k in keys)
    linearized = 0
    seen: set[tuple[int, State]] = set()
    stack: list[tuple[int, State, int]] = []
    path: _Path = None
    best_depth, best_path, best_state, best_entry = -1, path, state, 0

    entry = nxt[0]
    while entry != -1:
        if is_call[entry]:
            i = op_of[entry]
            code = codes[i]
            new_state: State | None = state
            if code <= _DELETE:
                value = written[i]
                s = slots[i]
                new_state = (value,) if single else (*state[:s], value, *state[s + 1 :])
            elif code == _GET:
                if state[slots[i]] != expected[i]:
                    new_state = None
            elif _scan(keys, ranges[i], state) != expected[i]:
                new_state = None
            if new_state is not None:
                new_linearized = linearized | (1 << i)
                config = (new_linearized, new_state)
                if config not in seen:
                    seen.add(config)
                    stack.append((entry, state, linearized))
                    path = (i, path)
                    state, linearized = new_state, new_linearized
                    _lift(nxt, prv, entry, match[entry])
                    entry = nxt[0]
                    continue
            entry = nxt[entry]
            continue
        # A return: its operation should have been linearized by now. Back up.
        if len(stack) > best_depth:
            best_depth, best_path, best_state, best_entry = len(stack), path, state, entry
        if not stack:
            return _failure(group, nxt, op_of, is_call, best_path, best_state, best_entry)
        entry, state, linearized = stack.pop()
        assert path is not None
        path = path[1]
        _unlift(nxt, prv, entry, match[entry])
        entry = nxt[entry]
    return _Found(True, tuple(ops[op_of[e]] for e, _, _ in stack))


def _ok(op: Operation) -> bool:
    return op.outcome == "ok"


def _scan_slots(keys: Sequence[bytes], op: Operation) -> tuple[int, ...]:
    lo, hi = _scan_run(keys, op)
    return tuple(range(lo, hi))


def _scan(keys: Sequence[bytes], slots: Sequence[int], state: State) -> Pairs:
    pairs = []
    for j in slots:
        value = state[j]
        if value is not None:
            pairs.append((keys[j], value))
    return tuple(pairs)


def _lift(nxt: list[int], prv: list[int], call: int, ret: int) -> None:
    """Unlink a call entry and its return (if any); `_unlift` undoes it exactly."""
    before, after = prv[call], nxt[call]
    nxt[before] = after
    if after != -1:
        prv[after] = before
    if ret != -1:
        before, after = prv[ret], nxt[ret]
        nxt[before] = after
        if after != -1:
            prv[after] = before


def _unlift(nxt: list[int], prv: list[int], call: int, ret: int) -> None:
    # Relink in the reverse order of unlinking: the unlinked entries kept their own pointers.
    if ret != -1:
        before, after = prv[ret], nxt[ret]
        nxt[before] = ret
        if after != -1:
            prv[after] = ret
    before, after = prv[call], nxt[call]
    nxt[before] = call
    if after != -1:
        prv[after] = call


def _failure(
    group: _Group,
    nxt: list[int],
    op_of: list[int],
    is_call: list[bool],
    path: _Path,
    state: State,
    culprit_entry: int,
) -> _Found:
    # The search has backed up all the way, so the list is whole again: pending operations are
    # those whose call precedes the culprit's return and that the prefix does not hold.
    order: list[int] = []
    while path is not None:
        order.append(path[0])
        path = path[1]
    order.reverse()
    done = set(order)
    culprit = op_of[culprit_entry]
    pending = []
    entry = nxt[0]
    while entry != culprit_entry and entry != -1:
        i = op_of[entry]
        if is_call[entry] and i not in done and i != culprit:
            pending.append(group.ops[i])
        entry = nxt[entry]
    contents = tuple((k, v) for k, v in zip(group.keys, state, strict=True) if v is not None)
    return _Found(
        False,
        tuple(group.ops[i] for i in order),
        culprit=group.ops[culprit],
        pending=tuple(pending),
        state=contents,
    )


def _merge(orders: Sequence[Sequence[Operation]]) -> tuple[Operation, ...]:
    """One linearization of the whole history from one per independent group."""
    # In a group's order, each operation's point is the latest invocation so far: it is inside
    # the operation's interval (nothing after it completed before an earlier one began), and
    # operations of different groups at the same point overlap, so any order among them holds.
    if len(orders) == 1:
        return tuple(orders[0])
    points: list[int] = []
    flat: list[Operation] = []
    for order in orders:
        point = -1
        for op in order:
            point = max(point, op.invoke)
            points.append(point)
            flat.append(op)
    # A stable sort keeps each group's own order among equal points, and groups in order.
    ranked = sorted(range(len(flat)), key=points.__getitem__)
    return tuple(flat[i] for i in ranked)


def apply_operation(state: dict[bytes, bytes], op: Operation) -> bool:
    """Apply `op` to `state` as `ReferenceKV` would; False (state unchanged) if its result differs.

    A deliberately plain model, independent of the search's tuple states, for cross-checking.
    """
    if op.kind == "put":
        assert op.key is not None and op.value is not None
        state[op.key] = op.value
    elif op.kind == "delete":
        assert op.key is not None
        state.pop(op.key, None)
    elif op.kind == "get":
        assert op.key is not None
        return op.outcome != "ok" or state.get(op.key) == op.result
    else:
        assert op.start is not None
        end = op.end
        seen = tuple(
            sorted((k, v) for k, v in state.items() if op.start <= k and (end is None or k < end))
        )
        return op.outcome != "ok" or seen == op.result
    return True


def brute_force_check(
    history: History | Iterable[Operation], *, initial: Mapping[bytes, bytes] | None = None
) -> bool:
    """Linearizability by trying every order consistent with real time (small histories only).

    No memoisation and no partitioning: an independent oracle for `check`. It abandons an order
    as soon as a prefix of it disagrees with the model, since no extension could agree.
    """
    ops = [op for op in history if included(op)]

    def deadline(j: int) -> float:
        complete = ops[j].complete
        return complete if complete is not None and _ok(ops[j]) else float("inf")

    def extend(remaining: tuple[int, ...], state: dict[bytes, bytes]) -> bool:
        if all(not _ok(ops[j]) for j in remaining):
            return True  # only optional writes are left: leave them out
        for i in remaining:
            if any(deadline(j) < ops[i].invoke for j in remaining):
                continue  # something still pending completed before this began
            after = dict(state)
            if apply_operation(after, ops[i]) and extend(
                tuple(j for j in remaining if j != i), after
            ):
                return True
        return False

    return extend(tuple(range(len(ops))), dict(initial or {}))
