"""Concurrency properties: the node's histories are linearizable under controlled and free
schedules, and each planted race is caught and shrunk to a short counterexample."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import Phase, given, settings

import kvcheck.concurrency.races as concurrency
from kvcheck.concurrency.races import (
    ClientOp,
    RaceFound,
    Workload,
    check_free,
    check_interleaving,
    workloads,
)
from kvcheck.concurrency.schedule import Schedule, Strategy, schedules
from kvcheck.evidence.planted_races import RACES
from kvcheck.machine.targets import CHECK_GEOMETRY
from kvnode import FileDisk, Node, SimDisk

#: Runs per property: ten times the profile's examples (ci 800, dev 400, nightly 50,000).
EXAMPLES = 10 * settings.default.max_examples


class TestShippedNode:
    @settings(max_examples=EXAMPLES)
    @given(workload=workloads(), schedule=schedules("random"))
    def test_histories_are_linearizable_under_random_schedules(
        self, workload: Workload, schedule: Schedule
    ) -> None:
        check_interleaving(workload, schedule)

    @settings(max_examples=EXAMPLES)
    @given(workload=workloads(), schedule=schedules("pct"))
    def test_histories_are_linearizable_under_pct_schedules(
        self, workload: Workload, schedule: Schedule
    ) -> None:
        check_interleaving(workload, schedule)

    def test_free_threads_with_background_maintenance_stay_linearizable(self) -> None:
        disk = SimDisk(CHECK_GEOMETRY)
        run = check_free(lambda: disk, clients=3, ops=150, seed=1)
        assert run.background > 0 and len(run.history.processes) == 4

    def test_free_threads_on_real_files_stay_linearizable(self, tmp_path: Path) -> None:
        path = tmp_path / "data"
        made: list[FileDisk] = []

        def open_disk() -> FileDisk:
            made.append(FileDisk.open(path) if made else FileDisk.create(path, CHECK_GEOMETRY))
            return made[-1]

        run = check_free(open_disk, clients=3, ops=100, seed=2)
        assert run.background > 0


# -- planted races -------------------------------------------------------------------------


def hunt(node_class: type[Node], strategy: Strategy, *, shrink: bool = True) -> dict[str, Any]:
    """Search for a counterexample with the ci profile; the last one seen is the shrunk one."""
    found: dict[str, Any] = {}
    phases = list(Phase) if shrink else [Phase.generate]

    @settings(settings.get_profile("kvcheck-ci"), max_examples=2000, phases=phases)
    @given(workload=workloads(), schedule=schedules(strategy))
    def race(workload: Workload, schedule: Schedule) -> None:
        found["runs"] = found.get("runs", 0) + 1
        try:
            check_interleaving(workload, schedule, node_class=node_class)
        except RaceFound as err:
            found.update(workload=workload, schedule=schedule, message=str(err))
            found.setdefault("first", found["runs"])
            raise

    began = time.perf_counter()
    with pytest.raises(RaceFound) as caught:
        race()
    found["seconds"] = time.perf_counter() - began
    found["notes"] = getattr(caught.value, "__notes__", [])
    return found


@pytest.mark.parametrize("name", list(RACES))
def test_a_planted_race_is_caught_and_shrunk_to_a_short_counterexample(name: str) -> None:
    found = hunt(RACES[name], "random")
    assert len(found["workload"]) <= 4, found["message"]
    assert found["schedule"].length <= 8, found["message"]
    # What Hypothesis prints replays the race, and so does its blob.
    printed = next(note for note in found["notes"] if note.startswith("Failing test case"))
    names = vars(concurrency) | {"Schedule": Schedule}
    arguments = eval("dict(" + printed.split("(", 1)[1], names)
    with pytest.raises(RaceFound):
        check_interleaving(**arguments, node_class=RACES[name])
    assert any("@reproduce_failure" in note for note in found["notes"])


@pytest.mark.parametrize("name", list(RACES))
def test_pct_schedules_find_each_planted_race_too(name: str) -> None:
    found = hunt(RACES[name], "pct", shrink=False)
    assert found["first"] <= 2000


def test_a_race_report_replays_and_writes_a_timeline(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KV_TIMELINE_DIR", str(tmp_path))
    workload = Workload(((ClientOp("get", b"a"),), (ClientOp("put", b"b", 1, 65),)), ("reclaim",))
    schedule = Schedule(choices=(2, 0, 0, 0, 0, 0, 0, 1))
    race = RACES["lost_put_during_reclaim"]
    with pytest.raises(RaceFound) as caught:
        check_interleaving(workload, schedule, node_class=race)
    report = str(caught.value)
    assert report.startswith("the history is not linearizable\noperations (3):")
    assert "cannot place: p2 scan" in report
    replay = report.rsplit("replay: ", 1)[1]
    names = vars(concurrency) | {"Schedule": Schedule, race.__qualname__: race}
    with pytest.raises(RaceFound):
        eval(replay, names)
    (page,) = tmp_path.glob("race-*.html")  # one per failing run, named by its history
    assert "NOT linearizable" in page.read_text()
    assert page.with_suffix(".json").exists()
    check_interleaving(workload, schedule)  # the shipped node, same interleaving: fine


@pytest.mark.parametrize("name", list(RACES))
def test_planted_races_pass_when_their_threads_do_not_overlap(name: str) -> None:
    ops = (ClientOp("put", b"b", 1, 65), ClientOp("get", b"b"), ClientOp("sync"))
    check_interleaving(
        Workload((ops, ops), ("reclaim", "flush_index")), Schedule(), node_class=RACES[name]
    )
