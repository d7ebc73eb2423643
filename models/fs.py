"""A model of the simulated file system's persistence, so `kvcheck.machine.simfs.SimFS` is checked.

The whole history of changes is kept, each marked durable once a covering fsync happens: an
fsync of a file covers every earlier write and truncate of it; an fsync of a directory covers
every earlier name operation in it (a rename counts for both its directories). A crash replays
the history from an empty tree: every durable change, and of the others those the crash keeps,
in the order they were made (a torn page write applies only its first bytes). Under the
`ordered` model a crash first drops every name operation after the first one it loses, and
keeps, untorn, every earlier write to a file a kept name operation names.

Where `SimFS` keeps a durable tree and patches it, this replays from nothing, so the two share
only the semantics. Changes, by kind:

    ("create", directory, name, inode, is_dir)    ("unlink", directory, name)
    ("rename", directory, name, to_directory, to_name, inode)
    ("page", inode, offset, image)                ("truncate", inode, length)
"""

from __future__ import annotations

from typing import Any

ROOT = 1
_DATA = ("page", "truncate")
Tree = dict[str, bytes | None]  # path to a file's bytes, or None for a directory


class FsModel:
    """The history of changes, and the trees it makes."""

    def __init__(self, model: str = "posix"):
        self.model = model
        self.history: list[tuple[tuple[Any, ...], bool]] = []  # (change, durable)
        # A file or directory exists, empty, from its creation on, whether or not the creation
        # survives a crash: a name that does survive shows it (as `SimFS` keeps its inodes).
        self.kinds: dict[int, bool] = {ROOT: True}  # inode: is a directory

    def change(self, *change: Any) -> None:
        """Record a change, not yet durable."""
        if change[0] == "create":
            self.kinds[change[3]] = change[4]
        self.history.append((change, False))

    def fsync_file(self, inode: int) -> None:
        """Every earlier write and truncate of `inode` is durable."""
        self._mark(lambda c: c[0] in _DATA and c[1] == inode)

    def fsync_dir(self, directory: int) -> None:
        """Every earlier name operation in `directory` is durable."""
        self._mark(
            lambda c: (
                (c[0] in ("create", "unlink") and c[1] == directory)
                or (c[0] == "rename" and directory in (c[1], c[3]))
            )
        )

    def pending(self) -> list[tuple[Any, ...]]:
        """The changes not yet durable, oldest first (numbered as a crash plan numbers them)."""
        return [change for change, durable in self.history if not durable]

    def tree(self) -> Tree:
        """The tree the whole history makes."""
        return _replay((change for change, _ in self.history), self.kinds)

    def crash(self, keep: set[int], tears: dict[int, int]) -> Tree:
        """The tree after a crash keeping pending changes `keep` (`tears`: index to the bytes
        of its page image kept); the history becomes that tree's, all durable."""
        pending = self.pending()
        keep, tears = set(keep), dict(tears)
        if self.model == "ordered":
            names = [n for n, c in enumerate(pending) if c[0] not in _DATA]
            lost = [n for n in names if n not in keep]
            if lost:
                keep -= {n for n in names if n > lost[0]}
            for n in names:
                change = pending[n]
                if n in keep and change[0] in ("create", "rename"):
                    inode = change[3] if change[0] == "create" else change[5]
                    for m in range(n):
                        if pending[m][0] in _DATA and pending[m][1] == inode:
                            keep.add(m)
                            tears.pop(m, None)
        survivors = []
        number = 0
        for change, durable in self.history:
            if not durable:
                kept = number in keep
                if kept and change[0] == "page" and number in tears:
                    change = (*change[:3], change[3][: tears[number]])
                number += 1
                if not kept:
                    continue
            survivors.append((change, True))
        self.history = survivors
        return self.tree()

    def _mark(self, covered: Any) -> None:
        self.history = [(c, durable or covered(c)) for c, durable in self.history]


def _replay(changes: Any, kinds: dict[int, bool]) -> Tree:
    dirs: dict[int, dict[str, int]] = {}
    data: dict[int, bytearray] = {}
    for change in changes:
        kind = change[0]
        if kind == "create":
            _, directory, name, inode, _ = change
            dirs.setdefault(directory, {})[name] = inode
        elif kind == "unlink":
            dirs.setdefault(change[1], {}).pop(change[2], None)
        elif kind == "rename":
            _, directory, name, to_directory, to_name, inode = change
            source = dirs.setdefault(directory, {})
            if source.get(name) == inode:
                del source[name]
            dirs.setdefault(to_directory, {})[to_name] = inode
        else:
            target = data.setdefault(change[1], bytearray())
            if kind == "page":
                _, _, offset, image = change
                target.extend(bytes(max(0, offset - len(target))))
                target[offset : offset + len(image)] = image
            else:
                del target[change[2] :]
                target.extend(bytes(change[2] - len(target)))
    tree: Tree = {}

    def walk(directory: int, prefix: str, seen: frozenset[int]) -> None:
        for name, inode in sorted(dirs.get(directory, {}).items()):
            path = f"{prefix}/{name}"
            if kinds[inode]:
                if inode not in seen:
                    tree[path] = None
                    walk(inode, path, seen | {inode})
            else:
                tree[path] = bytes(data.get(inode, b""))

    walk(ROOT, "", frozenset({ROOT}))
    return tree


class Space:
    """Free space as the simulated file system models it, as a small state machine.

    `free`: every allocation succeeds. `fill(n)` arms `n` allocations that find the disk
    filling (`None`: every one, until `clear`). An allocation that finds it filling either
    writes half of what it adds (then the disk is `full`) or, with nothing to add beyond what
    it overwrites, gets none; a `full` disk gives an allocation only the bytes it overwrites.
    Freeing anything (an unlink, a shrinking truncate) makes a full disk merely armed again.
    """

    def __init__(self) -> None:
        self.armed: int | None = 0
        self.full = False

    def fill(self, times: int | None) -> None:
        """Arm `times` allocations to find the disk filling."""
        self.armed = times

    def clear(self) -> None:
        """Faults cleared: plenty of room."""
        self.armed, self.full = 0, False

    def freed(self) -> None:
        """Something was given back."""
        self.full = False

    def allocate(self, overwrites: int, adds: int) -> int | None:
        """Bytes a write of `overwrites` bytes in place and `adds` beyond the end writes, or
        None for `ENOSPC`. A create is `allocate(0, 1)` refused or not (its count is moot)."""
        if adds == 0:
            return overwrites
        if self.full:
            return overwrites or None
        if self.armed == 0:
            return overwrites + adds
        if self.armed is not None:
            self.armed -= 1
        got = overwrites + adds // 2
        if got == 0:
            return None
        self.full = True
        return got
