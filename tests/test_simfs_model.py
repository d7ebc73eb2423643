"""The simulated file system against its model (`kvcheck.models.fs`), under both persistence
models: the same random changes, fsyncs and crashes give the same tree every step."""

from __future__ import annotations

from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from kvcheck.crash.simfs import ROOT, SimFS
from kvcheck.models.fs import FsModel
from kvnode.simdisk import CrashPlan

PAGE = 8
NAMES = st.sampled_from(["a", "b", "c"])


class FsAgainstModel(RuleBasedStateMachine):
    model_name = "posix"

    @initialize()
    def start(self) -> None:
        self.fs = SimFS(page_bytes=PAGE, model=self.model_name)
        self.model = FsModel(self.model_name)

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
        inode = self.fs.create(directory, name, is_dir=is_dir)
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
        self.fs.write(inode, offset, data)
        for change in self.fs.pending[len(self.model.pending()) :]:
            self.model.change("page", inode, change.offset, change.data)

    @rule(pick=st.integers(0, 9), length=st.integers(0, 3 * PAGE))
    def truncate(self, pick: int, length: int) -> None:
        files = self._files()
        if files:
            inode = files[pick % len(files)]
            self.fs.truncate(inode, length)
            self.model.change("truncate", inode, length)

    @rule(pick=st.integers(0, 20))
    def unlink(self, pick: int) -> None:
        entries = self._entries()
        if entries:
            directory, name, _ = entries[pick % len(entries)]
            self.fs.unlink(directory, name)
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


TestPosix = FsAgainstModel.TestCase
TestOrdered = OrderedAgainstModel.TestCase
