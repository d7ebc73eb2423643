"""`kvcheck --workers N`: properties dealt into lanes, a property split into shards with
interleaved seeds, one merged table, failures shared through the example database, and Ctrl-C
stopping every worker with the reports still written."""

from __future__ import annotations

import json
import os
import signal
import threading
from pathlib import Path

import jsonschema
import pytest

from kvcheck.frontends.cli import main
from kvcheck.frontends.json_report import SCHEMA
from kvcheck.frontends.report import PropertyResult
from kvcheck.frontends.workers import ForeignFailure, Job, Task, deal, merge, portable
from kvcheck.machine.coverage import Coverage
from kvcheck.machine.ops import Op

PLANTED = "kvcheck.evidence.planted:scan_out_of_order"
ENDLESS = "kvcheck_targets:never_fills_and_says_so"
JOBS = [Job(f"p{n}", "m:f", "conformance") for n in range(5)]


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)


def test_fewer_workers_than_properties_deal_them_into_lanes() -> None:
    lanes = deal(JOBS, 2)
    assert [[t.job.name for t in lane] for lane in lanes] == [["p0", "p2", "p4"], ["p1", "p3"]]
    assert all(t.shards == 1 for lane in lanes for t in lane)


def test_more_workers_than_properties_split_them_into_shards() -> None:
    exhaustive = Job("exhaustive[simdisk]", "m:f", "exhaustive")
    lanes = deal([JOBS[0], exhaustive], 4)
    assert all(len(lane) == 1 for lane in lanes) and len(lanes) == 4
    tasks = [lane[0] for lane in lanes]
    # Exhaustive checking is not sharded: its histories come from one seed.
    assert [(t.job.name, t.shard, t.shards) for t in tasks] == [
        ("p0", 0, 3), ("p0", 1, 3), ("p0", 2, 3), ("exhaustive[simdisk]", 0, 1),
    ]  # fmt: skip


def _result(seed: int, examples: int, log: int = 0) -> PropertyResult:
    coverage = Coverage(examples=examples, steps=10 * examples)
    coverage.op("put")
    error = AssertionError(f"seed {seed}") if log else None
    return PropertyResult("p0", "m:f", coverage, float(seed), seed, error, [Op("sync")] * log)


def test_shards_merge_into_one_row_keeping_the_shortest_failure() -> None:
    job = JOBS[0]
    done = [(Task(job, 0, 3), _result(1, 25)), (Task(job, 1, 3), _result(2, 50, log=7)),
            (Task(job, 2, 3), _result(3, 25, log=4))]  # fmt: skip
    (merged,) = merge(JOBS, done)
    assert merged.coverage.examples == 100 and merged.coverage.ops["put"] == 3
    assert merged.seed == 3 and len(merged.log) == 4 and merged.seconds == 3.0


class _Unpicklable(Exception):
    def __init__(self, code: int, detail: str):
        super().__init__(f"{code}: {detail}")


def test_a_store_exception_that_cannot_cross_processes_keeps_its_name_and_text() -> None:
    result = _result(1, 1)
    result.error = _Unpicklable(7, "the server said no")
    carried = portable(result)
    assert isinstance(carried.error, ForeignFailure)
    assert carried.message == "_Unpicklable: 7: the server said no"


def test_one_merged_table_and_failures_shared_through_the_database(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db, first, again = str(tmp_path / "db"), tmp_path / "first.json", tmp_path / "again.json"
    args = ["--no-progress", "--budget", "6", "--workers", "2", "--database", db,
            "--target", PLANTED, "--target", ENDLESS,
            "--only", "conformance,faults,damage"]  # fmt: skip
    assert main([*args, "--seed", "1", "--json", str(first)]) == 1
    out = capsys.readouterr().out
    names = [f"conformance[{PLANTED}]", f"conformance[{ENDLESS}]"]
    names += [f"{kind}[{PLANTED}]" for kind in ("damage", "faults")]
    names += [f"{kind}[{ENDLESS}]" for kind in ("damage", "faults")]  # no disk: not applicable
    document = json.loads(first.read_text())
    jsonschema.validate(document, SCHEMA)
    assert [p["name"] for p in document["properties"]] == names
    results = ["failed", "ok", "failed", "failed", "n/a", "n/a"]
    assert [p["result"] for p in document["properties"]] == results
    assert "2 workers" in out and out.count("FAILED conformance[") == 1
    # A fresh seed: the failures the worker processes saved replay first.
    assert main([*args, "--seed", "999", "--json", str(again)]) == 1
    replayed = [p for p in json.loads(again.read_text())["properties"] if p["result"] == "failed"]
    assert [p["failure"]["replayed"] for p in replayed] == [True] * 3


def test_a_property_split_over_workers_reports_once(tmp_path: Path) -> None:
    report = tmp_path / "report.json"
    args = ["--no-progress", "--seed", "5", "--budget", "3", "--workers", "3",
            "--database", "none", "--target", ENDLESS, "--only", "conformance",
            "--json", str(report)]  # fmt: skip
    assert main(args) == 0
    (only,) = json.loads(report.read_text())["properties"]
    # Three shards of at least one 25-example batch each.
    assert only["name"] == f"conformance[{ENDLESS}]" and only["examples"] >= 75


def test_ctrl_c_stops_every_worker_and_still_writes_the_reports(tmp_path: Path) -> None:
    report, junit = tmp_path / "report.json", tmp_path / "junit.xml"
    timer = threading.Timer(4.0, os.kill, (os.getpid(), signal.SIGINT))
    timer.start()
    try:
        code = main(["--no-progress", "--seed", "2", "--budget", "60", "--workers", "2",
                     "--database", "none", "--target", "simdisk", "--json", str(report),
                     "--junit-xml", str(junit)])  # fmt: skip
    finally:
        timer.cancel()
    assert code == 130
    document = json.loads(report.read_text())
    assert document["interrupted"] is True and document["properties"]
    assert junit.exists()


def test_workers_must_be_positive(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--workers", "0"]) == 2
    assert "--workers must be at least 1" in capsys.readouterr().err
