"""`FileDisk`: a data directory is created, reopened, and refused (unchanged) when not ours."""

from __future__ import annotations

import os
import struct
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from kvnode.chunk import crc32c
from kvnode.errors import DataDirError, KVError
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
    """Every path under `root` with its bytes (None for a directory); a file maps to itself."""
    if root.is_file():
        return {"": root.read_bytes()}
    found: dict[str, bytes | None] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames:
            found[os.path.relpath(os.path.join(dirpath, name), root)] = None
        for name in filenames:
            path = os.path.join(dirpath, name)
            found[os.path.relpath(path, root)] = Path(path).read_bytes()
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
