"""The chunk codec: round trips, and every malformed byte string is `CorruptChunk`."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kvnode.chunk import (
    MAGIC,
    Chunk,
    Header,
    Kind,
    crc32c,
    decode,
    decode_header,
    decode_prefix,
    encode,
)
from kvnode.errors import CorruptChunk, CorruptionError
from kvnode.limits import CHUNK_HEADER_BYTES

FAST = settings(max_examples=100, deadline=None)

kinds = st.sampled_from(list(Kind))
seqs = st.integers(min_value=0, max_value=2**64 - 1)
keys = st.binary(max_size=40)
values = st.binary(max_size=200)
chunks = st.builds(Chunk, kinds, seqs, keys, values)


def encoded(chunk: Chunk) -> bytes:
    return encode(chunk.kind, chunk.seq, chunk.key, chunk.value)


def sample(kind: Kind) -> bytes:
    """A small chunk of `kind`, small enough to flip every one of its bits."""
    return encode(kind, 0x0102030405060708, b"key", b"value")


def flip(buf: bytes, bit: int) -> bytes:
    out = bytearray(buf)
    out[bit // 8] ^= 1 << (bit % 8)
    return bytes(out)


@st.composite
def garbage(draw: st.DrawFn) -> bytes:
    """Arbitrary bytes, bytes behind a valid magic, or a valid chunk with bytes overwritten."""
    choice = draw(st.integers(0, 2))
    if choice == 0:
        return draw(st.binary(max_size=300))
    if choice == 1:
        return MAGIC + draw(st.binary(max_size=300))
    buf = bytearray(encoded(draw(chunks)))
    for _ in range(draw(st.integers(1, 4))):
        buf[draw(st.integers(0, len(buf) - 1))] = draw(st.integers(0, 255))
    return bytes(buf)


class TestCrc32c:
    def test_matches_the_castagnoli_check_value(self) -> None:
        """The standard check input b"123456789" gives 0xE3069283."""
        assert crc32c(b"123456789") == 0xE3069283

    def test_accepts_bytearray_and_memoryview(self) -> None:
        data = b"some bytes"
        assert crc32c(bytearray(data)) == crc32c(memoryview(data)) == crc32c(data)


class TestKind:
    def test_on_disk_tags_are_pinned(self) -> None:
        """Tags are never reused or renumbered."""
        assert {k.name: int(k) for k in Kind} == {
            "PUT": 1,
            "TOMBSTONE": 2,
            "INDEX": 3,
            "SUPERBLOCK": 4,
        }


class TestEncode:
    def test_header_layout_matches_the_module_docstring(self) -> None:
        buf = encode(Kind.TOMBSTONE, 7, b"ab", b"xyz")
        magic, kind, flags, seq, key_len, reserved, value_len, crc = struct.unpack_from(
            "<2sBBQHHII", buf
        )
        assert (magic, kind, flags, seq, key_len, reserved, value_len) == (
            b"KC",
            2,
            0,
            7,
            2,
            0,
            3,
        )
        assert crc == crc32c(buf[:20] + b"ab" + b"xyz")
        assert buf[CHUNK_HEADER_BYTES:] == b"abxyz"

    @pytest.mark.parametrize("kind", list(Kind))
    def test_encoded_bytes_is_the_encoded_length(self, kind: Kind) -> None:
        chunk = Chunk(kind, 1, b"k" * 5, b"v" * 11)
        assert chunk.encoded_bytes == len(encoded(chunk)) == CHUNK_HEADER_BYTES + 16


class TestDecode:
    @pytest.mark.parametrize("kind", list(Kind))
    def test_round_trips_every_kind(self, kind: Kind) -> None:
        assert decode(encode(kind, 42, b"key", b"value")) == Chunk(kind, 42, b"key", b"value")

    @pytest.mark.parametrize("kind", list(Kind))
    def test_round_trips_empty_key_and_value(self, kind: Kind) -> None:
        assert decode(encode(kind, 0, b"", b"")) == Chunk(kind, 0, b"", b"")

    @FAST
    @given(chunks)
    def test_round_trips_any_chunk(self, chunk: Chunk) -> None:
        assert decode(encoded(chunk)) == chunk

    @FAST
    @given(chunks)
    def test_accepts_bytearray_and_memoryview(self, chunk: Chunk) -> None:
        buf = encoded(chunk)
        assert decode(bytearray(buf)) == decode(memoryview(buf)) == chunk

    @FAST
    @given(garbage())
    def test_arbitrary_bytes_raise_only_corrupt_chunk(self, buf: bytes) -> None:
        try:
            chunk = decode(buf)
        except CorruptChunk:
            return
        assert encoded(chunk) == buf

    @pytest.mark.parametrize("kind", list(Kind))
    def test_every_single_bit_flip_is_detected(self, kind: Kind) -> None:
        buf = sample(kind)
        for bit in range(8 * len(buf)):
            with pytest.raises(CorruptChunk):
                decode(flip(buf, bit))

    @pytest.mark.parametrize("kind", list(Kind))
    def test_every_truncation_prefix_is_corrupt(self, kind: Kind) -> None:
        buf = sample(kind)
        for end in range(len(buf)):
            with pytest.raises(CorruptChunk):
                decode(buf[:end])

    def test_trailing_bytes_are_a_length_mismatch(self) -> None:
        with pytest.raises(CorruptChunk, match="length mismatch"):
            decode(sample(Kind.PUT) + b"\0")

    def test_bad_magic_is_corrupt(self) -> None:
        buf = b"XX" + sample(Kind.PUT)[2:]
        with pytest.raises(CorruptChunk, match="bad magic"):
            decode(buf)

    @pytest.mark.parametrize("tag", [0, 5, 255])
    def test_unknown_kind_is_corrupt(self, tag: int) -> None:
        buf = bytearray(sample(Kind.PUT))
        buf[2] = tag
        with pytest.raises(CorruptChunk, match=f"unknown kind {tag}"):
            decode(bytes(buf))

    @pytest.mark.parametrize("offset", [3, 14, 15])
    def test_reserved_bits_set_are_corrupt(self, offset: int) -> None:
        buf = bytearray(sample(Kind.PUT))
        buf[offset] = 0x80
        with pytest.raises(CorruptChunk, match="reserved"):
            decode(bytes(buf))

    def test_checksum_mismatch_is_corrupt(self) -> None:
        buf = bytearray(sample(Kind.PUT))
        buf[-1] ^= 0xFF
        with pytest.raises(CorruptChunk, match="checksum mismatch"):
            decode(bytes(buf))

    def test_corrupt_chunk_is_a_corruption_error(self) -> None:
        with pytest.raises(CorruptionError):
            decode(b"")


class TestDecodeHeader:
    def test_parses_the_fields(self) -> None:
        buf = encode(Kind.INDEX, 9, b"abc", b"defgh")
        header = decode_header(buf)
        assert header == Header(Kind.INDEX, 9, 3, 5, struct.unpack_from("<I", buf, 20)[0])
        assert header.total_bytes == len(buf)

    def test_does_not_check_the_payload_checksum(self) -> None:
        """Only the header's own fields are validated; the crc is left to the full decode."""
        buf = bytearray(sample(Kind.PUT))
        buf[-1] ^= 0xFF
        assert decode_header(bytes(buf)).kind is Kind.PUT

    def test_short_buffer_is_a_truncated_header(self) -> None:
        with pytest.raises(CorruptChunk, match="truncated header"):
            decode_header(sample(Kind.PUT)[: CHUNK_HEADER_BYTES - 1])


class TestDecodePrefix:
    @FAST
    @given(chunks, st.binary(max_size=64))
    def test_trailing_junk_is_ignored(self, chunk: Chunk, junk: bytes) -> None:
        assert decode_prefix(encoded(chunk) + junk) == chunk

    @FAST
    @given(st.lists(chunks, max_size=8), st.binary(max_size=16))
    def test_recovers_every_chunk_of_a_concatenation(self, items: list[Chunk], junk: bytes) -> None:
        buf = b"".join(encoded(c) for c in items) + junk
        found = []
        pos = 0
        for _ in items:
            chunk = decode_prefix(memoryview(buf)[pos:])
            found.append(chunk)
            pos += chunk.encoded_bytes
        assert found == items
        assert buf[pos:] == junk

    @pytest.mark.parametrize("kind", list(Kind))
    def test_every_truncation_prefix_is_corrupt(self, kind: Kind) -> None:
        buf = sample(kind)
        for end in range(len(buf)):
            with pytest.raises(CorruptChunk):
                decode_prefix(buf[:end])

    @pytest.mark.parametrize("kind", list(Kind))
    def test_every_single_bit_flip_is_detected(self, kind: Kind) -> None:
        buf = sample(kind) + bytes(64)
        for bit in range(8 * len(sample(kind))):
            with pytest.raises(CorruptChunk):
                decode_prefix(flip(buf, bit))

    def test_short_buffer_is_a_truncated_chunk(self) -> None:
        with pytest.raises(CorruptChunk, match="truncated chunk"):
            decode_prefix(sample(Kind.PUT)[:-1])

    @FAST
    @given(garbage())
    def test_arbitrary_bytes_raise_only_corrupt_chunk(self, buf: bytes) -> None:
        try:
            chunk = decode_prefix(buf)
        except CorruptChunk:
            return
        assert buf.startswith(encoded(chunk))
