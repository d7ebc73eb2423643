"""kvcheck's main job: every property that applies, `--only`/`--skip`, and what does not apply."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

from kvcheck.frontends.cli import PROPERTIES, main
from kvcheck.frontends.json_report import SCHEMA


def run(*args: str) -> int:
    return main(["--no-progress", "--database", "none", "--seed", "1", *args])


def test_the_built_in_node_gets_every_property(tmp_path: Path) -> None:
    report = tmp_path / "report.json"
    assert run("--budget", "12", "--target", "simdisk", "--json", str(report)) == 0
    document = json.loads(report.read_text())
    jsonschema.validate(document, SCHEMA)
    assert [p["name"] for p in document["properties"]] == [f"{k}[simdisk]" for k in PROPERTIES]
    assert all(p["result"] == "ok" and p["examples"] > 0 for p in document["properties"])


def test_a_store_without_a_disk_lists_what_does_not_apply_and_why(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    report = tmp_path / "report.json"
    assert (
        run("--budget", "2", "--target", "kvcheck_targets:never_fills", "--json", str(report)) == 0
    )
    rows = {p["name"].split("[")[0]: p for p in json.loads(report.read_text())["properties"]}
    assert rows["conformance"]["result"] == "ok"
    for name in ("crashes", "faults", "damage", "races", "codecs"):
        assert rows[name]["result"] == "n/a" and rows[name]["not_applicable"], name
    out = capsys.readouterr().out
    assert "races[kvcheck_targets:never_fills]" in out and "n/a: races drive" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--only", "nope"], "unknown property 'nope'"),
        (["--only", "races", "--skip", "races"], "leave no property"),
    ],
)
def test_a_bad_selection_is_a_usage_error(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(*args) == 2
    assert message in capsys.readouterr().err


def test_only_and_skip_select_properties(tmp_path: Path) -> None:
    report = tmp_path / "report.json"
    args = ["--budget", "2", "--target", "simdisk", "--only", "conformance,damage", "--skip",
            "damage", "--json", str(report)]  # fmt: skip
    assert run(*args) == 0
    assert [p["name"] for p in json.loads(report.read_text())["properties"]] == [
        "conformance[simdisk]"
    ]


@pytest.mark.parametrize(
    ("target", "kind", "error"),
    [
        ("kvcheck_targets:racy_node", "races", "RaceFound"),
        ("kvcheck_targets:node_with_a_codec_bug", "codecs", "IndexError"),
    ],
)
def test_a_race_and_a_codec_bug_are_found_with_a_program_that_replays_them(
    target: str, kind: str, error: str, tmp_path: Path
) -> None:
    report = tmp_path / "report.json"
    assert run("--budget", "30", "--target", target, "--only", kind, "--json", str(report)) == 1
    (found,) = json.loads(report.read_text())["properties"]
    assert found["result"] == "failed" and f"--only {kind}" in found["failure"]["replay"]
    script = tmp_path / "replay.py"
    script.write_text(found["failure"]["program"])
    replay = subprocess.run(
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=Path(__file__).parent,
    )
    assert replay.returncode == 1 and error in replay.stderr, replay.stderr[-2000:]


def test_symbolic_adds_the_crosshair_contracts_first(tmp_path: Path) -> None:
    # That CrossHair finds planted codec bugs is checked by `python -m kvcheck.codecs.symbolic
    # --planted` (CI runs it); here, that the main job runs it and reports what it finished.
    report = tmp_path / "report.json"
    args = ["--budget", "8", "--target", "simdisk", "--symbolic", "--only", "conformance",
            "--json", str(report)]  # fmt: skip
    assert run(*args) == 0
    first, second = json.loads(report.read_text())["properties"]
    assert first["name"] == "symbolic[simdisk]" and first["result"] == "ok"
    assert "no counterexample" in first["summary"] and second["name"] == "conformance[simdisk]"


def test_symbolic_without_a_node_on_a_simdisk_is_a_usage_error(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert run("--target", "kvcheck_targets:never_fills", "--symbolic") == 2
    assert "--symbolic needs a target running the node on a SimDisk" in capsys.readouterr().err
