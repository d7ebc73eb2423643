"""kvcheck in CI: exit statuses, --version, the JSON report and its schema, the example
database, Ctrl-C, heartbeats off a terminal, and targets found in the current directory."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import time
from pathlib import Path

import jsonschema
import pytest

from kvcheck.frontends.cli import main
from kvcheck.frontends.json_report import SCHEMA
from kvcheck.frontends.progress import Progress
from kvcheck.machine.coverage import Coverage

PLANTED = "kvcheck.evidence.planted:scan_out_of_order"


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)


def run(*args: str) -> int:
    return main(["--no-progress", "--seed", "1", *args])


class TestExitStatus:
    def test_a_factory_that_raises_is_a_target_failure(
        self, capsys: pytest.CaptureFixture[str]
    ) -> None:
        assert run("--target", "kvcheck_targets:raises") == 3
        err = capsys.readouterr().err
        assert "the store's server is down" in err and len(err.strip().splitlines()) == 1

    def test_a_store_missing_methods_is_named_in_one_line(
        self, capsys: pytest.CaptureFixture[str]
    ) -> None:
        assert run("--target", "kvcheck_targets:lacks_methods") == 3
        err = capsys.readouterr().err
        assert "lacks delete, scan, sync, flush_index, reclaim, close" in err
        assert len(err.strip().splitlines()) == 1

    def test_missed_coverage_is_its_own_status(self, capsys: pytest.CaptureFixture[str]) -> None:
        assert (
            run("--budget", "1", "--require-coverage", "--target", "kvcheck_targets:never_fills")
            == 4
        )
        assert "never reached" in capsys.readouterr().out

    def test_a_target_may_declare_states_it_cannot_reach(
        self, capsys: pytest.CaptureFixture[str]
    ) -> None:
        target = "kvcheck_targets:never_fills_and_says_so"
        assert run("--budget", "1", "--require-coverage", "--target", target) == 0

    def test_the_statuses_are_in_the_help(self, capsys: pytest.CaptureFixture[str]) -> None:
        with pytest.raises(SystemExit):
            main(["--help"])
        out = capsys.readouterr().out
        for status in (
            "0  every",
            "1  a property failed",
            "2  bad usage",
            "3  the target",
            "4  --require",
        ):
            assert status in out


def test_version_is_printed_by_both_commands() -> None:
    for command in ("kvcheck.frontends.cli", "kvnode.cli"):
        done = subprocess.run(
            [sys.executable, "-m", command, "--version"], capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 0, done.stderr
        assert done.stdout.split()[1][0].isdigit(), done.stdout


def test_the_json_report_validates_against_its_schema(tmp_path: Path) -> None:
    report = tmp_path / "report.json"
    assert (
        run("--budget", "2", "--target", PLANTED, "--target", "simdisk", "--json", str(report)) == 1
    )
    document = json.loads(report.read_text())
    jsonschema.validate(document, SCHEMA)
    failed = [p for p in document["properties"] if p["result"] == "failed"]
    machine = [p for p in failed if p["name"].split("[")[0] in ("conformance", "crashes")]
    assert machine and all("h = Harness(" in p["failure"]["program"] for p in machine)
    kind, seed = machine[0]["name"].split("[")[0], machine[0]["seed"]
    assert (
        machine[0]["failure"]["replay"] == f"kvcheck --target {PLANTED} --only {kind} --seed {seed}"
    )
    assert any(p["result"] == "ok" for p in document["properties"])


def test_a_failure_found_once_replays_first_from_the_directory_database(tmp_path: Path) -> None:
    db = str(tmp_path / "db")
    first = tmp_path / "first.json"
    again = tmp_path / "again.json"
    only = ("--only", "conformance")
    assert (
        run("--budget", "3", "--target", PLANTED, *only, "--database", db, "--json", str(first))
        == 1
    )
    # Another seed, which alone would need its own search: the saved failure comes first.
    code = main(["--no-progress", "--seed", "999", "--budget", "3", "--target", PLANTED, *only,
                 "--database", db, "--json", str(again)])  # fmt: skip
    assert code == 1
    found = json.loads(again.read_text())["properties"][0]
    assert found["result"] == "failed" and found["examples"] <= 2, found
    assert found["failure"]["replayed"] is True and found["failure"]["minimal"] is True


def test_database_none_keeps_nothing(tmp_path: Path) -> None:
    assert run("--budget", "1", "--target", PLANTED, "--database", "none") == 1
    assert not (tmp_path / ".hypothesis").exists()


def test_an_unreachable_redis_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert run("--database", "redis://127.0.0.1:1/0") == 2
    assert "cannot reach the Redis server" in capsys.readouterr().err


def test_ctrl_c_prints_the_table_so_far_and_writes_the_reports(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    junit, report = tmp_path / "junit.xml", tmp_path / "report.json"
    code = run("--budget", "30", "--target", "simdisk", "--target", "kvcheck_targets:interrupted",
               "--only", "conformance", "--junit-xml", str(junit),
               "--json", str(report))  # fmt: skip
    assert code == 130
    out = capsys.readouterr().out
    assert "interrupted" in out and "conformance[simdisk]" in out
    document = json.loads(report.read_text())
    assert document["interrupted"] is True
    assert [p["name"] for p in document["properties"]][:1] == ["conformance[simdisk]"]
    assert junit.exists()


def test_off_a_terminal_a_heartbeat_line_shows_the_run_is_alive(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(Progress, "HEARTBEAT", 0.05)
    stream = io.StringIO()
    progress = Progress(stream, True, terminal=False)
    progress.start("conformance[x]", Coverage(), 10)
    time.sleep(0.3)
    progress.stop()
    lines = stream.getvalue().splitlines()
    assert len(lines) >= 2 and all(line.startswith("kvcheck: conformance[x]: ") for line in lines)
    assert "\r" not in stream.getvalue()


def test_a_target_module_in_the_current_directory_is_found(tmp_path: Path) -> None:
    (tmp_path / "my_store_here.py").write_text(
        "from kvcheck.models import ReferenceKV\n\ndef make():\n    return ReferenceKV()\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", "import sys; from kvcheck.frontends.cli import main; "
         "sys.path[:] = [p for p in sys.path if p not in ('', '.')]; "
         "sys.exit(main(['--budget', '1', '--no-progress', '--target', 'my_store_here:make']))"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
