"""Reusable properties that check a key-value store against the reference models.

Start with `conformance_machine(factory)`; see the README for a worked example.
"""

from properties.conformance import ConformanceMachine, conformance_machine
from properties.coverage import STATES, Coverage
from properties.harness import ConformanceError, Harness
from properties.ops import KINDS, Op
from properties.targets import (
    FileDiskTarget,
    SimDiskTarget,
    Store,
    StoreTarget,
    Target,
    as_target,
    filedisk_target,
    load_factory,
    simdisk_target,
)

__all__ = [
    "KINDS",
    "STATES",
    "ConformanceError",
    "ConformanceMachine",
    "Coverage",
    "FileDiskTarget",
    "Harness",
    "Op",
    "SimDiskTarget",
    "Store",
    "StoreTarget",
    "Target",
    "as_target",
    "conformance_machine",
    "filedisk_target",
    "load_factory",
    "simdisk_target",
]
