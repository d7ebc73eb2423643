"""`FileDisk`: extents as files in a data directory, made durable with fsync.

Directory layout:

    KVNODE            format header (below); also the lock that keeps a second process out
    extent-00000 ...  one file per extent; its size is the extent's write pointer

The format header is laid out in `kvnode.format_header`.

A directory without the header, with another magic, a newer version, a bad checksum, a
missing extent file or one larger than an extent is refused with `DataDirError`, unchanged. So
is one whose header or an extent file is a symbolic link or not a regular file: every file is
opened relative to the directory with `O_NOFOLLOW`, so a store never reads, truncates or
resets a file outside its directory.

Opened read-only (`FileDisk.open(path, read_only=True)`), every file is opened `O_RDONLY`
under a shared lock (other read-only opens may share it, a writer may not), nothing is
created or written, and every write method raises `ReadOnlyError`. That is how a store on a
read-only file system, or one the caller may only read, is read and checked.

Space. Where the file system supports it (Linux `fallocate` with `FALLOC_FL_KEEP_SIZE`: the
file's size stays its write pointer), an extent file's blocks are reserved when the node asks
(`reserve`: it holds its reserve extents' blocks, and reserves an extent before opening it) or
else the first time the extent is written, and the superblock extents' blocks when the store is
created or opened and again right after they are reset. So an append inside an extent whose
reservation succeeded never runs out of space, and superblock records always find room. An append
that does run out (`ENOSPC`, `EDQUOT`) is undone, the file cut back to its previous length, and
raises `DiskFullError`: nothing changed, and the node stays usable. (In a superblock extent, where a
node may already have acted on the record, it is a `DiskIOError`.) Resetting or truncating a
log extent gives its blocks beyond the new length back to the file system.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import fcntl
import os
import shutil
import stat
import tempfile
import threading
from collections.abc import Callable

from kvnode import format_header
from kvnode.disk import check_append, check_extent, check_read, check_truncate
from kvnode.errors import (
    DataDirError,
    DiskFullError,
    DiskIOError,
    FormatError,
    KVTypeError,
    ReadOnlyError,
)
from kvnode.limits import DEFAULT_GEOMETRY, SUPERBLOCK_EXTENTS, Geometry

FORMAT_FILE = "KVNODE"
FORMAT_MAGIC = format_header.MAGIC
FORMAT_VERSION = format_header.VERSION

#: Errors that mean the file system (or the user's quota) has no room left.
_NO_SPACE = frozenset({errno.ENOSPC, errno.EDQUOT})
_FALLOC_FL_KEEP_SIZE = 1
#: Errors that mean the file system cannot reserve blocks at all; stop asking.
_NO_RESERVE = frozenset({errno.EOPNOTSUPP, errno.ENOSYS, errno.EINVAL, errno.ENODEV})


def _load_fallocate() -> Callable[[int, int, int, int], int] | None:
    try:
        libc = ctypes.CDLL(None, use_errno=True)
    except OSError:
        return None
    for name in ("fallocate64", "fallocate"):
        fn = getattr(libc, name, None)
        if fn is not None:
            fn.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int64, ctypes.c_int64]
            fn.restype = ctypes.c_int
            return fn  # type: ignore[no-any-return]
    return None


_fallocate = _load_fallocate()


def _reserve_blocks(fd: int, length: int) -> None:
    """Reserve the file's blocks up to `length` without changing its size; OSError on failure."""
    if _fallocate is None:
        raise OSError(errno.ENOSYS, os.strerror(errno.ENOSYS))
    while _fallocate(fd, _FALLOC_FL_KEEP_SIZE, 0, length) != 0:
        code = ctypes.get_errno()
        if code != errno.EINTR:
            raise OSError(code, os.strerror(code))


def _extent_name(extent: int) -> str:
    return f"extent-{extent:05d}"


def _fspath(path: object) -> str:
    try:
        result = os.fspath(path)  # type: ignore[call-overload]
    except TypeError:
        result = None
    if not isinstance(result, str):
        raise KVTypeError(f"path must be a str or os.PathLike[str], not {type(path).__name__}")
    return result


def _fsync_dir(path: str) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _io_error(op: str, err: OSError, extent: int | None) -> DiskIOError:
    # Out of space anywhere but an undone append is an I/O failure like any other: a sync
    # that fails for space may have lost what it was to make durable.
    return DiskIOError(op, err.strerror or str(err), extent=extent)


def _open_checked(
    path: str, dir_fd: int, name: str, *, read_only: bool, not_a_file: str
) -> tuple[int, os.stat_result]:
    """Open the regular file `name` in the directory without following a symlink.

    Return the descriptor and the file's status. `FileNotFoundError` if it is absent; anything
    else that keeps it from being used is a `DataDirError` naming the file and the mode (a
    symlink, `not_a_file` for a directory, FIFO or device, or the error opening it).
    """
    mode = "reading" if read_only else "writing"
    try:
        # Looked at before opening: opening a FIFO or a device can block or have effects.
        before = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        raise
    except OSError as err:
        raise DataDirError(path, f"cannot open {name} for {mode}: {err.strerror}") from None
    if stat.S_ISLNK(before.st_mode):
        raise DataDirError(path, f"{name} is a symbolic link; refusing to follow it")
    if not stat.S_ISREG(before.st_mode):
        raise DataDirError(path, not_a_file)
    flags = (os.O_RDONLY if read_only else os.O_RDWR) | os.O_NOFOLLOW | os.O_NONBLOCK
    try:
        fd = os.open(name, flags, dir_fd=dir_fd)
    except FileNotFoundError:
        raise
    except OSError as err:
        if err.errno == errno.ELOOP:
            raise DataDirError(path, f"{name} is a symbolic link; refusing to follow it") from None
        raise DataDirError(path, f"cannot open {name} for {mode}: {err.strerror}") from None
    st = os.fstat(fd)
    if (st.st_dev, st.st_ino) != (before.st_dev, before.st_ino):
        os.close(fd)
        raise DataDirError(path, f"{name} was replaced while it was being opened")
    return fd, st


class FileDisk:
    """A disk whose extents are files in one directory; see the module docstring."""

    def __init__(
        self,
        path: str,
        geometry: Geometry,
        dir_fd: int,
        lock_fd: int,
        files: list[tuple[int, int, int]],
        *,
        read_only: bool = False,
    ):
        """Use `FileDisk.create` or `FileDisk.open`; `files` is each extent's (size, device,
        inode) as checked when the directory was opened."""
        self._path = path
        self._geometry = geometry
        self._dir_fd = dir_fd
        self._lock_fd = lock_fd
        self._read_only = read_only
        self._wps = [size for size, _, _ in files]
        self._identity = [(dev, ino) for _, dev, ino in files]
        self._fds: dict[int, int] = {}
        # Reads run on many threads (see `kvnode.disk`): opening an extent's file on first use,
        # and closing, must not race, or a descriptor could leak or outlive `close`.
        self._fds_lock = threading.Lock()
        # What a crashed process wrote may still sit only in the OS cache: until the first
        # sync, treat every extent holding data as unsynced (a read-only disk never syncs).
        self._dirty: set[int] = (
            set() if read_only else {extent for extent, size in enumerate(self._wps) if size}
        )
        self._reserved: set[int] = set()
        self._can_reserve = not read_only

    # -- creating and opening ----------------------------------------------------------------

    @classmethod
    def create(
        cls, path: str | os.PathLike[str], geometry: Geometry = DEFAULT_GEOMETRY
    ) -> FileDisk:
        """Make a new data directory at `path` (absent or empty) and open it.

        The directory is built under a temporary name beside `path` and renamed into place,
        so a crash during creation leaves either no store or a complete one (and, at worst, a
        hidden `.kvnode-create-*` directory to delete). The new store's lock is taken before
        the rename, so of concurrent creates of one path exactly one succeeds (the others get
        `DataDirError`), and nothing else opens the store before its creator does. An error of
        the file system (no permission, no space or inodes) is an `OSError` naming `path`.
        """
        if not isinstance(geometry, Geometry):
            raise KVTypeError(f"geometry must be a Geometry, not {type(geometry).__name__}")
        path = os.path.abspath(_fspath(path))
        try:
            return cls._create(path, geometry)
        except OSError as err:
            raise OSError(err.errno, f"cannot create a store: {err.strerror}", path) from err

    @classmethod
    def _create(cls, path: str, geometry: Geometry) -> FileDisk:
        # A symlink to an empty directory: build the store there (rename cannot replace a link).
        target = os.path.realpath(path) if os.path.islink(path) else path
        try:
            st = os.stat(target)
        except FileNotFoundError:
            pass
        except NotADirectoryError:
            raise DataDirError(path, "a parent of it is not a directory") from None
        else:
            if not stat.S_ISDIR(st.st_mode):
                raise DataDirError(path, "exists and is not a directory")
            if os.listdir(target):
                raise DataDirError(path, "directory is not empty; refusing to create a store in it")
        parent = os.path.dirname(target)
        try:
            os.makedirs(parent, exist_ok=True)
        except (FileExistsError, NotADirectoryError):
            raise DataDirError(path, "a parent of it is not a directory") from None
        tmp = tempfile.mkdtemp(prefix=".kvnode-create-", dir=parent)
        dir_fd = lock_fd = -1
        files: list[tuple[int, int, int]] = []
        try:
            dir_fd = os.open(tmp, os.O_RDONLY | os.O_DIRECTORY)
            flags = os.O_CREAT | os.O_EXCL | os.O_RDWR | os.O_NOFOLLOW
            for extent in range(geometry.extent_count):
                fd = os.open(_extent_name(extent), flags, 0o644, dir_fd=dir_fd)
                try:
                    if extent < SUPERBLOCK_EXTENTS:
                        cls._reserve_new(path, fd, geometry.extent_bytes)
                    st = os.fstat(fd)
                finally:
                    os.close(fd)
                files.append((0, st.st_dev, st.st_ino))
            lock_fd = os.open(FORMAT_FILE, flags, 0o644, dir_fd=dir_fd)
            os.write(lock_fd, format_header.encode_format(geometry))
            os.fsync(lock_fd)
            fcntl.flock(lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            os.fsync(dir_fd)
            try:
                os.rename(tmp, target)  # atomic; replaces `target` if it is an empty directory
            except OSError as err:
                raise cls._rename_refused(path, err) from None
        except BaseException:
            for fd in (dir_fd, lock_fd):
                if fd >= 0:
                    os.close(fd)
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        disk = cls(path, geometry, dir_fd, lock_fd, files)
        try:
            _fsync_dir(parent)
        except BaseException:
            disk.close()
            raise
        return disk

    @staticmethod
    def _reserve_new(path: str, fd: int, length: int) -> None:
        try:
            _reserve_blocks(fd, length)
        except OSError as err:
            if err.errno in _NO_SPACE:
                raise DataDirError(
                    path, f"no room for a store: cannot reserve its superblocks ({err.strerror})"
                ) from None
            # Where blocks cannot be reserved, the store still works; it only loses the
            # guarantee that superblock records always find room.

    @staticmethod
    def _rename_refused(path: str, err: OSError) -> DataDirError:
        if err.errno in (errno.ENOTEMPTY, errno.EEXIST):
            reason = "became non-empty while the store was being created (created concurrently?)"
        elif err.errno == errno.EBUSY:
            reason = "is a mount point or in use; create the store in a directory inside it"
        elif err.errno == errno.ENOTDIR:
            reason = "exists and is not a directory"
        else:
            reason = f"cannot move the new store into place: {err.strerror}"
        return DataDirError(path, reason)

    @classmethod
    def open(cls, path: str | os.PathLike[str], *, read_only: bool = False) -> FileDisk:
        """Open an existing data directory, refusing anything that is not one of ours.

        With `read_only`, nothing is written or created: every file is opened read-only under
        a shared lock, and every write method raises `ReadOnlyError`.
        """
        if type(read_only) is not bool:
            raise KVTypeError(f"read_only must be a bool, not {type(read_only).__name__}")
        path = _fspath(path)
        try:
            dir_fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
        except (FileNotFoundError, NotADirectoryError):
            raise DataDirError(
                path, "no such data directory (create one with `kvnode init`)"
            ) from None
        except OSError as err:
            raise DataDirError(path, f"cannot open the directory: {err.strerror}") from None
        lock_fd = -1
        try:
            try:
                lock_fd, _ = _open_checked(
                    path,
                    dir_fd,
                    FORMAT_FILE,
                    read_only=True,
                    not_a_file=f"not a kvnode data directory ({FORMAT_FILE} is not a file)",
                )
            except FileNotFoundError:
                raise DataDirError(
                    path, f"not a kvnode data directory (no {FORMAT_FILE} file)"
                ) from None
            geometry = cls._read_header(path, lock_fd)
            try:
                fcntl.flock(
                    lock_fd, (fcntl.LOCK_SH if read_only else fcntl.LOCK_EX) | fcntl.LOCK_NB
                )
            except BlockingIOError:
                raise DataDirError(path, "in use by another process") from None
            except OSError as err:
                raise DataDirError(path, f"cannot lock {FORMAT_FILE}: {err.strerror}") from None
            files = cls._check_extents(path, dir_fd, geometry, read_only=read_only)
        except BaseException:
            for fd in (lock_fd, dir_fd):
                if fd >= 0:
                    os.close(fd)
            raise
        disk = cls(path, geometry, dir_fd, lock_fd, files, read_only=read_only)
        if not read_only:
            for extent in range(SUPERBLOCK_EXTENTS):
                disk._reserve(extent)
        return disk

    @staticmethod
    def _read_header(path: str, fd: int) -> Geometry:
        try:
            # One byte more than a header, so trailing junk is seen.
            raw = os.pread(fd, format_header.HEADER_BYTES + 1, 0)
        except OSError as err:
            raise DataDirError(path, f"cannot read {FORMAT_FILE}: {err.strerror}") from None
        try:
            return format_header.decode_format(raw)
        except FormatError as err:
            raise DataDirError(path, err.reason) from None

    @staticmethod
    def _check_extents(
        path: str, dir_fd: int, geometry: Geometry, *, read_only: bool
    ) -> list[tuple[int, int, int]]:
        # Opening every file now (and closing it again: a store may have thousands) refuses
        # a bad directory before anything is written, and names the file that cannot be used.
        files = []
        for extent in range(geometry.extent_count):
            name = _extent_name(extent)
            try:
                fd, st = _open_checked(
                    path,
                    dir_fd,
                    name,
                    read_only=read_only,
                    not_a_file=f"{name} is not a regular file (damaged directory)",
                )
            except FileNotFoundError:
                raise DataDirError(path, f"{name} is missing (damaged directory)") from None
            os.close(fd)
            if st.st_size > geometry.extent_bytes:
                raise DataDirError(path, f"{name} is larger than an extent (damaged)")
            files.append((st.st_size, st.st_dev, st.st_ino))
        return files

    # -- the disk protocol -------------------------------------------------------------------

    @property
    def path(self) -> str:
        """The data directory."""
        return self._path

    @property
    def geometry(self) -> Geometry:
        """The disk's shape, as recorded in the format header."""
        return self._geometry

    @property
    def read_only(self) -> bool:
        """True if opened with `read_only=True`: every write method raises `ReadOnlyError`."""
        return self._read_only

    def _check_writable(self, op: str) -> None:
        if self._read_only:
            raise ReadOnlyError(f"{self._path}: opened read-only, {op} refused")

    def _fd(self, extent: int, op: str) -> int:
        fd = self._fds.get(extent)
        if fd is not None:
            return fd
        with self._fds_lock:
            if self._lock_fd < 0:
                raise DiskIOError(op, "disk is closed", extent=extent)
            fd = self._fds.get(extent)
            if fd is None:
                name = _extent_name(extent)
                mode = "reading" if self._read_only else "writing"
                flags = (os.O_RDONLY if self._read_only else os.O_RDWR) | os.O_NOFOLLOW
                try:
                    fd = os.open(name, flags | os.O_NONBLOCK, dir_fd=self._dir_fd)
                except OSError as err:
                    reason = f"cannot open {name} for {mode}: {err.strerror}"
                    raise DiskIOError(op, reason, extent=extent) from None
                st = os.fstat(fd)
                if (st.st_dev, st.st_ino) != self._identity[extent]:
                    os.close(fd)
                    raise DiskIOError(op, f"{name} was replaced since the open", extent=extent)
                self._fds[extent] = fd
            return fd

    def reserve(self, extent: int) -> None:
        """Reserve the blocks of the whole extent, so no append to it can run out of space.

        Raises `DiskFullError` if the file system has no room for them (the extent's contents
        are unchanged). Where the file system cannot reserve blocks at all, does nothing.
        """
        self._check_writable("reserve")
        check_extent(self._geometry, extent)
        if not self._can_reserve or extent in self._reserved:
            return
        try:
            _reserve_blocks(self._fd(extent, "write"), self._geometry.extent_bytes)
        except DiskIOError:
            raise
        except OSError as err:
            if err.errno in _NO_SPACE:
                raise DiskFullError(
                    f"extent {extent}: file system full, cannot reserve its blocks ({err.strerror})"
                ) from err
            if err.errno in _NO_RESERVE:
                self._can_reserve = False
                return
            raise _io_error("write", err, extent) from err
        self._reserved.add(extent)

    def _reserve(self, extent: int) -> None:
        # Best effort: without the reservation, the write itself finds out whether there is room.
        with contextlib.suppress(DiskFullError, DiskIOError):
            self.reserve(extent)

    def append(self, extent: int, data: bytes) -> int:
        """Write `data` at the extent's write pointer with pwrite.

        Out of space, the file is cut back to its previous length and `DiskFullError` raised:
        nothing changed. (On a superblock extent, whose blocks are reserved at open, running
        out anyway is a `DiskIOError`: a node may already have acted on the record.)
        """
        self._check_writable("append")
        offset = self._wps[extent] if 0 <= extent < len(self._wps) else 0
        check_append(self._geometry, extent, offset, len(data))
        fd = self._fd(extent, "write")
        self._reserve(extent)
        view = memoryview(data)
        done = 0
        try:
            while done < len(view):
                done += os.pwrite(fd, view[done:], offset + done)
        except OSError as err:
            if err.errno not in _NO_SPACE:
                raise _io_error("write", err, extent) from err
            self._undo_append(fd, extent, offset, err)
        self._wps[extent] = offset + len(data)
        self._dirty.add(extent)
        return offset

    def _undo_append(self, fd: int, extent: int, offset: int, err: OSError) -> None:
        try:
            os.ftruncate(fd, offset)
        except OSError as undo:
            raise DiskIOError(
                "write",
                f"{err.strerror}, and cutting off the partial write failed: {undo.strerror}",
                extent=extent,
            ) from err
        self._reserved.discard(extent)
        if extent < SUPERBLOCK_EXTENTS:
            raise _io_error("write", err, extent) from err
        raise DiskFullError(
            f"write on extent {extent}: file system full ({err.strerror}); nothing was written"
        ) from err

    def read(self, extent: int, offset: int, length: int) -> bytes:
        """Read with pread; a short read means the file changed under us."""
        wp = self._wps[extent] if 0 <= extent < len(self._wps) else 0
        check_read(self._geometry, extent, wp, offset, length)
        fd = self._fd(extent, "read")
        try:
            data = os.pread(fd, length, offset)
        except OSError as err:
            raise _io_error("read", err, extent) from err
        if len(data) != length:
            raise DiskIOError("read", f"short read ({len(data)} of {length} bytes)", extent=extent)
        return data

    def write_pointer(self, extent: int) -> int:
        """The extent file's length."""
        check_extent(self._geometry, extent)
        return self._wps[extent]

    def truncate(self, extent: int, length: int) -> None:
        """Shorten the extent file; a log extent's blocks beyond `length` go back to the file
        system (a superblock extent's are reserved again at once)."""
        self._check_writable("truncate")
        wp = self._wps[extent] if 0 <= extent < len(self._wps) else 0
        check_truncate(self._geometry, extent, wp, length)
        fd = self._fd(extent, "write")
        try:
            os.ftruncate(fd, length)
        except OSError as err:
            raise _io_error("write", err, extent) from err
        self._reserved.discard(extent)
        if extent < SUPERBLOCK_EXTENTS:
            # The blocks just given back are taken again at once: a superblock record must
            # find room even on a full file system.
            self._reserve(extent)
        self._wps[extent] = length
        self._dirty.add(extent)

    def reset(self, extent: int) -> None:
        """Empty the extent file."""
        self._check_writable("reset")
        self.truncate(extent, 0)

    def sync(self) -> None:
        """fsync every extent file written since the last sync."""
        self._check_writable("sync")
        for extent in sorted(self._dirty):
            fd = self._fd(extent, "sync")
            try:
                os.fsync(fd)
            except OSError as err:
                raise _io_error("sync", err, extent) from err
            self._dirty.discard(extent)

    def close(self) -> None:
        """Close every file and release the directory lock (does not sync)."""
        with self._fds_lock:
            for fd in self._fds.values():
                os.close(fd)
            self._fds.clear()
            if self._lock_fd >= 0:
                os.close(self._lock_fd)
                os.close(self._dir_fd)
                self._lock_fd = self._dir_fd = -1
