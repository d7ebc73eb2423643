"""The operation alphabet, as values: what a property did, printable as a runnable program.

Kinds are listed from simple to complex (`KINDS`); the strategies keep that order so that
shrinking replaces a step by a simpler one before it drops it.
"""

from __future__ import annotations

import attrs

KINDS = ("get", "put", "delete", "scan", "sync", "flush_index", "reclaim", "clean_reboot")


def render_bytes(data: bytes) -> str:
    """A short Python expression for `data`: `b"\\x07" * 300` rather than 300 escapes."""
    if len(data) > 8 and data == data[:1] * len(data):
        return f"{data[:1]!r} * {len(data)}"
    return repr(data)


def _render(arg: object) -> str:
    return render_bytes(arg) if isinstance(arg, bytes) else repr(arg)


@attrs.frozen
class Op:
    """One operation: the `Harness` method to call and its arguments."""

    kind: str = attrs.field(validator=attrs.validators.in_(KINDS))
    args: tuple[bytes | None, ...] = ()

    def code(self, receiver: str = "h") -> str:
        """The call as Python source, e.g. `h.put(b"k", b"\\x00" * 300)`."""
        return f"{receiver}.{self.kind}({', '.join(_render(a) for a in self.args)})"

    def __repr__(self) -> str:
        return self.code("")[1:]

    @property
    def written_bytes(self) -> int:
        """Bytes of key and value this operation asks the store to write."""
        return sum(len(a) for a in self.args if a) if self.kind in ("put", "delete") else 0


# Constructors named after the harness calls, so Hypothesis prints failing steps as `put(...)`.
def get(key: bytes) -> Op:
    """A get."""
    return Op("get", (key,))


def put(key: bytes, value: bytes) -> Op:
    """A put."""
    return Op("put", (key, value))


def delete(key: bytes) -> Op:
    """A delete."""
    return Op("delete", (key,))


def scan(start: bytes, end: bytes | None) -> Op:
    """A scan of start <= key < end."""
    return Op("scan", (start, end))


def repeat_byte(size: int, fill: int) -> bytes:
    """`size` copies of byte `fill`: values that are cheap to build, compare and print."""
    return bytes([fill]) * size
