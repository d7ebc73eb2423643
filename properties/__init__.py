"""Reusable properties that check a key-value store against the reference models.

Start with `conformance_machine(factory)`; see the README for a worked example.

Names are imported on first use: the package also holds the pytest plugin, which pytest loads in
every run, so importing the package alone must not import Hypothesis.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_EXPORTS = {
    "ConformanceMachine": "kvcheck.machine.conformance",
    "conformance_machine": "kvcheck.machine.conformance",
    "STATES": "kvcheck.machine.coverage",
    "Coverage": "kvcheck.machine.coverage",
    "ConformanceError": "kvcheck.machine.harness",
    "Harness": "kvcheck.machine.harness",
    "KINDS": "kvcheck.machine.ops",
    "Op": "kvcheck.machine.ops",
    "FileDiskTarget": "kvcheck.machine.targets",
    "SimDiskTarget": "kvcheck.machine.targets",
    "Store": "kvcheck.machine.targets",
    "StoreTarget": "kvcheck.machine.targets",
    "Target": "kvcheck.machine.targets",
    "as_target": "kvcheck.machine.targets",
    "filedisk_target": "kvcheck.machine.targets",
    "load_factory": "kvcheck.machine.targets",
    "simdisk_target": "kvcheck.machine.targets",
}
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

if TYPE_CHECKING:
    from kvcheck.machine.conformance import ConformanceMachine, conformance_machine
    from kvcheck.machine.coverage import STATES, Coverage
    from kvcheck.machine.harness import ConformanceError, Harness
    from kvcheck.machine.ops import KINDS, Op
    from kvcheck.machine.targets import (
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


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'kvcheck' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
