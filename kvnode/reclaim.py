"""Reclamation policy: which extent to evacuate. Pure: a function of a snapshot, no I/O."""

from __future__ import annotations

from collections.abc import Sequence

from kvnode.superblock import ExtentState


def choose_victim(
    states: Sequence[ExtentState],
    write_pointers: Sequence[int],
    live_bytes: Sequence[int],
    active: int,
    droppable: Sequence[bool] | None = None,
) -> int | None:
    """The log extent to reclaim, never the active one; None if there is nothing to gain.

    Extents marked `droppable` (nothing in them is live, covered only by the index run, or
    referenced by the durable index run) come first: freeing them writes nothing to the log, so
    it works even when the log has no room for the index run that reclaiming any other extent
    needs. Among equals, the most dead bytes wins, then the lowest extent number.

    pre: len(states) == len(write_pointers) == len(live_bytes)
    pre: droppable is None or len(droppable) == len(states)
    pre: all(0 <= live <= wp for live, wp in zip(live_bytes, write_pointers, strict=True))
    pre: droppable is None or not any(d and n for d, n in zip(droppable, live_bytes, strict=True))
    post: __return__ is None or (states[__return__] == ExtentState.LOG and __return__ != active)
    post: __return__ is None or live_bytes[__return__] < max(1, write_pointers[__return__])
    """
    best: tuple[bool, int] | None = None
    victim: int | None = None
    for extent, state in enumerate(states):
        if state is not ExtentState.LOG or extent == active:
            continue
        dead = write_pointers[extent] - live_bytes[extent]
        drop = droppable is not None and droppable[extent]
        # An empty log extent (opened just before a crash, say) holds nothing dead, but is
        # still worth freeing: otherwise it would stay out of use forever.
        if dead <= 0 and not (drop and write_pointers[extent] == 0):
            continue
        rank = (drop, dead)
        if best is None or rank > best:
            best, victim = rank, extent
    return victim
