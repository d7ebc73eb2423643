"""The read-mapping fast path: it agrees with the search, each of its rules, and its speed."""

from __future__ import annotations

import itertools
import time
from typing import Any

import attrs
from hypothesis import given, settings
from hypothesis import strategies as st
from test_linearizability import (
    FATES,
    Call,
    assert_linearization,
    delete,
    finish,
    get,
    put,
    replay,
    respects_real_time,
    scan,
    sequential_result,
)

from kvcheck.concurrency.history import History, Operation
from kvcheck.concurrency.linearizability import apply_operation, brute_force_check, check, included
from kvcheck.concurrency.registers import Found, check_registers

KEYS = (b"a", b"b", b"c", b"d")
#: Examples per agreement property: ten times the profile's (the histories are tiny).
EXAMPLES = 10 * settings.default.max_examples
BOUNDS = (b"", b"a", b"b", b"bb", b"c", b"d", b"e")


def fast(history: History, initial: dict[bytes, bytes] | None = None) -> Found | None:
    """The fast path on the whole history as one group (None: it declines).

    Its safety net (replaying the witness) is off, so a wrong witness shows as a wrong answer.
    """
    start = initial or {}
    ops = [op for op in history if included(op)]
    keys = sorted({op.key for op in ops if op.key is not None} | set(start))
    return check_registers(keys, ops, start, verify=False)


def assert_sound_prefix(history: History, found: Found, initial: dict[bytes, bytes] | None) -> None:
    """The prefix is legal, and a valid start: nothing left out had to come before it."""
    assert found.culprit is not None and found.culprit in history.operations
    prefix = found.order
    assert found.culprit not in prefix
    assert respects_real_time(prefix) and replay(prefix, initial)
    inside = {op.id for op in prefix}
    latest = max((op.invoke for op in prefix), default=-1)
    assert found.culprit.complete is not None and found.culprit.complete >= latest
    for op in history:
        if op.outcome == "ok" and op.id not in inside:
            assert op.complete is not None and op.complete >= latest, op.describe()
    state = dict(initial or {})
    for op in prefix:
        if op.kind in ("put", "delete"):
            apply_operation(state, op)
    keys = {op.key for op in history if op.key is not None} | set(initial or {})
    assert found.state == tuple(sorted((k, v) for k, v in state.items() if k in keys))


def agree(history: History, initial: dict[bytes, bytes] | None = None) -> Found | None:
    """Check every way of computing the verdict agrees; return the fast path's own answer."""
    oracle = check(history, initial=initial, method="search")
    auto = check(history, initial=initial)
    assert auto.ok == oracle.ok, history
    if len(history) <= 9:
        assert brute_force_check(history, initial=initial) == oracle.ok
    found = fast(history, initial)
    if found is not None:
        assert found.ok == oracle.ok, history
        if found.ok:
            assert_linearization(history, attrs_result(found), initial)
        else:
            assert_sound_prefix(history, found, initial)
    if auto.ok:
        assert_linearization(history, auto, initial)
    return found


def attrs_result(found: Found) -> Any:
    from kvcheck.concurrency.linearizability import LinearizabilityResult

    return LinearizabilityResult(ok=found.ok, linearization=found.order)


def verdict(*ops: Operation, initial: dict[bytes, bytes] | None = None) -> bool:
    """The fast path's verdict (it must decide), after checking it agrees with the search."""
    found = agree(History(ops), initial)
    assert found is not None, "the fast path declined"
    return found.ok


# -- directed: one test per rule -----------------------------------------------------------


def test_read_of_a_value_never_written_is_blamed() -> None:
    bad = get(1, 2, 3, b"x", b"nobody")
    history = History([put(0, 0, 1, b"x", b"1"), bad])
    assert not verdict(*history)
    found = fast(history)
    assert found is not None and found.culprit == bad
    assert found.order == history.operations[:1]


def test_read_of_a_failed_puts_value_is_a_value_never_written() -> None:
    assert not verdict(put(0, 0, 1, b"x", b"1", "failed"), get(1, 2, 3, b"x", b"1"))


def test_stale_read_after_a_later_write_completed() -> None:
    ops = [put(0, 0, 1, b"x", b"1"), put(0, 2, 3, b"x", b"2"), get(1, 4, 5, b"x", b"1")]
    assert not verdict(*ops)
    found = fast(History(ops))
    assert found is not None
    assert found.culprit == ops[2] and found.order == tuple(ops[:2])
    assert found.state == ((b"x", b"2"),)


def test_read_that_completes_before_its_write_is_invoked() -> None:
    assert not verdict(get(1, 0, 1, b"x", b"1"), put(0, 2, 3, b"x", b"1"))


def test_two_writes_seen_in_the_wrong_order_by_sequential_reads() -> None:
    a, b = put(0, 0, 10, b"x", b"a"), put(1, 0, 10, b"x", b"b")
    first, second = get(2, 11, 12, b"x", b"b"), get(2, 13, 14, b"x", b"a")
    assert verdict(a, b, first)
    assert not verdict(a, b, first, second)
    found = fast(History([a, b, first, second]))
    assert found is not None and found.culprit == second
    assert found.state == ((b"x", b"b"),)


def test_concurrent_reads_may_see_concurrent_writes_in_either_order() -> None:
    a, b = put(0, 0, 10, b"x", b"a"), put(1, 0, 10, b"x", b"b")
    assert verdict(a, b, get(2, 1, 9, b"x", b"b"), get(3, 1, 9, b"x", b"a"))


def test_initial_value_then_overwritten() -> None:
    start = {b"x": b"0"}
    assert verdict(get(0, 0, 1, b"x", b"0"), put(1, 2, 3, b"x", b"1"), initial=start)
    assert not verdict(put(1, 0, 1, b"x", b"1"), get(0, 2, 3, b"x", b"0"), initial=start)


def test_indeterminate_write_seen_or_not() -> None:
    for seen in (None, b"1"):
        never = put(0, 0, None, b"x", b"1", "indeterminate")
        assert verdict(never, get(1, 1, 2, b"x", seen), get(1, 3, 4, b"x", seen))
    errored = put(0, 0, 1, b"x", b"1", "indeterminate")
    assert verdict(errored, get(1, 2, 3, b"x", None), get(1, 4, 5, b"x", b"1"))
    never = put(0, 0, None, b"x", b"1", "indeterminate")
    assert not verdict(never, get(1, 1, 2, b"x", b"1"), get(1, 3, 4, b"x", None))
    late = put(0, 3, None, b"x", b"1", "indeterminate")
    assert not verdict(late, get(1, 1, 2, b"x", b"1"))


def test_unread_indeterminate_write_is_left_out_of_the_witness() -> None:
    maybe = put(0, 0, None, b"x", b"2", "indeterminate")
    history = History([put(1, 0, 1, b"x", b"1"), maybe, get(1, 2, 3, b"x", b"1")])
    found = fast(history)
    assert found is not None and found.ok and maybe not in found.order


def test_reads_of_none_map_to_the_one_delete_that_can_explain_them() -> None:
    ops = [put(0, 0, 1, b"x", b"1"), delete(0, 2, 3, b"x"), get(1, 4, 5, b"x", None)]
    assert verdict(*ops)
    assert not verdict(*ops, get(1, 6, 7, b"x", b"1"))
    # Sequential deletes: the later one overwrote the earlier, so only it is a candidate.
    assert verdict(delete(0, 0, 1, b"x"), delete(0, 2, 3, b"x"), get(1, 4, 5, b"x", None))


def test_read_of_none_with_no_possible_source_is_blamed() -> None:
    # The initial value was overwritten and nothing ever deleted the key.
    assert not verdict(put(0, 0, 1, b"x", b"1"), get(1, 2, 3, b"x", None), initial={})
    assert not verdict(get(1, 0, 1, b"x", None), initial={b"x": b"0"})


def test_ambiguous_reads_of_none_go_to_the_search() -> None:
    # Either the initial absence or the concurrent delete explains the read: not read-mapped.
    history = History([delete(0, 0, 10, b"x"), get(1, 1, 2, b"x", None)])
    assert fast(history) is None
    assert check(history).ok


def test_values_written_twice_go_to_the_search() -> None:
    history = History(
        [put(0, 0, 1, b"x", b"1"), put(0, 2, 3, b"x", b"1"), get(1, 4, 5, b"x", b"1")]
    )
    assert fast(history) is None
    assert check(history).ok
    assert fast(History([put(0, 0, 1, b"x", b"0")]), {b"x": b"0"}) is None


def test_scan_sees_new_a_but_old_b_after_b_completed_before_a_began() -> None:
    b_new, a_new = put(0, 0, 1, b"b", b"b1"), put(1, 2, 3, b"a", b"a1")
    torn = scan(2, 0, 5, b"", None, ((b"a", b"a1"),))  # misses b1, written earlier
    assert not verdict(b_new, a_new, torn)
    assert verdict(b_new, a_new, scan(2, 0, 5, b"", None, ((b"b", b"b1"),)))
    assert verdict(b_new, a_new, scan(2, 0, 5, b"", None, ((b"a", b"a1"), (b"b", b"b1"))))


def test_scans_that_disagree_on_the_order_of_two_writes() -> None:
    x, y = put(0, 0, 10, b"x", b"1"), put(1, 0, 10, b"y", b"1")
    first = scan(2, 1, 9, b"", None, ((b"x", b"1"),))
    second = scan(3, 1, 9, b"", None, ((b"y", b"1"),))
    assert verdict(x, y, first)
    # Each scan can be placed alone; together they cannot. Placing scans one at a time cannot
    # tell that apart from an unlucky choice of points, so the fast path hands it to the search.
    history = History([x, y, first, second])
    assert agree(history) is None
    assert not check(history).ok


def test_scan_result_that_no_state_produces_is_blamed() -> None:
    ops = [put(0, 0, 1, b"a", b"1"), put(0, 2, 3, b"b", b"2")]
    for result in (((b"b", b"2"), (b"a", b"1")), ((b"a", b"1"), (b"a", b"1")), ((b"q", b"1"),)):
        assert not verdict(*ops, scan(1, 4, 5, b"", None, result))
    assert not verdict(*ops, scan(1, 4, 5, b"b", None, ((b"a", b"1"), (b"b", b"2"))))


def test_scan_over_no_key_of_the_group_is_placed() -> None:
    assert verdict(put(0, 0, 1, b"x", b"1"), scan(1, 0, 3, b"p", b"q", ()))


def test_stale_read_blames_the_read_and_keeps_every_put_in_the_prefix() -> None:
    puts = [put(p, p, 20 + p, b"k", b"%d" % p) for p in range(20)]
    stale = get(20, 40, 41, b"k", None)
    started = time.perf_counter()
    result = check(History([*puts, stale]))
    assert time.perf_counter() - started < 0.5
    assert not result.ok and result.culprit == stale
    assert set(result.linearization) == set(puts)


def test_high_concurrency_on_one_key_is_polynomial() -> None:
    ops: list[Operation] = []
    clock = itertools.count()
    state: bytes | None = None
    for r in range(200):  # rounds of 32 overlapping calls, taking effect in call order
        calls = [(p, next(clock)) for p in range(32)]
        ends = {p: next(clock) for p in reversed(range(32))}
        for p, t0 in calls:
            if (p + r) % 3:
                ops.append(get(p, t0, ends[p], b"k", state))
            else:
                state = b"%d.%d" % (p, r)
                ops.append(put(p, t0, ends[p], b"k", state))
    history = History(ops)
    started = time.perf_counter()
    result = check(history)
    assert result.ok and time.perf_counter() - started < 2.0
    assert_linearization(history, result, None)


def test_search_stays_reachable() -> None:
    history = History([put(0, 0, 1, b"x", b"1"), get(1, 2, 3, b"x", None)])
    assert not check(history, method="search").ok
    assert check(history, method="search").explain() == check(history).explain()


# -- random histories: the fast path agrees with the search and brute force ----------------

register_calls = st.one_of(
    st.tuples(st.just("put"), st.sampled_from(KEYS)),
    st.tuples(st.just("get"), st.sampled_from(KEYS)),
)
calls = st.one_of(
    register_calls,
    st.tuples(st.just("delete"), st.sampled_from(KEYS)),
    st.tuples(st.just("scan"), st.sampled_from(BOUNDS), st.sampled_from((*BOUNDS, None))),
)


@st.composite
def unique_histories(
    draw: st.DrawFn, faithful: bool, kinds: st.SearchStrategy[Call] = calls, max_keys: int = 4
) -> History:
    """Up to 9 calls by 2-4 processes on 1-4 keys, every put writing a value of its own.

    Each call takes effect at a random point of its interval (or not at all, by its fate) on
    a real dict. Unfaithful histories then report some results at random (mostly values that
    were written, so the read mapping still exists but is wrong).
    """
    keys = KEYS[: draw(st.integers(1, max_keys))]
    processes = draw(st.integers(2, 4))
    plan = draw(
        st.lists(
            st.tuples(st.integers(0, processes - 1), kinds, st.sampled_from(FATES)),
            min_size=1,
            max_size=9,
        )
    )
    counter = itertools.count()
    plan = [
        (p, (call[0], keys[KEYS.index(call[1]) % len(keys)], b"v%d" % next(counter)), fate)
        if call[0] == "put"
        else (p, (call[0], keys[KEYS.index(call[1]) % len(keys)]), fate)
        if call[0] in ("get", "delete")
        else (p, call, fate)
        for p, call, fate in plan
    ]
    written: dict[bytes, list[bytes]] = {key: [] for key in keys}
    for _, call, _ in plan:
        if call[0] == "put":
            written[call[1]].append(call[2])
    queues = {p: [(call, fate) for q, call, fate in plan if q == p] for p in range(processes)}
    state: dict[bytes, bytes] = {}
    active: dict[int, tuple[Call, str, int, bool, object]] = {}
    ops: list[Operation] = []
    clock = 0
    while True:
        moves = [(p, "step") for p in sorted(active)]
        moves += [(p, "invoke") for p in range(processes) if p not in active and queues[p]]
        if not moves:
            break
        p, move = draw(st.sampled_from(moves))
        if move == "invoke":
            call, fate = queues[p].pop(0)
            active[p] = (call, fate, clock, False, None)
        else:
            call, fate, invoked, applied, result = active[p]
            if not applied and fate in ("ok", "error+", "hang+"):
                active[p] = (call, fate, invoked, True, sequential_result(state, call))
                continue
            del active[p]
            if not faithful and fate == "ok" and draw(st.booleans()):
                result = draw(random_result(call, keys, written))
            ops.append(finish(len(ops), p, call, fate, invoked, clock, result))
            if fate.startswith("hang"):
                queues[p] = []
        clock += 1
    return History(sorted(ops, key=lambda op: op.invoke))


def random_result(call: Call, keys: tuple[bytes, ...], written: dict[bytes, list[bytes]]) -> Any:
    """A result naming, mostly, a value some put wrote to that key (so a read mapping exists)."""

    def value_of(key: bytes) -> st.SearchStrategy[bytes | None]:
        return st.sampled_from([None, *written[key], *written[key], b"never"])

    if call[0] == "get":
        return value_of(call[1])
    if call[0] == "scan":
        start, end = call[1], call[2]
        inside = [k for k in keys if start <= k and (end is None or k < end)]
        return st.tuples(*(value_of(k) for k in inside)).map(
            lambda vs: tuple((k, v) for k, v in zip(inside, vs, strict=True) if v is not None)
        )
    return st.none()


def perturbed(history: History, data: st.DataObject) -> History:
    """`history` with one read's result swapped for another value that was written (or None)."""
    reads = [op for op in history if op.outcome == "ok" and op.kind in ("get", "scan")]
    if not reads:
        return history
    victim = data.draw(st.sampled_from(reads))
    written = sorted({op.value for op in history if op.kind == "put" and op.value is not None})
    if victim.kind == "get":
        wrong: Any = data.draw(st.sampled_from([None, *written]))
    else:
        assert isinstance(victim.result, tuple)
        pairs = dict(victim.result)
        keys = sorted({op.key for op in history if op.key is not None})
        if not keys:
            return history
        key = data.draw(st.sampled_from(keys))
        choice = data.draw(st.sampled_from([None, *written]))
        if choice is None:
            pairs.pop(key, None)
        else:
            pairs[key] = choice
        wrong = tuple(sorted(pairs.items()))
    return History(attrs.evolve(op, result=wrong) if op is victim else op for op in history)


def declines_only_for_deletes_or_scans(history: History, found: Found | None) -> None:
    # Without deletes and multi-key scans the preconditions always hold: it must decide.
    if found is None:
        assert any(op.kind in ("delete", "scan") for op in history), history


@settings(max_examples=EXAMPLES)
@given(unique_histories(faithful=True))
def test_fast_path_finds_histories_from_a_real_dict_linearizable(history: History) -> None:
    found = agree(history)
    declines_only_for_deletes_or_scans(history, found)
    assert check(history).ok


@settings(max_examples=EXAMPLES)
@given(unique_histories(faithful=False))
def test_fast_path_agrees_with_the_search_on_random_results(history: History) -> None:
    declines_only_for_deletes_or_scans(history, agree(history))


@settings(max_examples=EXAMPLES)
@given(unique_histories(faithful=True), st.data())
def test_fast_path_agrees_with_the_search_on_perturbed_real_histories(
    history: History, data: st.DataObject
) -> None:
    bad = perturbed(history, data)
    declines_only_for_deletes_or_scans(bad, agree(bad))


@settings(max_examples=EXAMPLES)
@given(unique_histories(False, register_calls, max_keys=2), st.booleans(), st.data())
def test_fast_path_always_decides_put_get_histories_and_agrees(
    history: History, perturb: bool, data: st.DataObject
) -> None:
    if perturb:
        history = perturbed(history, data)
    assert agree(history) is not None
