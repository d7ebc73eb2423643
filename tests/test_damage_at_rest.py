"""Recovery under damage at rest: the newest valid record wins, and evidence of newer durable
state makes recovery refuse rather than reset, truncate or drop it."""

from __future__ import annotations

import pytest

from kvcheck.crash.sweep import reference, run_history
from kvnode import CorruptionError, Geometry, Node, ReadOnlyError, SimDisk
from kvnode.fsck import fsck
from kvnode.recovery import apply_plan, find_superblock, plan_recovery
from kvnode.superblock import record_bytes

SWEEP_GEOMETRY = Geometry(page_bytes=256, extent_bytes=4096, extent_count=8)
RECORD_SMALL = record_bytes(SWEEP_GEOMETRY.extent_count)

GEOMETRY = Geometry(page_bytes=256, extent_bytes=4096, extent_count=12)
RECORD = record_bytes(GEOMETRY.extent_count)


def hundred_synced_keys() -> SimDisk:
    disk = SimDisk(GEOMETRY)
    node = Node.open(disk)
    for i in range(100):
        node.put(b"k%03d" % i, b"v" * 40)
    node.close()
    return disk


def test_a_damaged_record_between_valid_ones_hides_no_newer_record() -> None:
    disk = hundred_synced_keys()
    assert disk.write_pointer(0) >= 3 * RECORD
    disk.damage(0, RECORD)  # the magic of the middle record
    report = fsck(disk)
    assert not report.ok
    assert any(f.extent == 0 and f.offset == RECORD for f in report.damage), report.damage
    assert len(Node.open(disk).scan()) == 100


def test_every_record_damaged_but_the_first_refuses_instead_of_resetting_newer_extents() -> None:
    disk = hundred_synced_keys()
    for offset in range(RECORD, disk.write_pointer(0), RECORD):
        disk.damage(0, offset)
    assert not fsck(disk).ok
    with pytest.raises(CorruptionError) as caught:
        Node.open(disk)
    assert caught.value.extent is not None and caught.value.offset is not None


def test_a_refused_open_changes_nothing() -> None:
    disk = hundred_synced_keys()
    for offset in range(RECORD, disk.write_pointer(0), RECORD):
        disk.damage(0, offset)
    images = [disk.durable_image(e) for e in range(GEOMETRY.extent_count)]
    with pytest.raises(CorruptionError):
        Node.open(disk)
    assert [disk.durable_image(e) for e in range(GEOMETRY.extent_count)] == images


def test_a_torn_newest_record_falls_back_when_the_log_accounts_for_everything() -> None:
    disk = hundred_synced_keys()
    newest = disk.write_pointer(0) - RECORD
    disk.cut(0, newest + RECORD // 2)
    report = fsck(disk)
    assert report.ok, report.damage
    assert len(Node.open(disk).scan()) == 100


def test_an_index_run_in_the_log_is_evidence_that_what_it_covers_was_durable() -> None:
    disk = SimDisk(GEOMETRY)
    node = Node.open(disk)
    for i in range(5):
        node.put(b"k%d" % i, b"v")
    node.flush_index()
    node.put(b"after", b"x")
    node.close()
    # Lose the records of the flush and after it, and a chunk the new run covers: replay from
    # the older record stops at the gap, but the run shows the chunks after it were durable.
    sizes = disk.write_pointer(0)
    for offset in range(RECORD, sizes, RECORD):
        disk.damage(0, offset)
    disk.damage(2, 30)  # inside the first put's chunk
    with pytest.raises(CorruptionError, match="log ends at seq"):
        Node.open(disk)
    assert not fsck(disk).ok


def test_a_read_only_open_serves_reads_and_writes_nothing() -> None:
    disk = hundred_synced_keys()
    disk.cut(0, disk.write_pointer(0) - RECORD // 2)  # a torn tail recovery would truncate
    images = [disk.durable_image(e) for e in range(GEOMETRY.extent_count)]
    node = Node.open(disk, read_only=True)
    assert len(node.scan()) == 99 or len(node.scan()) == 100
    with pytest.raises(ReadOnlyError):
        node.put(b"k", b"v")
    with pytest.raises(ReadOnlyError):
        node.delete(b"k000")
    with pytest.raises(ReadOnlyError):
        node.sync()
    node.close()
    assert disk.pending_writes() == ()
    assert [disk.durable_image(e) for e in range(GEOMETRY.extent_count)] == images


def test_a_read_only_open_of_a_blank_disk_formats_nothing() -> None:
    disk = SimDisk(GEOMETRY)
    node = Node.open(disk, read_only=True)
    assert node.scan() == []
    node.close()
    assert all(disk.write_pointer(e) == 0 for e in range(GEOMETRY.extent_count))


def test_fsck_refuses_cleanly_when_the_disk_has_more_extents_than_the_superblock() -> None:
    small = SimDisk(Geometry(page_bytes=256, extent_bytes=4096, extent_count=8))
    node = Node.open(small)
    node.put(b"k", b"v")
    node.close()
    big = SimDisk(GEOMETRY)
    for extent in range(8):
        image = small.durable_image(extent)
        if image:
            big.append(extent, image)
    big.sync()
    report = fsck(big)
    assert not report.ok
    assert "superblock describes 8 extents" in str(report.damage[0])
    with pytest.raises(CorruptionError, match="describes 8 extents"):
        Node.open(big)


def test_a_bit_flipped_while_recovery_reads_never_loses_or_destroys_synced_data() -> None:
    """On a store whose older records no longer account for the log (extents were reclaimed
    and reused), a flip in the newest record's read must not make recovery truncate it."""
    disk = SimDisk(SWEEP_GEOMETRY)
    node = Node.open(disk)
    run_history(node)
    node.close()
    want = sorted(reference().items())
    found = find_superblock(disk)
    assert found is not None
    extent, newest = found.extent, found.end - RECORD_SMALL
    disk.append(extent, b"\x01" * (RECORD_SMALL // 2))  # a torn record recovery truncates
    disk.sync()
    for bit in range(8 * newest, 8 * found.end, 5):
        copy = disk.clone()
        if extent == 1:
            copy.flip_bit_on_read(0)  # extent 0 is read first
        copy.flip_bit_on_read(bit)
        try:
            opened = Node.open(copy)
        except CorruptionError:
            pass
        else:
            assert opened.scan() == want, bit
            opened.close()
        copy.clear_faults()
        assert Node.open(copy).scan() == want, bit


def test_recovery_destroys_nothing_on_the_word_of_a_read_it_cannot_repeat() -> None:
    disk = hundred_synced_keys()
    newest = disk.write_pointer(0) - RECORD
    images = [disk.durable_image(e) for e in range(GEOMETRY.extent_count)]
    disk.flip_bit_on_read(8 * newest)  # the newest record reads back damaged, once
    plan = plan_recovery(disk)
    assert (0, newest) in plan.truncations  # it would truncate a valid record away
    with pytest.raises(CorruptionError, match="read back differently"):
        apply_plan(disk, plan)
    assert [disk.durable_image(e) for e in range(GEOMETRY.extent_count)] == images
    assert disk.pending_writes() == ()


def test_a_node_subclass_defined_outside_a_node_package_is_checked_by_its_bases_fsck() -> None:
    from kvcheck.evidence.planted import early_persistence

    target = early_persistence()
    try:
        store = target.open()
        store.put(b"k", b"v")
        store.close()
        report = target.fsck()
        assert report.ok, report
    finally:
        target.cleanup()
