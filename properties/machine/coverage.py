"""Coverage: which operations ran and which interesting states a property reached.

A generator that never reaches a state is a blind spot (ShardStore missed a bug because a cache
was so large in every test that its miss path never ran), so reports list what was missed too.
"""

from __future__ import annotations

from collections import Counter

import attrs

from kvcheck.machine.ops import KINDS

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
    "drained": "every key was deleted and the largest value then fit",
    "reclaim-moved-live": "reclamation moved at least one live chunk",
    "reboot-index-and-log": "a reboot recovered from an index run plus a replayed log",
    "get-after-moving-reclaim": "a get found a value written before the last moving reclaim",
    "crash-kept-nothing": "a crash lost every unsynced write",
    "crash-kept-some": "a crash kept some unsynced writes and lost others",
    "crash-torn-page": "a crash tore a page: only part of it reached the disk",
    "crash-during-put": "power failed in the middle of a put or a delete",
    "crash-during-sync": "power failed in the middle of a sync",
    "crash-during-flush_index": "power failed in the middle of an index flush",
    "crash-during-reclaim": "power failed in the middle of reclamation",
    "crash-during-close": "power failed in the middle of a clean close",
    "fault-read": "one disk read failed",
    "fault-read-until-reboot": "every disk read failed until the next reboot",
    "fault-write": "one disk write failed",
    "fault-write-until-reboot": "every disk write failed until the next reboot",
    "fault-sync": "one disk sync failed",
    "fault-sync-until-reboot": "every disk sync failed until the next reboot",
    "fault-space": "the file system filled once: a short write, then ENOSPC",
    "fault-space-until-reboot": "the file system was full until the next reboot",
    "fault-bitflip": "a disk read returned a flipped bit",
    "fault-surfaced": "an operation failed cleanly because of an injected fault",
    "damage-refused": "after damage at rest, reopening refused with a documented error",
    "damage-read-failed": "after damage at rest, the store opened but a read was refused",
    "damage-tolerated": "after damage at rest, the store opened and every read was right",
}
#: States that only a store reporting kvnode's `NodeStats` fields can reach.
NODE_STATES = frozenset({"reclaim-moved-live", "reboot-index-and-log", "get-after-moving-reclaim"})
#: States that need a target on a `SimDisk` that can crash.
CRASH_STATES = frozenset(s for s in STATES if s.startswith("crash-"))
#: States that need fault injection switched on.
FAULT_STATES = frozenset(s for s in STATES if s.startswith("fault-"))
#: Fault states only a device modelling free space (`SimFS`) can reach.
SPACE_STATES = frozenset({"fault-space", "fault-space-until-reboot"})
#: States that need damage at rest switched on, on a target that can be damaged.
DAMAGE_STATES = frozenset(s for s in STATES if s.startswith("damage-"))
#: Operations that need a crashable disk, fault injection, or damage at rest.
CRASH_OPS = frozenset({"dirty_reboot", "crash_sweep"})
#: Operations drawn only by a machine built with sweeps (`conformance_machine(sweeps=True)`).
SWEEP_OPS = frozenset({"crash_sweep", "fault_sweep"})
FAULT_OPS = frozenset({"fail_disk", "flip_bit", "fault_sweep"})
DAMAGE_OPS = frozenset({"damage"})


@attrs.define
class Coverage:
    """Counts of operations and states over every example of one property."""

    ops: Counter[str] = attrs.field(factory=Counter)
    states: Counter[str] = attrs.field(factory=Counter)
    not_applicable: set[str] = attrs.field(factory=set)
    examples: int = 0
    steps: int = 0
    #: What a target's own audit counted (for a directory store: syncs and closes that fsynced
    #: something, and that fsynced nothing).
    audit: Counter[str] = attrs.field(factory=Counter)

    def op(self, kind: str) -> None:
        """Count one operation of `kind`."""
        self.ops[kind] += 1
        self.steps += 1

    def reach(self, state: str) -> None:
        """Record that `state` was reached."""
        assert state in STATES, state
        self.states[state] += 1

    def missed_ops(self) -> list[str]:
        """Operation kinds that never ran (of those the property uses)."""
        return [k for k in KINDS if not self.ops[k] and k not in self.not_applicable]

    def missed_states(self) -> list[str]:
        """Reachable states that were never reached."""
        return [s for s in STATES if not self.states[s] and s not in self.not_applicable]
