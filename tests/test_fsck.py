"""fsck finds damage to durable data, reports where, and changes nothing."""

from __future__ import annotations

from support import crash_with_torn_tail

from kvnode import SMALL_GEOMETRY, Node, SimDisk
from kvnode.fsck import fsck


def filled(disk: SimDisk, *, flush: bool) -> None:
    node = Node.open(disk)
    for i in range(30):
        node.put(b"k%02d" % i, b"v" * 40)
    if flush:
        node.flush_index()
    node.close()


def test_clean_disk_is_clean(disk: SimDisk) -> None:
    filled(disk, flush=True)
    report = fsck(disk)
    assert report.ok
    assert report.keys == 30
    assert report.chunks_verified == 31  # thirty puts and one index run


def test_blank_disk_is_clean(disk: SimDisk) -> None:
    assert fsck(disk).ok


def test_damaged_flushed_chunk_is_reported_with_extent_and_offset(disk: SimDisk) -> None:
    filled(disk, flush=True)
    disk.damage(2, 70)
    report = fsck(disk)
    assert not report.ok
    assert any(f.extent == 2 and f.offset == 67 for f in report.damage), report.damage


def test_damaged_unflushed_chunk_is_reported(disk: SimDisk) -> None:
    filled(disk, flush=False)
    disk.damage(2, 70)
    report = fsck(disk)
    assert [(f.extent, f.offset) for f in report.damage] == [(2, 67)]


def test_torn_tail_is_a_note_not_damage(disk: SimDisk) -> None:
    crash_with_torn_tail(disk)
    report = fsck(disk)
    assert report.ok
    assert any("torn tail" in str(n) for n in report.notes)


def test_fsck_writes_nothing(disk: SimDisk) -> None:
    filled(disk, flush=False)
    disk.damage(2, 70)
    images = [disk.durable_image(e) for e in range(SMALL_GEOMETRY.extent_count)]
    fsck(disk)
    assert disk.pending_writes() == ()
    assert [disk.durable_image(e) for e in range(SMALL_GEOMETRY.extent_count)] == images


def test_destroyed_superblocks_are_damage(disk: SimDisk) -> None:
    filled(disk, flush=False)
    for extent in (0, 1):
        for offset in range(0, disk.write_pointer(extent), 50):
            disk.damage(extent, offset)
    report = fsck(disk)
    assert not report.ok
    assert "no valid superblock" in str(report.damage[0])
