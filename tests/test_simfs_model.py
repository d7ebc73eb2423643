"""The simulated file system against its model (`kvcheck.models.fs`), under both persistence
models: the same random changes, fsyncs, crashes and full disks give the same tree and the same
write counts and `ENOSPC` refusals every step."""

from __future__ import annotations

import errno

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from kvcheck.machine.simfs import ROOT, SimFS
from kvcheck.models.fs import FsModel, Space
from kvnode.simdisk import CrashPlan

PAGE = 8
NAMES = st.sampled_from(["a", "b", "c"])


class FsAgainstModel(RuleBasedStateMachine):
    model_name = "posix"

    @initialize()
    def start(self) -> None:
        self.fs = SimFS(page_bytes=PAGE, model=self.model_name)
        self.model = FsModel(self.model_name)
        self.space = Space()

    def _dirs(self) -> list[int]:
        return [i for i, n in self.fs.current.items() if n.is_dir and self._reachable(i)]

    def _files(self) -> list[int]:
        return [i for i, n in self.fs.current.items() if not n.is_dir and self._reachable(i)]

    def _reachable(self, inode: int) -> bool:
        seen, todo = {ROOT}, [ROOT]
        while todo:
            for child in self.fs.current[todo.pop()].entries.values():
                if child not in seen:
                    seen.add(child)
                    todo.append(child)
        return inode in seen

    def _entries(self) -> list[tuple[int, str, int]]:
        return [(d, name, i) for d in self._dirs()
                for name, i in self.fs.current[d].entries.items()]  # fmt: skip

    @rule(pick=st.integers(0, 9), name=NAMES, is_dir=st.booleans())
    def create(self, pick: int, name: str, is_dir: bool) -> None:
        dirs = self._dirs()
        directory = dirs[pick % len(dirs)]
        if name in self.fs.current[directory].entries:
            return
        refused = self.space.allocate(0, 1) is None
        try:
            inode = self.fs.create(directory, name, is_dir=is_dir)
        except OSError as err:
            assert refused and err.errno == errno.ENOSPC
            return
        assert not refused
        self.model.change("create", directory, name, inode, is_dir)

    @rule(
        pick=st.integers(0, 9),
        offset=st.integers(0, 3 * PAGE),
        data=st.binary(min_size=1, max_size=2 * PAGE),
    )
    def write(self, pick: int, offset: int, data: bytes) -> None:
        files = self._files()
        if not files:
            return
        inode = files[pick % len(files)]
        size = len(self.fs.current[inode].data)
        overwrites = max(0, min(size - offset, len(data)))
        expected = self.space.allocate(overwrites, offset + len(data) - max(size, offset, 0)
                                       if offset + len(data) > size else 0)  # fmt: skip
        try:
            written = self.fs.write(inode, offset, data)
        except OSError as err:
            assert expected is None and err.errno == errno.ENOSPC
            return
        assert written == expected
        for change in self.fs.pending[len(self.model.pending()) :]:
            self.model.change("page", inode, change.offset, change.data)

    @rule(pick=st.integers(0, 9), length=st.integers(0, 3 * PAGE))
    def truncate(self, pick: int, length: int) -> None:
        files = self._files()
        if files:
            inode = files[pick % len(files)]
            if length < len(self.fs.current[inode].data):
                self.space.freed()
            self.fs.truncate(inode, length)
            self.model.change("truncate", inode, length)

    @rule(pick=st.integers(0, 20))
    def unlink(self, pick: int) -> None:
        entries = self._entries()
        if entries:
            directory, name, _ = entries[pick % len(entries)]
            self.fs.unlink(directory, name)
            self.space.freed()
            self.model.change("unlink", directory, name)

    @rule(pick=st.integers(0, 20), to=st.integers(0, 9), to_name=NAMES)
    def rename(self, pick: int, to: int, to_name: str) -> None:
        entries, dirs = self._entries(), self._dirs()
        if not entries:
            return
        directory, name, inode = entries[pick % len(entries)]
        target = dirs[to % len(dirs)]
        if self.fs.current[inode].is_dir or (target == directory and to_name == name):
            return  # files only: a directory renamed into itself is refused by real systems
        replaced = self.fs.current[target].entries.get(to_name)
        if replaced is not None and self.fs.current[replaced].is_dir:
            return
        self.fs.rename(directory, name, target, to_name)
        self.model.change("rename", directory, name, target, to_name, inode)

    @rule(pick=st.integers(0, 9))
    def fsync_file(self, pick: int) -> None:
        files = self._files()
        if files:
            inode = files[pick % len(files)]
            self.fs.fsync(inode)
            self.model.fsync_file(inode)

    @rule(pick=st.integers(0, 9))
    def fsync_dir(self, pick: int) -> None:
        dirs = self._dirs()
        directory = dirs[pick % len(dirs)]
        self.fs.fsync(directory)
        self.model.fsync_dir(directory)

    @rule(times=st.sampled_from([1, 2, None]))
    def fill(self, times: int | None) -> None:
        self.fs.fail("space", times)
        self.space.fill(times)

    @rule()
    def clear_faults(self) -> None:
        self.fs.clear_faults()
        self.space.clear()

    @rule(keep=st.lists(st.booleans(), max_size=40), tears=st.lists(st.integers(0, 60), max_size=3))
    def crash(self, keep: list[bool], tears: list[int]) -> None:
        pending = self.fs.pending_writes()
        kept = {p.index for p, k in zip(pending, keep, strict=False) if k}
        torn = {}
        for n in tears:
            if pending:
                change = pending[n % len(pending)]
                if change.kind == "page" and len(change.data) > 1:
                    torn[change.index] = 1 + n % (len(change.data) - 1)
        assert [c.kind for c in pending] == [c[0] if c[0] != "create" else "link"
                                              for c in self.model.pending()]  # fmt: skip
        self.fs.crash(CrashPlan(kept, torn))
        after = self.model.crash(kept, torn)
        assert self.fs.tree() == after

    @invariant()
    def same_tree(self) -> None:
        if hasattr(self, "fs"):
            assert self.fs.tree() == self.model.tree()


class OrderedAgainstModel(FsAgainstModel):
    model_name = "ordered"


# Each example is cheap, and the rules that matter (a cross-directory rename, a torn page kept)
# need several steps lined up: more examples than the profile's default.
TestPosix = FsAgainstModel.TestCase
TestPosix.settings = settings(max_examples=400, stateful_step_count=30)
TestOrdered = OrderedAgainstModel.TestCase
TestOrdered.settings = settings(max_examples=400, stateful_step_count=30)


def both(model: str = "posix") -> tuple[SimFS, FsModel]:
    return SimFS(page_bytes=PAGE, model=model), FsModel(model)


def create(fs: SimFS, m: FsModel, directory: int, name: str, is_dir: bool = False) -> int:
    inode = fs.create(directory, name, is_dir=is_dir)
    m.change("create", directory, name, inode, is_dir)
    return inode


def write(fs: SimFS, m: FsModel, inode: int, offset: int, data: bytes) -> None:
    before = len(fs.pending)
    fs.write(inode, offset, data)
    for change in fs.pending[before:]:
        m.change("page", inode, change.offset, change.data)


def rename(fs: SimFS, m: FsModel, src: int, name: str, dst: int, to_name: str) -> None:
    inode = fs.current[src].entries[name]
    fs.rename(src, name, dst, to_name)
    m.change("rename", src, name, dst, to_name, inode)


def crash_both(fs: SimFS, m: FsModel, keep: set[int], tears: dict[int, int] | None = None) -> dict:
    fs.crash(CrashPlan(keep, tears or {}))
    after = m.crash(keep, tears or {})
    assert fs.tree() == after
    return after


def test_a_kept_torn_page_keeps_only_its_first_bytes() -> None:
    fs, m = both()
    f = create(fs, m, ROOT, "f")
    fs.fsync(ROOT)
    m.fsync_dir(ROOT)
    write(fs, m, f, 0, b"abcdefgh")
    assert crash_both(fs, m, {0}, {0: 3}) == {"/f": b"abc"}


def test_a_rename_across_directories_is_durable_by_either_directory() -> None:
    for synced in ("source", "target"):
        fs, m = both()
        d, e = create(fs, m, ROOT, "d", True), create(fs, m, ROOT, "e", True)
        f = create(fs, m, d, "f")
        for inode in (ROOT, d, e, f):
            fs.fsync(inode)
            m.fsync_file(inode) if inode == f else m.fsync_dir(inode)
        rename(fs, m, d, "f", e, "g")
        which = d if synced == "source" else e
        fs.fsync(which)
        m.fsync_dir(which)
        assert crash_both(fs, m, set()) == {"/d": None, "/e": None, "/e/g": b""}


def test_a_rename_then_unlink_in_one_directory_stays_gone_after_its_fsync() -> None:
    fs, m = both()
    create(fs, m, ROOT, "a")
    rename(fs, m, ROOT, "a", ROOT, "b")
    fs.unlink(ROOT, "b")
    m.change("unlink", ROOT, "b")
    fs.fsync(ROOT)
    m.fsync_dir(ROOT)
    assert crash_both(fs, m, set()) == {}


@pytest.mark.parametrize(("model", "after"), [("ordered", b"new data"), ("posix", b"")])
def test_a_kept_rename_brings_the_writes_before_it_only_when_ordered(
    model: str, after: bytes
) -> None:
    fs, m = both(model)
    f = create(fs, m, ROOT, "tmp")
    fs.fsync(ROOT)
    m.fsync_dir(ROOT)
    write(fs, m, f, 0, b"new data")
    rename(fs, m, ROOT, "tmp", ROOT, "live")
    # Keep only the rename, and tear the first page: `ordered` keeps the write whole anyway.
    assert crash_both(fs, m, {len(fs.pending) - 1}, {0: 2}) == {"/live": after}


def test_a_device_refuses_a_fault_it_does_not_model() -> None:
    from kvnode import SMALL_GEOMETRY, SimDisk

    with pytest.raises(ValueError, match="cannot fail 'space'"):
        SimDisk(SMALL_GEOMETRY).fail("space")
