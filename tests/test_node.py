"""The node's public API on a simulated disk: behaviour and every public error path."""

from __future__ import annotations

import threading

import pytest

from kvnode import (
    SMALL_GEOMETRY,
    DiskFullError,
    DiskIOError,
    InvalidKeyError,
    InvalidValueError,
    KVError,
    KVTypeError,
    Limits,
    Node,
    NodeClosedError,
    NodeFailedError,
    SimDisk,
)
from kvnode.limits import CHUNK_HEADER_BYTES, RESERVED_EXTENTS

LIMITS = Limits.for_geometry(SMALL_GEOMETRY)


class TestPutGetDelete:
    def test_get_returns_what_put_wrote(self, node: Node) -> None:
        node.put(b"a", b"1")
        assert node.get(b"a") == b"1"

    def test_get_of_absent_key_is_none(self, node: Node) -> None:
        assert node.get(b"nope") is None

    def test_later_put_overwrites(self, node: Node) -> None:
        node.put(b"a", b"1")
        node.put(b"a", b"2")
        assert node.get(b"a") == b"2"

    def test_empty_value_is_a_value(self, node: Node) -> None:
        node.put(b"a", b"")
        assert node.get(b"a") == b""

    def test_delete_removes_key(self, node: Node) -> None:
        node.put(b"a", b"1")
        node.delete(b"a")
        assert node.get(b"a") is None

    def test_delete_of_absent_key_is_a_no_op(self, node: Node) -> None:
        node.delete(b"a")
        assert node.scan() == []

    def test_largest_key_and_value_fit(self, node: Node) -> None:
        key = b"k" * LIMITS.key_bytes_max
        value = b"v" * LIMITS.value_bytes_max
        node.put(key, value)
        assert node.get(key) == value


class TestScan:
    def test_scan_is_in_key_order(self, node: Node) -> None:
        for key in [b"c", b"a", b"b"]:
            node.put(key, key.upper())
        assert node.scan() == [(b"a", b"A"), (b"b", b"B"), (b"c", b"C")]

    def test_scan_range_includes_start_excludes_end(self, node: Node) -> None:
        for key in [b"a", b"b", b"c", b"d"]:
            node.put(key, b"")
        assert [k for k, _ in node.scan(b"b", b"d")] == [b"b", b"c"]

    def test_scan_skips_deleted_keys(self, node: Node) -> None:
        node.put(b"a", b"1")
        node.put(b"b", b"2")
        node.delete(b"a")
        assert node.scan() == [(b"b", b"2")]

    @pytest.mark.parametrize("args", [("a",), (b"", "z"), (None,)])
    def test_scan_bounds_must_be_bytes(self, node: Node, args: tuple[object, ...]) -> None:
        with pytest.raises(KVTypeError):
            node.scan(*args)  # type: ignore[arg-type]


class TestBadInput:
    @pytest.mark.parametrize("key", ["text", bytearray(b"k"), memoryview(b"k"), 1, None])
    def test_non_bytes_key_is_a_type_error(self, node: Node, key: object) -> None:
        for call in (lambda: node.put(key, b"v"), lambda: node.get(key), lambda: node.delete(key)):
            with pytest.raises(KVTypeError) as info:
                call()  # type: ignore[no-untyped-call]
            assert isinstance(info.value, TypeError)
            assert isinstance(info.value, KVError)

    def test_non_bytes_value_is_a_type_error(self, node: Node) -> None:
        with pytest.raises(TypeError, match="value must be bytes"):
            node.put(b"k", "v")  # type: ignore[arg-type]

    def test_empty_key_is_refused(self, node: Node) -> None:
        with pytest.raises(InvalidKeyError, match="empty"):
            node.put(b"", b"v")

    def test_oversized_key_is_refused_and_changes_nothing(self, node: Node) -> None:
        before = node.stats()
        with pytest.raises(InvalidKeyError, match="key_bytes_max") as info:
            node.put(b"k" * (LIMITS.key_bytes_max + 1), b"v")
        assert isinstance(info.value, ValueError)
        assert node.stats() == before

    def test_oversized_value_is_refused_and_changes_nothing(self, node: Node) -> None:
        before = node.stats()
        with pytest.raises(InvalidValueError, match="value_bytes_max"):
            node.put(b"k", b"v" * (LIMITS.value_bytes_max + 1))
        assert node.stats() == before

    def test_limits_larger_than_an_extent_are_refused(self, disk: SimDisk) -> None:
        with pytest.raises(ValueError, match="larger than an extent"):
            Node.open(disk, Limits(key_bytes_max=100, value_bytes_max=SMALL_GEOMETRY.extent_bytes))


class TestDependencies:
    def test_put_is_not_persistent_until_sync(self, node: Node) -> None:
        dep = node.put(b"a", b"1")
        assert not dep.is_persistent()
        node.sync()
        assert dep.is_persistent()

    def test_delete_of_absent_key_waits_for_earlier_writes(self, node: Node) -> None:
        node.put(b"a", b"1")
        dep = node.delete(b"b")
        assert not dep.is_persistent()
        node.sync()
        assert dep.is_persistent()

    def test_flush_and_reclaim_make_earlier_writes_persistent(self, node: Node) -> None:
        dep = node.put(b"a", b"1")
        node.flush_index()
        assert dep.is_persistent()

    def test_combined_dependency_waits_for_both(self, node: Node) -> None:
        first = node.put(b"a", b"1")
        node.sync()
        second = node.put(b"b", b"2")
        assert not first.and_(second).is_persistent()
        node.sync()
        assert first.and_(second).is_persistent()


class TestLifecycle:
    def test_closed_node_refuses_every_operation(self, node: Node) -> None:
        node.close()
        for call in (
            lambda: node.put(b"a", b""),
            lambda: node.get(b"a"),
            lambda: node.delete(b"a"),
            node.scan,
            node.sync,
            node.flush_index,
            node.reclaim,
            node.stats,
        ):
            with pytest.raises(NodeClosedError):
                call()

    def test_close_twice_is_harmless(self, node: Node) -> None:
        node.close()
        node.close()

    def test_close_makes_everything_persistent(self, disk: SimDisk) -> None:
        node = Node.open(disk)
        dep = node.put(b"a", b"1")
        node.close()
        assert dep.is_persistent()
        disk.crash()
        assert Node.open(disk).get(b"a") == b"1"

    def test_context_manager_closes(self, disk: SimDisk) -> None:
        with Node.open(disk) as node:
            node.put(b"a", b"1")
        with pytest.raises(NodeClosedError):
            node.get(b"a")


class TestFaults:
    def test_read_error_fails_only_that_get(self, node: Node, disk: SimDisk) -> None:
        node.put(b"a", b"1")
        disk.fail("read")
        with pytest.raises(DiskIOError):
            node.get(b"a")
        assert node.get(b"a") == b"1"
        node.put(b"b", b"2")

    def test_flipped_bit_on_read_is_corruption_not_wrong_data(
        self, node: Node, disk: SimDisk
    ) -> None:
        node.put(b"a", b"12345678")
        for bit in range(0, (24 + 1 + 8) * 8, 7):
            disk.flip_bit_on_read(bit)
            with pytest.raises(KVError):
                node.get(b"a")
        assert node.get(b"a") == b"12345678"

    def test_write_error_leaves_node_refusing_changes(self, node: Node, disk: SimDisk) -> None:
        node.put(b"a", b"1")
        disk.fail("write")
        with pytest.raises(DiskIOError):
            node.put(b"b", b"2")
        with pytest.raises(NodeFailedError, match="reopened"):
            node.put(b"c", b"3")
        assert node.get(b"a") == b"1"
        assert node.get(b"b") is None

    def test_sync_error_leaves_dependency_not_persistent(self, node: Node, disk: SimDisk) -> None:
        dep = node.put(b"a", b"1")
        disk.fail("sync")
        with pytest.raises(DiskIOError):
            node.sync()
        assert not dep.is_persistent()
        with pytest.raises(NodeFailedError):
            node.sync()

    def test_reopen_after_failure_recovers(self, disk: SimDisk) -> None:
        node = Node.open(disk)
        node.put(b"a", b"1")
        node.sync()
        disk.fail("write", times=None)
        with pytest.raises(DiskIOError):
            node.put(b"b", b"2")
        node.close()
        disk.clear_faults()
        disk.crash()
        node = Node.open(disk)
        assert node.get(b"a") == b"1"
        node.put(b"c", b"3")
        assert node.get(b"c") == b"3"


def fill(node: Node, value: bytes) -> list[bytes]:
    """Put distinct keys until the disk is full; return the keys that went in."""
    written = []
    with pytest.raises(DiskFullError):
        for i in range(100):
            node.put(b"k%d" % i, value)
            written.append(b"k%d" % i)
    return written


class TestSpace:
    def test_full_disk_refuses_puts_and_keeps_data(self, node: Node) -> None:
        written = fill(node, b"v" * 3000)
        assert written
        node.sync()
        assert all(node.get(k) == b"v" * 3000 for k in written)

    def test_full_disk_still_accepts_deletes_and_then_puts(self, node: Node) -> None:
        for key in fill(node, b"v" * 3000):
            node.delete(key)
        node.put(b"again", b"v" * 3000)
        assert node.get(b"again") == b"v" * 3000

    def test_a_delete_fits_when_every_extent_is_exactly_full(self, disk: SimDisk) -> None:
        # Chunks of exactly half an extent leave no room for even a tombstone, and nothing is
        # dead to reclaim: the delete must take the reserved space clients may not use.
        node = Node.open(disk)
        half = disk.geometry.extent_bytes // 2 - CHUNK_HEADER_BYTES - 3
        keys = []
        with pytest.raises(DiskFullError):
            for i in range(100):
                node.put(b"k%02d" % i, b"v" * half)
                keys.append(b"k%02d" % i)
        node.delete(keys[0])
        assert node.get(keys[0]) is None
        node.close()
        reopened = Node.open(disk)
        assert reopened.get(keys[0]) is None and reopened.get(keys[1]) == b"v" * half

    def test_deletes_reclaim_before_they_use_the_reserved_extents(self, disk: SimDisk) -> None:
        # 150-byte keys: 23 chunks of half an extent fill the disk, and the 23 tombstones that
        # delete them overflow the extent the first (full-disk) delete opened. From then on
        # dead space exists, so the deletes must reclaim it, not take the last reserved extent.
        node = Node.open(disk)
        half = disk.geometry.extent_bytes // 2 - CHUNK_HEADER_BYTES - 150
        keys = []
        with pytest.raises(DiskFullError):
            for i in range(100):
                node.put(b"%03d" % i * 50, b"v" * half)
                keys.append(b"%03d" % i * 50)
        for key in keys:
            node.delete(key)
        assert node.stats().reclaims > 0
        assert node.stats().free_extents >= RESERVED_EXTENTS

    def test_overwrites_never_fill_the_disk(self, node: Node) -> None:
        for i in range(2000):
            node.put(b"k%d" % (i % 5), bytes([i % 256]) * 700)
        assert node.stats().reclaims > 0
        assert node.get(b"k4") == bytes([1999 % 256]) * 700

    def test_index_full_is_a_disk_full_error(self, node: Node) -> None:
        with pytest.raises(DiskFullError, match="index full"):
            for i in range(10_000):
                node.put(b"key-%06d" % i, b"")
        assert node.get(b"key-000000") == b""


class TestThreads:
    def test_concurrent_puts_from_threads_all_land(self, disk: SimDisk) -> None:
        node = Node.open(disk)

        def writer(t: int) -> None:
            for i in range(30):
                node.put(b"t%d-%d" % (t, i), b"x" * (i % 7))

        threads = [threading.Thread(target=writer, args=(t,)) for t in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert len(node.scan()) == 120


class TestStats:
    def test_live_bytes_count_the_chunks_of_current_keys(self, node: Node) -> None:
        node.put(b"a", b"x" * 100)
        node.put(b"b", b"y" * 50)
        node.put(b"a", b"z" * 10)
        node.delete(b"b")
        assert node.stats().live_bytes == CHUNK_HEADER_BYTES + 1 + 10
        assert node.stats().keys == 1

    def test_durable_seq_follows_syncs(self, node: Node) -> None:
        node.put(b"a", b"1")
        before = node.stats()
        assert before.durable_seq < before.next_seq - 1
        node.sync()
        after = node.stats()
        assert after.durable_seq == after.next_seq - 1
