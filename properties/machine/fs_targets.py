"""Targets on the simulated file system: dirty reboots and faults for real file code.

`SimFSTarget` runs kvnode's `FileDisk`; `DirectoryTarget` runs any pure-Python store kept in a
directory (`kvcheck.machine.directory.DirectoryStore`), held to the durability it promises.

The node runs unchanged on `FileDisk`, whose every file operation goes to a `SimFS`
(`kvcheck.machine.intercept`), so the conformance machine crashes it the way it crashes `SimDisk`:
which pending writes, fsyncs of directories and renames survive is drawn with the operations and
shrinks with them, and the persistence model (`posix` by default, or `ordered`) judges what a
crash may keep. This checks the fsync and directory-fsync discipline of `FileDisk` itself, which
SIGKILL trials cannot (a killed process loses nothing that reached the OS).

Block reservation calls `fallocate` through ctypes, which no interception sees, so it is off
here, as on a file system without `fallocate`.
"""

from __future__ import annotations

import contextlib
import gc
import itertools
import os
import sys
import tempfile
from collections import Counter
from collections.abc import Iterator
from typing import Any, TypeVar

from kvcheck.machine.directory import DirectoryStore
from kvcheck.machine.intercept import Mount, NotModelled
from kvcheck.machine.simfs import SimFS
from kvcheck.machine.targets import CHECK_GEOMETRY, Target, fresh_capacity
from kvnode import FileDisk, Geometry, Limits, Node
from kvnode.errors import DiskIOError

_MOUNTS = itertools.count()
_S = TypeVar("_S")


def _root() -> str:
    """A fresh mount point: a path under the real temporary directory that is never created, so
    that even a stray call after the mount is gone touches nothing that matters."""
    return os.path.join(tempfile.gettempdir(), f"kvcheck-simfs-{os.getpid()}-{next(_MOUNTS)}")


class _OnSimFS(Target):
    """What both targets share: a mount made active for the target's life, and the stores of
    processes that lost power kept from running again. A store object abandoned at a crash
    belongs to a process that no longer exists; were it garbage-collected, a finalizer (a
    `close()` in `__del__`, as `dbm.dumb` has) would write into the recovered file system
    through paths, which no descriptor check can stop. So every opened store is kept until
    `cleanup`, then dropped against a throwaway copy of the file system."""

    mount: Mount
    disk: SimFS  # type: ignore[assignment]
    #: Collected at cleanup: 0 for stores without finalizers (a full collection halves the
    #: throughput), 2 for any store, whose objects may sit in old reference cycles.
    collect_generation = 2

    def _keep(self, store: _S) -> _S:
        self.__dict__.setdefault("_opened", []).append(store)
        return store

    @contextlib.contextmanager
    def using(self, disk: Any) -> Iterator[None]:
        """Within the block, every path of the mount is `disk`'s."""
        live = self.mount.fs
        self.mount.fs = self.disk = disk
        try:
            yield
        finally:
            self.mount.fs = self.disk = live

    def cleanup(self) -> None:
        """Drop every store against a throwaway file system, then put back the real functions."""
        self.mount.fs = self.mount.fs.clone()
        self.__dict__.pop("_opened", None)
        gc.collect(self.collect_generation)
        self.mount.__exit__()


class SimFSTarget(_OnSimFS):
    """The built-in node on `FileDisk` over a fresh simulated file system."""

    name = "simfs"
    collect_generation = 0  # the node and FileDisk have no finalizers

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
        self.mount = Mount(self.disk, _root())
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
            return self._keep(Node.open(self.disk_class.create(self.path, self.geometry)))
        return self._keep(Node.open(self.disk_class.open(self.path)))

    def recover_copy(self) -> list[tuple[bytes, bytes]]:
        """Contents a second recovery of a copy of the file system as it is now finds."""
        with self.using(self.disk.clone()):
            node = Node.open(self.disk_class.open(self.path))
            try:
                return node.scan()
            finally:
                node.close()

    def cleanup(self) -> None:
        """Put back `fallocate` and the real functions."""
        self._disk_module._fallocate = self._fallocate  # type: ignore[attr-defined]
        super().cleanup()


def simfs_target() -> Target:
    """Factory of the built-in node on `FileDisk` over the simulated file system (posix)."""
    return SimFSTarget()


def simfs_ordered_target() -> Target:
    """The same under the `ordered` persistence model."""
    return SimFSTarget(model="ordered")


class _Promised:
    """A mutation's dependency: persistent once the store's promise covers it."""

    def __init__(self, persistent: bool):
        self.persistent = persistent

    def is_persistent(self) -> bool:
        """Whether the store has promised this mutation durable."""
        return self.persistent


def _failed(call: str, err: Exception) -> DiskIOError:
    return DiskIOError(call, f"the store raised {type(err).__name__}: {err}")


class PromiseStore:
    """A directory store as the machine drives it: every mutation returns a dependency its
    promise makes persistent (at return, at `sync()`, or at `close()`), `scan` reads back every
    key ever written (a key the store invents is not seen), and anything the store raises,
    bar a power loss or `NotModelled`, is a `DiskIOError` naming it, which after an injected
    fault is a clean failure. Each `sync()` and `close()` is audited: did it fsync anything?"""

    def __init__(self, target: DirectoryTarget, store: Any):
        self._target, self._store = target, store
        self._waiting: list[_Promised] = []

    def _call(self, name: str, *args: Any) -> Any:
        try:
            return getattr(self._store, name)(*args)
        except NotModelled:
            raise
        except Exception as err:
            raise _failed(name, err) from None

    def _promise(self) -> _Promised:
        dependency = _Promised(self._target.kind.durable == "return")
        if not dependency.persistent:
            self._waiting.append(dependency)
        return dependency

    def put(self, key: bytes, value: bytes) -> _Promised:
        """Put, remembering the key for `scan`."""
        self._target.known.add(key)
        self._call("put", key, value)
        return self._promise()

    def get(self, key: bytes) -> bytes | None:
        """The store's value as bytes, or None."""
        value = self._call("get", key)
        return None if value is None else bytes(value)

    def delete(self, key: bytes) -> _Promised:
        """Delete."""
        self._call("delete", key)
        return self._promise()

    def scan(self, start: bytes = b"", end: bytes | None = None) -> list[tuple[bytes, bytes]]:
        """Every key ever written that the store holds, in order, within [start, end)."""
        pairs = []
        for key in sorted(self._target.known):
            if key >= start and (end is None or key < end):
                value = self.get(key)
                if value is not None:
                    pairs.append((key, value))
        return pairs

    def sync(self) -> None:
        """The store's `sync()` if it promises at sync; its waiting mutations become durable."""
        if self._target.kind.durable != "sync":
            return
        self._audited("sync")
        self._keep_promises()

    def flush_index(self) -> None:
        """Nothing: a directory store has no such step."""

    def reclaim(self) -> None:
        """Nothing: a directory store has no such step."""

    def close(self) -> None:
        """Close: everything is durable once it returns."""
        self._audited("close")
        self._keep_promises()

    def _audited(self, call: str) -> None:
        """Call `sync` or `close`, counting whether it made durable anything that was not."""
        disk = self._target.disk
        disk.audit()
        pending = bool(disk.pending_writes())
        self._call(call)
        if disk.audit():
            self._target.audit[f"{call} fsynced"] += 1
        elif pending:
            self._target.audit[f"{call} made nothing durable"] += 1

    def _keep_promises(self) -> None:
        for dependency in self._waiting:
            dependency.persistent = True
        self._waiting.clear()


class DirectoryTarget(_OnSimFS):
    """A store kept in a directory, on a fresh simulated file system."""

    not_applicable = frozenset({"disk-full"})  # the simulated file system never fills

    def __init__(self, kind: DirectoryStore, model: str = "posix"):
        self.kind = kind
        self.name = kind.name
        self.disk = SimFS(page_bytes=4096, model=model)
        self.mount = Mount(self.disk, _root())
        self.path = f"{self.mount.root}/data"
        self.known: set[bytes] = set()
        #: Syncs and closes that fsynced, and those that left pending changes as they were.
        self.audit: Counter[str] = Counter()
        self.mount.__enter__()

    def open(self) -> PromiseStore:
        """The store, opened (and recovered) from its directory."""
        try:
            return PromiseStore(self, self._keep(self.kind.open_checked(self.path)))
        except (NotModelled, DiskIOError):
            raise
        except Exception as err:
            raise _failed("open", err) from None

    def recover_copy(self) -> list[tuple[bytes, bytes]]:
        """What a second opening of a copy of the file system as it is now finds."""
        with self.using(self.disk.clone()):
            store = self.open()
            try:
                return store.scan()
            finally:
                store.close()
