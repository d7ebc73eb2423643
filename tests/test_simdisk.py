"""`SimDisk`: durable vs current images, crash plans, torn pages and injected faults."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kvnode.errors import DiskIOError
from kvnode.limits import SMALL_GEOMETRY
from kvnode.simdisk import CrashPlan, PendingWrite, SimDisk

FAST = settings(max_examples=50, deadline=None)
PAGE = SMALL_GEOMETRY.page_bytes
EXTENT = SMALL_GEOMETRY.extent_bytes


def disk() -> SimDisk:
    return SimDisk(SMALL_GEOMETRY)


def pattern(n: int, seed: int = 1) -> bytes:
    return bytes((seed + i) % 251 + 1 for i in range(n))


class TestAppend:
    def test_returns_the_offset_and_advances_the_write_pointer(self) -> None:
        d = disk()
        assert d.append(2, b"abc") == 0
        assert d.append(2, b"defg") == 3
        assert d.write_pointer(2) == 7
        assert d.read(2, 0, 7) == b"abcdefg"

    def test_extents_are_independent(self) -> None:
        d = disk()
        d.append(2, b"abc")
        assert d.write_pointer(3) == 0
        assert d.append(3, b"x") == 0

    def test_fills_an_extent_exactly(self) -> None:
        d = disk()
        d.append(2, bytes(EXTENT))
        assert d.write_pointer(2) == EXTENT

    def test_past_the_extent_end_raises_value_error_and_changes_nothing(self) -> None:
        d = disk()
        d.append(2, bytes(EXTENT - 1))
        pending = d.pending_writes()
        with pytest.raises(ValueError, match="overruns"):
            d.append(2, b"ab")
        assert d.write_pointer(2) == EXTENT - 1
        assert d.pending_writes() == pending

    @pytest.mark.parametrize("extent", [-1, SMALL_GEOMETRY.extent_count])
    def test_an_extent_out_of_range_raises_value_error(self, extent: int) -> None:
        with pytest.raises(ValueError, match="out of range"):
            disk().append(extent, b"x")


class TestRead:
    def test_beyond_the_write_pointer_raises_value_error(self) -> None:
        d = disk()
        d.append(2, b"abc")
        with pytest.raises(ValueError, match="beyond write pointer"):
            d.read(2, 1, 3)

    @pytest.mark.parametrize(("offset", "length"), [(-1, 1), (0, -1)])
    def test_negative_offset_or_length_raises_value_error(self, offset: int, length: int) -> None:
        d = disk()
        d.append(2, b"abc")
        with pytest.raises(ValueError):
            d.read(2, offset, length)

    def test_zero_bytes_at_the_write_pointer_is_empty(self) -> None:
        d = disk()
        d.append(2, b"abc")
        assert d.read(2, 3, 0) == b""

    @pytest.mark.parametrize("extent", [-1, SMALL_GEOMETRY.extent_count])
    def test_an_extent_out_of_range_raises_value_error(self, extent: int) -> None:
        with pytest.raises(ValueError, match="out of range"):
            disk().read(extent, 0, 0)


class TestWritePointer:
    def test_an_extent_out_of_range_raises_value_error(self) -> None:
        d = disk()
        d.append(SMALL_GEOMETRY.extent_count - 1, b"abc")
        with pytest.raises(ValueError):
            d.write_pointer(-1)


class TestPendingWrites:
    def test_one_page_write_per_page_touched(self) -> None:
        d = disk()
        d.append(2, pattern(PAGE // 2))
        d.append(2, pattern(PAGE + 10, seed=7))
        writes = d.pending_writes()
        assert [(w.index, w.kind, w.extent, w.offset) for w in writes] == [
            (0, "page", 2, 0),
            (1, "page", 2, 0),
            (2, "page", 2, PAGE),
        ]

    def test_each_page_write_holds_the_whole_page_image_up_to_the_write_pointer(self) -> None:
        d = disk()
        first = pattern(PAGE // 2)
        second = pattern(PAGE + 10, seed=7)
        d.append(2, first)
        d.append(2, second)
        current = first + second
        writes = d.pending_writes()
        assert writes[0].data == first
        assert writes[1].data == current[:PAGE]
        assert writes[2].data == current[PAGE : PAGE + PAGE // 2 + 10]

    @FAST
    @given(st.lists(st.integers(0, 3 * PAGE), min_size=1, max_size=6))
    def test_page_writes_reproduce_the_current_image(self, sizes: list[int]) -> None:
        d = disk()
        written = b""
        for i, size in enumerate(sizes):
            if len(written) + size > EXTENT:
                break
            data = pattern(size, seed=i)
            d.append(2, data)
            written += data
        for w in d.pending_writes():
            assert w.offset % PAGE == 0
            assert 0 < len(w.data) <= PAGE
            assert w.data == written[w.offset : w.offset + len(w.data)]
        assert [w.index for w in d.pending_writes()] == list(range(len(d.pending_writes())))

    def test_truncate_and_reset_are_pending_writes(self) -> None:
        d = disk()
        d.append(2, b"abcdef")
        d.truncate(2, 2)
        d.reset(3)
        assert d.pending_writes()[1:] == (
            PendingWrite(1, "truncate", 2, 2),
            PendingWrite(2, "truncate", 3, 0),
        )

    def test_sync_empties_the_list(self) -> None:
        d = disk()
        d.append(2, b"abc")
        d.sync()
        assert d.pending_writes() == ()


class TestSync:
    def test_makes_appends_durable(self) -> None:
        d = disk()
        d.append(2, b"abc")
        assert d.durable_image(2) == b""
        d.sync()
        assert d.durable_image(2) == b"abc"
        d.crash(CrashPlan.keep_nothing())
        assert d.read(2, 0, 3) == b"abc"

    def test_makes_truncate_and_reset_durable(self) -> None:
        d = disk()
        d.append(2, b"abcdef")
        d.append(3, b"xyz")
        d.sync()
        d.truncate(2, 2)
        d.reset(3)
        assert d.durable_image(2) == b"abcdef"
        d.sync()
        d.crash()
        assert (d.durable_image(2), d.durable_image(3)) == (b"ab", b"")


class TestTruncate:
    def test_moves_the_write_pointer_back(self) -> None:
        d = disk()
        d.append(2, b"abcdef")
        d.truncate(2, 2)
        assert d.write_pointer(2) == 2
        assert d.read(2, 0, 2) == b"ab"
        assert d.append(2, b"Z") == 2

    def test_forward_raises_value_error(self) -> None:
        d = disk()
        d.append(2, b"abc")
        with pytest.raises(ValueError, match="truncate"):
            d.truncate(2, 4)

    def test_reset_empties_the_extent(self) -> None:
        d = disk()
        d.append(2, b"abc")
        d.reset(2)
        assert d.write_pointer(2) == 0


class TestCrash:
    def test_keep_nothing_reverts_to_the_durable_image(self) -> None:
        d = disk()
        d.append(2, b"synced")
        d.sync()
        d.append(2, b" lost")
        d.append(3, b"lost too")
        d.crash(CrashPlan.keep_nothing())
        assert d.write_pointer(2) == 6
        assert d.read(2, 0, 6) == b"synced"
        assert d.write_pointer(3) == 0
        assert d.pending_writes() == ()
        assert d.crashes == 1

    def test_no_plan_keeps_nothing(self) -> None:
        d = disk()
        d.append(2, b"abc")
        d.crash()
        assert d.write_pointer(2) == 0

    def test_keep_all_keeps_everything(self) -> None:
        d = disk()
        d.append(2, b"synced")
        d.sync()
        d.append(2, pattern(3 * PAGE))
        d.append(4, b"other")
        d.truncate(4, 2)
        before = [d.read(e, 0, d.write_pointer(e)) for e in range(SMALL_GEOMETRY.extent_count)]
        d.crash(CrashPlan.keep_all(d))
        after = [d.read(e, 0, d.write_pointer(e)) for e in range(SMALL_GEOMETRY.extent_count)]
        assert after == before

    def test_a_kept_subset_is_applied_in_issue_order(self) -> None:
        d = disk()
        d.append(2, b"a" * 10)  # 0: page 0 = a*10
        d.append(2, b"b" * 10)  # 1: page 0 = a*10 b*10
        d.truncate(2, 5)  # 2: truncate to 5
        d.append(2, b"c" * 3)  # 3: page 0 = a*5 c*3
        d.crash(CrashPlan(keep={0, 2, 3}))
        assert d.durable_image(2) == b"a" * 5 + b"c" * 3

    def test_keep_accepts_any_iterable_and_ignores_plan_order(self) -> None:
        d = disk()
        d.append(2, b"a" * 10)
        d.truncate(2, 5)
        d.crash(CrashPlan(keep=[1, 0]))
        assert d.durable_image(2) == b"a" * 5

    def test_a_dropped_truncate_leaves_the_old_bytes(self) -> None:
        d = disk()
        d.append(2, b"abcdef")
        d.sync()
        d.truncate(2, 2)
        d.append(2, b"Z")
        d.crash(CrashPlan(keep={1}))
        assert d.durable_image(2) == b"abZdef"

    def test_a_kept_reset_empties_the_extent(self) -> None:
        d = disk()
        d.append(2, b"abcdef")
        d.sync()
        d.reset(2)
        d.crash(CrashPlan.keep_all(d))
        assert d.write_pointer(2) == 0

    def test_a_dropped_reset_keeps_the_durable_bytes(self) -> None:
        d = disk()
        d.append(2, b"abcdef")
        d.sync()
        d.reset(2)
        d.crash(CrashPlan.keep_nothing())
        assert d.read(2, 0, 6) == b"abcdef"

    def test_a_torn_page_keeps_only_the_prefix(self) -> None:
        d = disk()
        data = pattern(100)
        d.append(2, data)
        d.crash(CrashPlan(keep={0}, tears={0: 37}))
        assert d.write_pointer(2) == 37
        assert d.read(2, 0, 37) == data[:37]

    def test_a_torn_page_does_not_shorten_durable_bytes_before_the_append(self) -> None:
        d = disk()
        d.append(2, b"durable!")
        d.sync()
        d.append(2, b"new")
        d.crash(CrashPlan(keep={0}, tears=[(0, 3)]))
        assert d.durable_image(2) == b"durable!"

    def test_a_tear_on_a_dropped_write_is_ignored(self) -> None:
        d = disk()
        d.append(2, b"abc")
        d.crash(CrashPlan(keep=(), tears={0: 1}))
        assert d.write_pointer(2) == 0

    def test_a_page_kept_after_a_lost_page_leaves_a_zero_hole(self) -> None:
        d = disk()
        data = pattern(PAGE + 20)
        d.append(2, data)
        d.crash(CrashPlan(keep={1}))
        assert d.write_pointer(2) == PAGE + 20
        assert d.read(2, 0, PAGE + 20) == bytes(PAGE) + data[PAGE:]

    def test_durable_image_survives_repeated_crashes(self) -> None:
        d = disk()
        d.append(2, b"abc")
        d.sync()
        d.crash()
        d.crash()
        assert d.durable_image(2) == b"abc"
        assert d.crashes == 2

    @FAST
    @given(st.data())
    def test_any_kept_subset_matches_replaying_those_writes(self, data: st.DataObject) -> None:
        d = disk()
        d.append(2, b"base")
        d.sync()
        for i in range(data.draw(st.integers(1, 5))):
            d.append(2, pattern(data.draw(st.integers(1, PAGE + 50)), seed=i))
        writes = d.pending_writes()
        keep = data.draw(st.frozensets(st.sampled_from([w.index for w in writes])))
        expected = bytearray(b"base")
        for w in writes:
            if w.index in keep:
                expected.extend(bytes(max(0, w.offset - len(expected))))
                expected[w.offset : w.offset + len(w.data)] = w.data
        d.crash(CrashPlan(keep=keep))
        assert d.durable_image(2) == bytes(expected)


def skip_matches_model(disk_class: type[SimDisk], skip: int, times: int | None, calls: int) -> bool:
    """Whether `disk_class` fails reads as the model says: call n (from 0) fails exactly when
    skip <= n < skip + times, and a failure is armed until the last one has fired."""
    d = disk_class(SMALL_GEOMETRY)
    d.append(2, b"abc")
    d.fail("read", times, skip=skip)
    for n in range(calls):
        if d.fault_armed("read") != (times is None or n < skip + times):
            return False
        try:
            got = d.read(2, 0, 3)
        except DiskIOError:
            got = None
        should_fail = n >= skip and (times is None or n < skip + times)
        if (got is None) != should_fail or (got is not None and got != b"abc"):
            return False
    return True


class TestFaults:
    @pytest.mark.parametrize("op", ["read", "write", "sync"])
    def test_fail_once_fails_the_next_operation_only(self, op: str) -> None:
        d = disk()
        d.append(2, b"abc")
        d.fail(op)  # type: ignore[arg-type]
        run = {
            "read": lambda: d.read(2, 0, 3),
            "write": lambda: d.append(2, b"x"),
            "sync": d.sync,
        }[op]
        with pytest.raises(DiskIOError, match=f"{op} failed"):
            run()
        run()

    def test_fail_n_times_fails_exactly_n_operations(self) -> None:
        d = disk()
        d.fail("write", times=3)
        for _ in range(3):
            with pytest.raises(DiskIOError):
                d.append(2, b"x")
        d.append(2, b"x")

    def test_fail_until_cleared_fails_every_operation(self) -> None:
        d = disk()
        d.fail("write", times=None)
        for _ in range(5):
            with pytest.raises(DiskIOError):
                d.append(2, b"x")
        d.clear_faults()
        assert d.append(2, b"x") == 0

    @FAST
    @given(st.integers(0, 6), st.sampled_from([1, 2, 3, None]), st.integers(1, 12))
    def test_skip_lets_that_many_calls_through_then_fails_times(
        self, skip: int, times: int | None, calls: int
    ) -> None:
        assert skip_matches_model(SimDisk, skip, times, calls)

    def test_the_skip_model_catches_a_skip_counted_one_too_many(self) -> None:
        class SkipsOneTooMany(SimDisk):
            def fail(self, op, times=1, *, skip=0):  # type: ignore[no-untyped-def]
                super().fail(op, times, skip=skip + 1)

        assert not skip_matches_model(SkipsOneTooMany, 0, 1, 2)

    def test_skip_must_not_be_negative(self) -> None:
        with pytest.raises(ValueError):
            disk().fail("read", skip=-1)

    def test_clearing_faults_clears_the_skip_too(self) -> None:
        d = disk()
        d.fail("read", skip=1)
        d.clear_faults()
        assert not d.fault_armed("read")
        d.fail("read")
        with pytest.raises(DiskIOError):
            d.read(2, 0, 0)

    @pytest.mark.parametrize("times", [0, -1])
    def test_fail_refuses_non_positive_times(self, times: int) -> None:
        with pytest.raises(ValueError):
            disk().fail("read", times=times)

    def test_a_failed_write_changes_nothing(self) -> None:
        d = disk()
        d.append(2, b"abc")
        d.fail("write", times=2)
        with pytest.raises(DiskIOError, match="on extent 2"):
            d.append(2, b"x")
        with pytest.raises(DiskIOError):
            d.truncate(2, 0)
        assert d.write_pointer(2) == 3
        assert len(d.pending_writes()) == 1

    def test_a_failed_write_is_an_os_error(self) -> None:
        d = disk()
        d.fail("write")
        with pytest.raises(OSError):
            d.append(2, b"x")

    def test_faults_only_affect_their_own_operation(self) -> None:
        d = disk()
        d.fail("sync", times=None)
        d.append(2, b"abc")
        assert d.read(2, 0, 3) == b"abc"

    def test_a_failed_sync_leaves_writes_pending(self) -> None:
        d = disk()
        d.append(2, b"abc")
        d.fail("sync")
        with pytest.raises(DiskIOError):
            d.sync()
        assert len(d.pending_writes()) == 1
        assert d.durable_image(2) == b""
        d.crash(CrashPlan.keep_all(d))
        assert d.durable_image(2) == b"abc"

    def test_a_failed_sync_may_lose_its_writes(self) -> None:
        d = disk()
        d.append(2, b"abc")
        d.fail("sync")
        with pytest.raises(DiskIOError):
            d.sync()
        d.crash(CrashPlan.keep_nothing())
        assert d.write_pointer(2) == 0

    @FAST
    @given(st.binary(min_size=1, max_size=64), st.integers(0, 10_000))
    def test_flip_bit_on_read_flips_exactly_one_bit(self, data: bytes, bit: int) -> None:
        d = disk()
        d.append(2, data)
        d.flip_bit_on_read(bit)
        got = d.read(2, 0, len(data))
        diff = int.from_bytes(got, "little") ^ int.from_bytes(data, "little")
        assert diff == 1 << (bit % (8 * len(data)))

    def test_flip_bit_on_read_leaves_the_stored_bytes_and_later_reads_alone(self) -> None:
        d = disk()
        d.append(2, b"abc")
        d.flip_bit_on_read(0)
        assert d.read(2, 0, 3) == b"`bc"
        assert d.read(2, 0, 3) == b"abc"

    def test_flip_bit_on_read_applies_to_the_next_n_reads(self) -> None:
        d = disk()
        d.append(2, b"abc")
        d.flip_bit_on_read(8, times=2)
        assert d.read(2, 0, 3) == b"acc"
        assert d.read(2, 1, 2) == b"bb"
        assert d.read(2, 0, 3) == b"abc"

    def test_clear_faults_cancels_pending_flips(self) -> None:
        d = disk()
        d.append(2, b"abc")
        d.flip_bit_on_read(0)
        d.clear_faults()
        assert d.read(2, 0, 3) == b"abc"


class TestClone:
    def test_is_independent_of_the_original(self) -> None:
        d = disk()
        d.append(2, b"synced")
        d.sync()
        d.append(2, b"+pending")
        copy = d.clone()
        copy.append(2, b"+more")
        copy.crash(CrashPlan.keep_nothing())
        assert d.write_pointer(2) == 14
        assert d.read(2, 0, 14) == b"synced+pending"
        assert len(d.pending_writes()) == 1
        assert d.crashes == 0

    def test_carries_pending_writes_and_faults(self) -> None:
        d = disk()
        d.append(2, b"abc")
        d.fail("sync")
        copy = d.clone()
        assert copy.pending_writes() == d.pending_writes()
        with pytest.raises(DiskIOError):
            copy.sync()
        with pytest.raises(DiskIOError):
            d.sync()

    def test_lets_one_disk_try_many_crash_plans(self) -> None:
        d = disk()
        d.append(2, pattern(PAGE + 1))
        survivors = []
        for keep in [(), (0,), (1,), (0, 1)]:
            copy = d.clone()
            copy.crash(CrashPlan(keep=keep))
            survivors.append(copy.write_pointer(2))
        assert survivors == [0, PAGE, PAGE + 1, PAGE + 1]
