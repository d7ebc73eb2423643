"""`FileDisk`: extents as files in a data directory, made durable with fsync.

Directory layout:

    KVNODE            format header (below); also the lock that keeps a second process out
    extent-00000 ...  one file per extent; its size is the extent's write pointer

The format header is laid out in `kvnode.format_header`.

A directory without the header, with another magic, a newer version, a bad checksum, a
missing extent file or one larger than an extent is refused with `DataDirError`, unchanged.
"""

from __future__ import annotations

import errno
import fcntl
import os
import shutil
import tempfile
import threading

from kvnode import format_header
from kvnode.disk import check_append, check_extent, check_read, check_truncate
from kvnode.errors import DataDirError, DiskFullError, DiskIOError, FormatError
from kvnode.limits import DEFAULT_GEOMETRY, Geometry

FORMAT_FILE = "KVNODE"
FORMAT_MAGIC = format_header.MAGIC
FORMAT_VERSION = format_header.VERSION


def _extent_name(extent: int) -> str:
    return f"extent-{extent:05d}"


def _fsync_dir(path: str) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _io_error(op: str, err: OSError, extent: int | None) -> Exception:
    if err.errno == errno.ENOSPC:
        return DiskFullError(f"{op} on extent {extent}: no space left on device")
    return DiskIOError(op, err.strerror or str(err), extent=extent)


class FileDisk:
    """A disk whose extents are files in one directory; see the module docstring."""

    def __init__(self, path: str, geometry: Geometry, lock_fd: int, sizes: list[int]):
        """Use `FileDisk.create` or `FileDisk.open`."""
        self._path = path
        self._geometry = geometry
        self._lock_fd = lock_fd
        self._wps = sizes
        self._fds: dict[int, int] = {}
        # Reads run on many threads (see `kvnode.disk`): opening an extent's file on first use,
        # and closing, must not race, or a descriptor could leak or outlive `close`.
        self._fds_lock = threading.Lock()
        # What a crashed process wrote may still sit only in the OS cache: until the first
        # sync, treat every extent holding data as unsynced.
        self._dirty: set[int] = {extent for extent, size in enumerate(sizes) if size}

    @classmethod
    def create(cls, path: str, geometry: Geometry = DEFAULT_GEOMETRY) -> FileDisk:
        """Make a new data directory at `path` (absent or empty) and open it.

        The directory is built under a temporary name beside `path` and renamed into place,
        so a crash during creation leaves either no store or a complete one (and, at worst, a
        hidden `.kvnode-create-*` directory to delete).
        """
        path = os.path.abspath(os.fspath(path))
        if os.path.lexists(path):
            if not os.path.isdir(path):
                raise DataDirError(path, "exists and is not a directory")
            if os.listdir(path):
                raise DataDirError(path, "directory is not empty; refusing to create a store in it")
        parent = os.path.dirname(path)
        os.makedirs(parent, exist_ok=True)
        tmp = tempfile.mkdtemp(prefix=".kvnode-create-", dir=parent)
        try:
            for extent in range(geometry.extent_count):
                name = os.path.join(tmp, _extent_name(extent))
                os.close(os.open(name, os.O_CREAT | os.O_EXCL, 0o644))
            fd = os.open(os.path.join(tmp, FORMAT_FILE), os.O_CREAT | os.O_WRONLY, 0o644)
            try:
                os.write(fd, format_header.encode_format(geometry))
                os.fsync(fd)
            finally:
                os.close(fd)
            _fsync_dir(tmp)
            os.rename(tmp, path)  # atomic; replaces `path` if it is an empty directory
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        _fsync_dir(parent)
        return cls.open(path)

    @classmethod
    def open(cls, path: str) -> FileDisk:
        """Open an existing data directory, refusing anything that is not one of ours."""
        path = os.fspath(path)
        if not os.path.isdir(path):
            raise DataDirError(path, "no such data directory (create one with `kvnode init`)")
        header_path = os.path.join(path, FORMAT_FILE)
        if os.path.lexists(header_path) and not os.path.isfile(header_path):
            raise DataDirError(path, f"not a kvnode data directory ({FORMAT_FILE} is not a file)")
        try:
            lock_fd = os.open(header_path, os.O_RDONLY)
        except FileNotFoundError:
            raise DataDirError(
                path, f"not a kvnode data directory (no {FORMAT_FILE} file)"
            ) from None
        try:
            geometry = cls._read_header(path, lock_fd)
            try:
                fcntl.flock(lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise DataDirError(path, "in use by another process") from None
            sizes = cls._extent_sizes(path, geometry)
        except BaseException:
            os.close(lock_fd)
            raise
        return cls(path, geometry, lock_fd, sizes)

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
    def _extent_sizes(path: str, geometry: Geometry) -> list[int]:
        sizes = []
        for extent in range(geometry.extent_count):
            name = os.path.join(path, _extent_name(extent))
            try:
                size = os.stat(name).st_size
            except FileNotFoundError:
                raise DataDirError(
                    path, f"{_extent_name(extent)} is missing (damaged directory)"
                ) from None
            if size > geometry.extent_bytes:
                raise DataDirError(
                    path, f"{_extent_name(extent)} is larger than an extent (damaged)"
                )
            sizes.append(size)
        return sizes

    @property
    def path(self) -> str:
        """The data directory."""
        return self._path

    @property
    def geometry(self) -> Geometry:
        """The disk's shape, as recorded in the format header."""
        return self._geometry

    def _fd(self, extent: int) -> int:
        fd = self._fds.get(extent)
        if fd is not None:
            return fd
        with self._fds_lock:
            if self._lock_fd < 0:
                raise OSError(errno.EBADF, "disk is closed")
            fd = self._fds.get(extent)
            if fd is None:
                fd = os.open(os.path.join(self._path, _extent_name(extent)), os.O_RDWR)
                self._fds[extent] = fd
            return fd

    def append(self, extent: int, data: bytes) -> int:
        """Write `data` at the extent's write pointer with pwrite."""
        offset = self._wps[extent] if 0 <= extent < len(self._wps) else 0
        check_append(self._geometry, extent, offset, len(data))
        view = memoryview(data)
        done = 0
        try:
            fd = self._fd(extent)
            while done < len(view):
                done += os.pwrite(fd, view[done:], offset + done)
        except OSError as err:
            raise _io_error("write", err, extent) from err
        self._wps[extent] = offset + len(data)
        self._dirty.add(extent)
        return offset

    def read(self, extent: int, offset: int, length: int) -> bytes:
        """Read with pread; a short read means the file changed under us."""
        wp = self._wps[extent] if 0 <= extent < len(self._wps) else 0
        check_read(self._geometry, extent, wp, offset, length)
        try:
            data = os.pread(self._fd(extent), length, offset)
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
        """Shorten the extent file."""
        wp = self._wps[extent] if 0 <= extent < len(self._wps) else 0
        check_truncate(self._geometry, extent, wp, length)
        try:
            os.ftruncate(self._fd(extent), length)
        except OSError as err:
            raise _io_error("write", err, extent) from err
        self._wps[extent] = length
        self._dirty.add(extent)

    def reset(self, extent: int) -> None:
        """Empty the extent file."""
        self.truncate(extent, 0)

    def sync(self) -> None:
        """fsync every extent file written since the last sync."""
        for extent in sorted(self._dirty):
            try:
                os.fsync(self._fd(extent))
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
                self._lock_fd = -1
