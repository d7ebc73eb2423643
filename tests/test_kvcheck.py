"""kvcheck: exit codes, the report, and reproductions that replay."""

from __future__ import annotations

import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from kvcheck.frontends.cli import main


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test runs in its own directory, so its example database is its own."""
    monkeypatch.chdir(tmp_path)


def test_passes_on_the_node_and_prints_the_table(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--budget", "2", "--no-progress", "--target", "simdisk", "--seed", "1"]) == 0
    out = capsys.readouterr().out
    assert "conformance[simdisk]" in out
    assert "ok" in out
    assert "operations: get" in out


def test_a_planted_bug_fails_with_a_replayable_reproduction(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    regression = tmp_path / "test_regression.py"
    junit = tmp_path / "report.xml"
    code = main(
        [
            "--budget",
            "10",  # a deadline: enough to shrink; the failure ends the run well before it
            "--no-progress",
            "--seed",
            "1",
            "--target",
            "kvcheck.evidence.planted:scan_out_of_order",
            "--write-regression",
            str(regression),
            "--junit-xml",
            str(junit),
        ]
    )
    assert code == 1
    out = capsys.readouterr().out
    assert "FAILED conformance[kvcheck.evidence.planted:scan_out_of_order]" in out
    assert "Minimal failing sequence" in out
    assert "--seed" in out
    suite = ET.parse(junit).getroot()
    failed = {case.get("name") for case in suite if case.find("failure") is not None}
    machine = {f"{kind}[kvcheck.evidence.planted:scan_out_of_order]"
               for kind in ("conformance", "crashes", "faults", "damage")}  # fmt: skip
    assert machine <= failed  # every machine property catches it
    replay = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(regression)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert replay.returncode == 1
    assert "ConformanceError" in replay.stdout


def test_printed_seed_replays_the_failure(capsys: pytest.CaptureFixture[str]) -> None:
    args = [
        "--budget",
        "10",
        "--no-progress",
        "--target",
        "kvcheck.evidence.planted:scan_out_of_order",
        "--only",
        "conformance",  # as the printed replay command says: races share their time by time
        "--database",
        "none",  # the seed alone replays it (a database would replay it too)
    ]

    def sequences(out: str) -> str:
        # Everything after the first program, bar how long finding it took (which varies).
        return re.sub(r"\(first failing example after .*\)\n", "", out).split(
            "Minimal failing sequence"
        )[1]

    assert main([*args, "--seed", "7"]) == 1
    first = sequences(capsys.readouterr().out)
    assert main([*args, "--seed", "7"]) == 1
    assert sequences(capsys.readouterr().out) == first


def test_a_target_that_does_not_import_is_a_target_failure(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["--target", "no_such_module:factory"]) == 3
    assert "cannot import" in capsys.readouterr().err


def test_a_malformed_target_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--target", "nocolon"]) == 2
    assert "module:factory" in capsys.readouterr().err


def test_a_non_positive_budget_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--budget", "0"]) == 2
    assert "--budget" in capsys.readouterr().err


def test_exhaustive_crashes_reports_the_states_checked(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["--budget", "3", "--no-progress", "--target", "simdisk", "--seed", "1",
                 "--exhaustive-crashes"])  # fmt: skip
    assert code == 0
    out = capsys.readouterr().out
    assert "exhaustive[simdisk]" in out
    assert "crash states" in out


def test_exhaustive_crashes_fail_on_a_planted_crash_bug(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["--budget", "6", "--no-progress", "--seed", "1", "--exhaustive-crashes",
                 "--target", "kvcheck.evidence.planted:early_persistence"])  # fmt: skip
    assert code == 1
    assert (
        "FAILED exhaustive[kvcheck.evidence.planted:early_persistence]" in capsys.readouterr().out
    )
