"""Recovery on a simulated disk: torn tails, gaps, stale bytes, damage and idempotence."""

from __future__ import annotations

import pytest
from support import crash_with_torn_tail

from kvnode import SMALL_GEOMETRY, CorruptionError, CrashPlan, Node, SimDisk
from kvnode.chunk import Kind, encode
from kvnode.recovery import plan_recovery


def reopen(disk: SimDisk, plan: CrashPlan | None = None) -> Node:
    disk.crash(plan)
    return Node.open(disk)


def test_sync_then_crash_keeping_nothing_loses_nothing(disk: SimDisk) -> None:
    node = Node.open(disk)
    expected = {b"k%d" % i: bytes([i]) * (i * 37 % 900) for i in range(60)}
    for key, value in expected.items():
        node.put(key, value)
    node.delete(b"k7")
    del expected[b"k7"]
    node.sync()
    assert dict(reopen(disk).scan()) == expected


def test_unsynced_writes_may_be_lost_but_synced_ones_stay(disk: SimDisk) -> None:
    node = Node.open(disk)
    node.put(b"a", b"1")
    node.sync()
    node.put(b"b", b"2")
    assert dict(reopen(disk).scan()) == {b"a": b"1"}


def test_torn_tail_is_end_of_log(disk: SimDisk) -> None:
    crash_with_torn_tail(disk)
    assert Node.open(disk).scan() == [(b"a", b"1")]


def test_writes_after_a_torn_tail_survive_the_next_crash(disk: SimDisk) -> None:
    crash_with_torn_tail(disk)
    node = Node.open(disk)
    node.put(b"c", b"3")
    node.sync()
    assert reopen(disk).scan() == [(b"a", b"1"), (b"c", b"3")]


def test_chunk_after_a_lost_chunk_is_not_replayed(disk: SimDisk) -> None:
    node = Node.open(disk)
    node.sync()
    node.put(b"b", b"x" * 300)  # spans pages
    node.put(b"c", b"y" * 300)
    last_page = disk.pending_writes()[-1].index
    node = reopen(disk, CrashPlan(keep={last_page}))
    assert node.scan() == []


def test_stale_bytes_beyond_a_write_pointer_are_never_replayed(disk: SimDisk) -> None:
    page_chunk_value = b"x" * (SMALL_GEOMETRY.page_bytes - 24 - 1)  # a chunk of exactly one page
    node = Node.open(disk)
    node.sync()
    node.put(b"a", page_chunk_value)  # page 0, seq 1
    node.put(b"b", b"y" * 100)  # page 1, seq 2
    _a_page, b_page = disk.pending_writes()
    # Lose a, keep b: b sits beyond the recovered end with the next sequence number after a's.
    node = reopen(disk, CrashPlan(keep={b_page.index}))
    assert node.scan() == []
    node.put(b"c", page_chunk_value)  # takes seq 1 again, and fills page 0 exactly
    node.sync()
    # Had recovery not truncated, b (seq 2) would now follow c (seq 1) and be replayed.
    assert reopen(disk).scan() == [(b"c", page_chunk_value)]


def test_recovery_is_idempotent(disk: SimDisk) -> None:
    node = Node.open(disk)
    for i in range(40):
        node.put(b"k%d" % (i % 9), bytes([i]) * (i * 53 % 700))
        if i % 11 == 0:
            node.sync()
    writes = disk.pending_writes()
    first = reopen(disk, CrashPlan(keep={w.index for w in writes[::2]})).scan()
    assert reopen(disk).scan() == first


def test_mid_log_corruption_is_reported_not_dropped(disk: SimDisk) -> None:
    node = Node.open(disk)
    for i in range(10):
        node.put(b"k%d" % i, b"v" * 50)
    node.close()
    disk.damage(2, 100)
    with pytest.raises(CorruptionError) as info:
        Node.open(disk)
    assert info.value.extent == 2
    assert info.value.offset is not None and info.value.offset <= 100


def test_damaged_flushed_value_is_reported_on_get(disk: SimDisk) -> None:
    node = Node.open(disk)
    node.put(b"a", b"v" * 50)
    node.flush_index()
    node.close()
    disk.damage(2, 40)
    node = Node.open(disk)
    with pytest.raises(CorruptionError, match="checksum"):
        node.get(b"a")


def test_damaged_index_run_is_reported(disk: SimDisk) -> None:
    node = Node.open(disk)
    node.put(b"a", b"v")
    node.flush_index()
    node.close()
    start = 24 + 2 + 1  # the index run chunk follows the put chunk
    disk.damage(2, start + 30)
    with pytest.raises(CorruptionError, match="index run"):
        Node.open(disk)


def test_torn_superblock_record_falls_back_to_the_previous_one(disk: SimDisk) -> None:
    node = Node.open(disk)
    node.put(b"a", b"1")
    node.sync()
    node.sync()  # the record the first sync appended is now durable
    node.put(b"b", b"2" * 300)
    node.flush_index()
    node.put(b"c", b"3")
    node.sync()  # appends a superblock record, left unsynced
    sb_writes = [w for w in disk.pending_writes() if w.extent in (0, 1)]
    assert sb_writes
    tears = {w.index: 5 for w in sb_writes}
    node = reopen(disk, CrashPlan(keep={w.index for w in sb_writes}, tears=tears))
    assert dict(node.scan()) == {b"a": b"1", b"b": b"2" * 300, b"c": b"3"}


def test_superblock_survives_switching_extents(disk: SimDisk) -> None:
    node = Node.open(disk)
    for i in range(200):
        node.put(b"k%d" % (i % 3), b"%d" % i)
        node.sync()
        if i % 17 == 0:
            node = reopen(disk, CrashPlan.keep_all(disk))
    assert node.stats().superblock_generation > 60
    assert dict(reopen(disk).scan()) == {b"k0": b"198", b"k1": b"199", b"k2": b"197"}


def test_blank_disk_with_a_torn_format_is_formatted_again(disk: SimDisk) -> None:
    disk.append(0, b"\x00garbage")
    disk.sync()
    node = Node.open(disk)
    node.put(b"a", b"1")
    node.close()
    assert reopen(disk).get(b"a") == b"1"


def test_log_data_without_a_superblock_is_corruption(disk: SimDisk) -> None:
    disk.append(2, encode(Kind.PUT, 1, b"a", b"1"))
    disk.sync()
    with pytest.raises(CorruptionError, match="no valid superblock"):
        Node.open(disk)


def test_plan_recovery_writes_nothing(disk: SimDisk) -> None:
    node = Node.open(disk)
    node.put(b"a", b"x" * 300)
    pending = disk.pending_writes()
    disk.crash(CrashPlan(keep={pending[-1].index}))
    images = [disk.durable_image(e) for e in range(SMALL_GEOMETRY.extent_count)]
    plan = plan_recovery(disk)
    assert plan.truncations
    assert disk.pending_writes() == ()
    assert [disk.durable_image(e) for e in range(SMALL_GEOMETRY.extent_count)] == images


def test_new_extent_is_recorded_durably_before_its_first_chunk(disk: SimDisk) -> None:
    """No crash can leave a chunk in an extent that the newest durable record calls free."""
    node = Node.open(disk)
    node.sync()
    node.put(b"big", b"x" * 3800)
    node.put(b"next", b"y" * 3800)  # opens a new extent: its record is synced first
    writes = disk.pending_writes()
    assert writes and all(w.extent not in (0, 1) for w in writes)
    chunk_pages = [w.index for w in writes]
    node = reopen(disk, CrashPlan(keep=chunk_pages))
    assert node.get(b"big") == b"x" * 3800
    assert node.get(b"next") == b"y" * 3800
    node = reopen(disk, CrashPlan())
    assert node.get(b"next") == b"y" * 3800
