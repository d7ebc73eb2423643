"""kvnode's `FileDisk` on the simulated file system: dirty reboots and faults for real file code.

The node runs unchanged on `FileDisk`, whose every file operation goes to a `SimFS`
(`kvcheck.crash.intercept`), so the conformance machine crashes it the way it crashes `SimDisk`:
which pending writes, fsyncs of directories and renames survive is drawn with the operations and
shrinks with them, and the persistence model (`posix` by default, or `ordered`) judges what a
crash may keep. This checks the fsync and directory-fsync discipline of `FileDisk` itself, which
SIGKILL trials cannot (a killed process loses nothing that reached the OS).

Block reservation calls `fallocate` through ctypes, which no interception sees, so it is off
here, as on a file system without `fallocate`.
"""

from __future__ import annotations

import itertools
import sys

from kvcheck.crash.intercept import Mount
from kvcheck.crash.simfs import SimFS
from kvcheck.machine.targets import CHECK_GEOMETRY, Target, fresh_capacity
from kvnode import FileDisk, Geometry, Limits, Node

_MOUNTS = itertools.count()


class SimFSTarget(Target):
    """The built-in node on `FileDisk` over a fresh simulated file system."""

    name = "simfs"
    disk: SimFS  # type: ignore[assignment]

    def __init__(
        self,
        geometry: Geometry = CHECK_GEOMETRY,
        model: str = "posix",
        disk_class: type[FileDisk] = FileDisk,
    ):
        self.geometry = geometry
        self.limits = Limits.for_geometry(geometry)
        self.page_bytes = geometry.page_bytes
        self.drain_refill = fresh_capacity(geometry)
        self.disk_class = disk_class
        self.disk = SimFS(page_bytes=geometry.page_bytes, model=model)
        self.mount = Mount(self.disk, f"/kvcheck-simfs-{next(_MOUNTS)}")
        self.path = f"{self.mount.root}/data"
        self._disk_module = sys.modules[disk_class.__module__]
        self._fallocate = getattr(self._disk_module, "_fallocate", None)
        self.mount.__enter__()
        self._disk_module._fallocate = None  # type: ignore[attr-defined]
        self._created = False

    def open(self) -> Node:
        """A node recovered from the directory (created on first use)."""
        if not self._created:
            self._created = True
            return Node.open(self.disk_class.create(self.path, self.geometry))
        return Node.open(self.disk_class.open(self.path))

    def recover_copy(self) -> list[tuple[bytes, bytes]]:
        """Contents a second recovery of a copy of the file system as it is now finds."""
        live = self.mount.fs
        self.mount.fs = live.clone()
        try:
            node = Node.open(self.disk_class.open(self.path))
            try:
                return node.scan()
            finally:
                node.close()
        finally:
            self.mount.fs = live

    def cleanup(self) -> None:
        """Take the simulated file system away and put back the real functions."""
        self._disk_module._fallocate = self._fallocate  # type: ignore[attr-defined]
        self.mount.__exit__()


def simfs_target() -> Target:
    """Factory of the built-in node on `FileDisk` over the simulated file system (posix)."""
    return SimFSTarget()


def simfs_ordered_target() -> Target:
    """The same under the `ordered` persistence model."""
    return SimFSTarget(model="ordered")
