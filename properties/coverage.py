"""Coverage: which operations ran and which interesting states a property reached.

A generator that never reaches a state is a blind spot (ShardStore missed a bug because a cache
was so large in every test that its miss path never ran), so reports list what was missed too.
"""

from __future__ import annotations

from collections import Counter

import attrs

from properties.ops import KINDS

#: Interesting states, with what each one means. Node-only states need `stats()` fields.
STATES = {
    "overwrite": "a put replaced an existing value",
    "delete-hit": "a delete removed an existing key",
    "get-hit": "a get found a value",
    "get-miss": "a get found nothing",
    "scan-many": "a scan returned two or more pairs",
    "page-boundary-value": "a put whose chunk ended within one byte of a page boundary",
    "largest-value": "a put of a value within one byte of the largest allowed",
    "disk-full": "the store refused a write for lack of space (the model was left unchanged)",
    "reclaim-moved-live": "reclamation moved at least one live chunk",
    "reboot-index-and-log": "a reboot recovered from an index run plus a replayed log",
    "get-after-moving-reclaim": "a get found a value written before the last moving reclaim",
}
#: States that only a store reporting kvnode's `NodeStats` fields can reach.
NODE_STATES = frozenset({"reclaim-moved-live", "reboot-index-and-log", "get-after-moving-reclaim"})


@attrs.define
class Coverage:
    """Counts of operations and states over every example of one property."""

    ops: Counter[str] = attrs.field(factory=Counter)
    states: Counter[str] = attrs.field(factory=Counter)
    not_applicable: set[str] = attrs.field(factory=set)
    examples: int = 0
    steps: int = 0

    def op(self, kind: str) -> None:
        """Count one operation of `kind`."""
        self.ops[kind] += 1
        self.steps += 1

    def reach(self, state: str) -> None:
        """Record that `state` was reached."""
        assert state in STATES, state
        self.states[state] += 1

    def missed_ops(self) -> list[str]:
        """Operation kinds that never ran."""
        return [k for k in KINDS if not self.ops[k]]

    def missed_states(self) -> list[str]:
        """Reachable states that were never reached."""
        return [s for s in STATES if not self.states[s] and s not in self.not_applicable]
