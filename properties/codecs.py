"""Robustness properties of every on-disk codec: chunks, the chunk reader, superblock records,
index runs and the format header.

Every byte read back from a disk is untrusted input. For each structure:

* encoding then decoding gives back what was encoded (round trip);
* decoding any byte string returns a value or raises the codec's documented error, nothing
  else, and a value it returns encodes back to exactly those bytes (no wrong record);
* every proper prefix of an encoding is refused, and for the streaming reader is "incomplete";
* every single-bit flip of a checksummed encoding is refused;
* the reader gives the same chunks and the same end whether fed everything at once, one byte at
  a time or in random pieces, agrees with the one-shot decoder, and never buffers a chunk
  longer than its limit.

Each property takes the package to check, `kvnode` or a patched copy (`properties.patched`), and
returns a Hypothesis test to call; wrap it in `settings(...)` to set the effort. Run them all with
`run_all(package)`; `tests/test_codec_properties.py` runs them against the shipped package and
against the planted codec bugs of `properties.planted_codecs`.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from types import ModuleType
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from properties.patched import module

Test = Callable[[], None]
u32 = st.integers(0, 2**32 - 1)
u64 = st.integers(0, 2**64 - 1)


def _flips(buf: bytes) -> list[bytes]:
    out = []
    for bit in range(len(buf) * 8):
        flipped = bytearray(buf)
        flipped[bit // 8] ^= 1 << (bit % 8)
        out.append(bytes(flipped))
    return out


def _refuses(error: type[Exception], decode: Callable[[bytes], Any], buf: bytes) -> None:
    try:
        got = decode(buf)
    except error:
        return
    raise AssertionError(f"{decode.__qualname__} accepted {buf!r} as {got!r}")


def _canonical(
    error: type[Exception], decode: Callable[[bytes], Any], encode: Callable[[Any], bytes]
) -> Callable[[bytes], None]:
    """Decoding `buf` raises `error` only, and anything decoded re-encodes to `buf`."""

    def check(buf: bytes) -> None:
        try:
            got = decode(buf)
        except error:
            return
        assert encode(got) == buf, f"{buf!r} decoded to {got!r}, which encodes differently"

    return check


class _Chunks:
    """The chunk codec of one package, with strategies for its values."""

    def __init__(self, package: ModuleType):
        self.mod = module(package, "chunk")
        self.error: type[Exception] = module(package, "errors").CorruptChunk
        self.reader: Any = module(package, "chunk_reader").ChunkReader
        self.chunks = st.builds(
            self.mod.Chunk,
            st.sampled_from(list(self.mod.Kind)),
            u64,
            st.binary(max_size=40),
            st.binary(max_size=200),
        )

    def encode(self, chunk: Any) -> bytes:
        return bytes(self.mod.encode(chunk.kind, chunk.seq, chunk.key, chunk.value))

    def garbage(self) -> st.SearchStrategy[bytes]:
        """Arbitrary bytes, bytes behind the magic, or an encoding with bytes overwritten."""

        @st.composite
        def overwritten(draw: st.DrawFn) -> bytes:
            buf = bytearray(self.encode(draw(self.chunks)))
            for _ in range(draw(st.integers(1, 4))):
                buf[draw(st.integers(0, len(buf) - 1))] = draw(st.integers(0, 255))
            return bytes(buf)

        magic = st.binary(max_size=300).map(lambda b: self.mod.MAGIC + b)
        return st.one_of(st.binary(max_size=300), magic, overwritten())


def chunk_round_trip(package: ModuleType) -> Test:
    """A chunk decodes to itself, alone and followed by other bytes."""
    c = _Chunks(package)

    @given(c.chunks, st.binary(max_size=50))
    def test(chunk: Any, junk: bytes) -> None:
        buf = c.encode(chunk)
        assert c.mod.decode(buf) == chunk
        assert c.mod.decode_prefix(buf + junk) == chunk

    return test


def chunk_arbitrary_bytes(package: ModuleType) -> Test:
    """Any byte string decodes to the chunk it encodes or raises `CorruptChunk`; a header is
    parsed or refused, and never announces more than the caller's limit."""
    c = _Chunks(package)
    check = _canonical(c.error, c.mod.decode, c.encode)

    @given(c.garbage(), st.integers(24, 400))
    def test(buf: bytes, limit: int) -> None:
        check(buf)
        try:
            header = c.mod.decode_header(buf, limit)
        except c.error:
            return
        assert header.total_bytes <= limit, f"{header} trusted beyond the limit of {limit}"

    return test


def chunk_truncation(package: ModuleType) -> Test:
    """Every proper prefix of a chunk is refused, and is an incomplete stream for the reader."""
    c = _Chunks(package)

    @given(c.chunks)
    def test(chunk: Any) -> None:
        buf = c.encode(chunk)
        for end in range(len(buf)):
            _refuses(c.error, c.mod.decode, buf[:end])
            _refuses(c.error, c.mod.decode_prefix, buf[:end])
            reader = c.reader(limit=len(buf))
            reader.feed(buf[:end])
            assert reader.next_chunk() is None
            assert (reader.incomplete() is None) == (end == 0)

    return test


def chunk_bit_flips(package: ModuleType) -> Test:
    """Every single-bit flip of a small chunk is refused."""
    c = _Chunks(package)
    small = st.builds(
        c.mod.Chunk,
        st.sampled_from(list(c.mod.Kind)),
        u64,
        st.binary(max_size=6),
        st.binary(min_size=1, max_size=8),
    )

    @given(small)
    def test(chunk: Any) -> None:
        for flipped in _flips(c.encode(chunk)):
            _refuses(c.error, c.mod.decode, flipped)

    return test


def _read_stream(reader: Any, error: type[Exception], pieces: list[bytes]) -> tuple[Any, ...]:
    """Feed `pieces` one by one, taking out chunks as they complete: (chunks, how it ended)."""
    chunks: list[Any] = []
    for piece in pieces:
        reader.feed(piece)
        while True:
            try:
                chunk = reader.next_chunk()
            except error as err:
                return tuple(chunks), ("corrupt", str(err))
            if chunk is None:
                break
            chunks.append(chunk)
        assert reader.buffered < reader.limit, "the reader buffers past its limit"
    return tuple(chunks), ("incomplete", reader.incomplete())


def reader_streaming(package: ModuleType) -> Test:
    """The reader ends the same however its input is split, agrees with `decode_prefix`, and
    never buffers more than its limit."""
    c = _Chunks(package)

    @given(
        st.lists(c.chunks, max_size=5), c.garbage() | st.just(b""), st.integers(24, 400), st.data()
    )
    def test(chunks: list[Any], tail: bytes, limit: int, data: st.DataObject) -> None:
        buf = b"".join(c.encode(chunk) for chunk in chunks) + tail
        whole = _read_stream(c.reader(limit), c.error, [buf])
        single = _read_stream(c.reader(limit), c.error, [buf[i : i + 1] for i in range(len(buf))])
        cuts = sorted(data.draw(st.lists(st.integers(0, len(buf)), max_size=6)))
        bounds = [0, *cuts, len(buf)]
        pieces = [buf[a:b] for a, b in itertools.pairwise(bounds)]
        assert single == whole
        assert _read_stream(c.reader(limit), c.error, pieces) == whole
        expected: list[Any] = []
        pos = 0
        while pos < len(buf):
            try:
                chunk = c.mod.decode_prefix(buf[pos:], limit)
            except c.error:
                break
            expected.append(chunk)
            pos += chunk.encoded_bytes
        assert list(whole[0]) == expected

    return test


class _Superblocks:
    def __init__(self, package: ModuleType):
        self.mod = module(package, "superblock")
        self.error: type[Exception] = module(package, "errors").CorruptChunk
        entries = st.lists(st.tuples(st.sampled_from(list(self.mod.ExtentState)), u32), max_size=8)
        self.records = st.builds(
            lambda extents, *fields: self.mod.Superblock(
                *fields, tuple(s for s, _ in extents), tuple(w for _, w in extents)
            ),
            entries,
            u64,
            u64,
            u64,
            u32,
            u32,
            u32,
            u32,
        )


def superblock_records(package: ModuleType) -> Test:
    """A record round trips; every proper prefix and every bit flip of it is refused."""
    s = _Superblocks(package)

    @given(s.records)
    def test(record: Any) -> None:
        buf = record.encode()
        assert s.mod.Superblock.decode(buf) == record
        for end in range(len(buf)):
            _refuses(s.error, s.mod.Superblock.decode, buf[:end])
        if len(record.states) <= 2:
            for flipped in _flips(buf):
                _refuses(s.error, s.mod.Superblock.decode, flipped)

    return test


def superblock_bodies(package: ModuleType) -> Test:
    """Any body decodes to the record it encodes, or raises `CorruptChunk`."""
    s = _Superblocks(package)
    check = _canonical(s.error, lambda body: s.mod.decode_body(7, body), lambda sb: sb.body())

    @st.composite
    def bodies(draw: st.DrawFn) -> bytes:
        body = bytearray(draw(s.records).body())
        for _ in range(draw(st.integers(0, 3))):
            if body:
                body[draw(st.integers(0, len(body) - 1))] = draw(st.integers(0, 255))
        return bytes(body[: draw(st.integers(0, len(body)))]) + draw(st.binary(max_size=12))

    @given(st.one_of(st.binary(max_size=80), bodies()))
    def test(body: bytes) -> None:
        check(body)

    return test


def index_runs(package: ModuleType) -> Test:
    """A run round trips; any other value decodes to the run it encodes or is refused."""
    mod = module(package, "index_run")
    error = module(package, "errors").CorruptChunk
    locators = st.builds(mod.Locator, u32, u32, u32, u64)
    entries = st.dictionaries(st.binary(min_size=1, max_size=8), locators, max_size=6).map(
        lambda d: tuple(sorted(d.items()))
    )
    runs = st.builds(mod.IndexRun, u64, entries)

    def encode(run: Any) -> bytes:
        return bytes(mod.encode_run(run.covers_seq, run.entries))

    check = _canonical(error, mod.decode_run, encode)

    @st.composite
    def values(draw: st.DrawFn) -> bytes:
        value = bytearray(encode(draw(runs)))
        for _ in range(draw(st.integers(0, 3))):
            if value:
                value[draw(st.integers(0, len(value) - 1))] = draw(st.integers(0, 255))
        return bytes(value[: draw(st.integers(0, len(value)))])

    @given(runs, st.one_of(st.binary(max_size=80), values()))
    def test(run: Any, other: bytes) -> None:
        assert mod.decode_run(encode(run)) == run
        check(other)

    return test


def format_headers(package: ModuleType) -> Test:
    """A header round trips; its prefixes and bit flips are refused with `FormatError`, and any
    other bytes are refused or decode to the geometry they encode."""
    mod = module(package, "format_header")
    limits = module(package, "limits")
    error: type[Exception] = module(package, "errors").FormatError
    check = _canonical(error, mod.decode_format, mod.encode_format)
    geometries = st.builds(
        _geometry,
        st.just(limits.Geometry),
        st.integers(1, 5000),
        st.integers(5, 64),
        st.integers(0, 64),
    )

    @given(geometries, st.binary(max_size=40))
    def test(geometry: Any, other: bytes) -> None:
        buf = mod.encode_format(geometry)
        assert mod.decode_format(buf) == geometry
        for end in range(len(buf)):
            _refuses(error, mod.decode_format, buf[:end])
        for flipped in _flips(buf):
            _refuses(error, mod.decode_format, flipped)
        check(mod.MAGIC + other)
        check(other)

    return test


def _geometry(geometry: Any, page_bytes: int, extent_count: int, spare_pages: int) -> Any:
    """A valid geometry of any page size: the smallest extent that holds superblock records,
    plus `spare_pages`. (Page sizes that are not multiples of 256 put non-zero bytes next to
    every field of the format header.)"""
    floor = 4 * (24 + 8 * extent_count)
    pages = -(-floor // page_bytes) + spare_pages
    return geometry(page_bytes, page_bytes * pages, extent_count)


#: Every codec property, by name.
PROPERTIES: dict[str, Callable[[ModuleType], Test]] = {
    "chunk_round_trip": chunk_round_trip,
    "chunk_arbitrary_bytes": chunk_arbitrary_bytes,
    "chunk_truncation": chunk_truncation,
    "chunk_bit_flips": chunk_bit_flips,
    "reader_streaming": reader_streaming,
    "superblock_records": superblock_records,
    "superblock_bodies": superblock_bodies,
    "index_runs": index_runs,
    "format_headers": format_headers,
}
