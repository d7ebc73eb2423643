"""A log-structured key-value storage node over append-only extents.

Open a node over a simulated disk (`SimDisk`) or a data directory (`open_dir`); see `Node` for
the API and `kvnode.errors` for what it raises. `Maintenance` runs index flushes and
reclamation on a background thread.
"""

from __future__ import annotations

import os

from kvnode.dependency import Dependency
from kvnode.errors import (
    CorruptChunk,
    CorruptionError,
    DataDirError,
    DiskFullError,
    DiskIOError,
    InvalidKeyError,
    InvalidValueError,
    KVError,
    KVTypeError,
    NodeClosedError,
    NodeFailedError,
    ReadOnlyError,
)
from kvnode.filedisk import FORMAT_FILE, FileDisk
from kvnode.limits import DEFAULT_GEOMETRY, SMALL_GEOMETRY, Geometry, Limits
from kvnode.maintenance import Maintenance, MaintenancePolicy
from kvnode.node import Node, NodeStats
from kvnode.simdisk import CrashPlan, PendingWrite, PowerLoss, SimDisk

__all__ = [
    "DEFAULT_GEOMETRY",
    "SMALL_GEOMETRY",
    "CorruptChunk",
    "CorruptionError",
    "CrashPlan",
    "DataDirError",
    "Dependency",
    "DiskFullError",
    "DiskIOError",
    "FileDisk",
    "Geometry",
    "InvalidKeyError",
    "InvalidValueError",
    "KVError",
    "KVTypeError",
    "Limits",
    "Maintenance",
    "MaintenancePolicy",
    "Node",
    "NodeClosedError",
    "NodeFailedError",
    "NodeStats",
    "PendingWrite",
    "PowerLoss",
    "ReadOnlyError",
    "SimDisk",
    "open_dir",
]


def open_dir(
    path: str | os.PathLike[str], *, create: bool = False, geometry: Geometry = DEFAULT_GEOMETRY
) -> Node:
    """Open the node in data directory `path`; with `create=True`, make it if it is absent."""
    if not isinstance(geometry, Geometry):
        raise KVTypeError(f"geometry must be a Geometry, not {type(geometry).__name__}")
    if type(create) is not bool:
        raise KVTypeError(f"create must be a bool, not {type(create).__name__}")
    if not isinstance(path, str | os.PathLike) or not isinstance(os.fspath(path), str):
        raise KVTypeError(f"path must be a str or os.PathLike[str], not {type(path).__name__}")
    path = os.fspath(path)
    header = os.path.join(path, FORMAT_FILE)
    if create and not os.path.lexists(header):
        try:
            disk = FileDisk.create(path, geometry)
        except DataDirError:
            if not os.path.lexists(header):
                raise
            disk = FileDisk.open(path)  # another process created it first
    else:
        disk = FileDisk.open(path)
    try:
        return Node.open(disk)
    except BaseException:
        disk.close()
        raise
