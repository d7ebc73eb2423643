"""Reclamation policy: which extent to evacuate. Pure: a function of a snapshot, no I/O."""

from __future__ import annotations

from collections.abc import Sequence

from kvnode.superblock import ExtentState


def choose_victim(
    states: Sequence[ExtentState],
    write_pointers: Sequence[int],
    live_bytes: Sequence[int],
    active: int,
) -> int | None:
    """The log extent with the most dead bytes, never the active one; None if none has any.

    Ties go to the lowest extent number, so the choice is deterministic.

    pre: len(states) == len(write_pointers) == len(live_bytes)
    post: __return__ is None or (states[__return__] == ExtentState.LOG and __return__ != active)
    post: __return__ is None or write_pointers[__return__] > live_bytes[__return__]
    """
    best: int | None = None
    best_dead = 0
    for extent, state in enumerate(states):
        if state is not ExtentState.LOG or extent == active:
            continue
        dead = write_pointers[extent] - live_bytes[extent]
        if dead > best_dead:
            best, best_dead = extent, dead
    return best
