"""The `kvnode` command meets the operating system's errors: each is one line on stderr and exit
status 2, never a traceback, and read-only commands work where nothing may be written."""

from __future__ import annotations

import errno
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import IO

import pytest
import sandbox

from kvnode.cli import main
from kvnode.filedisk import FileDisk

SMALL = ["--page-bytes", "256", "--extent-bytes", "4096", "--extent-count", "16"]


def kv(
    *args: str,
    stdin: bytes | None = None,
    stdout: int | IO[bytes] | None = subprocess.PIPE,
    preexec_fn: Callable[[], None] | None = None,
) -> subprocess.CompletedProcess[bytes]:
    """Run the real entry point in a child process."""
    return subprocess.run(
        [sys.executable, "-m", "kvnode.cli", *args],
        input=stdin,
        stdout=stdout,
        stderr=subprocess.PIPE,
        preexec_fn=preexec_fn,
        timeout=120,
    )


def one_line_error(result: subprocess.CompletedProcess[bytes], *parts: str) -> str:
    """Check `result` failed with status 2 and exactly one error line holding every part."""
    err = result.stderr.decode(errors="replace")
    assert result.returncode == 2, err
    assert "Traceback" not in err
    assert err.count("\n") == 1 and err.startswith("kvnode: error: "), err
    for part in parts:
        assert part in err
    return err


@pytest.fixture
def store(tmp_path: Path) -> Path:
    path = tmp_path / "data"
    assert main(["-d", str(path), "init", *SMALL]) == 0
    assert main(["-d", str(path), "put", "a", "1"]) == 0
    return path


def check_reads_work(path: Path, preexec_fn: Callable[[], None] | None = None) -> None:
    """Every read-only command succeeds on the store made by the `store` fixture."""
    assert kv("-d", str(path), "get", "a", preexec_fn=preexec_fn).stdout == b"1\n"
    assert kv("-d", str(path), "scan", preexec_fn=preexec_fn).stdout == b"a\t1\n"
    assert kv("-d", str(path), "stats", preexec_fn=preexec_fn).returncode == 0
    checked = kv("-d", str(path), "fsck", preexec_fn=preexec_fn)
    assert checked.returncode == 0 and b"clean" in checked.stdout


class TestPermissions:
    def test_a_directory_the_caller_may_only_read_can_be_read_and_checked(
        self, store: Path
    ) -> None:
        """Run as root, the child drops the power to ignore permissions: 0o555 and 0o444 bind."""
        for p in store.iterdir():
            p.chmod(0o444)
        store.chmod(0o555)
        confined = sandbox.without_permission_override()
        try:
            probe = kv("-d", str(store), "put", "b", "2", preexec_fn=confined)
        except subprocess.SubprocessError as err:
            pytest.skip(f"cannot drop the permission override here ({err})")
        try:
            one_line_error(probe, "cannot open extent-00000 for writing: Permission denied")
            check_reads_work(store, preexec_fn=confined)
            one_line_error(
                kv("-d", str(store / "inner"), "init", *SMALL, preexec_fn=confined),
                "Permission denied",
            )
        finally:
            store.chmod(0o755)

    def test_a_read_only_file_system_can_be_read_and_checked(self, tmp_path: Path) -> None:
        with sandbox.tmpfs(tmp_path / "mnt") as mnt:
            path = mnt / "data"
            assert main(["-d", str(path), "init", *SMALL]) == 0
            assert main(["-d", str(path), "put", "a", "1"]) == 0
            sandbox.remount_read_only(mnt)
            check_reads_work(path)
            one_line_error(
                kv("-d", str(path), "put", "b", "2"),
                "cannot open extent-00000 for writing: Read-only file system",
            )
            one_line_error(kv("-d", str(path), "delete", "a"), "Read-only file system")
            one_line_error(
                kv("-d", str(mnt / "other"), "init", *SMALL), "other", "Read-only file system"
            )


class TestNoSpace:
    def test_no_room_for_the_superblocks_during_init_leaves_nothing(self, tmp_path: Path) -> None:
        with sandbox.tmpfs(tmp_path / "mnt", size="64k") as mnt:
            one_line_error(
                kv("-d", str(mnt / "data"), "init"), "no room for a store", "No space left"
            )
            assert os.listdir(mnt) == []

    def test_no_inodes_during_init_leaves_nothing(self, tmp_path: Path) -> None:
        with sandbox.tmpfs(tmp_path / "mnt", nr_inodes=8) as mnt:
            one_line_error(
                kv("-d", str(mnt / "data"), "init", *SMALL),
                "cannot create a store: No space left on device",
            )
            assert os.listdir(mnt) == []


class TestPaths:
    def test_a_name_too_long_is_one_line(self, tmp_path: Path) -> None:
        long = str(tmp_path / ("x" * 300))
        one_line_error(kv("-d", long, "init", *SMALL), "File name too long")
        one_line_error(kv("-d", long, "get", "a"), "File name too long")

    def test_a_parent_that_is_a_file_is_one_line(self, tmp_path: Path) -> None:
        (tmp_path / "file").write_bytes(b"")
        below = str(tmp_path / "file" / "data")
        one_line_error(kv("-d", below, "init", *SMALL), "a parent of it is not a directory")
        one_line_error(kv("-d", below, "get", "a"), "no such data directory")

    def test_a_busy_mount_point_is_one_line(self, tmp_path: Path) -> None:
        with sandbox.tmpfs(tmp_path / "mnt") as mnt:
            one_line_error(kv("-d", str(mnt), "init", *SMALL), "mount point")
            assert os.listdir(mnt) == []
            assert kv("-d", str(mnt / "data"), "init", *SMALL).returncode == 0

    def test_a_newline_in_a_path_does_not_break_the_error_line(self, tmp_path: Path) -> None:
        err = one_line_error(kv("-d", str(tmp_path / "a\nb"), "get", "k"))
        assert "a\\nb" in err


class TestOutput:
    def test_a_closed_stdout_is_one_line(self, store: Path) -> None:
        result = kv("-d", str(store), "scan", stdout=None, preexec_fn=lambda: os.close(1))
        one_line_error(result, "cannot write to standard output", "closed")

    @pytest.mark.skipif(not os.path.exists("/dev/full"), reason="no full device to write to")
    def test_a_full_stdout_is_one_line(self, store: Path) -> None:
        with open("/dev/full", "wb") as full:
            result = kv("-d", str(store), "scan", stdout=full)
        one_line_error(result, "cannot write to standard output: No space left on device")

    def test_a_reader_that_goes_away_is_not_an_error(self, tmp_path: Path) -> None:
        path = str(tmp_path / "data")
        assert main(["-d", path, "init"]) == 0
        lines = b"".join(b"key-%05d\t%s\n" % (i, b"v" * 100) for i in range(5000))
        assert kv("-d", path, "put", "-", stdin=lines).returncode == 0
        child = subprocess.Popen(
            [sys.executable, "-m", "kvnode.cli", "-d", path, "scan"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        assert child.stdout is not None and child.stderr is not None
        child.stdout.read(10)
        child.stdout.close()
        err = child.stderr.read()
        assert child.wait(timeout=120) == 0
        assert err == b""


@pytest.mark.parametrize(
    "code",
    [
        errno.EACCES,
        errno.EROFS,
        errno.ENOSPC,
        errno.EDQUOT,
        errno.ENAMETOOLONG,
        errno.ENOTDIR,
        errno.EBUSY,
        errno.EIO,
        errno.EMFILE,
    ],
    ids=errno.errorcode.get,
)
def test_any_os_error_is_one_line_naming_the_file(
    store: Path, code: int, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def failing_open(path: str, *, read_only: bool = False) -> object:
        raise OSError(code, os.strerror(code), path)

    monkeypatch.setattr(FileDisk, "open", failing_open)
    capsys.readouterr()
    assert main(["-d", str(store), "get", "a"]) == 2
    assert capsys.readouterr().err == f"kvnode: error: {store}: {os.strerror(code)}\n"


def test_concurrent_inits_of_one_directory_leave_one_valid_store(tmp_path: Path) -> None:
    path = str(tmp_path / "data")
    children = [
        subprocess.Popen(
            [sys.executable, "-m", "kvnode.cli", "-d", path, "init", *SMALL],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for _ in range(4)
    ]
    results = []
    for child in children:
        _, err = child.communicate(timeout=120)
        results.append((child.returncode, err))
    assert sorted(rc for rc, _ in results) == [0, 2, 2, 2]
    for rc, err in results:
        if rc:
            text = err.decode()
            assert text.count("\n") == 1 and text.startswith("kvnode: error: ")
            assert "not empty" in text or "created concurrently" in text or "in use" in text
    assert sorted(os.listdir(tmp_path)) == ["data"]
    assert kv("-d", path, "put", "a", "1").returncode == 0
    checked = kv("-d", path, "fsck")
    assert checked.returncode == 0 and b"clean" in checked.stdout
