"""Little-endian integer fields read by slicing. Pure: no I/O.

The decoders read fields with these helpers instead of `struct`: a short buffer becomes a
`CorruptChunk` here, in one place, rather than a `struct.error` wherever a length check was
forgotten, and symbolic execution (CrossHair) sees through slices and `int.from_bytes`, whereas
`struct` is C code that forces every symbolic byte to a concrete value. (For the same reason,
membership tests in the decoders use tuples, not sets: hashing a symbolic value makes it
concrete.)
"""

from __future__ import annotations

from kvnode.errors import CorruptChunk

#: What the decoders accept.
Buffer = bytes | bytearray | memoryview


def uint(buf: Buffer, pos: int, size: int, what: str = "field") -> int:
    """The unsigned little-endian integer of `size` bytes at `pos` in `buf`.

    Deliberately without a docstring contract: CrossHair would then treat calls to it as
    satisfying the contract instead of running them, and lose the link to the bytes read.
    """
    end = pos + size
    if end > len(buf):
        raise CorruptChunk(f"{what} truncated: needs bytes {pos}..{end}, have {len(buf)}")
    return int.from_bytes(buf[pos:end], "little")
