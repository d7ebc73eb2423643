"""Incremental chunk decoding: bytes go in as they arrive, whole chunks come out. Pure: no I/O.

Theory of operation. Recovery reads a log extent in blocks rather than all at once, so a chunk may
straddle two reads. `ChunkReader` buffers what it was fed and hands out a chunk only when all of
it is there. It decides nothing from a partial header: with fewer than `CHUNK_HEADER_BYTES`
buffered it asks for more, so feeding one byte at a time gives exactly the chunks and the error
that feeding everything at once gives. A header's length fields are checked against `limit`
before the reader waits for the body, so a corrupt length can never make it buffer more than
`limit` bytes. Errors are sticky: once the bytes are corrupt, every later call raises the same
`CorruptChunk`, as a stream has no way to resynchronise past damage.
"""

from __future__ import annotations

from kvnode.chunk import Chunk, decode_header, decode_prefix
from kvnode.errors import CorruptChunk
from kvnode.limits import CHUNK_HEADER_BYTES

#: Consumed bytes are dropped from the buffer once they are at least this many, and at least
#: half of it: dropping after every chunk would copy the buffer once per chunk.
_COMPACT_BYTES = 64 * 1024


class ChunkReader:
    """Decode a stream of concatenated chunks fed in arbitrary pieces."""

    def __init__(self, limit: int):
        if limit < CHUNK_HEADER_BYTES:
            raise ValueError(f"limit must be at least {CHUNK_HEADER_BYTES} bytes, got {limit}")
        self.limit = limit
        self._buf = bytearray()
        self._pos = 0  # bytes of `_buf` already handed out as chunks
        self._consumed = 0  # bytes handed out as chunks, over the reader's life
        self._error: CorruptChunk | None = None

    @property
    def consumed(self) -> int:
        """Bytes of the stream decoded into chunks so far: the offset of the next chunk."""
        return self._consumed

    @property
    def buffered(self) -> int:
        """Bytes fed but not yet handed out in a chunk."""
        return len(self._buf) - self._pos

    def feed(self, data: bytes | bytearray | memoryview) -> None:
        """Append `data` to the stream."""
        if self._pos >= _COMPACT_BYTES and self._pos * 2 >= len(self._buf):
            del self._buf[: self._pos]
            self._pos = 0
        self._buf += data

    def next_chunk(self) -> Chunk | None:
        """The next whole chunk, or None until more bytes are fed; `CorruptChunk` if the bytes
        at the current offset cannot start a valid chunk."""
        if self._error is not None:
            raise self._error
        available = len(self._buf) - self._pos
        if available < CHUNK_HEADER_BYTES:
            return None
        try:
            head = bytes(self._buf[self._pos : self._pos + CHUNK_HEADER_BYTES])
            total = decode_header(head, self.limit).total_bytes
            if total > available:
                return None
            chunk = decode_prefix(bytes(self._buf[self._pos : self._pos + total]), self.limit)
        except CorruptChunk as err:
            self._error = err
            raise
        self._pos += total
        self._consumed += total
        return chunk

    def incomplete(self) -> str | None:
        """Why the stream cannot end here, after `next_chunk` returned None: None if it ended on
        a chunk boundary, else a reason naming the partial chunk left (a torn tail, in a log)."""
        left = len(self._buf) - self._pos
        if not left:
            return None
        if left < CHUNK_HEADER_BYTES:
            return f"truncated header: {left} of {CHUNK_HEADER_BYTES} bytes"
        head = bytes(self._buf[self._pos : self._pos + CHUNK_HEADER_BYTES])
        return f"truncated chunk: {left} of {decode_header(head, self.limit).total_bytes} bytes"
