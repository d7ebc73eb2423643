"""The linearizability checker: known answers, agreement with brute force, and the timeline."""

from __future__ import annotations

import itertools
import random
from pathlib import Path
from typing import Any

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from kvcheck.concurrency.history import History, Operation, Outcome, Pairs
from kvcheck.concurrency.linearizability import (
    LinearizabilityResult,
    brute_force_check,
    check,
    included,
)
from kvcheck.concurrency.timeline import write_timeline
from kvcheck.models import ReferenceKV

_ids = itertools.count()


def put(
    p: int, t0: int, t1: int | None, key: bytes, value: bytes, out: Outcome = "ok"
) -> Operation:
    return Operation(next(_ids), p, "put", t0, t1, out, key=key, value=value)


def delete(p: int, t0: int, t1: int | None, key: bytes, out: Outcome = "ok") -> Operation:
    return Operation(next(_ids), p, "delete", t0, t1, out, key=key)


def get(p: int, t0: int, t1: int, key: bytes, result: bytes | None) -> Operation:
    return Operation(next(_ids), p, "get", t0, t1, "ok", key=key, result=result)


def scan(p: int, t0: int, t1: int, start: bytes, end: bytes | None, result: Pairs) -> Operation:
    return Operation(next(_ids), p, "scan", t0, t1, "ok", start=start, end=end, result=result)


def verdict(*ops: Operation, initial: dict[bytes, bytes] | None = None) -> bool:
    """The checker's answer, after checking that every way of computing it agrees."""
    history = History(ops)
    result = check(history, initial=initial)
    assert check(history, initial=initial, partition=False).ok == result.ok
    assert brute_force_check(history, initial=initial) == result.ok
    if result.ok:
        assert_linearization(history, result, initial)
    else:
        assert_explanation(history, result, initial)
    return result.ok


def replay(ops: tuple[Operation, ...], initial: dict[bytes, bytes] | None) -> bool:
    """Whether `ReferenceKV`, the specification itself, returns what each op saw, in this order."""
    kv = ReferenceKV(dict(initial or {}))
    for op in ops:
        if op.kind == "put":
            assert op.key is not None and op.value is not None
            kv.put(op.key, op.value)
        elif op.kind == "delete":
            assert op.key is not None
            kv.delete(op.key)
        elif op.kind == "get":
            assert op.key is not None
            if kv.get(op.key) != op.result:
                return False
        else:
            assert op.start is not None
            if tuple(kv.scan(op.start, op.end)) != op.result:
                return False
    return True


def respects_real_time(ops: tuple[Operation, ...]) -> bool:
    """No operation comes after one that was invoked after it completed."""
    return not any(
        later.outcome == "ok" and later.complete is not None and later.complete < earlier.invoke
        for n, earlier in enumerate(ops)
        for later in ops[n + 1 :]
    )


def assert_linearization(
    history: History, result: LinearizabilityResult, initial: dict[bytes, bytes] | None
) -> None:
    """The witness holds every completed op once, only ops that may count, and is legal."""
    order = result.linearization
    ids = [op.id for op in order]
    assert len(ids) == len(set(ids))
    assert {op.id for op in history if op.outcome == "ok"} <= set(ids)
    assert all(included(op) for op in order)
    assert respects_real_time(order)
    assert replay(order, initial)


def assert_explanation(
    history: History, result: LinearizabilityResult, initial: dict[bytes, bytes] | None
) -> None:
    """The reported prefix is itself legal, and the culprit is an operation outside it."""
    assert result.culprit is not None and result.culprit in history.operations
    assert result.culprit not in result.linearization
    assert respects_real_time(result.linearization)
    assert replay(result.linearization, initial)
    assert "cannot place" in result.explain()


# -- known answers -------------------------------------------------------------------------


def test_concurrent_puts_may_be_observed_in_either_order() -> None:
    for seen in (b"1", b"2"):
        a, b = put(0, 0, 3, b"x", b"1"), put(1, 1, 4, b"x", b"2")
        assert verdict(a, b, get(2, 5, 6, b"x", seen))


def test_read_concurrent_with_a_put_may_see_old_or_new_value() -> None:
    for seen in (None, b"1"):
        assert verdict(put(0, 0, 3, b"x", b"1"), get(1, 1, 2, b"x", seen))


def test_stale_read_after_completed_put_is_not_linearizable() -> None:
    history = History(
        [put(0, 0, 1, b"x", b"1"), put(0, 2, 3, b"x", b"2"), get(1, 4, 5, b"x", b"1")]
    )
    assert not verdict(*history)
    result = check(history)
    assert result.culprit == history.operations[2]
    assert result.linearization == history.operations[:2]
    assert result.state == ((b"x", b"2"),)


def test_read_of_a_value_never_written_is_not_linearizable() -> None:
    assert not verdict(put(0, 0, 1, b"x", b"1"), get(1, 0, 2, b"x", b"9"))


def test_acknowledged_put_that_later_vanishes_is_a_lost_update() -> None:
    assert not verdict(put(0, 0, 1, b"x", b"1"), get(1, 2, 3, b"x", b"1"), get(1, 4, 5, b"x", None))


def test_reads_cannot_see_two_concurrent_puts_flip_back_and_forth() -> None:
    a, b = put(0, 0, 20, b"x", b"1"), put(1, 0, 20, b"x", b"2")
    reads = [get(2, 1, 2, b"x", b"1"), get(2, 3, 4, b"x", b"2")]
    assert verdict(a, b, *reads)
    assert not verdict(a, b, *reads, get(2, 5, 6, b"x", b"1"))


def test_scan_that_sees_a_later_write_but_misses_an_earlier_one_is_not_linearizable() -> None:
    x, y = put(0, 0, 1, b"x", b"1"), put(1, 3, 4, b"y", b"1")
    assert not verdict(x, y, scan(2, 2, 6, b"", None, ((b"y", b"1"),)))


def test_scan_concurrent_with_a_write_may_include_it_or_not() -> None:
    x, y = put(0, 0, 1, b"x", b"1"), put(1, 3, 4, b"y", b"1")
    assert verdict(x, y, scan(2, 2, 6, b"", None, ((b"x", b"1"),)))
    assert verdict(x, y, scan(2, 2, 6, b"", None, ((b"x", b"1"), (b"y", b"1"))))


def test_scan_range_is_half_open_and_ignores_keys_outside_it() -> None:
    ops = [put(0, 0, 1, b"a", b"1"), put(0, 2, 3, b"b", b"2"), put(0, 4, 5, b"c", b"3")]
    assert verdict(*ops, scan(1, 6, 7, b"b", b"c", ((b"b", b"2"),)))
    assert not verdict(*ops, scan(1, 6, 7, b"b", b"c", ((b"b", b"2"), (b"c", b"3"))))


def test_scans_that_disagree_about_the_order_of_two_writes_are_not_linearizable() -> None:
    # Each scan alone is fine; together they need x before y and y before x.
    x, y = put(0, 0, 10, b"x", b"1"), put(1, 0, 10, b"y", b"1")
    first = scan(2, 1, 9, b"", None, ((b"x", b"1"),))
    second = scan(3, 1, 9, b"", None, ((b"y", b"1"),))
    assert verdict(x, y, first)
    assert not verdict(x, y, first, second)


def test_indeterminate_put_may_be_observed_or_not() -> None:
    for seen in (None, b"1"):
        never = put(0, 0, None, b"x", b"1", "indeterminate")
        assert verdict(never, get(1, 1, 2, b"x", seen), get(1, 3, 4, b"x", seen))
        errored = put(0, 0, 2, b"x", b"1", "indeterminate")
        assert verdict(errored, get(1, 3, 4, b"x", seen))


def test_indeterminate_put_may_take_effect_long_after_its_call_returned() -> None:
    errored = put(0, 0, 1, b"x", b"1", "indeterminate")
    assert verdict(errored, get(1, 2, 3, b"x", None), get(1, 4, 5, b"x", b"1"))


def test_indeterminate_put_cannot_be_observed_and_then_unobserved() -> None:
    never = put(0, 0, None, b"x", b"1", "indeterminate")
    assert not verdict(never, get(1, 1, 2, b"x", b"1"), get(1, 3, 4, b"x", None))


def test_indeterminate_put_cannot_take_effect_before_its_invocation() -> None:
    late = put(0, 3, None, b"x", b"1", "indeterminate")
    assert not verdict(late, get(1, 1, 2, b"x", b"1"))


def test_failed_put_that_is_observed_is_not_linearizable() -> None:
    failed = put(0, 0, 1, b"x", b"1", "failed")
    assert not verdict(failed, get(1, 2, 3, b"x", b"1"))
    assert verdict(failed, get(1, 2, 3, b"x", None))


def test_get_of_a_deleted_key_returns_none() -> None:
    ops = [put(0, 0, 1, b"x", b"1"), delete(0, 2, 3, b"x")]
    assert verdict(*ops, get(1, 4, 5, b"x", None))
    assert not verdict(*ops, get(1, 4, 5, b"x", b"1"))


def test_indeterminate_delete_may_have_removed_the_key() -> None:
    ops = [put(0, 0, 1, b"x", b"1"), delete(0, 2, None, b"x", "indeterminate")]
    assert verdict(*ops, get(1, 4, 5, b"x", None))
    assert verdict(*ops, get(1, 4, 5, b"x", b"1"))


def test_initial_contents_are_visible_to_reads_and_scans() -> None:
    start = {b"x": b"0", b"z": b"9"}
    assert verdict(get(0, 0, 1, b"x", b"0"), initial=start)
    assert verdict(scan(0, 0, 1, b"", None, ((b"x", b"0"), (b"z", b"9"))), initial=start)
    assert not verdict(get(0, 0, 1, b"x", None), initial=start)


def test_scan_over_a_range_with_no_keys_must_be_empty() -> None:
    assert verdict(put(0, 0, 1, b"x", b"1"), scan(1, 2, 3, b"p", b"q", ()))
    assert not verdict(put(0, 0, 1, b"x", b"1"), scan(1, 2, 3, b"p", b"q", ((b"p", b"1"),)))


def test_empty_history_is_linearizable() -> None:
    assert check(History(())).ok


def test_explanation_names_the_prefix_and_the_operation_that_cannot_be_placed() -> None:
    history = History([put(0, 0, 1, b"x", b"1"), get(1, 2, 3, b"x", None)])
    text = check(history).explain()
    assert "NOT linearizable" in text
    assert "1. p0 put(b'x', b'1') -> ok [0, 1]" in text
    assert "cannot place: p1 get(b'x') -> None [2, 3]" in text


def test_histories_without_scans_are_split_per_key() -> None:
    ops = [put(0, 0, 1, k, b"1") for k in (b"a", b"b", b"c")]
    assert check(History(ops)).partitions == 3
    tied = check(History([*ops, scan(1, 2, 3, b"a", b"c", ((b"a", b"1"), (b"b", b"1")))]))
    assert tied.ok
    assert tied.partitions == 2  # the scan ties a and b together; c stays alone


# -- random histories: the search agrees with brute force ----------------------------------

KEYS = (b"x", b"y")
VALUES = (b"1", b"2")
BOUNDS = (b"", b"x", b"xa", b"y", b"z")
#: How an operation ends: "ok", "failed" (no effect), indeterminate with or without effect
#: ("error+"/"error-"), or never completing with or without effect ("hang+"/"hang-").
FATES = ("ok", "ok", "ok", "ok", "failed", "error+", "error-", "hang+", "hang-")

calls = st.one_of(
    st.tuples(st.just("put"), st.sampled_from(KEYS), st.sampled_from(VALUES)),
    st.tuples(st.just("get"), st.sampled_from(KEYS)),
    st.tuples(st.just("delete"), st.sampled_from(KEYS)),
    st.tuples(st.just("scan"), st.sampled_from(BOUNDS), st.sampled_from((*BOUNDS, None))),
)


#: ("put", key, value), ("get", key), ("delete", key) or ("scan", start, end).
Call = tuple[Any, ...]


def sequential_result(state: dict[bytes, bytes], call: Call) -> object:
    """Apply `call` to the true state; what a correct store returns (None for writes)."""
    kv = ReferenceKV(state)
    if call[0] == "scan":
        return tuple(kv.scan(call[1], call[2]))
    if call[0] == "get":
        return kv.get(call[1])
    getattr(kv, call[0])(*call[1:])
    return None


@st.composite
def histories(draw: st.DrawFn, faithful: bool) -> History:
    """Up to 8 calls by 2-3 processes on 2 keys, interleaved at random.

    Faithful histories take each effect at a random point inside its interval on a real dict,
    so they are linearizable; unfaithful ones report random results, so mostly are not.
    """
    processes = draw(st.integers(2, 3))
    plan = draw(
        st.lists(
            st.tuples(st.integers(0, processes - 1), calls, st.sampled_from(FATES)),
            min_size=1,
            max_size=8,
        )
    )
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
                continue  # the linearization point: no tick, it is inside the interval
            del active[p]
            if not faithful and fate == "ok":
                result = draw(random_result(call))
            ops.append(finish(len(ops), p, call, fate, invoked, clock, result))
            if fate.startswith("hang"):
                queues[p] = []  # a hung call blocks its process for good
        clock += 1
    return History(sorted(ops, key=lambda op: op.invoke))


def random_result(call: Call) -> st.SearchStrategy[object]:
    if call[0] == "get":
        return st.sampled_from((None, *VALUES))
    if call[0] == "scan":
        pairs = st.lists(st.tuples(st.sampled_from(KEYS), st.sampled_from(VALUES)), max_size=2)
        return pairs.map(lambda ps: tuple(sorted(dict(ps).items())))
    return st.none()


def finish(n: int, p: int, call: Call, fate: str, t0: int, t1: int, result: Any) -> Operation:
    outcome: Outcome = "ok" if fate == "ok" else "failed" if fate == "failed" else "indeterminate"
    end = None if fate.startswith("hang") else t1
    seen = result if outcome == "ok" else None
    if call[0] == "scan":
        return Operation(n, p, "scan", t0, end, outcome, start=call[1], end=call[2], result=seen)
    if call[0] == "put":
        return Operation(n, p, "put", t0, end, outcome, key=call[1], value=call[2])
    return Operation(n, p, call[0], t0, end, outcome, key=call[1], result=seen)


@given(histories(faithful=True))
def test_histories_from_a_real_dict_are_linearizable_by_both_checkers(history: History) -> None:
    result = check(history)
    assert result.ok, result.explain()
    assert brute_force_check(history)
    assert check(history, partition=False).ok
    assert_linearization(history, result, None)


@given(histories(faithful=False))
def test_checker_agrees_with_brute_force_on_histories_with_random_results(
    history: History,
) -> None:
    result = check(history)
    assert brute_force_check(history) == result.ok
    assert check(history, partition=False).ok == result.ok
    if result.ok:
        assert_linearization(history, result, None)
    else:
        assert_explanation(history, result, None)


def realistic_history(rng: random.Random, n: int, keys: int, scans: float) -> History:
    """`n` ops by 4 processes, each taking effect at a random point of a random interval."""
    names = [b"k%02d" % i for i in range(keys)]
    state: dict[bytes, bytes] = {}
    free_at = [0.0] * 4
    events: list[tuple[float, int]] = []
    spans = []
    for i in range(n):
        p = rng.randrange(4)
        t0 = free_at[p] + rng.random() * 3
        t1 = t0 + rng.random() * 6 + 0.01
        free_at[p] = t1
        spans.append((p, t0, t1))
        events.append((rng.uniform(t0, t1), i))
    calls: dict[int, Call] = {}
    results: dict[int, object] = {}
    for _, i in sorted(events):
        roll = rng.random()
        if roll < scans:
            lo, hi = sorted(rng.sample(names, 2))
            calls[i] = ("scan", lo, hi)
        elif roll < 0.5:
            calls[i] = ("put", rng.choice(names), b"%d" % rng.randrange(5))
        elif roll < 0.6:
            calls[i] = ("delete", rng.choice(names))
        else:
            calls[i] = ("get", rng.choice(names))
        results[i] = sequential_result(state, calls[i])
    ticks = sorted({t for _, t0, t1 in spans for t in (t0, t1)})
    tick = {t: n for n, t in enumerate(ticks)}
    ops = [
        finish(i, p, calls[i], "ok", tick[t0], tick[t1], results[i])
        for i, (p, t0, t1) in enumerate(spans)
    ]
    return History(ops)


@pytest.mark.parametrize("seed", range(6))
def test_partitioned_and_whole_history_searches_agree(seed: int) -> None:
    rng = random.Random(seed)
    history = realistic_history(rng, 120, keys=6, scans=0.1 if seed % 2 else 0.0)
    assert check(history).ok
    assert check(history, partition=False).ok
    # Corrupt one read's result: both searches must now agree on the verdict.
    reads = [op for op in history if op.kind == "get"]
    victim = rng.choice(reads)
    wrong = b"zz" if victim.result is None else None
    bad = History(attrs.evolve(op, result=wrong) if op is victim else op for op in history)
    assert check(bad).ok == check(bad, partition=False).ok


# -- timeline ------------------------------------------------------------------------------


def test_timeline_shows_each_process_lane_and_highlights_the_culprit(tmp_path: Path) -> None:
    history = History(
        [
            put(0, 0, 1, b"x", b"1"),
            put(1, 2, 3, b"<script>", b"\x00&\xff"),
            get(2, 4, 5, b"x", None),
            put(1, 6, None, b"y", b"2", "indeterminate"),
        ]
    )
    result = check(history)
    assert not result.ok and result.culprit is not None
    path = tmp_path / "timeline.html"
    write_timeline(history, result, path)
    page = path.read_text(encoding="utf-8")
    for process in (0, 1, 2):
        assert f'<g class="lane" data-process="{process}">' in page
        assert f"process {process}</text>" in page
    assert f'<g class="op ok culprit" data-op="{result.culprit.id}">' in page
    assert ">#1</text>" in page  # the prefix, numbered
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert "NOT linearizable" in page
    assert "http" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "")


def test_timeline_of_a_linearizable_history_numbers_every_operation(tmp_path: Path) -> None:
    history = History([put(0, 0, 3, b"x", b"1"), get(1, 1, 2, b"x", b"1")])
    path = tmp_path / "ok.html"
    write_timeline(history, check(history), path)
    page = path.read_text(encoding="utf-8")
    assert ">#1</text>" in page and ">#2</text>" in page
    assert 'culprit" data-op' not in page and 'pending" data-op' not in page
