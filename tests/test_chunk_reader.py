"""The incremental chunk reader: long streams, sticky errors, and its limit."""

from __future__ import annotations

import random

import pytest

from kvnode.chunk import Kind, decode_prefix, encode
from kvnode.chunk_reader import ChunkReader
from kvnode.errors import CorruptChunk


def stream(count: int, seed: int = 0) -> bytes:
    rnd = random.Random(seed)
    return b"".join(
        encode(Kind.PUT, seq, b"k%d" % seq, rnd.randbytes(rnd.randrange(0, 3000)))
        for seq in range(1, count + 1)
    )


def read_all(reader: ChunkReader, pieces: list[bytes]) -> list[object]:
    chunks = []
    for piece in pieces:
        reader.feed(piece)
        while (chunk := reader.next_chunk()) is not None:
            chunks.append(chunk)
    return chunks


class TestChunkReader:
    def test_a_long_stream_in_random_pieces_matches_the_one_shot_decoder(self) -> None:
        # Long enough that the reader drops consumed bytes from its buffer several times.
        buf = stream(400)
        rnd = random.Random(1)
        cuts = sorted(rnd.sample(range(len(buf)), 300))
        pieces = [buf[a:b] for a, b in zip([0, *cuts], [*cuts, len(buf)], strict=True)]
        reader = ChunkReader(limit=1 << 16)
        expected, pos = [], 0
        while pos < len(buf):
            chunk = decode_prefix(buf[pos:])
            expected.append(chunk)
            pos += chunk.encoded_bytes
        assert read_all(reader, pieces) == expected
        assert reader.consumed == len(buf) and reader.buffered == 0
        assert reader.incomplete() is None

    def test_an_error_is_sticky_and_names_the_same_reason(self) -> None:
        reader = ChunkReader(limit=4096)
        reader.feed(b"\x00" * 30)
        with pytest.raises(CorruptChunk) as first:
            reader.next_chunk()
        reader.feed(encode(Kind.PUT, 1, b"k", b"v"))
        with pytest.raises(CorruptChunk) as again:
            reader.next_chunk()
        assert again.value is first.value

    def test_a_chunk_longer_than_the_limit_is_refused_without_waiting_for_it(self) -> None:
        reader = ChunkReader(limit=100)
        reader.feed(encode(Kind.PUT, 1, b"k", b"v" * 200)[:30])
        with pytest.raises(CorruptChunk, match="more than the 100 allowed"):
            reader.next_chunk()

    def test_a_partial_chunk_at_the_end_is_named_incomplete(self) -> None:
        reader = ChunkReader(limit=4096)
        reader.feed(encode(Kind.PUT, 1, b"k", b"value")[:-2])
        assert reader.next_chunk() is None
        assert reader.incomplete() == "truncated chunk: 28 of 30 bytes"

    def test_a_limit_below_one_header_is_refused(self) -> None:
        with pytest.raises(ValueError, match="at least 24"):
            ChunkReader(limit=23)
