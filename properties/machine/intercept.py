"""Seeing a `SimFS` at a real path: the file operations of pure-Python code, redirected.

Inside `with Mount(fs, root):` every call of the `os` functions a store uses (`open`, `read`,
`write`, `pread`, `pwrite`, `lseek`, `fstat`, `stat`, `lstat`, `fsync`, `fdatasync`,
`ftruncate`, `truncate`, `rename`, `replace`, `unlink`, `remove`, `mkdir`, `rmdir`, `listdir`,
`scandir`, `access`, `readlink`), of `open`/`io.open` and the file objects they return, and of
`fcntl.flock`, on a path under `root` (or a `dir_fd` or descriptor from the mount) goes to `fs`;
everything else goes to the real functions. `os.path`, `pathlib`, `shutil` and `tempfile` are
built on these, so they follow. Permissions and times are not modelled: `chmod` and `utime`
succeed on a path that exists and change nothing. An operation the simulation does not model
(`link`, `symlink`, `sendfile`, `chown`, ...) on a path or descriptor of the mount raises
`NotModelled`, never touching the real disk; descriptors are numbered above any real one, so C
code handed one gets `EBADF`. The patches are process-wide while the mount is active: one mount
at a time.

pyfakefs was evaluated first (it patches the same modules): version 6.3.2 has no `os.pread`,
`os.pwrite` or `fcntl.flock`, which kvnode's `FileDisk` and many stores rely on, and it keeps one
current tree with no notion of durability, which is the point here; so the interception is
written against `SimFS` directly.
"""

from __future__ import annotations

import builtins
import errno
import fcntl
import io
import os
import stat
import sys
from collections.abc import Callable, Iterator
from typing import Any

import attrs

from kvcheck.machine.simfs import ROOT, SimFS

#: Descriptors of the mount start here, above any descriptor the process really has.
FD_BASE = 1 << 24
_DEV = 0x5F5F


class NotModelled(Exception):
    """An operation the simulated file system does not model was asked of a path in it."""


@attrs.define
class _Open:
    fs: SimFS
    inode: int
    flags: int
    generation: int
    position: int = 0


_UNSUPPORTED = (
    "chown", "lchown", "link", "symlink", "mkfifo", "mknod", "statvfs",
    "sendfile", "copy_file_range", "posix_fallocate", "posix_fadvise", "dup", "dup2", "fchmod",
    "fchown", "fchdir", "chdir", "fstatvfs", "getxattr", "setxattr", "listxattr", "removexattr",
)  # fmt: skip
_PATCHED = (
    "open", "close", "read", "write", "pread", "pwrite", "lseek", "fstat", "stat", "lstat",
    "fsync", "fdatasync", "ftruncate", "truncate", "rename", "replace", "unlink", "remove",
    "mkdir", "rmdir", "listdir", "scandir", "access", "readlink", "chmod", "utime",
)  # fmt: skip


class Mount:
    """`fs` visible at the real directory path `root` while the mount is active."""

    def __init__(self, fs: SimFS, root: str):
        self.fs = fs
        self.root = os.path.normpath(os.path.abspath(root))
        self._fds: dict[int, _Open] = {}
        self._next_fd = FD_BASE
        self._locks: dict[tuple[int, int], dict[int, bool]] = {}  # (fs, inode): fd -> exclusive
        self._saved: list[tuple[Any, str, Any]] = []

    # -- activation ------------------------------------------------------------------------

    def __enter__(self) -> Mount:
        if self._saved:
            raise RuntimeError("this mount is already active")
        real = {name: getattr(os, name) for name in _PATCHED + _UNSUPPORTED if hasattr(os, name)}
        self._real = real
        for name in _PATCHED:
            self._patch(os, name, getattr(self, f"_os_{name}"))
        for name in _UNSUPPORTED:
            if name in real:
                self._patch(os, name, self._refuse(name, real[name]))
        self._real_open = builtins.open
        self._patch(builtins, "open", self._open_file)
        self._patch(io, "open", self._open_file)
        self._real_flock = fcntl.flock
        self._patch(fcntl, "flock", self._flock)
        # A module that took its own reference at import (`file_open = builtins.open`, `from os
        # import fsync`) would call the real function, or, imported while an earlier mount was
        # active, that mount's: those references are patched too, and put back to the real one.
        ours = {f"_os_{n}": real[n] for n in _PATCHED if n in real}
        ours.update({"_open_file": self._real_open, "_flock": self._real_flock})
        by_id = {id(function): method for method, function in ours.items()}

        aliases, defaulted = _references(by_id, set(ours))
        for module, name in aliases:
            method = _stands_for(module.__dict__.get(name), by_id, set(ours))
            if method is not None:
                self._saved.append((module, name, ours[method]))
                setattr(module, name, getattr(self, method))
        # And a default argument bound at definition (`def put(..., write=os.write)`).
        for function in defaulted:
            defaults = function.__defaults__ or ()
            methods = [_stands_for(value, by_id, set(ours)) for value in defaults]
            pairs = list(zip(methods, defaults, strict=True))
            self._saved.append(
                (function, "__defaults__", tuple(ours[m] if m else v for m, v in pairs))
            )
            function.__defaults__ = tuple(getattr(self, m) if m else v for m, v in pairs)
        return self

    def __exit__(self, *exc: object) -> None:
        for module, name, value in reversed(self._saved):
            setattr(module, name, value)
        self._saved.clear()

    def _patch(self, module: Any, name: str, value: Any) -> None:
        self._saved.append((module, name, getattr(module, name)))
        setattr(module, name, value)

    # -- resolving ---------------------------------------------------------------------------

    def _ours(self, path: Any, dir_fd: int | None = None) -> tuple[int, tuple[str, ...]] | None:
        """(directory inode to resolve from, components) for a path of the mount, else None."""
        if isinstance(path, int):
            return None
        text = os.fsdecode(path)
        if dir_fd is not None and dir_fd in self._fds and not os.path.isabs(text):
            start = self._live(dir_fd).inode
            return start, tuple(p for p in text.split("/") if p not in ("", "."))
        if dir_fd is not None and not os.path.isabs(text):
            return None
        full = os.path.normpath(os.path.join(os.getcwd(), text))
        if full != self.root and not full.startswith(self.root + "/"):
            return None
        rest = full[len(self.root) :]
        return ROOT, tuple(p for p in rest.split("/") if p)

    def _inode(self, where: tuple[int, tuple[str, ...]], path: Any) -> int:
        start, parts = where
        inode = start
        for part in parts:
            node = self.fs.current[inode]
            if part == "..":
                raise NotModelled(f"'..' below a directory descriptor: {path!r}")
            if not node.is_dir:
                raise OSError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), path)
            if part not in node.entries:
                raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), path)
            inode = node.entries[part]
        return inode

    def _parent(self, where: tuple[int, tuple[str, ...]], path: Any) -> tuple[int, str]:
        start, parts = where
        if not parts:
            raise OSError(errno.EBUSY, os.strerror(errno.EBUSY), path)
        parent = self._inode((start, parts[:-1]), path)
        if not self.fs.current[parent].is_dir:
            raise OSError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), path)
        return parent, parts[-1]

    def _live(self, fd: int) -> _Open:
        entry = self._fds.get(fd)
        if entry is None or entry.generation != entry.fs.generation:
            raise OSError(errno.EBADF, os.strerror(errno.EBADF))
        return entry

    def _refuse(self, name: str, real: Callable[..., Any]) -> Callable[..., Any]:
        def refuse(*args: Any, **kwargs: Any) -> Any:
            for arg in (*args, *kwargs.values()):
                if (isinstance(arg, int) and arg in self._fds) or (
                    isinstance(arg, (str, bytes, os.PathLike)) and self._ours(arg) is not None
                ):
                    raise NotModelled(f"os.{name} is not modelled by the simulated file system")
            return real(*args, **kwargs)

        return refuse

    # -- descriptors -------------------------------------------------------------------------

    def _os_open(
        self, path: Any, flags: int, mode: int = 0o777, *, dir_fd: int | None = None
    ) -> int:
        where = self._ours(path, dir_fd)
        if where is None:
            return int(self._real["open"](path, flags, mode, dir_fd=dir_fd))
        parent, name = self._parent(where, path) if where[1] else (0, "")
        inode = self.fs.current[parent].entries.get(name) if where[1] else where[0]
        if inode is None:
            if not flags & os.O_CREAT:
                raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), path)
            inode = self.fs.create(parent, name, is_dir=False)
        elif flags & os.O_CREAT and flags & os.O_EXCL:
            raise FileExistsError(errno.EEXIST, os.strerror(errno.EEXIST), path)
        node = self.fs.current[inode]
        writing = flags & (os.O_WRONLY | os.O_RDWR)
        if node.is_dir and writing:
            raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), path)
        if flags & os.O_DIRECTORY and not node.is_dir:
            raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), path)
        if flags & os.O_TRUNC and writing and node.data:
            self.fs.truncate(inode, 0)
        fd = self._next_fd
        self._next_fd += 1
        self._fds[fd] = _Open(self.fs, inode, flags, self.fs.generation)
        return fd

    def _os_close(self, fd: int) -> None:
        if fd not in self._fds:
            self._real["close"](fd)
            return
        del self._fds[fd]  # a descriptor of a process that lost power closes silently
        for holders in self._locks.values():
            holders.pop(fd, None)

    def _os_read(self, fd: int, n: int) -> bytes:
        if fd not in self._fds:
            return bytes(self._real["read"](fd, n))
        entry = self._readable(fd)
        data = entry.fs.read(entry.inode, entry.position, n)
        entry.position += len(data)
        return data

    def _os_pread(self, fd: int, n: int, offset: int) -> bytes:
        if fd not in self._fds:
            return bytes(self._real["pread"](fd, n, offset))
        entry = self._readable(fd)
        return entry.fs.read(entry.inode, offset, n)

    def _os_write(self, fd: int, data: Any) -> int:
        if fd not in self._fds:
            return int(self._real["write"](fd, data))
        entry = self._writable(fd)
        if entry.flags & os.O_APPEND:
            entry.position = len(entry.fs.current[entry.inode].data)
        written = entry.fs.write(entry.inode, entry.position, bytes(data))
        entry.position += written
        return written

    def _os_pwrite(self, fd: int, data: Any, offset: int) -> int:
        if fd not in self._fds:
            return int(self._real["pwrite"](fd, data, offset))
        entry = self._writable(fd)
        return entry.fs.write(entry.inode, offset, bytes(data))

    def _os_lseek(self, fd: int, position: int, how: int) -> int:
        if fd not in self._fds:
            return int(self._real["lseek"](fd, position, how))
        entry = self._live(fd)
        size = len(entry.fs.current[entry.inode].data)
        base = {os.SEEK_SET: 0, os.SEEK_CUR: entry.position, os.SEEK_END: size}[how]
        if base + position < 0:
            raise OSError(errno.EINVAL, os.strerror(errno.EINVAL))
        entry.position = base + position
        return entry.position

    def _os_fstat(self, fd: int) -> os.stat_result:
        if fd not in self._fds:
            return self._real["fstat"](fd)  # type: ignore[no-any-return]
        entry = self._live(fd)
        return _stat(entry.fs, entry.inode)

    def _os_fsync(self, fd: Any) -> None:
        number = fd if isinstance(fd, int) else fd.fileno()
        if number not in self._fds:
            self._real["fsync"](fd)
            return
        entry = self._live(number)
        entry.fs.fsync(entry.inode)

    def _os_fdatasync(self, fd: Any) -> None:
        number = fd if isinstance(fd, int) else fd.fileno()
        if number not in self._fds:
            self._real["fdatasync"](fd)
            return
        self._os_fsync(number)

    def _os_ftruncate(self, fd: int, length: int) -> None:
        if fd not in self._fds:
            self._real["ftruncate"](fd, length)
            return
        entry = self._writable(fd)
        entry.fs.truncate(entry.inode, length)

    def _readable(self, fd: int) -> _Open:
        entry = self._live(fd)
        if entry.flags & os.O_WRONLY:
            raise OSError(errno.EBADF, os.strerror(errno.EBADF))
        if entry.fs.current[entry.inode].is_dir:
            raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR))
        return entry

    def _writable(self, fd: int) -> _Open:
        entry = self._live(fd)
        if not entry.flags & (os.O_WRONLY | os.O_RDWR):
            raise OSError(errno.EBADF, os.strerror(errno.EBADF))
        return entry

    # -- names -------------------------------------------------------------------------------

    def _os_stat(
        self, path: Any, *, dir_fd: int | None = None, follow_symlinks: bool = True
    ) -> os.stat_result:
        if isinstance(path, int) and path in self._fds:
            return self._os_fstat(path)
        where = self._ours(path, dir_fd)
        if where is None:
            return self._real["stat"](path, dir_fd=dir_fd, follow_symlinks=follow_symlinks)  # type: ignore[no-any-return]
        return _stat(self.fs, self._inode(where, path))

    def _os_lstat(self, path: Any, *, dir_fd: int | None = None) -> os.stat_result:
        return self._os_stat(path, dir_fd=dir_fd, follow_symlinks=False)

    def _os_access(self, path: Any, mode: int, **kwargs: Any) -> bool:
        where = self._ours(path, kwargs.get("dir_fd"))
        if where is None:
            return bool(self._real["access"](path, mode, **kwargs))
        try:
            self._inode(where, path)
        except OSError:
            return False
        return True

    def _os_readlink(self, path: Any, *, dir_fd: int | None = None) -> Any:
        where = self._ours(path, dir_fd)
        if where is None:
            return self._real["readlink"](path, dir_fd=dir_fd)
        self._inode(where, path)
        raise OSError(errno.EINVAL, os.strerror(errno.EINVAL), path)  # nothing is a link

    def _os_chmod(self, path: Any, mode: int, **kwargs: Any) -> None:
        where = None if isinstance(path, int) else self._ours(path, kwargs.get("dir_fd"))
        if where is None and not (isinstance(path, int) and path in self._fds):
            self._real["chmod"](path, mode, **kwargs)
        elif where is not None:
            self._inode(where, path)  # permissions are not modelled: it must exist, that is all

    def _os_utime(self, path: Any, *args: Any, **kwargs: Any) -> None:
        where = None if isinstance(path, int) else self._ours(path, kwargs.get("dir_fd"))
        if where is None and not (isinstance(path, int) and path in self._fds):
            self._real["utime"](path, *args, **kwargs)
        elif where is not None:
            self._inode(where, path)  # nor are times

    def _os_truncate(self, path: Any, length: int) -> None:
        if isinstance(path, int) and path in self._fds:
            self._os_ftruncate(path, length)
            return
        where = self._ours(path)
        if where is None:
            self._real["truncate"](path, length)
            return
        self.fs.truncate(self._inode(where, path), length)

    def _os_mkdir(self, path: Any, mode: int = 0o777, *, dir_fd: int | None = None) -> None:
        where = self._ours(path, dir_fd)
        if where is None:
            self._real["mkdir"](path, mode, dir_fd=dir_fd)
            return
        parent, name = self._parent(where, path)
        if name in self.fs.current[parent].entries:
            raise FileExistsError(errno.EEXIST, os.strerror(errno.EEXIST), path)
        self.fs.create(parent, name, is_dir=True)

    def _os_unlink(self, path: Any, *, dir_fd: int | None = None) -> None:
        where = self._ours(path, dir_fd)
        if where is None:
            self._real["unlink"](path, dir_fd=dir_fd)
            return
        parent, name = self._parent(where, path)
        inode = self._inode(where, path)
        if self.fs.current[inode].is_dir:
            raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), path)
        self.fs.unlink(parent, name)

    _os_remove = _os_unlink

    def _os_rmdir(self, path: Any, *, dir_fd: int | None = None) -> None:
        where = self._ours(path, dir_fd)
        if where is None:
            self._real["rmdir"](path, dir_fd=dir_fd)
            return
        parent, name = self._parent(where, path)
        node = self.fs.current[self._inode(where, path)]
        if not node.is_dir:
            raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), path)
        if node.entries:
            raise OSError(errno.ENOTEMPTY, os.strerror(errno.ENOTEMPTY), path)
        self.fs.unlink(parent, name)

    def _os_rename(self, src: Any, dst: Any, *, src_dir_fd: int | None = None,
                   dst_dir_fd: int | None = None) -> None:  # fmt: skip
        source, target = self._ours(src, src_dir_fd), self._ours(dst, dst_dir_fd)
        if source is None and target is None:
            self._real["rename"](src, dst, src_dir_fd=src_dir_fd, dst_dir_fd=dst_dir_fd)
            return
        if source is None or target is None:
            raise OSError(errno.EXDEV, os.strerror(errno.EXDEV), src, None, dst)
        inode = self._inode(source, src)
        from_dir, name = self._parent(source, src)
        to_dir, to_name = self._parent(target, dst)
        replaced = self.fs.current[to_dir].entries.get(to_name)
        if replaced == inode:
            return
        if replaced is not None:
            old = self.fs.current[replaced]
            if self.fs.current[inode].is_dir != old.is_dir:
                code = errno.EISDIR if old.is_dir else errno.ENOTDIR
                raise OSError(code, os.strerror(code), src, None, dst)
            if old.is_dir and old.entries:
                raise OSError(errno.ENOTEMPTY, os.strerror(errno.ENOTEMPTY), src, None, dst)
        self.fs.rename(from_dir, name, to_dir, to_name)

    _os_replace = _os_rename

    def _listing(self, path: Any) -> tuple[int, bool] | None:
        """(directory inode, names as bytes) for a path or descriptor of the mount."""
        if isinstance(path, int):
            return (self._live(path).inode, False) if path in self._fds else None
        where = self._ours(path)
        if where is None:
            return None
        inode = self._inode(where, path)
        if not self.fs.current[inode].is_dir:
            raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), path)
        return inode, isinstance(path, bytes)

    def _os_listdir(self, path: Any = ".") -> list[Any]:
        found = self._listing(path)
        if found is None:
            return list(self._real["listdir"](path))
        inode, as_bytes = found
        names = sorted(self.fs.current[inode].entries)
        return [os.fsencode(n) for n in names] if as_bytes else names

    def _os_scandir(self, path: Any = ".") -> Any:
        found = self._listing(path)
        if found is None:
            return self._real["scandir"](path)
        inode, as_bytes = found
        prefix = "" if isinstance(path, int) else os.fsdecode(path)
        entries = [
            _Entry(self.fs, child, name, os.path.join(prefix, name) if prefix else name, as_bytes)
            for name, child in sorted(self.fs.current[inode].entries.items())
        ]
        return _Scan(entries)

    # -- locks and file objects ----------------------------------------------------------------

    def _flock(self, fd: Any, operation: int) -> None:
        number = fd if isinstance(fd, int) else fd.fileno()
        if number not in self._fds:
            self._real_flock(fd, operation)
            return
        entry = self._live(number)
        key = (id(entry.fs), entry.inode)
        holders = self._locks.setdefault(key, {})
        for held in [h for h in holders if h not in self._fds or self._dead(h)]:
            del holders[held]
        if operation & fcntl.LOCK_UN:
            holders.pop(number, None)
            return
        exclusive = bool(operation & fcntl.LOCK_EX)
        others = {h: x for h, x in holders.items() if h != number}
        if others and (exclusive or any(others.values())):
            if operation & fcntl.LOCK_NB:
                raise BlockingIOError(errno.EWOULDBLOCK, os.strerror(errno.EWOULDBLOCK))
            raise NotModelled("a blocking lock held by this same process would wait forever")
        holders[number] = exclusive

    def _dead(self, fd: int) -> bool:
        entry = self._fds[fd]
        return entry.generation != entry.fs.generation

    def _open_file(
        self,
        file: Any,
        mode: str = "r",
        buffering: int = -1,
        encoding: str | None = None,
        errors: str | None = None,
        newline: str | None = None,
        closefd: bool = True,
        opener: Any = None,
    ) -> Any:
        ours = (isinstance(file, int) and file in self._fds) or (
            not isinstance(file, int) and self._ours(file) is not None
        )
        if not ours:
            return self._real_open(
                file, mode, buffering, encoding, errors, newline, closefd, opener
            )
        if opener is not None:
            raise NotModelled("open(..., opener=...) on the simulated file system")
        fd = file if isinstance(file, int) else self._os_open(file, _flags(mode), 0o666)
        raw = _Raw(self, fd, mode, file, closefd)
        binary = "b" in mode
        if buffering == 0:
            if not binary:
                raise ValueError("can't have unbuffered text I/O")
            return raw
        size = io.DEFAULT_BUFFER_SIZE if buffering in (-1, 1) else buffering
        buffered: Any
        if "+" in mode:
            buffered = io.BufferedRandom(raw, size)
        elif "r" in mode:
            buffered = io.BufferedReader(raw, size)
        else:
            buffered = io.BufferedWriter(raw, size)
        if binary:
            return buffered
        text = io.TextIOWrapper(buffered, encoding or "utf-8", errors, newline,
                                line_buffering=buffering == 1)  # fmt: skip
        text.mode = mode  # type: ignore[misc]
        return text


def _stands_for(value: Any, real: dict[int, str], methods: set[str]) -> str | None:
    """The `Mount` method `value` stands for: it is one of the `real` functions (by id), or
    that method of some mount; else None."""
    if id(value) in real:
        return real[id(value)]
    name = getattr(getattr(value, "__func__", None), "__name__", None)
    if isinstance(getattr(value, "__self__", None), Mount) and name in methods:
        return str(name)
    return None


_REFERENCES: dict[int, tuple[list[tuple[Any, str]], list[Any]]] = {}


def _references(real: dict[int, str], methods: set[str]) -> tuple[list[tuple[Any, str]], list[Any]]:
    """Where modules, outside `os`, `io`, `builtins` and `fcntl`, keep their own reference to
    an intercepted function (see `_stands_for`): (module, name) of module-level names, and the
    functions, of modules and of their classes, with such a default argument. Cached until
    another module is imported: a mount is made for every example."""
    key = len(sys.modules)
    if key not in _REFERENCES:
        aliases, defaulted = [], []
        skip = (os, io, builtins, fcntl, sys.modules[__name__])
        for module in list(sys.modules.values()):
            if module is None or module in skip:
                continue
            names = list(getattr(module, "__dict__", {}).items())
            values = [value for _, value in names]
            for value in list(values):
                if isinstance(value, type) and value.__module__ == module.__name__:
                    values.extend(vars(value).values())
            aliases += [(module, n) for n, v in names if _stands_for(v, real, methods)]
            for value in values:
                defaults = getattr(value, "__defaults__", None)
                if isinstance(defaults, tuple) and any(
                    _stands_for(d, real, methods) for d in defaults
                ):
                    defaulted.append(value)
        _REFERENCES.clear()
        _REFERENCES[key] = (aliases, defaulted)
    return _REFERENCES[key]


def _flags(mode: str) -> int:
    plus = "+" in mode
    if "r" in mode:
        return os.O_RDWR if plus else os.O_RDONLY
    base = os.O_RDWR if plus else os.O_WRONLY
    if "w" in mode:
        return base | os.O_CREAT | os.O_TRUNC
    if "a" in mode:
        return base | os.O_CREAT | os.O_APPEND
    if "x" in mode:
        return base | os.O_CREAT | os.O_EXCL
    raise ValueError(f"invalid mode: {mode!r}")


def _stat(fs: SimFS, inode: int) -> os.stat_result:
    node = fs.current[inode]
    mode = (stat.S_IFDIR | 0o755) if node.is_dir else (stat.S_IFREG | 0o644)
    size = 0 if node.is_dir else len(node.data)
    return os.stat_result((mode, inode, _DEV, 1, 0, 0, size, 0, 0, 0))


class _Raw(io.RawIOBase):
    """A raw file over a descriptor of the mount, for `io`'s buffered and text layers."""

    def __init__(self, mount: Mount, fd: int, mode: str, name: Any, closefd: bool):
        super().__init__()
        self._mount, self._fd, self._closefd = mount, fd, closefd
        self.name, self.mode = name, mode

    def readable(self) -> bool:
        return "r" in self.mode or "+" in self.mode

    def writable(self) -> bool:
        return "r" not in self.mode or "+" in self.mode

    def seekable(self) -> bool:
        return True

    def fileno(self) -> int:
        return self._fd

    def readinto(self, buffer: Any) -> int:
        data = self._mount._os_read(self._fd, len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def write(self, data: Any) -> int:
        return self._mount._os_write(self._fd, data)

    def seek(self, position: int, whence: int = 0) -> int:
        return self._mount._os_lseek(self._fd, position, whence)

    def tell(self) -> int:
        return self._mount._os_lseek(self._fd, 0, os.SEEK_CUR)

    def truncate(self, size: int | None = None) -> int:
        length = self.tell() if size is None else size
        self._mount._os_ftruncate(self._fd, length)
        return length

    def close(self) -> None:
        if not self.closed and self._closefd:
            self._mount._os_close(self._fd)
        super().close()


@attrs.define
class _Entry:
    """What `os.scandir` yields, for an entry of the mount."""

    _fs: SimFS
    _inode: int
    _name: str
    _path: str
    _as_bytes: bool

    @property
    def name(self) -> Any:
        return os.fsencode(self._name) if self._as_bytes else self._name

    @property
    def path(self) -> Any:
        return os.fsencode(self._path) if self._as_bytes else self._path

    def inode(self) -> int:
        return self._inode

    def is_dir(self, *, follow_symlinks: bool = True) -> bool:
        return self._fs.current[self._inode].is_dir

    def is_file(self, *, follow_symlinks: bool = True) -> bool:
        return not self.is_dir()

    def is_symlink(self) -> bool:
        return False

    def stat(self, *, follow_symlinks: bool = True) -> os.stat_result:
        return _stat(self._fs, self._inode)


class _Scan:
    """The iterator `os.scandir` returns, usable as a context manager."""

    def __init__(self, entries: list[_Entry]):
        self._entries = iter(entries)

    def __iter__(self) -> Iterator[_Entry]:
        return self._entries

    def __next__(self) -> _Entry:
        return next(self._entries)

    def __enter__(self) -> _Scan:
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def close(self) -> None:
        """Nothing to release."""
