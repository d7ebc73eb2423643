"""Index runs: round trips, and every inconsistent run value is `CorruptChunk`."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kvnode.chunk import Kind, decode, encode
from kvnode.errors import CorruptChunk
from kvnode.index_run import (
    ENTRY_OVERHEAD_BYTES,
    HEAD_BYTES,
    IndexRun,
    Locator,
    decode_run,
    encode_run,
)

FAST = settings(max_examples=100, deadline=None)

u32 = st.integers(0, 2**32 - 1)
u64 = st.integers(0, 2**64 - 1)
locators = st.builds(Locator, u32, u32, u32, u64)
entry_lists = st.dictionaries(st.binary(min_size=1, max_size=20), locators, max_size=12).map(
    lambda d: sorted(d.items())
)

LOC = Locator(extent=2, offset=24, length=40, seq=7)


def sample() -> bytes:
    return encode_run(9, [(b"a", LOC), (b"bb", LOC), (b"ccc", LOC)])


class TestEncodeRun:
    def test_layout_matches_the_module_docstring(self) -> None:
        buf = encode_run(5, [(b"key", LOC)])
        assert struct.unpack_from("<QI", buf, 0) == (5, 1)
        assert struct.unpack_from("<H", buf, 12) == (3,)
        assert buf[14:17] == b"key"
        assert struct.unpack_from("<IIIQ", buf, 17) == (2, 24, 40, 7)
        assert len(buf) == HEAD_BYTES + ENTRY_OVERHEAD_BYTES + 3

    @FAST
    @given(u64, entry_lists)
    def test_length_is_head_plus_overhead_and_key_per_entry(
        self, covers_seq: int, entries: list[tuple[bytes, Locator]]
    ) -> None:
        expected = HEAD_BYTES + sum(ENTRY_OVERHEAD_BYTES + len(k) for k, _ in entries)
        assert len(encode_run(covers_seq, entries)) == expected

    def test_accepts_an_iterator(self) -> None:
        entries = [(b"a", LOC), (b"b", LOC)]
        assert encode_run(1, iter(entries)) == encode_run(1, entries)


class TestDecodeRun:
    @FAST
    @given(u64, entry_lists)
    def test_round_trips(self, covers_seq: int, entries: list[tuple[bytes, Locator]]) -> None:
        assert decode_run(encode_run(covers_seq, entries)) == IndexRun(covers_seq, tuple(entries))

    def test_round_trips_an_empty_run(self) -> None:
        assert decode_run(encode_run(3, [])) == IndexRun(3, ())

    @FAST
    @given(u64, entry_lists)
    def test_round_trips_inside_an_index_chunk(
        self, covers_seq: int, entries: list[tuple[bytes, Locator]]
    ) -> None:
        chunk = decode(encode(Kind.INDEX, covers_seq, b"", encode_run(covers_seq, entries)))
        assert decode_run(chunk.value).entries == tuple(entries)

    def test_accepts_bytearray_and_memoryview(self) -> None:
        buf = sample()
        assert decode_run(bytearray(buf)) == decode_run(memoryview(buf)) == decode_run(buf)

    def test_keys_out_of_order_are_corrupt(self) -> None:
        with pytest.raises(CorruptChunk, match="out of order"):
            decode_run(encode_run(1, [(b"b", LOC), (b"a", LOC)]))

    def test_duplicate_keys_are_corrupt(self) -> None:
        with pytest.raises(CorruptChunk, match="out of order"):
            decode_run(encode_run(1, [(b"a", LOC), (b"a", LOC)]))

    def test_an_empty_key_is_corrupt(self) -> None:
        with pytest.raises(CorruptChunk, match="empty key"):
            decode_run(encode_run(1, [(b"", LOC)]))

    def test_every_truncation_is_corrupt(self) -> None:
        buf = sample()
        for end in range(len(buf)):
            with pytest.raises(CorruptChunk):
                decode_run(buf[:end])

    def test_a_count_larger_than_the_entries_is_corrupt(self) -> None:
        buf = bytearray(sample())
        struct.pack_into("<I", buf, 8, 4)
        with pytest.raises(CorruptChunk, match="truncated"):
            decode_run(bytes(buf))

    def test_a_huge_count_is_corrupt_without_looping(self) -> None:
        with pytest.raises(CorruptChunk, match="truncated"):
            decode_run(struct.pack("<QI", 0, 2**32 - 1))

    @pytest.mark.parametrize("junk", [b"\0", b"\xff" * 30])
    def test_trailing_bytes_are_corrupt(self, junk: bytes) -> None:
        with pytest.raises(CorruptChunk, match="trailing bytes"):
            decode_run(sample() + junk)

    @FAST
    @given(st.one_of(st.binary(max_size=200), st.binary(max_size=200).map(lambda b: sample() + b)))
    def test_arbitrary_bytes_raise_only_corrupt_chunk(self, buf: bytes) -> None:
        try:
            run = decode_run(buf)
        except CorruptChunk:
            return
        assert encode_run(run.covers_seq, run.entries) == buf

    @FAST
    @given(st.data())
    def test_overwritten_bytes_raise_only_corrupt_chunk(self, data: st.DataObject) -> None:
        buf = bytearray(sample())
        for _ in range(data.draw(st.integers(1, 4))):
            buf[data.draw(st.integers(0, len(buf) - 1))] = data.draw(st.integers(0, 255))
        try:
            run = decode_run(bytes(buf))
        except CorruptChunk:
            return
        assert encode_run(run.covers_seq, run.entries) == bytes(buf)
