"""Reusable properties that check a key-value store against the reference models.

Start with `conformance_machine(factory)`; see the README for a worked example.

Names are imported on first use: the package also holds the pytest plugin, which pytest loads in
every run, so importing the package alone must not import Hypothesis.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_EXPORTS = {
    "ConformanceMachine": "properties.conformance",
    "conformance_machine": "properties.conformance",
    "STATES": "properties.coverage",
    "Coverage": "properties.coverage",
    "ConformanceError": "properties.harness",
    "Harness": "properties.harness",
    "KINDS": "properties.ops",
    "Op": "properties.ops",
    "FileDiskTarget": "properties.targets",
    "SimDiskTarget": "properties.targets",
    "Store": "properties.targets",
    "StoreTarget": "properties.targets",
    "Target": "properties.targets",
    "as_target": "properties.targets",
    "filedisk_target": "properties.targets",
    "load_factory": "properties.targets",
    "simdisk_target": "properties.targets",
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


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'properties' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
