"""Superblock records: round trips, and torn or damaged records are refused."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kvnode.chunk import Kind, encode
from kvnode.errors import CorruptChunk
from kvnode.limits import CHUNK_HEADER_BYTES
from kvnode.superblock import NO_EXTENT, ExtentState, Superblock, record_bytes

FAST = settings(max_examples=100, deadline=None)

u32 = st.integers(0, 2**32 - 1)
u64 = st.integers(0, 2**64 - 1)
_BODY = struct.Struct("<QQIIIII")
_ENTRY = struct.Struct("<BI")


@st.composite
def superblocks(draw: st.DrawFn) -> Superblock:
    extents = draw(st.lists(st.tuples(st.sampled_from(list(ExtentState)), u32), max_size=20))
    return Superblock(
        generation=draw(u64),
        covers_seq=draw(u64),
        durable_seq=draw(u64),
        active_extent=draw(u32),
        index_extent=draw(st.one_of(st.just(NO_EXTENT), u32)),
        index_offset=draw(u32),
        index_length=draw(u32),
        states=tuple(s for s, _ in extents),
        soft_wps=tuple(w for _, w in extents),
    )


def example(extent_count: int = 5) -> Superblock:
    return Superblock(
        generation=3,
        covers_seq=10,
        durable_seq=12,
        active_extent=2,
        index_extent=3,
        index_offset=64,
        index_length=100,
        states=(ExtentState.SUPERBLOCK,) * 2 + (ExtentState.LOG,) * (extent_count - 2),
        soft_wps=tuple(range(0, 10 * extent_count, 10)),
    )


def body(count: int, entries: list[tuple[int, int]], extra: bytes = b"") -> bytes:
    head = _BODY.pack(10, 12, 2, NO_EXTENT, 0, 0, count)
    return head + b"".join(_ENTRY.pack(s, w) for s, w in entries) + extra


def record(value: bytes, kind: Kind = Kind.SUPERBLOCK, key: bytes = b"") -> bytes:
    return encode(kind, 1, key, value)


class TestEncode:
    def test_body_layout_matches_the_module_docstring(self) -> None:
        sb = example(3)
        value = sb.encode()[CHUNK_HEADER_BYTES:]
        assert _BODY.unpack_from(value, 0) == (10, 12, 2, 3, 64, 100, 3)
        entries = [_ENTRY.unpack_from(value, _BODY.size + i * _ENTRY.size) for i in range(3)]
        assert entries == [(2, 0), (2, 10), (1, 20)]

    def test_is_a_superblock_chunk_whose_seq_is_the_generation(self) -> None:
        buf = example().encode()
        assert buf[2] == Kind.SUPERBLOCK
        assert struct.unpack_from("<Q", buf, 4)[0] == 3

    def test_states_and_write_pointers_of_different_lengths_are_refused(self) -> None:
        sb = Superblock(1, 0, 0, 2, NO_EXTENT, 0, 0, (ExtentState.FREE,) * 3, (0, 0))
        with pytest.raises(ValueError):
            sb.encode()


class TestDecode:
    @FAST
    @given(superblocks())
    def test_round_trips(self, sb: Superblock) -> None:
        assert Superblock.decode(sb.encode()) == sb

    def test_round_trips_no_extent(self) -> None:
        sb = Superblock(0, 0, 0, 2, NO_EXTENT, 0, 0, (ExtentState.FREE,), (0,))
        assert Superblock.decode(sb.encode()).index_extent == NO_EXTENT

    @FAST
    @given(superblocks(), st.binary(max_size=64))
    def test_reads_the_record_at_the_start_of_a_longer_buffer(
        self, sb: Superblock, rest: bytes
    ) -> None:
        assert Superblock.decode(sb.encode() + rest) == sb

    def test_every_torn_prefix_is_refused(self) -> None:
        buf = example().encode()
        for end in range(len(buf)):
            with pytest.raises(CorruptChunk):
                Superblock.decode(buf[:end])

    def test_every_single_bit_flip_is_refused(self) -> None:
        buf = example().encode()
        for bit in range(8 * len(buf)):
            damaged = bytearray(buf)
            damaged[bit // 8] ^= 1 << (bit % 8)
            with pytest.raises(CorruptChunk):
                Superblock.decode(bytes(damaged))

    @pytest.mark.parametrize("kind", [Kind.PUT, Kind.TOMBSTONE, Kind.INDEX])
    def test_another_chunk_kind_is_refused(self, kind: Kind) -> None:
        with pytest.raises(CorruptChunk, match=f"expected a superblock chunk, found {kind.name}"):
            Superblock.decode(record(body(1, [(0, 0)]), kind=kind))

    def test_a_superblock_chunk_with_a_key_is_refused(self) -> None:
        with pytest.raises(CorruptChunk):
            Superblock.decode(record(body(1, [(0, 0)]), key=b"k"))

    def test_body_shorter_than_its_fixed_part_is_refused(self) -> None:
        with pytest.raises(CorruptChunk, match="too short"):
            Superblock.decode(record(body(0, [])[:-1]))

    @pytest.mark.parametrize(
        ("count", "entries", "extra"),
        [
            (3, [(0, 0)] * 2, b""),
            (1, [(0, 0)] * 2, b""),
            (2, [(0, 0)] * 2, b"\0"),
            (2, [(0, 0)], b"\0\0\0\0"),
            (2**32 - 1, [], b""),
        ],
    )
    def test_body_length_inconsistent_with_extent_count_is_refused(
        self, count: int, entries: list[tuple[int, int]], extra: bytes
    ) -> None:
        with pytest.raises(CorruptChunk, match=f"for {count} extents"):
            Superblock.decode(record(body(count, entries, extra)))

    @pytest.mark.parametrize("state", [3, 255])
    def test_unknown_extent_state_is_refused(self, state: int) -> None:
        value = body(3, [(1, 0), (1, 0), (state, 0)])
        with pytest.raises(CorruptChunk, match=f"unknown extent state {state} for extent 2"):
            Superblock.decode(record(value))

    @FAST
    @given(st.binary(max_size=120))
    def test_any_superblock_chunk_body_decodes_or_raises_corrupt_chunk(self, value: bytes) -> None:
        try:
            sb = Superblock.decode(record(value))
        except CorruptChunk:
            return
        assert sb.encode() == record(value)


class TestRecordBytes:
    @pytest.mark.parametrize("extent_count", [0, 1, 5, 16, 256])
    def test_matches_the_encoded_length(self, extent_count: int) -> None:
        sb = Superblock(
            1, 0, 0, 2, NO_EXTENT, 0, 0, (ExtentState.FREE,) * extent_count, (0,) * extent_count
        )
        assert record_bytes(extent_count) == len(sb.encode())

    @FAST
    @given(superblocks())
    def test_matches_the_encoded_length_of_any_record(self, sb: Superblock) -> None:
        assert record_bytes(len(sb.states)) == len(sb.encode())
