"""The `kvnode` command line: every command, its exit codes and its error messages."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from kvnode.cli import main

SMALL = ["--page-bytes", "256", "--extent-bytes", "4096", "--extent-count", "16"]


def kv(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    """Run the real entry point in a child process."""
    return subprocess.run(
        [sys.executable, "-m", "kvnode.cli", *args], input=stdin, capture_output=True, timeout=120
    )


@pytest.fixture
def data(tmp_path: Path) -> str:
    path = str(tmp_path / "data")
    assert main(["-d", path, "init", *SMALL]) == 0
    return path


def test_put_get_delete_round_trip(data: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["-d", data, "put", "colour", "blue"]) == 0
    capsys.readouterr()
    assert main(["-d", data, "get", "colour"]) == 0
    assert capsys.readouterr().out == "blue\n"
    assert main(["-d", data, "delete", "colour"]) == 0
    assert main(["-d", data, "get", "colour"]) == 1
    assert "not found" in capsys.readouterr().err


def test_scan_prints_pairs_in_key_order_within_range(
    data: str, capsys: pytest.CaptureFixture[str]
) -> None:
    for key in ["b", "a", "d", "c"]:
        main(["-d", data, "put", key, key * 2])
    capsys.readouterr()
    assert main(["-d", data, "scan", "--start", "b", "--end", "d"]) == 0
    assert capsys.readouterr().out == "b\tbb\nc\tcc\n"
    assert main(["-d", data, "scan", "--limit", "1"]) == 0
    assert capsys.readouterr().out == "a\taa\n"


def test_stats_json_reports_keys(data: str, capsys: pytest.CaptureFixture[str]) -> None:
    main(["-d", data, "put", "a", "1"])
    capsys.readouterr()
    assert main(["-d", data, "stats", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["keys"] == 1


def test_data_directory_comes_from_the_environment(
    data: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KVNODE_DIR", data)
    main(["put", "a", "1"])
    assert main(["get", "a"]) == 0
    assert capsys.readouterr().out == "1\n"


def test_missing_data_directory_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    os.environ.pop("KVNODE_DIR", None)
    with pytest.raises(SystemExit) as info:
        main(["get", "a"])
    assert info.value.code == 2
    assert "--dir" in capsys.readouterr().err


def test_absent_directory_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["-d", str(tmp_path / "nope"), "get", "a"]) == 2
    assert "no such data directory" in capsys.readouterr().err


def test_foreign_directory_is_refused_unchanged(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    assert main(["-d", str(tmp_path), "put", "a", "1"]) == 2
    assert "not a kvnode data directory" in capsys.readouterr().err
    assert os.listdir(tmp_path) == ["notes.txt"]


def test_init_refuses_a_non_empty_directory(data: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["-d", data, "init"]) == 2
    assert "not empty" in capsys.readouterr().err


def test_init_refuses_an_impossible_geometry(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = str(tmp_path / "d")
    assert main(["-d", path, "init", "--page-bytes", "300", "--extent-bytes", "4096"]) == 2
    assert "multiple of page_bytes" in capsys.readouterr().err


def test_oversized_key_is_a_clear_error(data: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["-d", data, "put", "k" * 300, "v"]) == 2
    assert "key_bytes_max" in capsys.readouterr().err


def test_put_from_stdin_rejects_a_line_without_a_tab(data: str) -> None:
    result = kv("-d", data, "put", "-", stdin=b"a\t1\nbroken\n")
    assert result.returncode != 0
    assert b"line 2" in result.stderr


def test_ten_thousand_keys_round_trip_and_fsck_clean(tmp_path: Path) -> None:
    path = str(tmp_path / "data")
    assert kv("-d", path, "init").returncode == 0
    lines = b"".join(b"key-%05d\tvalue-%d\n" % (i, i) for i in range(10_000))
    assert kv("-d", path, "put", "-", stdin=lines).returncode == 0
    scanned = kv("-d", path, "scan")
    assert scanned.returncode == 0
    assert scanned.stdout == lines
    checked = kv("-d", path, "fsck")
    assert checked.returncode == 0, checked.stdout
    assert b"clean" in checked.stdout


def test_fsck_reports_a_damaged_byte_with_extent_and_offset(
    data: str, capsys: pytest.CaptureFixture[str]
) -> None:
    for i in range(20):
        main(["-d", data, "put", f"key-{i}", "v" * 30])
    extent_file = Path(data) / "extent-00002"
    raw = bytearray(extent_file.read_bytes())
    raw[200] ^= 0x10
    extent_file.write_bytes(bytes(raw))
    capsys.readouterr()
    assert main(["-d", data, "fsck"]) == 1
    out = capsys.readouterr().out
    assert "DAMAGE: extent 2 offset 177" in out
    assert main(["-d", data, "fsck", "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] is False
    assert report["damage"][0]["extent"] == 2


def test_demo_runs(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo"]) == 0
    out = capsys.readouterr().out
    assert "all read back = True" in out
    assert "clean = True" in out
