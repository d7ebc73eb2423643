"""A node on a file system that runs out of space: a write that finds no room raises
`DiskFullError` with nothing changed, the node keeps serving and does not mark itself failed,
writes resume once there is room (after reclamation, or space freed outside) without a reopen,
and nothing synced is lost."""

from __future__ import annotations

import contextlib
import errno
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import sandbox

from kvnode import DiskFullError, DiskIOError, FileDisk, Geometry, Node, NodeFailedError
from kvnode.filedisk import _fallocate

#: 256 KiB extents, 64 of them: 16 MiB, far more than the 4 MiB file system holds.
GEOMETRY = Geometry(page_bytes=4096, extent_bytes=256 * 1024, extent_count=64)
VALUE = b"v" * 4000
#: Too big for what is left of a used extent: a put of it opens a new one.
BIG = b"x" * 260_000

needs_reservation = pytest.mark.skipif(_fallocate is None, reason="no fallocate in the C library")


def key(i: int) -> bytes:
    return b"key-%05d" % i


@pytest.fixture
def mnt(tmp_path: Path) -> Iterator[Path]:
    """A 4 MiB tmpfs."""
    with sandbox.tmpfs(tmp_path / "mnt", size="4m") as path:
        yield path


def fill(directory: Path) -> Path:
    """Take every block left on the file system with one file; return it."""
    filler = directory / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o644)
    try:
        for size in (1 << 16, 1 << 12, 1):
            with contextlib.suppress(OSError):
                while True:
                    os.write(fd, bytes(size))
    finally:
        os.close(fd)
    return filler


def reopened_contents(path: Path) -> dict[bytes, bytes]:
    """What a fresh open recovers (read-only: the file system may still be full)."""
    with Node.open(FileDisk.open(str(path), read_only=True), read_only=True) as node:
        return dict(node.scan())


def close_after_sync(node: Node) -> None:
    node.sync()
    # Everything is synced; the close's optional index flush may find no room.
    with contextlib.suppress(DiskFullError):
        node.close()


class TestRefusedWrites:
    def test_a_put_refused_for_space_changes_nothing_and_the_node_goes_on(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        path = tmp_path / "data"
        node = Node.open(FileDisk.create(str(path), GEOMETRY))
        node.put(b"a", b"1")
        node.sync()

        def no_space(fd: int, data: bytes, offset: int) -> int:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

        monkeypatch.setattr(os, "pwrite", no_space)
        with pytest.raises(DiskFullError, match="file system full"):
            node.put(b"b", b"2")
        with pytest.raises(DiskFullError):
            node.delete(b"a")
        monkeypatch.undo()
        assert node.get(b"a") == b"1"
        node.put(b"b", b"2")  # no reopen: the node did not mark itself failed
        node.delete(b"a")
        node.close()
        assert reopened_contents(path) == {b"b": b"2"}

    def test_any_other_write_error_still_fails_the_node(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        node = Node.open(FileDisk.create(str(tmp_path / "data"), GEOMETRY))

        def broken(fd: int, data: bytes, offset: int) -> int:
            raise OSError(errno.EIO, os.strerror(errno.EIO))

        monkeypatch.setattr(os, "pwrite", broken)
        with pytest.raises(DiskIOError):
            node.put(b"a", b"1")
        monkeypatch.undo()
        with pytest.raises(NodeFailedError):
            node.put(b"a", b"1")
        node.close()


@needs_reservation
class TestRealFullFileSystem:
    def test_a_store_that_fills_the_file_system_refuses_puts_and_keeps_everything_synced(
        self, mnt: Path
    ) -> None:
        path = mnt / "data"
        node = Node.open(FileDisk.create(str(path), GEOMETRY))
        synced: dict[bytes, bytes] = {}
        written: dict[bytes, bytes] = {}
        with pytest.raises(DiskFullError, match="file system full"):
            for i in range(10_000):
                node.put(key(i), VALUE)
                written[key(i)] = VALUE
                if i % 10 == 9:
                    node.sync()
                    synced = dict(written)
        assert len(written) > 500  # it was the file system that filled, not the store
        assert os.statvfs(mnt).f_bavail * os.statvfs(mnt).f_frsize < GEOMETRY.extent_bytes
        with pytest.raises(DiskFullError):
            # Everything is live: what reclamation can give back is soon used up.
            for i in range(10):
                node.put(b"one more %d" % i, VALUE)
                written[b"one more %d" % i] = VALUE
        assert dict(node.scan()) == written  # reads go on
        assert node.get(key(0)) == VALUE
        assert node.stats().keys == len(written)
        close_after_sync(node)
        contents = reopened_contents(path)
        assert synced.items() <= contents.items()
        assert contents == written

    def test_a_store_that_filled_the_file_system_takes_deletes_and_then_as_much_again(
        self, mnt: Path
    ) -> None:
        path = mnt / "data"
        node = Node.open(FileDisk.create(str(path), GEOMETRY))
        stored = 0
        with pytest.raises(DiskFullError, match="file system full"):
            for i in range(10_000):
                node.put(key(i), VALUE)
                stored = i + 1
        node.sync()
        # The reserve's blocks are held: every delete finds room for its tombstone.
        for i in range(stored):
            node.delete(key(i))
        node.sync()
        assert node.scan() == []
        refilled = 0
        with contextlib.suppress(DiskFullError):
            for i in range(stored):
                node.put(key(i), VALUE)
                refilled = i + 1
        # Nearly all of it: only the index run and tombstones not yet reclaimed take room.
        assert refilled >= 0.95 * stored, (refilled, stored)
        close_after_sync(node)
        assert reopened_contents(path) == {key(i): VALUE for i in range(refilled)}

    def test_on_a_full_file_system_writes_that_fit_the_active_extent_succeed(
        self, mnt: Path
    ) -> None:
        path = mnt / "data"
        node = Node.open(FileDisk.create(str(path), GEOMETRY))
        for i in range(5):
            node.put(key(i), VALUE)
        node.sync()
        fill(mnt)
        node.put(b"small", b"fits the reserved room")  # the active extent's blocks are ours
        node.delete(key(0))
        node.sync()
        with pytest.raises(DiskFullError):
            node.put(b"big", BIG)  # needs a new extent: no room for it
        assert node.get(key(1)) == VALUE
        close_after_sync(node)
        expected = {key(i): VALUE for i in range(1, 5)} | {b"small": b"fits the reserved room"}
        assert reopened_contents(path) == expected

    def test_writes_resume_without_a_reopen_once_space_is_freed_outside(self, mnt: Path) -> None:
        path = mnt / "data"
        node = Node.open(FileDisk.create(str(path), GEOMETRY))
        node.put(b"a", VALUE)
        filler = fill(mnt)
        with pytest.raises(DiskFullError):
            node.put(b"big", BIG)
        filler.unlink()
        node.put(b"big", BIG)
        node.delete(b"a")
        node.close()
        assert reopened_contents(path) == {b"big": BIG}

    def test_reclaiming_dead_extents_makes_room_without_a_reopen(self, mnt: Path) -> None:
        path = mnt / "data"
        node = Node.open(FileDisk.create(str(path), GEOMETRY))
        for i in range(200):  # about three extents
            node.put(key(i), VALUE)
        for i in range(190):
            node.delete(key(i))
        node.flush_index()  # the deleted keys' extents now hold nothing the index needs
        fill(mnt)
        # The put finds no blocks for a new extent, so it reclaims: resetting the dead extents
        # gives their blocks back to the file system.
        node.put(b"big", BIG)
        assert node.stats().reclaims >= 1
        node.sync()
        expected = {key(i): VALUE for i in range(190, 200)} | {b"big": BIG}
        assert dict(node.scan()) == expected
        close_after_sync(node)
        assert reopened_contents(path) == expected

    def test_the_command_line_reports_a_full_file_system_in_one_line(self, mnt: Path) -> None:
        path = str(mnt / "data")
        run = [sys.executable, "-m", "kvnode.cli", "-d", path]
        assert subprocess.run([*run, "init", "--extent-bytes", str(256 * 1024)]).returncode == 0
        fill(mnt)
        result = subprocess.run([*run, "put", "k", "x" * 100_000], capture_output=True)
        assert result.returncode == 2
        err = result.stderr.decode()
        assert err.count("\n") == 1 and "file system full" in err
        assert subprocess.run([*run, "fsck"], capture_output=True).returncode == 0
