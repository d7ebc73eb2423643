"""The mount: file operations under its root go to the simulated file system, everything else to
the real one; what is not modelled is refused; crashes lose exactly what was never fsynced; and
pure-Python stores (`dbm.dumb`, via `io.open` and bytes paths) and FileDisk run on it."""

from __future__ import annotations

import dbm.dumb
import errno
import os
import pathlib
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from kvcheck.machine.conformance import conformance_machine
from kvcheck.machine.fs_targets import SimFSTarget
from kvcheck.machine.intercept import FD_BASE, Mount, NotModelled
from kvcheck.machine.simfs import SimFS
from kvnode.errors import DiskFullError
from kvnode.simdisk import CrashPlan

ROOT = "/kvcheck-test-mount"


@pytest.fixture
def fs() -> Iterator[SimFS]:
    simulated = SimFS(page_bytes=16)
    with Mount(simulated, ROOT):
        yield simulated


def test_files_under_the_root_are_simulated_and_nothing_else(fs: SimFS, tmp_path: Path) -> None:
    os.mkdir(f"{ROOT}/d")
    with open(f"{ROOT}/d/f", "w") as f:
        f.write("hello")
    assert fs.tree() == {"/d": None, "/d/f": b"hello"}
    assert not os.path.exists(f"{ROOT}/d/f") or os.path.isfile(f"{ROOT}/d/f")
    assert not Path(ROOT).resolve().is_relative_to(tmp_path)
    (tmp_path / "real").write_text("real")  # a real path still goes to the real disk
    assert (tmp_path / "real").read_text() == "real" and "real" not in str(fs.tree())
    p = pathlib.Path(ROOT, "d", "g")
    p.write_bytes(b"\x00\x01")
    assert sorted(os.listdir(f"{ROOT}/d")) == ["f", "g"] and p.stat().st_size == 2
    os.replace(f"{ROOT}/d/g", f"{ROOT}/d/f")
    with open(f"{ROOT}/d/f", "rb") as f:
        assert f.read() == b"\x00\x01"
    made = tempfile.mkdtemp(dir=ROOT)
    assert os.path.isdir(made) and made.startswith(ROOT)
    shutil.rmtree(f"{ROOT}/d")
    assert sorted(fs.tree()) == [made[len(ROOT) :]]


def test_descriptors_are_above_any_real_one(fs: SimFS) -> None:
    fd = os.open(f"{ROOT}/f", os.O_CREAT | os.O_RDWR)
    assert fd >= FD_BASE
    os.pwrite(fd, b"abc", 4)
    assert os.pread(fd, 7, 0) == b"\x00" * 4 + b"abc" and os.fstat(fd).st_size == 7
    os.close(fd)


def test_what_is_not_modelled_is_refused(fs: SimFS) -> None:
    open(f"{ROOT}/f", "w").close()
    with pytest.raises(NotModelled):
        os.symlink(f"{ROOT}/f", f"{ROOT}/link")
    with pytest.raises(NotModelled):
        os.link(f"{ROOT}/f", f"{ROOT}/hard")


def test_a_crash_keeps_what_was_fsynced_and_closes_every_descriptor(fs: SimFS) -> None:
    fd = os.open(f"{ROOT}/kept", os.O_CREAT | os.O_WRONLY)
    os.write(fd, b"durable")
    os.fsync(fd)
    root = os.open(ROOT, os.O_RDONLY | os.O_DIRECTORY)
    os.fsync(root)
    os.write(fd, b" and not")
    with open(f"{ROOT}/lost", "wb") as f:
        f.write(b"never synced")
        os.fsync(f.fileno())  # its data is durable, its name is not
    fs.crash(CrashPlan.keep_nothing())
    assert fs.tree() == {"/kept": b"durable"}
    with pytest.raises(OSError, match="Bad file descriptor"):
        os.write(fd, b"x")


def test_dbm_dumb_runs_on_the_mount(fs: SimFS) -> None:
    with dbm.dumb.open(f"{ROOT}/db", "c") as db:
        db[b"k"] = b"v"
    with dbm.dumb.open(f"{ROOT}/db", "r") as db:
        assert db[b"k"] == b"v"
    assert {"/db.dat", "/db.dir"} <= set(fs.tree())


def test_filedisk_conformance_with_crashes_and_faults_runs_on_it() -> None:
    for faults in (False, True):
        machine = conformance_machine(SimFSTarget, faults=faults)
        machine.TestCase.settings = machine.TestCase.settings  # the suite's profile
        test = machine.TestCase("runTest")
        test.runTest()


@pytest.mark.parametrize("bug", ["directory_not_synced", "header_not_synced"])
def test_planted_filedisk_fsync_mistakes_are_found(bug: str) -> None:
    from kvcheck.evidence import planted_filedisk

    machine = conformance_machine(getattr(planted_filedisk, bug))
    with pytest.raises(AssertionError, match="failed to recover"):
        machine.TestCase("runTest").runTest()


def test_a_filling_file_system_gives_a_short_write_then_enospc(fs: SimFS) -> None:
    fd = os.open(f"{ROOT}/f", os.O_CREAT | os.O_WRONLY)
    os.write(fd, b"old")
    fs.fail("space", 1)
    assert os.pwrite(fd, b"AB", 0) == 2  # an overwrite in place needs no room
    assert os.write(fd, b"0123456789") == 5
    with pytest.raises(OSError) as refused:
        os.write(fd, b"more")
    assert refused.value.errno == errno.ENOSPC
    os.ftruncate(fd, 3)  # room given back
    os.lseek(fd, 3, os.SEEK_SET)
    assert os.write(fd, b"again") == 5
    os.close(fd)
    assert fs.tree() == {"/f": b"ABdagain"}
    fs.fail("space", None)
    with pytest.raises(OSError) as full:
        os.open(f"{ROOT}/g", os.O_CREAT | os.O_WRONLY)
    assert full.value.errno == errno.ENOSPC


def test_filedisk_refuses_a_put_the_full_file_system_cut_short_and_changes_nothing() -> None:
    target = SimFSTarget()
    node = target.open()
    node.put(b"a", b"x" * 100)
    node.sync()
    target.disk.fail("space", 1)
    with pytest.raises(DiskFullError, match="nothing was written"):
        node.put(b"b", b"y" * 300)
    node.put(b"c", b"z")
    node.close()
    node = target.open()
    assert list(node.scan(b"", None)) == [(b"a", b"x" * 100), (b"c", b"z")]
    node.close()
    target.cleanup()


def test_references_a_module_took_at_import_or_as_defaults_are_redirected_too() -> None:
    import builtins
    import sys
    import types

    module = types.ModuleType("kvcheck_test_aliases")
    exec(
        "import builtins, os\nopener = builtins.open\n"
        "def put(fd, data, write=os.write):\n    return write(fd, data)\n",
        module.__dict__,
    )
    sys.modules[module.__name__] = module
    try:
        simulated = SimFS(page_bytes=16)
        with Mount(simulated, ROOT), module.opener(f"{ROOT}/f", "wb") as f:
            module.put(f.fileno(), b"through the mount")
        assert simulated.tree() == {"/f": b"through the mount"}
        assert module.opener is builtins.open and module.put.__defaults__ == (os.write,)
    finally:
        del sys.modules[module.__name__]
