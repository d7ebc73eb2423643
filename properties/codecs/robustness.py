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
  longer than its limit;
* the read path's fast decoder (`chunk.decode_value`) agrees with the reference decoder
  (`chunk.decode`) on every input: arbitrary bytes, valid chunks, and their truncations, bit
  flips and overwritten bytes, each read expecting the chunk's own fields and small changes of
  them;
* recovery's scans of raw extents raise nothing on any bytes: `recovery.scan_extent` finds
  exactly the chunks the one-shot decoder finds, and `recovery.find_superblock` only records
  that decode where it says they end (the newest, when the extents are undamaged).

Each decoder is covered by every property that applies to it: a decoder that checks no
checksum of its own (a chunk header, a superblock body, an index run) has no bit-flip property,
as its bytes are covered by the checksum of the chunk that carries them.

Each property takes the package to check, `kvnode` or a patched copy
(`kvcheck.evidence.patched`), and returns a Hypothesis test to call; wrap it in `settings(...)` to
set the effort. `PROPERTIES` names them all; `tests/test_codec_properties.py` runs every one
against the shipped package, and the ones each planted codec bug of
`kvcheck.evidence.planted_codecs` should break against that bug.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from types import ModuleType
from typing import Any

import attrs
from hypothesis import given
from hypothesis import strategies as st

from kvcheck.evidence.patched import module

Test = Callable[[], None]
u32 = st.integers(0, 2**32 - 1)
u64 = st.integers(0, 2**64 - 1)


def _flip(buf: bytes, bit: int) -> bytes:
    flipped = bytearray(buf)
    flipped[bit // 8] ^= 1 << (bit % 8)
    return bytes(flipped)


def _flips(buf: bytes) -> list[bytes]:
    return [_flip(buf, bit) for bit in range(len(buf) * 8)]


def _refuses(error: type[Exception], decode: Callable[[bytes], Any], buf: bytes) -> None:
    try:
        got = decode(buf)
    except error:
        return
    name = decode.__qualname__.rsplit("<locals>.", 1)[-1]
    raise AssertionError(f"{name} accepted {buf!r} as {got!r}")


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

    def damaged(self) -> st.SearchStrategy[tuple[bytes, Any]]:
        """A chunk, and bytes made from it: its encoding, a proper prefix of it, a single-bit
        flip, bytes overwritten, junk appended, or garbage unrelated to it."""

        @st.composite
        def case(draw: st.DrawFn) -> tuple[bytes, Any]:
            chunk = draw(self.chunks)
            buf = self.encode(chunk)
            how = draw(st.sampled_from(("exact", "prefix", "flip", "overwritten", "junk", "other")))
            if how == "prefix":
                buf = buf[: draw(st.integers(0, len(buf) - 1))]
            elif how == "flip":
                buf = _flip(buf, draw(st.integers(0, len(buf) * 8 - 1)))
            elif how == "overwritten":
                damaged = bytearray(buf)
                for _ in range(draw(st.integers(1, 3))):
                    damaged[draw(st.integers(0, len(buf) - 1))] = draw(st.integers(0, 255))
                buf = bytes(damaged)
            elif how == "junk":
                buf += draw(st.binary(min_size=1, max_size=8))
            elif how == "other":
                buf = draw(self.garbage())
            return buf, chunk

        return case()

    def claimed(self, buf: bytes) -> tuple[Any, bytes, int] | None:
        """The kind, key and seq that `buf`'s header claims, if it has a header of a known kind:
        what a reader following a locator to these bytes would expect, so that garbage is
        decoded as far as the checksum rather than refused at the first field compared."""
        header_bytes: int = self.mod.CHUNK_HEADER_BYTES
        if len(buf) < header_bytes or buf[2] not in {int(k) for k in self.mod.Kind}:
            return None
        key_len = int.from_bytes(buf[12:14], "little")
        seq = int.from_bytes(buf[4:12], "little")
        return self.mod.Kind(buf[2]), buf[header_bytes : header_bytes + key_len], seq

    def expectations(
        self, chunk: Any, buf: bytes, data: st.DataObject
    ) -> list[tuple[Any, bytes, int]]:
        """The (kind, key, seq) triples to read `buf` as: the chunk's own, the ones its header
        claims, and each of those with one field changed. A changed key keeps its length too,
        as the length is compared before the bytes and would hide a missing comparison."""
        bases = [(chunk.kind, chunk.key, chunk.seq)]
        claimed = self.claimed(buf)
        if claimed is not None:
            bases.append(claimed)
        out: list[tuple[Any, bytes, int]] = []
        for kind, key, seq in bases:
            other_kind = data.draw(st.sampled_from([k for k in self.mod.Kind if k != kind]))
            mask = 1 << data.draw(st.integers(0, 63))
            out += [
                (kind, key, seq),
                (other_kind, key, seq),
                (kind, key, seq ^ mask),
                (kind, key + data.draw(st.binary(min_size=1, max_size=2)), seq),
                (kind, key[:-1], seq),
            ]
            if key:
                at = data.draw(st.integers(0, len(key) - 1))
                changed = bytearray(key)
                changed[at] ^= data.draw(st.integers(1, 255))
                out.append((kind, bytes(changed), seq))
        return out

    def agrees(self, buf: bytes, kind: Any, key: bytes, seq: int) -> None:
        """`decode_value(buf, kind, key, seq)` returns the value `decode(buf)` finds when its
        fields are these, and raises the chunk error exactly when they differ or `decode`
        refuses `buf`; any other exception escapes and fails the property."""
        try:
            chunk = self.mod.decode(buf)
        except self.error:
            chunk = None
        fields = None if chunk is None else (chunk.kind, chunk.key, chunk.seq)
        expected = chunk.value if chunk is not None and fields == (kind, key, seq) else None
        try:
            got = self.mod.decode_value(buf, kind, key, seq)
        except self.error as err:
            assert expected is None, (
                f"decode_value refused {buf!r} as {kind!r} {key!r} {seq}: {err}"
            )
            return
        reference = "refuses it" if chunk is None else f"decodes it to {chunk!r}"
        assert got == expected, (
            f"decode_value({buf!r}, {kind!r}, {key!r}, {seq}) returned {got!r}, but decode "
            f"{reference}"
        )
        assert type(got) is bytes, f"decode_value returned a {type(got).__name__}, not bytes"


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
    """Any byte string decodes to the chunk it encodes or raises `CorruptChunk`; a chunk decoded
    from its start is the encoding of a prefix that fits the limit; a header is parsed or
    refused, and never announces more than the caller's limit."""
    c = _Chunks(package)
    check = _canonical(c.error, c.mod.decode, c.encode)

    @given(c.garbage(), st.integers(24, 400))
    def test(buf: bytes, limit: int) -> None:
        check(buf)
        try:
            chunk = c.mod.decode_prefix(buf, limit)
        except c.error:
            pass
        else:
            size = chunk.encoded_bytes
            assert size <= limit, f"{chunk!r} decoded beyond the limit of {limit}"
            assert c.encode(chunk) == buf[:size], f"{buf!r} starts with no encoding of {chunk!r}"
        try:
            header = c.mod.decode_header(buf, limit)
        except c.error:
            return
        assert header.total_bytes <= limit, f"{header} trusted beyond the limit of {limit}"

    return test


def chunk_truncation(package: ModuleType) -> Test:
    """Every proper prefix of a chunk is refused by every decoder (a header's by the header
    decoder, and by the fast decoder even when expecting the chunk's own fields), and is an
    incomplete stream for the reader."""
    c = _Chunks(package)
    header_bytes: int = c.mod.CHUNK_HEADER_BYTES

    @given(c.chunks)
    def test(chunk: Any) -> None:
        buf = c.encode(chunk)

        def decode_value(prefix: bytes) -> Any:
            return c.mod.decode_value(prefix, chunk.kind, chunk.key, chunk.seq)

        for end in range(len(buf)):
            _refuses(c.error, c.mod.decode, buf[:end])
            _refuses(c.error, c.mod.decode_prefix, buf[:end])
            _refuses(c.error, decode_value, buf[:end])
            if end < header_bytes:
                _refuses(c.error, c.mod.decode_header, buf[:end])
            reader = c.reader(limit=len(buf))
            reader.feed(buf[:end])
            assert reader.next_chunk() is None
            assert (reader.incomplete() is None) == (end == 0)

    return test


def chunk_bit_flips(package: ModuleType) -> Test:
    """Every single-bit flip of a small chunk is refused by every decoder that checks the
    checksum: alone, at the start of a longer buffer, by the fast decoder expecting the chunk's
    own fields, and by the reader, which hands out no chunk (it refuses the bytes, or waits for
    more when the flip lengthens the chunk)."""
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
        buf = c.encode(chunk)

        def decode_value(flipped: bytes) -> Any:
            return c.mod.decode_value(flipped, chunk.kind, chunk.key, chunk.seq)

        for flipped in _flips(buf):
            _refuses(c.error, c.mod.decode, flipped)
            _refuses(c.error, c.mod.decode_prefix, flipped)
            _refuses(c.error, decode_value, flipped)
            chunks, end = _read_stream(c.reader(len(buf) + 64), c.error, [flipped])
            assert not chunks, f"the reader accepted the flipped {flipped!r} as {chunks!r}"
            assert end != ("incomplete", None), f"the reader took {flipped!r} for a whole stream"

    return test


def chunk_fast_path(package: ModuleType) -> Test:
    """The read path's `decode_value(buf, kind, key, seq)` returns exactly the value of
    `decode(buf)` when that succeeds with this kind, key and seq, and raises `CorruptChunk`
    exactly when `decode` refuses `buf` or a field differs: over valid chunks, their proper
    prefixes, bit flips, overwritten bytes and trailing junk, and arbitrary bytes, each read
    expecting the chunk's own fields, the fields its header claims, and one of those changed."""
    c = _Chunks(package)

    @given(c.damaged(), st.data())
    def test(case: tuple[bytes, Any], data: st.DataObject) -> None:
        buf, chunk = case
        for kind, key, seq in c.expectations(chunk, buf, data):
            c.agrees(buf, kind, key, seq)

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
        self.records = self.sized(0, 8)

    def sized(self, least: int, most: int) -> st.SearchStrategy[Any]:
        """Records describing between `least` and `most` extents."""
        entry = st.tuples(st.sampled_from(list(self.mod.ExtentState)), u32)
        return st.builds(
            lambda extents, *fields: self.mod.Superblock(
                *fields, tuple(s for s, _ in extents), tuple(w for _, w in extents)
            ),
            st.lists(entry, min_size=least, max_size=most),
            u64,
            u64,
            u64,
            u32,
            u32,
            u32,
            u32,
        )

    def bodies(self) -> st.SearchStrategy[bytes]:
        """Arbitrary bytes, or a record's body with bytes overwritten, cut and extended."""

        @st.composite
        def damaged(draw: st.DrawFn) -> bytes:
            body = bytearray(draw(self.records).body())
            for _ in range(draw(st.integers(0, 3))):
                if body:
                    body[draw(st.integers(0, len(body) - 1))] = draw(st.integers(0, 255))
            return bytes(body[: draw(st.integers(0, len(body)))]) + draw(st.binary(max_size=12))

        return st.one_of(st.binary(max_size=80), damaged())


def superblock_records(package: ModuleType) -> Test:
    """A record round trips; every proper prefix of it and of its body, and every bit flip of
    it, is refused."""
    s = _Superblocks(package)

    @given(s.records)
    def test(record: Any) -> None:
        buf = record.encode()
        assert s.mod.Superblock.decode(buf) == record
        for end in range(len(buf)):
            _refuses(s.error, s.mod.Superblock.decode, buf[:end])
        body = record.body()
        for end in range(len(body)):
            _refuses(s.error, lambda b: s.mod.decode_body(record.generation, b), body[:end])
        if len(record.states) <= 2:
            for flipped in _flips(buf):
                _refuses(s.error, s.mod.Superblock.decode, flipped)

    return test


def superblock_bodies(package: ModuleType) -> Test:
    """Any body decodes to the record it encodes, or raises `CorruptChunk`."""
    s = _Superblocks(package)
    check = _canonical(s.error, lambda body: s.mod.decode_body(7, body), lambda sb: sb.body())

    @given(s.bodies())
    def test(body: bytes) -> None:
        check(body)

    return test


def superblock_arbitrary_bytes(package: ModuleType) -> Test:
    """`Superblock.decode` of any byte string raises `CorruptChunk` or returns a record whose
    encoding is the start of those bytes: over arbitrary bytes, damaged records, superblock
    chunks with a valid checksum around a damaged body, and other kinds of chunk or a keyed
    chunk around a valid body."""
    s = _Superblocks(package)
    chunk = module(package, "chunk")

    @st.composite
    def wrapped(draw: st.DrawFn) -> bytes:
        record = draw(s.records)
        if draw(st.booleans()):
            return bytes(
                chunk.encode(chunk.Kind.SUPERBLOCK, record.generation, b"", draw(s.bodies()))
            )
        others = st.sampled_from([k for k in chunk.Kind if k != chunk.Kind.SUPERBLOCK])
        kind, key = draw(
            st.tuples(others, st.binary(max_size=4))
            | st.tuples(st.just(chunk.Kind.SUPERBLOCK), st.binary(min_size=1, max_size=4))
        )
        return bytes(chunk.encode(kind, record.generation, key, record.body()))

    @st.composite
    def overwritten(draw: st.DrawFn) -> bytes:
        buf = bytearray(draw(s.records).encode())
        for _ in range(draw(st.integers(1, 3))):
            buf[draw(st.integers(0, len(buf) - 1))] = draw(st.integers(0, 255))
        return bytes(buf)

    garbage = st.one_of(st.binary(max_size=120), overwritten(), wrapped())

    @given(garbage, st.binary(max_size=12))
    def test(buf: bytes, junk: bytes) -> None:
        buf += junk
        try:
            record = s.mod.Superblock.decode(buf)
        except s.error:
            return
        encoded = record.encode()
        assert buf[: len(encoded)] == encoded, f"{buf!r} decoded to {record!r}"

    return test


def index_runs(package: ModuleType) -> Test:
    """A run round trips and its every proper prefix is refused; any other value decodes to the
    run it encodes or is refused."""
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
        buf = encode(run)
        assert mod.decode_run(buf) == run
        for end in range(len(buf)):
            _refuses(error, mod.decode_run, buf[:end])
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


def recovery_scans(package: ModuleType) -> Test:
    """Recovery's scans of raw extents raise nothing, whatever the bytes. `scan_extent` returns
    the chunks `decode_prefix` finds one after another from where it starts, while their seqs
    increase past `min_seq` and none is a superblock record, and stops where the first chunk it
    cannot take starts, with a reason unless that is the write pointer. `find_superblock` finds
    nothing or a record whose encoding ends where it says, and on undamaged extents the newest.
    """
    c = _Chunks(package)
    s = _Superblocks(package)
    recovery = module(package, "recovery")
    corruption: type[Exception] = module(package, "errors").CorruptionError
    geometry = module(package, "limits").SMALL_GEOMETRY
    count = geometry.extent_count
    # Mostly records of this disk's size, sometimes of another: damage no crash leaves.
    records = st.one_of(s.sized(count, count), s.sized(count, count), s.records)
    disk_class = module(package, "simdisk").SimDisk
    log_extent = 2
    kinds = st.sampled_from(list(c.mod.Kind))
    small = st.tuples(kinds, st.binary(max_size=8), st.binary(max_size=40))

    @st.composite
    def damaged(draw: st.DrawFn, buf: bytes) -> tuple[bytes, bool]:
        """`buf` as it is, or with bytes overwritten, cut short or followed by garbage; and
        whether it was damaged."""
        how = draw(st.sampled_from(("intact", "overwritten", "cut", "junk")))
        if how == "overwritten" and buf:
            out = bytearray(buf)
            for _ in range(draw(st.integers(1, 3))):
                out[draw(st.integers(0, len(buf) - 1))] = draw(st.integers(0, 255))
            return bytes(out), True
        if how == "cut":
            return buf[: draw(st.integers(0, len(buf)))], True
        if how == "junk":
            return buf + draw(c.garbage()), True
        return buf, False

    @st.composite
    def log(draw: st.DrawFn) -> bytes:
        # Seqs mostly increase, and sometimes repeat or go back, as stale bytes after a reset do.
        seq = draw(st.integers(0, 4))
        parts = []
        for kind, key, value in draw(st.lists(small, max_size=6)):
            seq = max(0, seq + draw(st.integers(-1, 2)))
            parts.append(bytes(c.mod.encode(kind, seq, key, value)))
        return draw(damaged(b"".join(parts)))[0]

    @st.composite
    def superblock_extent(draw: st.DrawFn) -> tuple[bytes, list[Any], bool]:
        """The extent's bytes, the records in it, and whether it is damaged. Generations are
        small so that the two extents share some."""
        written = [
            attrs.evolve(record, generation=draw(st.integers(0, 8)))
            for record in draw(st.lists(records, max_size=4))
        ]
        buf, damage = draw(damaged(b"".join(record.encode() for record in written)))
        return buf, written, damage

    @given(log(), superblock_extent(), superblock_extent(), st.data())
    def test(
        log_bytes: bytes,
        first: tuple[bytes, list[Any], bool],
        second: tuple[bytes, list[Any], bool],
        data: st.DataObject,
    ) -> None:
        disk = disk_class(geometry)
        for extent, buf in ((log_extent, log_bytes), (0, first[0]), (1, second[0])):
            if buf:
                disk.append(extent, buf)
        start = data.draw(st.integers(0, len(log_bytes)))
        min_seq = data.draw(st.integers(0, 4))

        scan = recovery.scan_extent(disk, log_extent, start, min_seq)
        expected = []
        pos, last = start, min_seq
        while pos < len(log_bytes):
            try:
                chunk = c.mod.decode_prefix(log_bytes[pos:], geometry.extent_bytes)
            except c.error:
                break
            if chunk.seq <= last or chunk.kind == c.mod.Kind.SUPERBLOCK:
                break
            expected.append((chunk.seq, chunk.kind, chunk.key, pos, chunk.encoded_bytes))
            pos += chunk.encoded_bytes
            last = chunk.seq
        got = [(x.seq, x.kind, x.key, x.offset, x.length) for x in scan.chunks]
        assert got == expected, f"scanning {log_bytes!r} from {start} found {got}"
        assert all(x.extent == log_extent for x in scan.chunks)
        assert scan.stop == pos, f"the scan stopped at {scan.stop}, not at {pos}"
        assert (scan.reason is None) == (pos == len(log_bytes)), scan.reason

        written = first[1] + second[1]
        try:
            found = recovery.find_superblock(disk)
        except corruption as err:
            # A record for a disk of another size is damage no crash explains; any other
            # refusal, or a chunk error escaping, is a bug.
            assert not isinstance(err, c.error), f"find_superblock let {err!r} escape"
            assert any(len(r.states) != count for r in written), f"find_superblock: {err}"
            return
        if found is not None:
            encoded = found.superblock.encode()
            image = (first[0], second[0])[found.extent]
            assert image[found.end - len(encoded) : found.end] == encoded, found
        sized = all(len(r.states) == count for r in written)
        if written and sized and not (first[2] or second[2]):
            assert found is not None, "no record found on undamaged superblock extents"
            newest = max(r.generation for r in written)
            assert found.superblock.generation == newest, found

    return test


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
    "chunk_fast_path": chunk_fast_path,
    "superblock_arbitrary_bytes": superblock_arbitrary_bytes,
    "recovery_scans": recovery_scans,
}
