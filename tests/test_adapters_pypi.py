"""The package-index adapters: each round-trips on real files, and the power-loss findings
(`properties/adapters/findings/`) replay as the minimal programs kvcheck printed."""

from __future__ import annotations

from pathlib import Path

import pytest

from kvcheck import Harness
from kvcheck.adapters import pypi
from kvcheck.machine.core import ConformanceError
from kvcheck.machine.fs_targets import DirectoryTarget

ADAPTERS = [
    "tinydb_store",
    "semidbm_store",
    "pickledb_store",
    "zodb_store",
    "sqlitedict_store",
    "diskcache_store",
    "lmdb_store",
]


@pytest.mark.parametrize("name", ADAPTERS)
def test_each_adapter_round_trips_on_real_files(name: str, tmp_path: Path) -> None:
    kind = getattr(pypi, name)()
    store = kind.open_checked(str(tmp_path / "data"))
    store.put(b"a", b"1")
    store.put(b"b", b"2")
    store.delete(b"a")
    if kind.durable == "sync":
        store.sync()
    store.close()
    again = kind.open_checked(str(tmp_path / "data"))
    try:
        assert (again.get(b"a"), again.get(b"b")) == (None, b"2")
    finally:
        again.close()


@pytest.mark.parametrize("name", ["tinydb_store", "zodb_store"])
def test_a_put_is_lost_to_power_loss_its_new_file_name_never_fsynced(name: str) -> None:
    h = Harness(DirectoryTarget(getattr(pypi, name)()))
    try:
        h.put(b"k0", b"")
        with pytest.raises(ConformanceError, match="recovered \\[\\]"):
            h.dirty_reboot((), (), None, 0, False, False)
    finally:
        h.close()


def test_semidbm_loses_what_it_closed_to_power_loss_its_files_never_fsynced_into_place() -> None:
    h = Harness(DirectoryTarget(pypi.semidbm_store()))
    try:
        h.drain()
        with pytest.raises(ConformanceError, match="recovered \\[\\]"):
            h.dirty_reboot((), (), ("clean_reboot",), 1, False, False)
    finally:
        h.close()


def test_pickledb_cannot_reopen_after_power_loss_tears_the_file_its_save_renamed() -> None:
    h = Harness(DirectoryTarget(pypi.pickledb_store()))
    try:
        h.drain()
        with pytest.raises(ConformanceError, match=r"failed to recover: .*JSONDecodeError"):
            h.dirty_reboot((), ((1, 0),), None, 0, True, False)
    finally:
        h.close()
