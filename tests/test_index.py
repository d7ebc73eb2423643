"""The in-memory index: its ordered map, live bytes and run size agree with what it holds."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from kvnode.index import MemIndex
from kvnode.index_run import Locator, encode_run

# A few keys, so that removes and overwrites mostly hit keys that are present.
keys = st.sampled_from([b"a", b"bb", b"ccc", b"dddd"]) | st.binary(min_size=1, max_size=6)
steps = st.lists(
    st.tuples(keys, st.none() | st.tuples(st.integers(2, 5), st.integers(1, 500))), max_size=40
)


@given(steps)
def test_run_bytes_and_live_bytes_match_the_entries(
    ops: list[tuple[bytes, tuple[int, int] | None]],
) -> None:
    index = MemIndex(extent_count=6)
    for seq, (key, change) in enumerate(ops):
        if change is None:
            index.remove(key)
        else:
            extent, length = change
            index.set(key, Locator(extent, 0, length, seq))
    entries = list(index.items())
    assert index.run_bytes == len(encode_run(0, entries))
    for extent in range(6):
        expected = sum(loc.length for _, loc in entries if loc.extent == extent)
        assert index.live_bytes(extent) == expected


def test_removing_an_absent_key_changes_nothing() -> None:
    index = MemIndex(extent_count=4)
    index.set(b"a", Locator(2, 0, 30, 1))
    assert index.remove(b"b") is None
    assert len(index) == 1 and index.live_bytes(2) == 30
