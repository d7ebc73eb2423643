"""The `kvnode` command line: every command, its exit codes and its error messages."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from test_filedisk import snapshot

from kvnode.cli import escape, main
from kvnode.filedisk import FileDisk
from kvnode.node import Node

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


def scan_out(data: str, capsys: pytest.CaptureFixture[str]) -> str:
    capsys.readouterr()
    assert main(["-d", data, "scan"]) == 0
    return capsys.readouterr().out


class TestPutFromStdin:
    @pytest.mark.parametrize(
        ("lines", "number", "what"),
        [
            (b"a\t1\nb\t2\nbroken\n", 3, "no tab"),
            (b"a\t1\n\nb\t2\n", 2, "empty line"),
            (b"a\t1\n\tnokey\n", 2, "empty key"),
            (b"a\t1\n" + b"k" * 300 + b"\tv\n", 2, "key_bytes_max"),
            (b"a\t1\nb\t" + b"v" * 5000 + b"\n", 2, "value_bytes_max"),
        ],
        ids=["no-tab", "empty-line", "empty-key", "long-key", "long-value"],
    )
    def test_a_bad_line_puts_nothing_of_the_batch(
        self, data: str, lines: bytes, number: int, what: str
    ) -> None:
        result = kv("-d", data, "put", "-", stdin=lines)
        assert result.returncode == 2
        err = result.stderr.decode()
        assert err.count("\n") == 1 and err.startswith("kvnode: error: ")
        assert f"stdin line {number}" in err and what in err
        assert kv("-d", data, "scan").stdout == b""

    def test_a_carriage_return_before_the_newline_is_part_of_the_value(
        self, data: str, capsys: pytest.CaptureFixture[str]
    ) -> None:
        assert kv("-d", data, "put", "-", stdin=b"a\t1\r\nb\t2").returncode == 0
        assert scan_out(data, capsys) == "a\t1\\r\nb\t2\n"
        assert kv("-d", data, "get", "a", "--raw").stdout == b"1\r"

    def test_a_value_may_hold_tabs(self, data: str) -> None:
        assert kv("-d", data, "put", "-", stdin=b"a\tx\ty\n").returncode == 0
        assert kv("-d", data, "get", "a", "--raw").stdout == b"x\ty"

    def test_empty_input_puts_nothing_and_succeeds(self, data: str) -> None:
        assert kv("-d", data, "put", "-", stdin=b"").returncode == 0

    def test_put_help_says_what_ends_a_line_and_that_input_is_checked_first(self) -> None:
        out = kv("put", "--help").stdout.decode()
        assert "carriage return" in out and "part of the value" in out
        assert "puts nothing" in out


class TestUsageErrors:
    def test_put_without_a_value_is_a_usage_error(
        self, data: str, capsys: pytest.CaptureFixture[str]
    ) -> None:
        assert main(["-d", data, "put", "k"]) == 2
        assert capsys.readouterr().err == (
            "kvnode: error: put needs KEY VALUE (or - to read KEY<TAB>VALUE lines from stdin)\n"
        )

    def test_put_dash_with_a_value_is_a_usage_error(
        self, data: str, capsys: pytest.CaptureFixture[str]
    ) -> None:
        assert main(["-d", data, "put", "-", "v"]) == 2
        assert "takes no VALUE" in capsys.readouterr().err

    @pytest.mark.parametrize("limit", ["-1", "-10", "x", "1.5"])
    def test_scan_limit_refuses_what_is_not_a_count(
        self, data: str, limit: str, capsys: pytest.CaptureFixture[str]
    ) -> None:
        with pytest.raises(SystemExit) as info:
            main(["-d", data, "scan", "--limit", limit])
        assert info.value.code == 2
        assert "--limit" in capsys.readouterr().err

    def test_scan_limit_zero_prints_nothing(
        self, data: str, capsys: pytest.CaptureFixture[str]
    ) -> None:
        main(["-d", data, "put", "a", "1"])
        capsys.readouterr()
        assert main(["-d", data, "scan", "--limit", "0"]) == 0
        assert capsys.readouterr().out == ""


class TestEscapes:
    @pytest.mark.parametrize(
        ("raw", "shown"),
        [
            (b"plain text", "plain text"),
            (b"a\tb\nc\rd", "a\\tb\\nc\\rd"),
            (b"back\\slash", "back\\\\slash"),
            (b"\x1b[31m\x00\x7f", "\\x1b[31m\\x00\\x7f"),
            (b"\xff\xfe", "\\xff\\xfe"),
            ("caf\u00e9 \u65e5\u672c".encode(), "caf\u00e9 \u65e5\u672c"),
            ("\u009b2J".encode(), "\\xc2\\x9b2J"),  # a C1 control
            ("ab\u202ecd".encode(), "ab\\xe2\\x80\\xaecd"),  # right-to-left override
            ("x\u2028y".encode(), "x\\xe2\\x80\\xa8y"),  # line separator
            (b"\xed\xa0\x80", "\\xed\\xa0\\x80"),  # an encoded surrogate is not UTF-8
        ],
    )
    def test_escape_shows_every_hidden_or_line_breaking_character(
        self, raw: bytes, shown: str
    ) -> None:
        assert escape(raw) == shown

    def test_get_and_scan_escape_keys_and_values_alike(
        self, data: str, capsys: pytest.CaptureFixture[str]
    ) -> None:
        key = os.fsdecode(b"k\x1b\xff")
        value = os.fsdecode(b"a\tb\nc\\d\x00")
        assert main(["-d", data, "put", key, value]) == 0
        capsys.readouterr()
        assert main(["-d", data, "get", key]) == 0
        assert capsys.readouterr().out == "a\\tb\\nc\\\\d\\x00\n"
        assert scan_out(data, capsys) == "k\\x1b\\xff\ta\\tb\\nc\\\\d\\x00\n"
        assert kv("-d", data, "get", key, "--raw").stdout == b"a\tb\nc\\d\x00"

    def test_a_missing_key_is_escaped_in_the_message(
        self, data: str, capsys: pytest.CaptureFixture[str]
    ) -> None:
        assert main(["-d", data, "get", "\x1b[2J\n"]) == 1
        assert capsys.readouterr().err == "kvnode: \\x1b[2J\\n: not found\n"

    def test_json_output_stays_valid_with_control_characters_in_keys(
        self, data: str, capsys: pytest.CaptureFixture[str]
    ) -> None:
        for i in range(20):
            main(["-d", data, "put", f"\x1b[2J\n{i}", "v" * 30])
        capsys.readouterr()
        assert main(["-d", data, "stats", "--json"]) == 0
        assert json.loads(capsys.readouterr().out)["keys"] == 20
        extent_file = Path(data) / "extent-00002"
        raw = bytearray(extent_file.read_bytes())
        raw[200] ^= 0x10
        extent_file.write_bytes(bytes(raw))
        capsys.readouterr()
        assert main(["-d", data, "fsck", "--json"]) == 1
        report = json.loads(capsys.readouterr().out)
        assert report["damage"]


class TestReadOnlyCommands:
    @pytest.mark.parametrize(
        "command",
        [["get", "a"], ["scan"], ["stats"], ["stats", "--json"], ["fsck"], ["fsck", "--json"]],
        ids=" ".join,
    )
    def test_reading_commands_open_read_only_and_change_nothing(
        self, data: str, command: list[str], monkeypatch: pytest.MonkeyPatch
    ) -> None:
        assert main(["-d", data, "put", "a", "1"]) == 0
        with open(Path(data) / "extent-00002", "ab") as f:
            f.write(b"torn tail recovery would cut off")
        before = snapshot(Path(data))
        modes = spy_read_only(monkeypatch)
        assert main(["-d", data, *command]) == 0
        assert modes and all(modes)
        assert snapshot(Path(data)) == before

    @pytest.mark.parametrize("command", [["put", "a", "1"], ["delete", "a"]], ids=" ".join)
    def test_writing_commands_open_for_writing(
        self, data: str, command: list[str], monkeypatch: pytest.MonkeyPatch
    ) -> None:
        modes = spy_read_only(monkeypatch)
        assert main(["-d", data, *command]) == 0
        assert modes and not any(modes)


def spy_read_only(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """Record `read_only` of every `FileDisk.open` and `Node.open` the command makes."""
    modes: list[bool] = []
    real_disk_open, real_node_open = FileDisk.open, Node.open

    def disk_open(path: str, *, read_only: bool = False) -> FileDisk:
        modes.append(read_only)
        return real_disk_open(path, read_only=read_only)

    def node_open(disk: FileDisk, *, read_only: bool = False) -> Node:
        modes.append(read_only)
        return real_node_open(disk, read_only=read_only)

    monkeypatch.setattr(FileDisk, "open", disk_open)
    monkeypatch.setattr(Node, "open", node_open)
    return modes
