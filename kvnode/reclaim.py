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
    fits: Sequence[bool] | None = None,
    capacity: int = 0,
) -> int | None:
    """The log extent to reclaim, never the active one; None if there is nothing to gain.

    Extents marked `droppable` (nothing in them is live, covered only by the index run, or
    referenced by the durable index run) come first: freeing them writes nothing to the log, so
    it works even when the log has no room for the index run that reclaiming any other extent
    needs. Any other extent is a candidate only if `fits` marks it: evacuating it writes copies
    of its live chunks and an index run, and one that would need more room than reclamation may
    take would strand it halfway, or free one extent while filling two. Among equals, the most
    dead bytes wins, then the lowest extent number.

    Given an extent's `capacity` in bytes, the unwritten tail of an extent counts as dead too:
    only the active extent is ever appended to, so the rest of any other is lost until it is
    freed, and an extent a large chunk left holding one small live chunk would never be chosen.

    pre: len(states) == len(write_pointers) == len(live_bytes)
    pre: droppable is None or len(droppable) == len(states)
    pre: fits is None or len(fits) == len(states)
    pre: capacity >= 0 and (capacity == 0 or all(wp <= capacity for wp in write_pointers))
    pre: all(0 <= live <= wp for live, wp in zip(live_bytes, write_pointers, strict=True))
    pre: droppable is None or not any(d and n for d, n in zip(droppable, live_bytes, strict=True))
    post: __return__ is None or (states[__return__] == ExtentState.LOG and __return__ != active)
    post:
        __return__ is None or live_bytes[__return__] < max(1, write_pointers[__return__], capacity)
    post: __return__ is None or fits is None or fits[__return__] or droppable[__return__]
    """
    best: tuple[bool, int] | None = None
    victim: int | None = None
    for extent, state in enumerate(states):
        if state is not ExtentState.LOG or extent == active:
            continue
        dead = max(write_pointers[extent], capacity) - live_bytes[extent]
        drop = droppable is not None and droppable[extent]
        if not drop and fits is not None and not fits[extent]:
            continue
        # An empty log extent (opened just before a crash, say) holds nothing dead, but is
        # still worth freeing: otherwise it would stay out of use forever.
        if dead <= 0 and not (drop and write_pointers[extent] == 0):
            continue
        rank = (drop, dead)
        if best is None or rank > best:
            best, victim = rank, extent
    return victim
