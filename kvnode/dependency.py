"""Dependencies: how a caller learns that a mutation would survive any crash.

Every mutation takes a ticket from the node's `DurabilityClock`; a successful `sync` makes every
ticket issued before it durable, because the disk makes every earlier write durable at once.
"""

from __future__ import annotations

import attrs

from kvnode.errors import KVTypeError


class DurabilityClock:
    """Counts mutations issued and the last one a completed sync covered."""

    __slots__ = ("durable_through", "issued")

    def __init__(self) -> None:
        self.issued = 0
        self.durable_through = 0

    def tick(self) -> int:
        """Issue a ticket for a mutation whose writes have all been handed to the disk."""
        self.issued += 1
        return self.issued

    def synced(self, through: int) -> None:
        """Record that a sync made every ticket up to `through` durable."""
        self.durable_through = max(self.durable_through, through)


@attrs.frozen(eq=False)
class Dependency:
    """Returned by every mutation; `is_persistent()` turns true once it survives any crash."""

    _clock: DurabilityClock | None
    _ticket: int

    @classmethod
    def persistent(cls) -> Dependency:
        """A dependency that is already persistent (for stores with synchronous durability)."""
        return cls(None, 0)

    def is_persistent(self) -> bool:
        """True once the mutation (and every earlier one) would survive a crash."""
        return self._clock is None or self._clock.durable_through >= self._ticket

    def and_(self, other: Dependency) -> Dependency:
        """A dependency persistent once both are."""
        if not isinstance(other, Dependency):
            raise KVTypeError(f"can only combine with a Dependency, not {type(other).__name__}")
        if self._clock is None:
            return other
        if other._clock is None or other._clock is self._clock:
            return self if self._ticket >= other._ticket else other
        raise ValueError("cannot combine dependencies of different nodes")
