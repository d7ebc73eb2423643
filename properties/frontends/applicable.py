"""The main job's properties, and which of them apply to a target (and why not).

Shared by `kvcheck` and the pytest plugin, so both run the same set and name the same reasons.
"""

from __future__ import annotations

from kvcheck.machine.targets import SimDiskTarget, Target

#: The main job's properties, in the order they run: a property that finishes early leaves
#: its time to the ones after it, so those that need the most time come last.
PROPERTIES = {
    "codecs": "the codec robustness properties, on the codecs of the target's node",
    "conformance": "the conformance machine, no crashes",
    "races": "client threads and maintenance under the controlled scheduler, linearizable",
    "damage": "damage at rest: bit flips, zeroed sectors and cuts while the store is closed",
    "faults": "injected disk faults, with dirty reboots",
    "crashes": "dirty reboots: power loss between and inside operations",
}

_NO_DISK = "the target has no simulated disk or file system"
_NODE_ON_SIMDISK = (
    "the node's {what} on a SimDisk target (a SimDiskTarget, whose node class it checks; "
    "the built-in one: simdisk)"
)


def not_applicable(probe: Target) -> dict[str, str | None]:
    """For each property, why it does not apply to `probe`'s target (None: it applies)."""
    has_disk = probe.disk is not None
    node = isinstance(probe, SimDiskTarget)
    return {
        "conformance": None,
        "crashes": None if has_disk else _NO_DISK,
        "faults": None if has_disk else _NO_DISK,
        "damage": None
        if probe.can_damage and probe.can_reboot
        else "the target cannot damage its storage at rest",
        "races": None
        if node
        else "races drive "
        + _NODE_ON_SIMDISK.format(what="threads under the controlled scheduler, which needs it"),
        "codecs": None
        if node
        else "the codec properties check " + _NODE_ON_SIMDISK.format(what="package's codecs, run"),
    }
