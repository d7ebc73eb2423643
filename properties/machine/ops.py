"""The operation alphabet, as values: what a property did, printable as a runnable program.

Kinds are listed from simple to complex (`KINDS`); the strategies keep that order so that
shrinking replaces a step by a simpler one before it drops it.
"""

from __future__ import annotations

import attrs

KINDS = (
    "get",
    "put",
    "delete",
    "scan",
    "sync",
    "flush_index",
    "reclaim",
    "drain",
    "clean_reboot",
    "dirty_reboot",
    "crash_sweep",
    "fail_disk",
    "flip_bit",
    "fault_sweep",
    "damage",
)


def render_bytes(data: bytes) -> str:
    """A short Python expression for `data`: `b"\\x07" * 300` rather than 300 escapes."""
    if len(data) > 8 and data == data[:1] * len(data):
        return f"{data[:1]!r} * {len(data)}"
    return repr(data)


def _render(arg: object) -> str:
    if isinstance(arg, bytes):
        return render_bytes(arg)
    if isinstance(arg, tuple):
        inner = ", ".join(_render(a) for a in arg)
        return f"({inner},)" if len(arg) == 1 else f"({inner})"
    return repr(arg)


@attrs.frozen
class Op:
    """One operation: the `Harness` method to call and its arguments."""

    kind: str = attrs.field(validator=attrs.validators.in_(KINDS))
    args: tuple[object, ...] = ()

    def code(self, receiver: str = "h") -> str:
        """The call as Python source, e.g. `h.put(b"k", b"\\x00" * 300)`."""
        return f"{receiver}.{self.kind}({', '.join(_render(a) for a in self.args)})"

    def __repr__(self) -> str:
        return self.code("")[1:]

    @property
    def written_bytes(self) -> int:
        """Bytes of key and value this operation asks the store to write."""
        if self.kind not in ("put", "delete"):
            return 0
        return sum(len(a) for a in self.args if isinstance(a, bytes))


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


def dirty_reboot(
    keep: tuple[bool, ...],
    tears: tuple[tuple[int, int], ...],
    during: tuple[object, ...] | None,
    after: int,
    keep_rest: bool,
    at_syncs: bool,
) -> Op:
    """A crash: which pending writes survive, which tear, and what it interrupts."""
    return Op("dirty_reboot", (keep, tears, during, after, keep_rest, at_syncs))


def crash_sweep(
    during: tuple[object, ...],
    keep: tuple[bool, ...],
    tears: tuple[tuple[int, int], ...],
    keep_rest: bool,
    at_syncs: bool,
) -> Op:
    """A power cut at every point inside `during`, each under the same crash plan."""
    return Op("crash_sweep", (during, keep, tears, keep_rest, at_syncs))


def fault_sweep(during: tuple[object, ...], kind: str) -> Op:
    """Each disk call of `kind` inside `during` failing in turn."""
    return Op("fault_sweep", (during, kind))


def fail_disk(op: str, times: int | None) -> Op:
    """Inject a disk fault."""
    return Op("fail_disk", (op, times))


def flip_bit(bit: int) -> Op:
    """Flip a bit of the next read."""
    return Op("flip_bit", (bit,))


def damage(how: str, region: int, offset: int, from_end: bool, bits: int, flush_first: bool) -> Op:
    """Damage the closed store's storage at rest (see `kvcheck.machine.damage`)."""
    return Op("damage", (how, region, offset, from_end, bits, flush_first))
