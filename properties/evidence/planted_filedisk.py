"""`FileDisk` with planted fsync mistakes, on the simulated file system, for showing that
dirty reboots there bite (`kvcheck.machine.fs_targets`). Each is a source patch of a copy of
`kvnode/filedisk.py`; the node itself is the shipped one.

- `directory_not_synced`: creating a store writes the extent files and the header into a
  hidden directory and renames it into place, but does not fsync that directory first, so
  after a crash the store's directory can exist with none of its files in it.
- `header_not_synced`: the header is written and the directory renamed into place before the
  header's data is synced, so after a crash the header can be there but empty.
- `short_write_ignored`: an append makes one `pwrite` and takes it as complete, so when the
  file system fills mid-write (a short count) the chunk's tail is never written.
"""

from __future__ import annotations

from kvcheck.evidence.patched import Patch, patched_module
from kvcheck.machine.fs_targets import SimFSTarget
from kvcheck.machine.targets import Target

_DIRECTORY_NOT_SYNCED = (
    Patch(
        "filedisk",
        "            fcntl.flock(lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)\n"
        "            os.fsync(dir_fd)\n",
        "            fcntl.flock(lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)\n",
    ),
)
_HEADER_NOT_SYNCED = (
    Patch(
        "filedisk",
        "            os.write(lock_fd, format_header.encode_format(geometry))\n"
        "            os.fsync(lock_fd)\n",
        "            os.write(lock_fd, format_header.encode_format(geometry))\n",
    ),
)


_SHORT_WRITE_IGNORED = (
    Patch(
        "filedisk",
        "            while done < len(view):\n"
        "                done += os.pwrite(fd, view[done:], offset + done)\n",
        "            done += os.pwrite(fd, view, offset)\n",
    ),
)


def directory_not_synced() -> Target:
    """Planted: the new store's directory is renamed into place without being fsynced."""
    module = patched_module(
        "filedisk", _DIRECTORY_NOT_SYNCED, "kvnode_planted_directory_not_synced"
    )
    return SimFSTarget(disk_class=module.FileDisk)


def header_not_synced() -> Target:
    """Planted: the header's data is not fsynced before the rename that publishes it."""
    module = patched_module("filedisk", _HEADER_NOT_SYNCED, "kvnode_planted_header_not_synced")
    return SimFSTarget(disk_class=module.FileDisk)


def short_write_ignored() -> Target:
    """Planted: an append takes a short `pwrite` for a complete one."""
    module = patched_module("filedisk", _SHORT_WRITE_IGNORED, "kvnode_planted_short_write_ignored")
    return SimFSTarget(disk_class=module.FileDisk)
