"""SimDisk against the disk model: after any appends, truncates, syncs and crashes, reads agree."""

from __future__ import annotations

from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

from kvcheck.models.disk import DiskModel
from kvnode import CrashPlan, Geometry, SimDisk

GEOMETRY = Geometry(page_bytes=16, extent_bytes=256, extent_count=5)
EXTENTS = st.integers(0, GEOMETRY.extent_count - 1)


class DiskAgainstModel(RuleBasedStateMachine):
    """Drive a SimDisk (or `disk_class`) and the model with the same operations."""

    disk_class: type[SimDisk] = SimDisk

    def __init__(self) -> None:
        super().__init__()
        self.disk = self.disk_class(GEOMETRY)
        self.model = DiskModel(GEOMETRY.page_bytes, GEOMETRY.extent_count)

    @rule(extent=EXTENTS, data=st.binary(min_size=1, max_size=40))
    def append(self, extent: int, data: bytes) -> None:
        if self.disk.write_pointer(extent) + len(data) <= GEOMETRY.extent_bytes:
            self.disk.append(extent, data)
            self.model.append(extent, data)

    @rule(extent=EXTENTS, fraction=st.floats(0, 1))
    def truncate(self, extent: int, fraction: float) -> None:
        length = int(self.disk.write_pointer(extent) * fraction)
        self.disk.truncate(extent, length)
        self.model.truncate(extent, length)

    @rule(extent=EXTENTS)
    def reset(self, extent: int) -> None:
        self.disk.reset(extent)
        self.model.truncate(extent, 0)

    @rule()
    def sync(self) -> None:
        self.disk.sync()
        self.model.sync()

    @rule(data=st.data())
    def crash(self, data: st.DataObject) -> None:
        pending = self.disk.pending_writes()
        keep = data.draw(st.lists(st.booleans(), min_size=len(pending), max_size=len(pending)))
        kept = {w.index for w, k in zip(pending, keep, strict=True) if k}
        torn: dict[int, int] = {}
        for write in pending:
            if write.index in kept and write.kind == "page" and data.draw(st.booleans()):
                torn[write.index] = data.draw(st.integers(0, len(write.data) - 1))
        self.disk.crash(CrashPlan(kept, torn))
        self.model.crash(kept, torn)

    @rule(extent=EXTENTS, data=st.data())
    def read(self, extent: int, data: st.DataObject) -> None:
        wp = self.disk.write_pointer(extent)
        offset = data.draw(st.integers(0, wp))
        length = data.draw(st.integers(0, wp - offset))
        assert self.disk.read(extent, offset, length) == self.model.read(extent, offset, length)

    @invariant()
    def same_contents_and_pending_writes(self) -> None:
        for extent in range(GEOMETRY.extent_count):
            assert self.disk.write_pointer(extent) == len(self.model.current[extent])
            assert self.disk.durable_image(extent) == self.model.durable[extent]
        assert len(self.disk.pending_writes()) == len(self.model.pending)


TestSimDiskAgainstModel = DiskAgainstModel.TestCase


class _TearsIgnored(SimDisk):
    """A planted SimDisk bug: a crash writes torn pages whole."""

    def crash(self, plan: CrashPlan | None = None) -> None:
        plan = plan or CrashPlan()
        super().crash(CrashPlan(plan.keep))


class _TruncateDurableAtOnce(SimDisk):
    """A planted SimDisk bug: a truncate reaches the medium before any sync."""

    def truncate(self, extent: int, length: int) -> None:
        super().truncate(extent, length)
        del self._durable[extent][length:]


def fails(disk_class: type[SimDisk]) -> bool:
    """Whether the machine finds a difference between `disk_class` and the model."""

    class Machine(DiskAgainstModel):
        pass

    Machine.disk_class = disk_class
    try:
        run_state_machine_as_test(Machine)
    except (AssertionError, ExceptionGroup):
        return True
    return False


def test_the_model_catches_a_simdisk_that_ignores_tears() -> None:
    assert fails(_TearsIgnored)


def test_the_model_catches_a_simdisk_whose_truncates_skip_the_crash_rules() -> None:
    assert fails(_TruncateDurableAtOnce)
