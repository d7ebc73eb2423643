"""Targets: a store under test, and the means to reopen it on the same storage.

A property drives a `Store` (anything with the node's API) obtained from a `Target`. Reopening
the target after closing the store is a clean reboot; a target that cannot reopen its store
(`can_reboot = False`) still runs every other operation. Point the properties at your own store
with a factory: a callable taking no arguments that returns either a `Target` or a store (then
wrapped in `StoreTarget`), named on the command line as `module:factory`.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator
from typing import Any, Protocol, runtime_checkable

from kvcheck.machine.damage import Damage, damage_files, damage_simdisk
from kvnode import SMALL_GEOMETRY, FileDisk, Geometry, KVError, Limits, Node, SimDisk
from kvnode.fsck import FsckReport, fsck
from kvnode.limits import RESERVED_EXTENTS

#: The built-in targets' disk: small enough that extents fill, roll over, get reclaimed and
#: sometimes run out within one example (8 extents: 2 superblock, 2 reserved, 4 for data).
CHECK_GEOMETRY = Geometry(page_bytes=256, extent_bytes=4096, extent_count=8)


def fresh_capacity(geometry: Geometry) -> int:
    """Values of the largest size a fresh node on `geometry` takes: one per log extent outside
    the reserve (each fills an extent). A drained node must take as many again."""
    return len(geometry.log_extents) - RESERVED_EXTENTS


@runtime_checkable
class Store(Protocol):
    """The key-value API the properties drive (the shape of `kvnode.Node`)."""

    def put(self, key: bytes, value: bytes) -> Any: ...
    def get(self, key: bytes) -> bytes | None: ...
    def delete(self, key: bytes) -> Any: ...
    def scan(self, start: bytes = b"", end: bytes | None = None) -> list[tuple[bytes, bytes]]: ...
    def sync(self) -> None: ...
    def flush_index(self) -> None: ...
    def reclaim(self) -> None: ...
    def close(self) -> None: ...


class Target:
    """Base for targets: `open()` returns a store over this target's storage.

    A target whose storage is a `SimDisk` exposes it as `disk` (see `SimDiskTarget`); the crash
    and fault properties need that, and skip their operations on targets without one.
    """

    name = "target"
    can_reboot = True
    disk: SimDisk | None = None
    limits = Limits.for_geometry(SMALL_GEOMETRY)
    #: Page size the value-size bias clusters around.
    page_bytes = SMALL_GEOMETRY.page_bytes
    #: How many values of the largest size a store must take, under distinct keys, once every
    #: key is deleted and synced (the Drain step's promise): as many as a fresh store takes is
    #: the promise a store that frees all its space keeps; 1 asks only that space comes back.
    drain_refill = 1
    #: Coverage states (`kvcheck.machine.coverage.STATES`) this store cannot reach, reported
    #: as n/a rather than missed: `{"disk-full"}` for a store that never runs out of space.
    not_applicable: frozenset[str] = frozenset()

    def open(self) -> Store:
        """Open (and recover) the store; called again after each clean reboot."""
        raise NotImplementedError

    def cleanup(self) -> None:
        """Release the storage once the property is done with it."""

    def recover_copy(self) -> list[tuple[bytes, bytes]]:
        """Contents an independent recovery of a copy of the storage finds (needs `disk`)."""
        raise NotImplementedError

    def using(self, disk: Any) -> contextlib.AbstractContextManager[None]:
        """Within the block, `open()` opens the store on `disk` (a crashed copy of this target's
        `disk`) instead; for exhaustive crash checking, which tries many crashes of one point."""
        raise NotImplementedError

    #: Whether the damage-at-rest property applies: the target implements the four methods
    #: below over storage the property may damage while the store is closed.
    can_damage = False

    def damage(self, damage: Damage) -> str | None:
        """Damage the closed store's durable storage; say where (None: nothing to damage)."""
        raise NotImplementedError

    def save(self) -> object:
        """A copy of the closed store's storage, for `restore`."""
        raise NotImplementedError

    def restore(self, saved: object) -> None:
        """Put back the storage `save` copied."""
        raise NotImplementedError

    def fsck(self) -> FsckReport | None:
        """Check the closed store's storage without changing it (None: the checker refused to
        look at it at all, which counts as finding damage)."""
        raise NotImplementedError


class SimDiskTarget(Target):
    """The built-in node (or a `node_class` derived from it) on a fresh simulated disk."""

    name = "simdisk"
    disk: SimDisk

    def __init__(self, geometry: Geometry = CHECK_GEOMETRY, node_class: type[Node] = Node):
        self.geometry = geometry
        self.disk = SimDisk(geometry)
        self.node_class = node_class
        self.limits = Limits.for_geometry(geometry)
        self.page_bytes = geometry.page_bytes
        self.drain_refill = fresh_capacity(geometry)

    def open(self) -> Node:
        """A node recovered from the disk."""
        return self.node_class.open(self.disk)

    @contextlib.contextmanager
    def using(self, disk: Any) -> Iterator[None]:
        """Open on `disk` within the block."""
        live, self.disk = self.disk, disk
        try:
            yield
        finally:
            self.disk = live

    def recover_copy(self) -> list[tuple[bytes, bytes]]:
        """Contents a second, independent recovery of the disk as it is now finds."""
        node = self.node_class.open(self.disk.clone())
        try:
            return node.scan()
        finally:
            node.close()

    can_damage = True

    def damage(self, damage: Damage) -> str | None:
        """Damage the disk's durable image."""
        return damage_simdisk(self.disk, damage)

    def save(self) -> object:
        """A clone of the disk."""
        return self.disk.clone()

    def restore(self, saved: object) -> None:
        """Go back to a clone `save` made (cloned again, so it can be restored twice)."""
        assert isinstance(saved, SimDisk)
        self.disk = saved.clone()

    def fsck(self) -> FsckReport:
        """fsck of the disk (it only reads), from the node's own package: a planted copy of
        the node is checked by its own copy of fsck, which shares its recovery. A subclass
        defined elsewhere (a planted bug overriding a method) uses its nearest base's."""
        for cls in self.node_class.__mro__:
            package = cls.__module__.rpartition(".")[0]
            if package and importlib.util.find_spec(f"{package}.fsck") is not None:
                own: Any = importlib.import_module(f"{package}.fsck")
                report: FsckReport = own.fsck(self.disk)
                return report
        raise TypeError(f"{self.node_class.__name__} derives from no node package with fsck")


class FileDiskTarget(Target):
    """The built-in node on real files in a temporary data directory."""

    name = "filedisk"

    def __init__(self, geometry: Geometry = CHECK_GEOMETRY):
        self.geometry = geometry
        self.limits = Limits.for_geometry(geometry)
        self.page_bytes = geometry.page_bytes
        self.drain_refill = fresh_capacity(geometry)
        self._tmp = tempfile.mkdtemp(prefix="kvcheck-")
        self.path = f"{self._tmp}/data"
        self._created = False

    def open(self) -> Node:
        """A node recovered from the directory (created on first use)."""
        if not self._created:
            self._created = True
            return Node.open(FileDisk.create(self.path, self.geometry))
        return Node.open(FileDisk.open(self.path))

    def cleanup(self) -> None:
        """Remove the temporary directory."""
        shutil.rmtree(self._tmp, ignore_errors=True)

    can_damage = True

    def damage(self, damage: Damage) -> str | None:
        """Damage one of the data directory's files (extent files first, then the header)."""
        return damage_files(self.path, damage, self.geometry.page_bytes)

    def save(self) -> object:
        """A copy of the data directory."""
        saved = tempfile.mkdtemp(prefix="saved-", dir=self._tmp)
        shutil.copytree(self.path, f"{saved}/data")
        return f"{saved}/data"

    def restore(self, saved: object) -> None:
        """Put back the copy `save` made."""
        assert isinstance(saved, str)
        shutil.rmtree(self.path)
        shutil.copytree(saved, self.path)

    def fsck(self) -> FsckReport | None:
        """fsck of the directory, opened read-only; None if it cannot even be opened."""
        try:
            disk = FileDisk.open(self.path, read_only=True)
        except KVError:
            return None
        try:
            return fsck(disk)
        finally:
            disk.close()


class StoreTarget(Target):
    """Wraps a factory of stores that cannot be reopened: no clean reboots."""

    can_reboot = False

    def __init__(self, factory: Callable[[], Any], name: str = "store"):
        self._factory = factory
        self.name = name

    def open(self) -> Store:
        """The store from the factory (called once per example)."""
        return self._factory()  # type: ignore[no-any-return]


class TargetError(ValueError):
    """The target itself failed: its module cannot be imported, the factory is missing or
    raised, or what it made lacks a method of the store API (`kvcheck` exits 3)."""


#: The methods a store must have (the `Store` protocol).
STORE_METHODS = ("put", "get", "delete", "scan", "sync", "flush_index", "reclaim", "close")


def as_target(made: object, name: str = "store") -> Target:
    """A `Target` from what a factory returned: a target as is, a store wrapped."""
    if isinstance(made, Target):
        return made
    from kvcheck.machine.directory import DirectoryStore

    if isinstance(made, DirectoryStore):
        from kvcheck.machine.fs_targets import DirectoryTarget

        if not made.in_python:
            raise TargetError(
                f"{name}: {made.name} does its file I/O in C, which the simulated file system "
                f"cannot see; check it with kvcheck sigkill --target {name}"
            )

        return DirectoryTarget(made)
    if isinstance(made, Store):
        target = StoreTarget(lambda: made, name)
        target.limits = getattr(made, "limits", Target.limits)
        return target
    missing = [m for m in STORE_METHODS if not callable(getattr(made, m, None))]
    raise TargetError(
        f"{name}: the factory returned a {type(made).__name__}, which is neither a "
        f"kvcheck.Target nor a store: it lacks {', '.join(missing)}"
    )


def simdisk_target() -> Target:
    """Factory of the built-in node on a small simulated disk (the default target)."""
    return SimDiskTarget()


def filedisk_target() -> Target:
    """Factory of the built-in node on real files in a temporary directory."""
    return FileDiskTarget()


def load_factory(spec: str) -> Callable[[], Target]:
    """Resolve `module:factory` to a callable that returns a fresh `Target` per call. The
    module is looked for in the current directory first, as `python -m` would.

    Raises `ValueError` for a malformed spec and `TargetError` for one that cannot be loaded.
    """
    factory = resolve(spec)

    def make() -> Target:
        try:
            made = factory()
        except Exception as err:
            raise TargetError(f"the factory {spec} raised {type(err).__name__}: {err}") from err
        return as_target(made, name=spec)

    return make


def resolve(spec: str) -> Callable[..., Any]:
    """The callable `module:attr` names, its module looked for in the current directory first.

    Raises `ValueError` for a malformed spec and `TargetError` for one that cannot be loaded.
    """
    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        raise ValueError(f"target must look like module:factory, got {spec!r}")
    here = os.getcwd()
    if here not in sys.path and "" not in sys.path:
        sys.path.insert(0, here)
    try:
        obj: Any = importlib.import_module(module_name)
    except ImportError as err:
        raise TargetError(f"cannot import {module_name!r} for target {spec!r}: {err}") from err
    except Exception as err:
        raise TargetError(
            f"importing {module_name!r} for target {spec!r} raised {type(err).__name__}: {err}"
        ) from err
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise TargetError(f"{module_name!r} has no attribute {attr!r}") from None
    if not callable(obj):
        raise TargetError(f"target {spec!r} is not callable")
    result: Callable[..., Any] = obj
    return result
