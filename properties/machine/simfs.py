"""A simulated file system that can lose power: what is durable kept apart from what is not.

`SimFS` holds two trees. The *current* one is what every call sees, as a page cache would show
it. The *durable* one is what survives a power loss: a file's data becomes durable when the
file is fsynced (`fsync` or `fdatasync`), a directory's entries (a created, unlinked or renamed
name) when the directory is fsynced. Between the two lie the *pending* changes, in the order
they were made: page writes (the page's bytes after the write), truncates, and name operations.
A crash (`crash(plan)`) starts from the durable tree and applies the pending changes a
`CrashPlan` keeps, a kept page write possibly torn; what the persistence model allows a crash
to keep is in `MODELS`:

- `posix`, the minimum POSIX and `fsync(2)` promise: any subset of the pending changes may
  survive, in any combination, a page write may tear. Only a rename is atomic (the name moves
  or it does not), and made durable by fsync of either directory it touches.
- `ordered`, like ext4 with `data=ordered`: name operations reach the disk in the order they
  were made (a crash keeps a prefix of them), and a kept name operation brings with it every
  earlier write to the file it names, untorn, as a rename over a file written before it does.
  Other data writes still survive in any subset.

Free space. `fail("space", times)` makes the file system full for the next `times` operations
that need room (creating a name, a write that extends a file; an overwrite in place needs none):
the first such write is short, writing half of what it would add, as write(2) does when the
disk fills mid-call, and the next operation needing room fails with `ENOSPC` unless space was
freed in between (an unlink or a shrinking truncate). With `times=None` it stays full until the
faults are cleared. Either way nothing already written changes.

Both assume a crash loses no durable data and invents no bytes; neither models a file system's
own metadata (times, permissions), hard links beyond one name per file, or symbolic links. The
same object answers the harness's crash and fault calls (`pending_writes`, `crash`,
`arm_power_loss`, `fail`, `flip_bit_on_read`), so a store on it gets the conformance machine's
dirty reboots and faults, with crash plans drawn from the same choice sequence as the
operations. `kvcheck.models.fs` is the model this is checked against.
"""

from __future__ import annotations

import copy
import errno
import os
from typing import Literal

import attrs

from kvnode.simdisk import CrashPlan, FaultInjection, Op

Kind = Literal["page", "truncate", "link", "unlink", "rename"]
MODELS = ("posix", "ordered")
_NAME_OPS = ("link", "unlink", "rename")


@attrs.frozen
class FsPending:
    """One change not yet durable. `index` and `kind` and `data` are what a crash plan reads
    (as of a `kvnode.simdisk.PendingWrite`); the rest says where the change lands."""

    index: int
    kind: Kind
    inode: int  # the file written, or the file a name operation names
    offset: int = 0  # page start, or the size a truncate leaves
    data: bytes = b""
    directory: int = 0  # link, unlink, rename: the directory holding `name`
    name: str = ""
    to_directory: int = 0  # rename: where the name goes
    to_name: str = ""


@attrs.define
class Node:
    """A file (`data`) or a directory (`entries`: name to inode number)."""

    is_dir: bool
    data: bytearray = attrs.field(factory=bytearray)
    entries: dict[str, int] = attrs.field(factory=dict)


def _error(code: int, path: str = "") -> OSError:
    return OSError(code, os.strerror(code), path) if path else OSError(code, os.strerror(code))


ROOT = 1


class SimFS(FaultInjection):
    """The current tree, the durable tree, and the pending changes between them."""

    FAULTS: tuple[Op, ...] = ("read", "write", "sync", "space")

    def __init__(self, page_bytes: int = 4096, model: str = "posix"):
        if model not in MODELS:
            raise ValueError(f"unknown persistence model {model!r}: expected one of {MODELS}")
        self.page_bytes = page_bytes
        self.model = model
        self.current: dict[int, Node] = {ROOT: Node(is_dir=True)}
        self.durable: dict[int, Node] = {ROOT: Node(is_dir=True)}
        self.pending: list[FsPending] = []
        self._next_inode = ROOT + 1
        super().__init__()
        #: Inodes fsynced since the audit was last read (`audit`): files and directories.
        self.fsynced: list[int] = []
        #: Counts crashes: descriptors opened before the last one are dead.
        self.generation = 0
        #: A short write found the disk full: the next operation needing room fails.
        self._full = False

    # -- the tree ------------------------------------------------------------------------

    def lookup(self, parts: tuple[str, ...]) -> int | None:
        """The inode at `parts` (path components below the root), or None."""
        inode = ROOT
        for part in parts:
            node = self.current[inode]
            if not node.is_dir or part not in node.entries:
                return None
            inode = node.entries[part]
        return inode

    def parent_of(self, parts: tuple[str, ...], path: str) -> int:
        """The directory that holds `parts[-1]` (ENOENT or ENOTDIR if there is none)."""
        parent = self.lookup(parts[:-1])
        if parent is None:
            raise _error(errno.ENOENT, path)
        if not self.current[parent].is_dir:
            raise _error(errno.ENOTDIR, path)
        return parent

    def create(self, directory: int, name: str, *, is_dir: bool) -> int:
        """A new empty file or directory named `name` in `directory`."""
        self._tick_power()
        self._maybe_fail("write")
        if self._out_of_space():
            raise _error(errno.ENOSPC)
        inode = self._next_inode
        self._next_inode += 1
        self.current[inode] = Node(is_dir=is_dir)
        self.durable[inode] = Node(is_dir=is_dir)  # its durable contents: empty
        self.current[directory].entries[name] = inode
        self._pend("link", inode, directory=directory, name=name)
        return inode

    def unlink(self, directory: int, name: str) -> None:
        """Remove the name `name` from `directory`."""
        self._tick_power()
        self._maybe_fail("write")
        inode = self.current[directory].entries.pop(name)
        self._full = False  # room given back (as far as this model counts room)
        self._pend("unlink", inode, directory=directory, name=name)

    def rename(self, source: int, name: str, target: int, to_name: str) -> None:
        """Move the name, replacing whatever `to_name` named (atomically)."""
        self._tick_power()
        self._maybe_fail("write")
        inode = self.current[source].entries.pop(name)
        self.current[target].entries[to_name] = inode
        self._pend("rename", inode, directory=source, name=name, to_directory=target,
                   to_name=to_name)  # fmt: skip

    # -- file data -----------------------------------------------------------------------

    def read(self, inode: int, offset: int, length: int) -> bytes:
        """Bytes of the current file, with any injected fault."""
        self._maybe_fail("read")
        return self._flip(bytes(self.current[inode].data[offset : offset + length]))

    def write(self, inode: int, offset: int, data: bytes) -> int:
        """Write at `offset` (zeros fill a gap); one pending page write per page touched."""
        self._tick_power()
        self._maybe_fail("write")
        current = self.current[inode].data
        end = offset + len(data)
        was_full = self._full
        if end > len(current) and self._out_of_space():
            # A write that fills the disk writes what fits and says how much (write(2)'s short
            # count); only a write with no room at all fails.
            added = end - max(offset, len(current))
            fits = max(len(current) - offset, 0) + (0 if was_full else added // 2)
            if fits == 0:
                raise _error(errno.ENOSPC)
            data, self._full = data[:fits], True
        if offset > len(current):
            current.extend(bytes(offset - len(current)))
        current[offset : offset + len(data)] = data
        page = self.page_bytes
        start = offset - offset % page
        while start < offset + len(data):
            image = bytes(current[start : min(start + page, len(current))])
            self._pend("page", inode, offset=start, data=image)
            start += page
        return len(data)

    def truncate(self, inode: int, length: int) -> None:
        """Cut or extend (with zeros) the file to `length` bytes."""
        self._tick_power()
        self._maybe_fail("write")
        current = self.current[inode].data
        if length < len(current):
            del current[length:]
            self._full = False
        else:
            current.extend(bytes(length - len(current)))
        self._pend("truncate", inode, offset=length)

    def fsync(self, inode: int) -> None:
        """Make the file's data, or the directory's entries, durable."""
        self._tick_power(sync=True)
        self._maybe_fail("sync")
        node, durable = self.current[inode], self.durable[inode]
        self.fsynced.append(inode)
        if node.is_dir:
            durable.entries = dict(node.entries)
            done = [p for p in self.pending if p.kind in _NAME_OPS
                    and inode in (p.directory, p.to_directory)]  # fmt: skip
            for change in done:
                if change.kind == "rename" and change.directory != change.to_directory:
                    # The other directory's side of the rename moves with it.
                    other = change.to_directory if inode == change.directory else change.directory
                    _apply_name(self.durable, change, only=other)
        else:
            durable.data = bytearray(node.data)
            done = [p for p in self.pending if p.kind in ("page", "truncate") and p.inode == inode]
        gone = {id(p) for p in done}
        self._renumber([p for p in self.pending if id(p) not in gone])

    # -- crashes -------------------------------------------------------------------------

    def pending_writes(self) -> tuple[FsPending, ...]:
        """The changes not yet durable, oldest first."""
        return tuple(self.pending)

    def allowed(self, plan: CrashPlan) -> CrashPlan:
        """`plan` as the persistence model lets it happen (see the module docstring)."""
        if self.model == "posix":
            return plan
        keep, tears = set(plan.keep), dict(plan.tears)
        names = [p for p in self.pending if p.kind in _NAME_OPS]
        cut = next((p.index for p in names if p.index not in keep), None)
        if cut is not None:
            keep -= {p.index for p in names if p.index > cut}
        for change in names:
            if change.index in keep and change.kind != "unlink":
                for earlier in self.pending[: change.index]:
                    if earlier.kind in ("page", "truncate") and earlier.inode == change.inode:
                        keep.add(earlier.index)
                        tears.pop(earlier.index, None)
        return CrashPlan(keep, tears)

    def crash(self, plan: CrashPlan | None = None) -> None:
        """Lose power: the durable tree plus the pending changes the model lets `plan` keep
        becomes the tree every later call sees."""
        plan = self.allowed(plan or CrashPlan.keep_nothing())
        image = copy.deepcopy(self.durable)
        torn = dict(plan.tears)
        for change in self.pending:
            if change.index not in plan.keep:
                continue
            if change.kind == "page":
                data = change.data[: torn.get(change.index, len(change.data))]
                target = image[change.inode].data
                if change.offset > len(target):
                    target.extend(bytes(change.offset - len(target)))
                target[change.offset : change.offset + len(data)] = data
            elif change.kind == "truncate":
                target = image[change.inode].data
                del target[change.offset :]
                target.extend(bytes(change.offset - len(target)))
            else:
                _apply_name(image, change)
        self.durable = image
        self.current = copy.deepcopy(image)
        self.pending = []
        self.disarm_power_loss()
        self.generation += 1  # every descriptor of the process that lost power is gone

    def tree(self) -> dict[str, bytes | None]:
        """Every path below the root: a file's bytes, or None for a directory."""
        tree: dict[str, bytes | None] = {}

        def walk(inode: int, prefix: str) -> None:
            for name, child in sorted(self.current[inode].entries.items()):
                path = f"{prefix}/{name}"
                node = self.current[child]
                tree[path] = None if node.is_dir else bytes(node.data)
                if node.is_dir:
                    walk(child, path)

        walk(ROOT, "")
        return tree

    def clone(self) -> SimFS:
        """An independent copy (for a second recovery of the same state)."""
        return copy.deepcopy(self)

    def audit(self) -> list[int]:
        """Inodes fsynced since the last audit, and start a new one."""
        done, self.fsynced = self.fsynced, []
        return done

    # -- power loss and faults: `FaultInjection`, as `SimDisk` has them; "write" is any change

    def _maybe_fail(self, op: Op) -> None:
        if self._take_failure(op):
            raise _error(errno.EIO)

    def _out_of_space(self) -> bool:
        return self._full or self._take_failure("space")

    def clear_faults(self) -> None:
        """Stop injecting faults; a full file system has room again."""
        super().clear_faults()
        self._full = False

    def _pend(self, kind: Kind, inode: int, **where: object) -> None:
        self.pending.append(FsPending(len(self.pending), kind, inode, **where))  # type: ignore[arg-type]

    def _renumber(self, remaining: list[FsPending]) -> None:
        self.pending = [attrs.evolve(p, index=n) for n, p in enumerate(remaining)]


def _apply_name(tree: dict[int, Node], change: FsPending, only: int | None = None) -> None:
    """Apply a name operation to `tree` (for a rename, with `only`, just its side in that
    directory)."""
    if change.kind == "link":
        tree[change.directory].entries[change.name] = change.inode
    elif change.kind == "unlink":
        tree[change.directory].entries.pop(change.name, None)
    else:
        if only in (None, change.directory):
            source = tree[change.directory].entries
            if source.get(change.name) == change.inode:
                del source[change.name]
        if only in (None, change.to_directory):
            tree[change.to_directory].entries[change.to_name] = change.inode
