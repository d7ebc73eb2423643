"""`SimDisk`: an in-memory, deterministic disk that can crash, tear pages and fail.

Theory of operation. The disk keeps two images of every extent: the *durable* image (what a
crash cannot take away) and the *current* image (what reads see). Every append records one
pending write per page it touches, holding the page's whole image as of that moment (the way a
page cache writes back whole pages); a truncate or reset records a pending truncate. `sync`
makes the current image durable and empties the pending list. `crash(plan)` applies, in their
original order, only the pending writes the plan keeps (any subset: the disk may reorder
writes freely between syncs), optionally tearing kept page writes so only a prefix of the page
reaches the medium, then reopens with the current image equal to the durable one. A page kept
past a page that was lost leaves a hole of zero bytes, as a sparse file would.

Power loss in the middle of an operation: `arm_power_loss(n)` lets `n` more appends, truncates
or syncs through, then raises `PowerLoss` (before the next one takes effect); the caller then
`crash`es the disk as it was at that instant. `PowerLoss` is a `BaseException`, so code that
handles ordinary errors cannot swallow the simulated end of the world.

Damage at rest: `damage` flips bits, `zero` zeroes a range and `cut` truncates an extent, on
the medium itself (durable and current images alike), as decay or a careless operator would.

Faults: `fail(op, times)` makes the next `times` reads, writes or syncs raise `DiskIOError`
(`times=None`: until `clear_faults`); `flip_bit_on_read(bit)` flips one bit of the next read's
result. A failed sync leaves its writes pending: they may or may not survive a crash.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from typing import Literal

import attrs

from kvnode.disk import check_append, check_extent, check_read, check_truncate
from kvnode.errors import DiskIOError
from kvnode.limits import Geometry

#: Fault kinds: failed reads, writes and syncs (`EIO`), and, where a simulated file system
#: models free space, writes that find it full (`ENOSPC`).
Op = Literal["read", "write", "sync", "space"]


class PowerLoss(BaseException):
    """The simulated machine lost power in the middle of an operation."""


@attrs.frozen
class PendingWrite:
    """One unsynced change: a page image (`kind="page"`) or a truncate to `offset`."""

    index: int
    kind: Literal["page", "truncate"]
    extent: int
    offset: int
    data: bytes = b""


def _indices(value: Iterable[int]) -> frozenset[int]:
    return frozenset(int(i) for i in value)


def _tears(value: Mapping[int, int] | Iterable[tuple[int, int]]) -> tuple[tuple[int, int], ...]:
    items = value.items() if isinstance(value, Mapping) else value
    return tuple(sorted((int(k), int(v)) for k, v in items))


@attrs.frozen
class CrashPlan:
    """Which pending writes survive a crash, and which of those are torn (and where)."""

    keep: frozenset[int] = attrs.field(default=frozenset(), converter=_indices)
    #: pending-write index -> number of leading bytes of that page image that reach the medium
    tears: tuple[tuple[int, int], ...] = attrs.field(default=(), converter=_tears)

    @classmethod
    def keep_nothing(cls) -> CrashPlan:
        """Lose every unsynced write."""
        return cls()

    @classmethod
    def keep_all(cls, disk: SimDisk) -> CrashPlan:
        """Keep every unsynced write intact."""
        return cls(keep=frozenset(w.index for w in disk.pending_writes()))


class FaultInjection:
    """Power loss and injected faults, as a simulated disk or file system offers them: the
    countdown to a `PowerLoss`, the failures `fail` arms, the bit flips of reads. A subclass
    calls `_tick_power` before each change, `_take_failure` before each operation (raising its
    own error when it says so) and `_flip` on what a read returns."""

    #: The kinds of `fail` this device models; others are refused, not silently never fired.
    FAULTS: tuple[Op, ...] = ("read", "write", "sync")

    def __init__(self) -> None:
        self._failures: dict[str, int | None] = {}
        self._skips: dict[str, int] = {}
        self._flips: list[int] = []
        self._power_left: int | None = None
        self._power_syncs_only = False

    def arm_power_loss(self, after: int, *, syncs_only: bool = False) -> None:
        """Let `after` more changes or syncs happen (only syncs, with `syncs_only`), then raise
        `PowerLoss` before the next one. Counting syncs puts the loss where the most writes are
        pending: just before the operation meant to make them durable."""
        if after < 0:
            raise ValueError("after must not be negative")
        self._power_left = after
        self._power_syncs_only = syncs_only

    def disarm_power_loss(self) -> None:
        """Cancel an armed power loss."""
        self._power_left = None

    def fail(self, op: Op, times: int | None = 1, *, skip: int = 0) -> None:
        """Let `skip` operations of kind `op` succeed, then make the next `times` fail (`None`:
        until cleared). Skipping puts the failure at a chosen call inside an operation."""
        if op not in self.FAULTS:
            raise ValueError(f"{type(self).__name__} cannot fail {op!r}: it models {self.FAULTS}")
        if times is not None and times < 1:
            raise ValueError("times must be positive or None")
        if skip < 0:
            raise ValueError("skip must not be negative")
        self._failures[op] = times
        self._skips[op] = skip

    def fault_armed(self, op: Op) -> bool:
        """Whether failures `fail` armed for `op` are still to come (always, for `None`)."""
        return op in self._failures

    def flip_bit_on_read(self, bit: int, times: int = 1) -> None:
        """Flip bit `bit` (modulo the read's length) in each of the next `times` reads."""
        self._flips.extend([bit] * times)

    def clear_faults(self) -> None:
        """Stop injecting faults."""
        self._failures.clear()
        self._skips.clear()
        self._flips.clear()

    def _tick_power(self, *, sync: bool = False) -> None:
        if self._power_left is None or (self._power_syncs_only and not sync):
            return
        if self._power_left == 0:
            self._power_left = None
            raise PowerLoss("power lost")
        self._power_left -= 1

    def _take_failure(self, op: Op) -> bool:
        """Whether this `op` is to fail (counting it off what `fail` armed)."""
        if op not in self._failures:
            return False
        if self._skips.get(op, 0) > 0:
            self._skips[op] -= 1
            return False
        remaining = self._failures[op]
        if remaining is not None:
            if remaining <= 1:
                del self._failures[op]
            else:
                self._failures[op] = remaining - 1
        return True

    def _flip(self, data: bytes) -> bytes:
        """`data` with the next armed bit flip applied, if any."""
        if not self._flips or not data:
            return data
        bit = self._flips.pop(0) % (8 * len(data))
        flipped = bytearray(data)
        flipped[bit // 8] ^= 1 << (bit % 8)
        return bytes(flipped)


class SimDisk(FaultInjection):
    """An in-memory disk for checking; see the module docstring for its semantics."""

    def __init__(self, geometry: Geometry):
        self._geometry = geometry
        self._durable = [bytearray() for _ in range(geometry.extent_count)]
        self._current = [bytearray() for _ in range(geometry.extent_count)]
        self._pending: list[PendingWrite] = []
        super().__init__()
        self.crashes = 0

    @property
    def geometry(self) -> Geometry:
        """The disk's shape."""
        return self._geometry

    def append(self, extent: int, data: bytes) -> int:
        """Write at the write pointer; record one pending page write per page touched."""
        current = self._current[extent] if 0 <= extent < len(self._current) else bytearray()
        check_append(self._geometry, extent, len(current), len(data))
        self._tick_power()
        self._maybe_fail("write", extent)
        offset = len(current)
        current += data
        page = self._geometry.page_bytes
        end = offset + len(data)
        start = offset - offset % page
        while start < end:
            image = bytes(current[start : min(start + page, end)])
            self._pending.append(PendingWrite(len(self._pending), "page", extent, start, image))
            start += page
        return offset

    def read(self, extent: int, offset: int, length: int) -> bytes:
        """Read from the current image, applying any injected fault."""
        current = self._current[extent] if 0 <= extent < len(self._current) else bytearray()
        check_read(self._geometry, extent, len(current), offset, length)
        self._maybe_fail("read", extent)
        return self._flip(bytes(current[offset : offset + length]))

    def write_pointer(self, extent: int) -> int:
        """Length of the extent's current image."""
        check_extent(self._geometry, extent)
        return len(self._current[extent])

    def truncate(self, extent: int, length: int) -> None:
        """Discard the current image beyond `length` (pending until synced)."""
        current = self._current[extent] if 0 <= extent < len(self._current) else bytearray()
        check_truncate(self._geometry, extent, len(current), length)
        self._tick_power()
        self._maybe_fail("write", extent)
        del current[length:]
        self._pending.append(PendingWrite(len(self._pending), "truncate", extent, length))

    def reset(self, extent: int) -> None:
        """Empty the extent (pending until synced)."""
        self.truncate(extent, 0)

    def sync(self) -> None:
        """Make the current image durable."""
        self._tick_power(sync=True)
        self._maybe_fail("sync", None)
        self._durable = [bytearray(c) for c in self._current]
        self._pending.clear()

    def close(self) -> None:
        """Nothing to release; unsynced writes stay pending until a crash or sync."""

    # -- checking interface -------------------------------------------------------------

    def pending_writes(self) -> tuple[PendingWrite, ...]:
        """The unsynced writes, in issue order; a `CrashPlan` names them by `index`."""
        return tuple(self._pending)

    def crash(self, plan: CrashPlan | None = None) -> None:
        """Lose power: keep only what `plan` keeps (default: nothing unsynced)."""
        plan = plan or CrashPlan()
        tears = dict(plan.tears)
        for write in self._pending:
            if write.index not in plan.keep:
                continue
            image = self._durable[write.extent]
            if write.kind == "truncate":
                del image[write.offset :]
                continue
            data = write.data[: tears[write.index]] if write.index in tears else write.data
            if len(image) < write.offset:
                image.extend(bytes(write.offset - len(image)))
            image[write.offset : write.offset + len(data)] = data
        self._current = [bytearray(d) for d in self._durable]
        self._pending.clear()
        self._power_left = None
        self.crashes += 1

    def durable_image(self, extent: int) -> bytes:
        """What a crash that keeps nothing would leave in `extent`."""
        return bytes(self._durable[extent])

    def damage(self, extent: int, offset: int, mask: int = 0x01) -> None:
        """Flip bits (`mask`) of one byte on the medium itself, as decay would."""
        if not 0 < mask < 256:
            raise ValueError("mask must flip at least one bit of a byte")
        for image in (self._durable[extent], self._current[extent]):
            if offset < len(image):
                image[offset] ^= mask

    def zero(self, extent: int, offset: int, length: int) -> None:
        """Zero `length` bytes at `offset` on the medium (a sector that reads back empty)."""
        check_extent(self._geometry, extent)
        if offset < 0 or length < 0:
            raise ValueError("offset and length must not be negative")
        for image in (self._durable[extent], self._current[extent]):
            end = min(len(image), offset + length)
            if offset < end:
                image[offset:end] = bytes(end - offset)

    def cut(self, extent: int, length: int) -> None:
        """Lose everything from `length` on, on the medium (a truncated extent file)."""
        check_extent(self._geometry, extent)
        if length < 0:
            raise ValueError("length must not be negative")
        for image in (self._durable[extent], self._current[extent]):
            del image[length:]

    def clone(self) -> SimDisk:
        """An independent copy, pending writes and faults included (to try many crash plans)."""
        return copy.deepcopy(self)

    def _maybe_fail(self, op: Op, extent: int | None) -> None:
        if self._take_failure(op):
            raise DiskIOError(op, "injected fault", extent=extent)
