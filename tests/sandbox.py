"""Real file-system conditions for tests: a private tmpfs (small, few inodes, or read-only), and
child processes that, though run as root, are subject to file permissions.

Each needs privileges the machine may not grant; the tests then skip, saying why.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

_libc = ctypes.CDLL(None, use_errno=True)
_libc.mount.argtypes = [ctypes.c_char_p] * 3 + [ctypes.c_ulong, ctypes.c_char_p]
_libc.umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]
_MS_RDONLY, _MS_REMOUNT, _MNT_DETACH = 1, 32, 2
_PR_CAPBSET_DROP = 24
#: The capabilities that let root ignore file permissions.
_CAP_DAC_OVERRIDE, _CAP_DAC_READ_SEARCH = 1, 2


def _mount(target: Path, flags: int, options: str) -> None:
    source = None if flags & _MS_REMOUNT else b"tmpfs"
    fstype = None if flags & _MS_REMOUNT else b"tmpfs"
    if _libc.mount(source, os.fsencode(target), fstype, flags, options.encode()) != 0:
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code), str(target))


@contextlib.contextmanager
def tmpfs(target: Path, *, size: str = "4m", nr_inodes: int | None = None) -> Iterator[Path]:
    """Mount a private tmpfs of `size` at `target` (made if absent) for the block's duration."""
    target.mkdir(parents=True, exist_ok=True)
    options = f"size={size}" + ("" if nr_inodes is None else f",nr_inodes={nr_inodes}")
    try:
        _mount(target, 0, options)
    except OSError as err:
        pytest.skip(f"cannot mount a tmpfs here ({err.strerror})")
    try:
        yield target
    finally:
        _libc.umount2(os.fsencode(target), _MNT_DETACH)


def remount_read_only(target: Path, size: str = "4m") -> None:
    """Make the tmpfs at `target` read-only: even root then gets `EROFS` for every write."""
    _mount(target, _MS_REMOUNT | _MS_RDONLY, f"size={size}")


def without_permission_override() -> Callable[[], None]:
    """A `preexec_fn` that drops root's power to ignore file permissions in the child."""
    if os.geteuid() != 0:
        return lambda: None  # permissions apply already

    def drop() -> None:
        for cap in (_CAP_DAC_OVERRIDE, _CAP_DAC_READ_SEARCH):
            if _libc.prctl(_PR_CAPBSET_DROP, cap, 0, 0, 0) != 0:
                code = ctypes.get_errno()
                raise OSError(code, os.strerror(code))

    return drop
