"""`FileDisk`: a data directory is created, reopened, refused (unchanged) when not ours or when
a file in it is a symlink, opened read-only, and kept consistent when the file system is full."""

from __future__ import annotations

import errno
import os
import struct
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sandbox

from kvnode import filedisk
from kvnode.chunk import crc32c
from kvnode.errors import (
    DataDirError,
    DiskFullError,
    DiskIOError,
    KVError,
    KVTypeError,
    ReadOnlyError,
)
from kvnode.filedisk import FORMAT_FILE, FORMAT_MAGIC, FORMAT_VERSION, FileDisk
from kvnode.limits import SMALL_GEOMETRY, Geometry

GEOMETRY = SMALL_GEOMETRY


def header(
    magic: bytes = FORMAT_MAGIC,
    version: int = FORMAT_VERSION,
    geometry: Geometry = GEOMETRY,
) -> bytes:
    """A format header with a valid checksum."""
    raw = struct.pack(
        "<8sIIII", magic, version, geometry.page_bytes, geometry.extent_bytes, geometry.extent_count
    )
    return raw + struct.pack("<I", crc32c(raw))


def snapshot(root: Path) -> dict[str, bytes | None]:
    """Every path under `root` with its bytes (None for a directory, a symlink's target, not
    what it points at); a file maps to itself."""
    if root.is_file():
        return {"": root.read_bytes()}
    found: dict[str, bytes | None] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames:
            found[os.path.relpath(os.path.join(dirpath, name), root)] = None
        for name in filenames:
            path = os.path.join(dirpath, name)
            if os.path.islink(path):
                content = b"symlink to " + os.fsencode(os.readlink(path))
            elif not os.path.isfile(path):
                content = b"not a regular file"
            else:
                content = Path(path).read_bytes()
            found[os.path.relpath(path, root)] = content
    return found


@pytest.fixture
def store(tmp_path: Path) -> Path:
    """A freshly created, closed data directory with a little data in extent 2."""
    path = tmp_path / "store"
    disk = FileDisk.create(str(path), GEOMETRY)
    disk.append(2, b"hello")
    disk.sync()
    disk.close()
    return path


@pytest.fixture
def opened(store: Path) -> Iterator[FileDisk]:
    disk = FileDisk.open(str(store))
    yield disk
    disk.close()


def refused(path: Path, match: str) -> DataDirError:
    """Open `path`, expect `DataDirError` matching `match`, and check nothing changed."""
    before = snapshot(path) if path.exists() else None
    with pytest.raises(DataDirError, match=match) as info:
        FileDisk.open(str(path))
    assert (snapshot(path) if path.exists() else None) == before
    assert info.value.path == str(path)
    return info.value


class TestCreate:
    def test_round_trips_the_geometry_through_open(self, tmp_path: Path) -> None:
        path = str(tmp_path / "store")
        disk = FileDisk.create(path, GEOMETRY)
        assert disk.geometry == GEOMETRY
        assert disk.path == path
        disk.close()
        disk = FileDisk.open(path)
        assert disk.geometry == GEOMETRY
        assert [disk.write_pointer(e) for e in range(GEOMETRY.extent_count)] == [0] * 16
        disk.close()

    def test_writes_the_header_and_one_empty_file_per_extent(self, tmp_path: Path) -> None:
        path = tmp_path / "store"
        FileDisk.create(str(path), GEOMETRY).close()
        files = snapshot(path)
        assert files.pop(FORMAT_FILE) == header()
        assert files == {f"extent-{e:05d}": b"" for e in range(GEOMETRY.extent_count)}

    def test_accepts_an_existing_empty_directory(self, tmp_path: Path) -> None:
        FileDisk.create(str(tmp_path), GEOMETRY).close()
        assert (tmp_path / FORMAT_FILE).exists()

    def test_makes_missing_parent_directories(self, tmp_path: Path) -> None:
        FileDisk.create(str(tmp_path / "a" / "b"), GEOMETRY).close()
        assert (tmp_path / "a" / "b" / FORMAT_FILE).exists()

    def test_refuses_a_non_empty_directory_and_leaves_it_unchanged(self, tmp_path: Path) -> None:
        (tmp_path / "precious.txt").write_bytes(b"do not touch")
        before = snapshot(tmp_path)
        with pytest.raises(DataDirError, match="not empty"):
            FileDisk.create(str(tmp_path), GEOMETRY)
        assert snapshot(tmp_path) == before

    def test_refuses_an_existing_store(self, store: Path) -> None:
        before = snapshot(store)
        with pytest.raises(DataDirError, match="not empty"):
            FileDisk.create(str(store), GEOMETRY)
        assert snapshot(store) == before

    def test_refuses_a_file_path_and_leaves_it_unchanged(self, tmp_path: Path) -> None:
        path = tmp_path / "file"
        path.write_bytes(b"data")
        with pytest.raises(DataDirError, match="not a directory"):
            FileDisk.create(str(path), GEOMETRY)
        assert path.read_bytes() == b"data"

    def test_data_dir_error_is_a_kv_error(self, tmp_path: Path) -> None:
        (tmp_path / "x").write_bytes(b"")
        with pytest.raises(KVError):
            FileDisk.create(str(tmp_path), GEOMETRY)


class TestOpen:
    def test_data_survives_close_and_open(self, opened: FileDisk) -> None:
        assert opened.write_pointer(2) == 5
        assert opened.read(2, 0, 5) == b"hello"

    def test_appends_continue_at_the_reopened_write_pointer(self, opened: FileDisk) -> None:
        assert opened.append(2, b" world") == 5
        assert opened.read(2, 0, 11) == b"hello world"

    def test_opening_a_store_leaves_it_unchanged(self, store: Path) -> None:
        before = snapshot(store)
        FileDisk.open(str(store)).close()
        assert snapshot(store) == before

    def test_refuses_a_missing_directory(self, tmp_path: Path) -> None:
        refused(tmp_path / "absent", "no such data directory")
        assert not (tmp_path / "absent").exists()

    def test_refuses_a_file_path(self, tmp_path: Path) -> None:
        path = tmp_path / "file"
        path.write_bytes(b"data")
        refused(path, "no such data directory")

    def test_refuses_an_empty_directory(self, tmp_path: Path) -> None:
        refused(tmp_path, f"not a kvnode data directory \\(no {FORMAT_FILE} file\\)")

    def test_refuses_a_foreign_directory(self, tmp_path: Path) -> None:
        (tmp_path / "notes.txt").write_bytes(b"someone else's")
        (tmp_path / "extent-00000").write_bytes(b"")
        err = refused(tmp_path, "not a kvnode data directory")
        assert FORMAT_FILE in err.reason

    @pytest.mark.parametrize(
        "content",
        [header(magic=b"OTHERMAG"), b"", b"KVNODE", b"#!/bin/sh\n" * 5],
        ids=["other-magic", "empty", "short", "text"],
    )
    def test_refuses_a_header_with_other_magic(self, store: Path, content: bytes) -> None:
        (store / FORMAT_FILE).write_bytes(content)
        refused(store, "foreign format header")

    @pytest.mark.parametrize("version", [FORMAT_VERSION + 1, 2**32 - 1])
    def test_refuses_a_newer_format_version(self, store: Path, version: int) -> None:
        (store / FORMAT_FILE).write_bytes(header(version=version))
        err = refused(store, "newer than this kvnode supports")
        assert str(version) in err.reason

    def test_refuses_an_older_unknown_format_version(self, store: Path) -> None:
        (store / FORMAT_FILE).write_bytes(header(version=0))
        refused(store, "unknown format version 0")

    @pytest.mark.parametrize("offset", [8, 12, 20, 24, 27])
    def test_refuses_a_bad_header_checksum(self, store: Path, offset: int) -> None:
        raw = bytearray(header())
        raw[offset] ^= 0x01
        (store / FORMAT_FILE).write_bytes(bytes(raw))
        refused(store, "checksum mismatch \\(damaged directory\\)")

    def test_refuses_a_truncated_header(self, store: Path) -> None:
        (store / FORMAT_FILE).write_bytes(header()[:20])
        refused(store, "truncated \\(damaged directory\\)")

    def test_refuses_a_header_holding_an_invalid_geometry(self, store: Path) -> None:
        raw = struct.pack("<8sIIII", FORMAT_MAGIC, FORMAT_VERSION, 300, 4096, 16)
        (store / FORMAT_FILE).write_bytes(raw + struct.pack("<I", crc32c(raw)))
        refused(store, "invalid geometry")

    def test_refuses_a_directory_whose_header_is_a_directory(self, tmp_path: Path) -> None:
        (tmp_path / FORMAT_FILE).mkdir()
        refused(tmp_path, "not a kvnode data directory")

    @pytest.mark.parametrize("extent", [0, 7, GEOMETRY.extent_count - 1])
    def test_refuses_a_missing_extent_file(self, store: Path, extent: int) -> None:
        (store / f"extent-{extent:05d}").unlink()
        refused(store, f"extent-{extent:05d} is missing \\(damaged directory\\)")

    def test_refuses_an_extent_file_larger_than_an_extent(self, store: Path) -> None:
        (store / "extent-00003").write_bytes(bytes(GEOMETRY.extent_bytes + 1))
        refused(store, "extent-00003 is larger than an extent")

    def test_accepts_an_extent_file_exactly_an_extent_long(self, store: Path) -> None:
        (store / "extent-00003").write_bytes(bytes(GEOMETRY.extent_bytes))
        disk = FileDisk.open(str(store))
        assert disk.write_pointer(3) == GEOMETRY.extent_bytes
        disk.close()

    def test_refuses_a_second_open_while_the_first_is_open(
        self, store: Path, opened: FileDisk
    ) -> None:
        refused(store, "in use")
        assert opened.read(2, 0, 5) == b"hello"

    def test_allows_a_second_open_after_the_first_is_closed(self, store: Path) -> None:
        FileDisk.open(str(store)).close()
        FileDisk.open(str(store)).close()

    def test_a_refused_open_does_not_keep_the_lock(self, store: Path) -> None:
        extent = store / "extent-00005"
        extent.unlink()
        refused(store, "missing")
        extent.write_bytes(b"")
        FileDisk.open(str(store)).close()


class TestAppendAndRead:
    def test_append_returns_the_offset(self, opened: FileDisk) -> None:
        assert opened.append(3, b"abc") == 0
        assert opened.append(3, b"de") == 3
        assert opened.read(3, 1, 3) == b"bcd"

    def test_append_grows_the_extent_file(self, store: Path, opened: FileDisk) -> None:
        opened.append(3, b"abc")
        assert (store / "extent-00003").read_bytes() == b"abc"

    def test_append_past_the_extent_end_raises_value_error(self, opened: FileDisk) -> None:
        opened.append(3, bytes(GEOMETRY.extent_bytes - 1))
        with pytest.raises(ValueError, match="overruns"):
            opened.append(3, b"ab")
        assert opened.write_pointer(3) == GEOMETRY.extent_bytes - 1

    def test_read_beyond_the_write_pointer_raises_value_error(self, opened: FileDisk) -> None:
        with pytest.raises(ValueError, match="beyond write pointer"):
            opened.read(2, 3, 3)

    @pytest.mark.parametrize("extent", [-1, GEOMETRY.extent_count])
    def test_an_extent_out_of_range_raises_value_error(self, opened: FileDisk, extent: int) -> None:
        with pytest.raises(ValueError, match="out of range"):
            opened.append(extent, b"x")
        with pytest.raises(ValueError, match="out of range"):
            opened.read(extent, 0, 0)

    def test_sync_then_reopen_keeps_every_extent(self, store: Path) -> None:
        disk = FileDisk.open(str(store))
        for extent in range(GEOMETRY.extent_count):
            disk.append(extent, bytes([extent]) * (extent + 1))
        disk.sync()
        disk.close()
        disk = FileDisk.open(str(store))
        for extent in range(GEOMETRY.extent_count):
            expected = bytes([extent]) * (extent + 1)
            if extent == 2:
                expected = b"hello" + expected
            assert disk.read(extent, 0, disk.write_pointer(extent)) == expected
        disk.close()


Shrink = Callable[[FileDisk, int], None]


class TestTruncateAndReset:
    @pytest.mark.parametrize(
        ("shrink", "length"),
        [(lambda d, e: d.truncate(e, 2), 2), (lambda d, e: d.reset(e), 0)],
        ids=["truncate", "reset"],
    )
    def test_shrinks_the_file(
        self, store: Path, opened: FileDisk, shrink: Shrink, length: int
    ) -> None:
        shrink(opened, 2)
        opened.sync()
        assert opened.write_pointer(2) == length
        assert (store / "extent-00002").read_bytes() == b"hello"[:length]
        with pytest.raises(ValueError):
            opened.read(2, 0, length + 1)

    def test_survives_close_and_open(self, store: Path, opened: FileDisk) -> None:
        opened.truncate(2, 3)
        opened.sync()
        opened.close()
        disk = FileDisk.open(str(store))
        assert disk.write_pointer(2) == 3
        assert disk.read(2, 0, 3) == b"hel"
        disk.close()

    def test_appends_after_a_truncate_start_at_the_new_write_pointer(
        self, opened: FileDisk
    ) -> None:
        opened.truncate(2, 1)
        assert opened.append(2, b"ELP") == 1
        assert opened.read(2, 0, 4) == b"hELP"

    def test_truncate_forward_raises_value_error(self, opened: FileDisk) -> None:
        with pytest.raises(ValueError, match="truncate"):
            opened.truncate(2, 6)


class TestWritePointer:
    def test_an_extent_out_of_range_raises_value_error(self, opened: FileDisk) -> None:
        with pytest.raises(ValueError):
            opened.write_pointer(-1)


class TestSyncAfterReopen:
    def test_first_sync_after_open_fsyncs_every_extent_holding_data(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A crashed writer's data may be only in the OS cache; the reopened node's first sync
        must make it durable, not just what it wrote itself (found by review)."""
        import os

        from kvnode import Node

        path = tmp_path / "data"
        node = Node.open(FileDisk.create(str(path), GEOMETRY))
        for i in range(30):
            node.put(b"k%d" % i, b"v" * 100)
        node._disk.close()  # the process dies: no sync, no close  # type: ignore[attr-defined]
        synced: list[str] = []
        real_fsync = os.fsync

        def spy(fd: int) -> None:
            synced.append(os.readlink(f"/proc/self/fd/{fd}"))
            real_fsync(fd)

        monkeypatch.setattr(os, "fsync", spy)
        reopened = Node.open(FileDisk.open(str(path)))
        with_data = {
            str(p) for p in path.iterdir() if p.name.startswith("extent-") and p.stat().st_size
        }
        assert with_data <= set(synced)
        reopened.close()


def outside_victim(tmp_path: Path) -> Path:
    """A file outside any store that a store must never change."""
    victim = tmp_path / "victim"
    victim.write_bytes(b"precious data outside the store")
    return victim


class TestSymlinks:
    @pytest.mark.parametrize("extent", [0, 3])
    def test_symlinked_extent_file_pointing_outside_is_refused(
        self, tmp_path: Path, store: Path, extent: int
    ) -> None:
        victim = outside_victim(tmp_path)
        name = store / f"extent-{extent:05d}"
        name.unlink()
        name.symlink_to(victim)
        refused(store, f"extent-{extent:05d} is a symbolic link")
        assert victim.read_bytes() == b"precious data outside the store"

    def test_opening_a_node_never_resets_a_file_outside_its_directory(
        self, tmp_path: Path, store: Path
    ) -> None:
        """Extent 3 is free, so recovery would empty whatever file it names."""
        import kvnode

        victim = outside_victim(tmp_path)
        (store / "extent-00003").unlink()
        (store / "extent-00003").symlink_to(victim)
        with pytest.raises(DataDirError, match="symbolic link"):
            kvnode.open_dir(store)
        assert victim.read_bytes() == b"precious data outside the store"

    def test_symlink_loop_as_an_extent_file_is_refused(self, store: Path) -> None:
        (store / "extent-00004").unlink()
        (store / "extent-00004").symlink_to("extent-00004")
        refused(store, "extent-00004 is a symbolic link")

    def test_symlinked_header_is_refused(self, tmp_path: Path, store: Path) -> None:
        outside = tmp_path / "header-copy"
        outside.write_bytes((store / FORMAT_FILE).read_bytes())
        (store / FORMAT_FILE).unlink()
        (store / FORMAT_FILE).symlink_to(outside)
        refused(store, f"{FORMAT_FILE} is a symbolic link")

    def test_header_symlink_loop_is_refused(self, store: Path) -> None:
        (store / FORMAT_FILE).unlink()
        (store / FORMAT_FILE).symlink_to(FORMAT_FILE)
        refused(store, f"{FORMAT_FILE} is a symbolic link")

    def test_fifo_as_an_extent_file_is_refused_without_blocking(self, store: Path) -> None:
        (store / "extent-00006").unlink()
        os.mkfifo(store / "extent-00006")
        refused(store, "extent-00006 is not a regular file")

    def test_extent_file_replaced_after_the_open_is_not_used(
        self, store: Path, opened: FileDisk
    ) -> None:
        (store / "other").write_bytes(b"")
        os.replace(store / "other", store / "extent-00005")
        with pytest.raises(DiskIOError, match="extent-00005 was replaced"):
            opened.append(5, b"x")
        assert (store / "extent-00005").read_bytes() == b""

    def test_a_symlinked_data_directory_is_followed(self, tmp_path: Path, store: Path) -> None:
        """The directory itself is the caller's to name; only the files in it must be ours."""
        link = tmp_path / "link"
        link.symlink_to(store)
        disk = FileDisk.open(str(link))
        assert disk.read(2, 0, 5) == b"hello"
        disk.close()


def open_flags(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Record the flags of every `os.open` from now on."""
    seen: list[int] = []
    real_open = os.open

    def spy(path: object, flags: int, *args: object, **kwargs: object) -> int:
        seen.append(flags)
        return real_open(path, flags, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "open", spy)
    return seen


class TestReadOnly:
    def test_opens_every_file_read_only_and_changes_nothing(
        self, store: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        before = snapshot(store)
        flags = open_flags(monkeypatch)
        disk = FileDisk.open(str(store), read_only=True)
        assert disk.read_only
        for extent in range(GEOMETRY.extent_count):
            disk.read(extent, 0, disk.write_pointer(extent))
        disk.close()
        assert flags
        assert all(f & os.O_ACCMODE == os.O_RDONLY for f in flags)
        assert not any(f & (os.O_CREAT | os.O_TRUNC) for f in flags)
        assert snapshot(store) == before

    @pytest.mark.parametrize(
        "write",
        [
            lambda d: d.append(2, b"x"),
            lambda d: d.truncate(2, 1),
            lambda d: d.reset(2),
            lambda d: d.sync(),
        ],
        ids=["append", "truncate", "reset", "sync"],
    )
    def test_every_write_method_raises_read_only_error(
        self, store: Path, write: Callable[[FileDisk], object]
    ) -> None:
        before = snapshot(store)
        disk = FileDisk.open(str(store), read_only=True)
        with pytest.raises(ReadOnlyError, match="opened read-only") as info:
            write(disk)
        assert isinstance(info.value, KVError)
        assert disk.write_pointer(2) == 5
        disk.close()
        assert snapshot(store) == before

    def test_read_only_opens_share_the_lock_but_exclude_a_writer(self, store: Path) -> None:
        first = FileDisk.open(str(store), read_only=True)
        second = FileDisk.open(str(store), read_only=True)
        refused(store, "in use by another process")
        first.close()
        second.close()
        writer = FileDisk.open(str(store))
        with pytest.raises(DataDirError, match="in use"):
            FileDisk.open(str(store), read_only=True)
        writer.close()

    def test_a_read_only_node_reads_a_crashed_store_without_repairing_it(
        self, tmp_path: Path
    ) -> None:
        from kvnode import Node

        path = tmp_path / "data"
        node = Node.open(FileDisk.create(str(path), GEOMETRY))
        node.put(b"a", b"1")
        node.sync()
        node._disk.close()  # the writer dies  # type: ignore[attr-defined]
        with open(path / "extent-00002", "ab") as f:
            f.write(b"torn tail")  # what recovery would cut off
        for p in [path, *path.iterdir()]:
            p.chmod(0o555 if p.is_dir() else 0o444)
        before = snapshot(path)
        reader = Node.open(FileDisk.open(str(path), read_only=True), read_only=True)
        assert reader.get(b"a") == b"1"
        with pytest.raises(ReadOnlyError):
            reader.put(b"b", b"2")
        reader.close()
        assert snapshot(path) == before

    def test_read_only_must_be_a_bool(self, store: Path) -> None:
        with pytest.raises(KVTypeError, match="read_only must be a bool"):
            FileDisk.open(str(store), read_only=1)  # type: ignore[arg-type]

    def test_on_a_read_only_file_system_only_a_read_only_open_succeeds(
        self, tmp_path: Path
    ) -> None:
        with sandbox.tmpfs(tmp_path / "mnt") as mnt:
            path = mnt / "store"
            disk = FileDisk.create(str(path), GEOMETRY)
            disk.append(2, b"hello")
            disk.sync()
            disk.close()
            sandbox.remount_read_only(mnt)
            err = refused(path, "cannot open extent-00000 for writing: Read-only file system")
            assert err.path == str(path)
            disk = FileDisk.open(str(path), read_only=True)
            assert disk.read(2, 0, 5) == b"hello"
            disk.close()


class TestCreateRaces:
    def test_of_two_creates_racing_for_one_path_the_second_is_refused(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        path = tmp_path / "store"
        real_rename = os.rename
        winner: list[FileDisk] = []

        def rename_after_a_rival(src: str, dst: str) -> None:
            monkeypatch.setattr(os, "rename", real_rename)
            winner.append(FileDisk.create(str(path), GEOMETRY))  # gets there first
            real_rename(src, dst)

        monkeypatch.setattr(os, "rename", rename_after_a_rival)
        with pytest.raises(DataDirError, match="created concurrently"):
            FileDisk.create(str(path), GEOMETRY)
        assert sorted(os.listdir(tmp_path)) == ["store"]  # the loser's build is gone
        with pytest.raises(DataDirError, match="in use"):
            FileDisk.open(str(path))  # the winner holds its new store from the start
        winner[0].close()
        FileDisk.open(str(path)).close()

    def test_concurrent_creates_on_threads_make_exactly_one_store(self, tmp_path: Path) -> None:
        path = str(tmp_path / "store")
        barrier = threading.Barrier(4)
        made: list[FileDisk] = []
        errors: list[Exception] = []

        def create() -> None:
            barrier.wait()
            try:
                made.append(FileDisk.create(path, GEOMETRY))
            except DataDirError as err:
                errors.append(err)

        threads = [threading.Thread(target=create) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(made) == 1 and len(errors) == 3
        made[0].close()
        assert sorted(os.listdir(tmp_path)) == ["store"]
        FileDisk.open(path).close()


class TestCreateRefusals:
    def test_inside_a_file_is_refused(self, tmp_path: Path) -> None:
        (tmp_path / "file").write_bytes(b"data")
        with pytest.raises(DataDirError, match="a parent of it is not a directory"):
            FileDisk.create(str(tmp_path / "file" / "store"), GEOMETRY)
        assert (tmp_path / "file").read_bytes() == b"data"

    def test_a_symlink_to_an_empty_directory_gets_the_store_at_its_target(
        self, tmp_path: Path
    ) -> None:
        (tmp_path / "real").mkdir()
        (tmp_path / "link").symlink_to(tmp_path / "real")
        FileDisk.create(str(tmp_path / "link"), GEOMETRY).close()
        assert (tmp_path / "real" / FORMAT_FILE).is_file()
        FileDisk.open(str(tmp_path / "link")).close()

    def test_a_failed_create_leaves_nothing_and_names_the_path(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        def full(fd: int, data: bytes) -> int:
            raise OSError(errno.ENOSPC, "No space left on device")

        monkeypatch.setattr(os, "write", full)
        path = tmp_path / "store"
        with pytest.raises(OSError, match="cannot create a store: No space left") as info:
            FileDisk.create(str(path), GEOMETRY)
        assert info.value.errno == errno.ENOSPC
        assert info.value.filename == str(path)
        assert os.listdir(tmp_path) == []

    @pytest.mark.parametrize("geometry", [None, (256, 4096, 16), "small"])
    def test_geometry_must_be_a_geometry(self, tmp_path: Path, geometry: object) -> None:
        with pytest.raises(KVTypeError, match="geometry must be a Geometry"):
            FileDisk.create(str(tmp_path / "s"), geometry)  # type: ignore[arg-type]
        assert os.listdir(tmp_path) == []

    @pytest.mark.parametrize("path", [b"store", 7, None])
    def test_path_must_be_a_string_or_path(self, path: object) -> None:
        with pytest.raises(KVTypeError, match="path must be a str"):
            FileDisk.create(path, GEOMETRY)  # type: ignore[arg-type]
        with pytest.raises(KVTypeError, match="path must be a str"):
            FileDisk.open(path)  # type: ignore[arg-type]


def fail_pwrite_after(monkeypatch: pytest.MonkeyPatch, written: int, code: int) -> None:
    """The next pwrite writes `written` bytes; the one after fails with `code`."""
    real_pwrite = os.pwrite
    calls = []

    def pwrite(fd: int, data: bytes, offset: int) -> int:
        calls.append(offset)
        if len(calls) == 1 and written:
            return real_pwrite(fd, bytes(data)[:written], offset)
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(os, "pwrite", pwrite)


class TestOutOfSpace:
    @pytest.mark.parametrize("code", [errno.ENOSPC, errno.EDQUOT])
    def test_an_append_that_runs_out_of_space_is_undone(
        self, store: Path, opened: FileDisk, monkeypatch: pytest.MonkeyPatch, code: int
    ) -> None:
        fail_pwrite_after(monkeypatch, 3, code)
        with pytest.raises(DiskFullError, match="nothing was written"):
            opened.append(2, b" world")
        monkeypatch.undo()
        assert (store / "extent-00002").read_bytes() == b"hello"
        assert opened.write_pointer(2) == 5
        assert opened.append(2, b"!") == 5
        assert opened.read(2, 0, 6) == b"hello!"

    def test_out_of_space_in_a_superblock_extent_is_an_io_error(
        self, store: Path, opened: FileDisk, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        fail_pwrite_after(monkeypatch, 2, errno.ENOSPC)
        with pytest.raises(DiskIOError, match="No space left") as info:
            opened.append(0, b"record")
        assert not isinstance(info.value, DiskFullError)
        monkeypatch.undo()
        assert (store / "extent-00000").read_bytes() == b""

    def test_a_sync_that_fails_for_space_is_an_io_error(
        self, opened: FileDisk, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        def fsync(fd: int) -> None:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

        opened.append(3, b"x")
        monkeypatch.setattr(os, "fsync", fsync)
        with pytest.raises(DiskIOError, match="sync failed") as info:
            opened.sync()
        assert not isinstance(info.value, DiskFullError)

    @pytest.mark.skipif(filedisk._fallocate is None, reason="no fallocate in this C library")
    def test_blocks_are_reserved_on_first_write_and_given_back_on_reset(
        self, store: Path, opened: FileDisk
    ) -> None:
        def allocated(extent: int) -> int:
            return (store / f"extent-{extent:05d}").stat().st_blocks * 512

        if allocated(0) < GEOMETRY.extent_bytes:
            pytest.skip("this file system cannot reserve blocks")
        assert allocated(1) >= GEOMETRY.extent_bytes  # superblock extents, from creation
        opened.append(4, b"abc")
        assert (store / "extent-00004").stat().st_size == 3
        assert allocated(4) >= GEOMETRY.extent_bytes
        opened.reset(4)
        assert allocated(4) == 0
        opened.reset(1)
        assert allocated(1) >= GEOMETRY.extent_bytes  # taken again at once

    def test_reserve_on_a_full_file_system_is_disk_full_and_changes_nothing(
        self, tmp_path: Path
    ) -> None:
        with sandbox.tmpfs(tmp_path / "mnt", size="2m") as mnt:
            disk = FileDisk.create(str(mnt / "store"), Geometry(4096, 256 * 1024, 16))
            disk.append(2, b"hello")
            disk.reserve(3)  # 1 MiB of the 2 reserved so far
            with pytest.raises(DiskFullError, match="cannot reserve"):
                for extent in range(4, 16):
                    disk.reserve(extent)
            assert disk.read(2, 0, 5) == b"hello"
            assert disk.append(3, b"fits") == 0
            disk.close()

    def test_reserve_on_a_read_only_disk_raises_read_only_error(self, store: Path) -> None:
        disk = FileDisk.open(str(store), read_only=True)
        with pytest.raises(ReadOnlyError):
            disk.reserve(3)
        disk.close()
