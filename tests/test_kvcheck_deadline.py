"""`kvcheck --budget` is a deadline, shrinking included: the windows it is cut into, and a
store whose failure would take minutes to shrink ending within the budget, reported as found."""

from __future__ import annotations

import json
import time
from pathlib import Path

import jsonschema
import pytest

from kvcheck.frontends.cli import main
from kvcheck.frontends.json_report import SCHEMA
from kvcheck.frontends.runner import SHRINK_SHARE, plan


def test_windows_share_the_search_and_hold_back_a_share_for_shrinking() -> None:
    windows = plan(100.0, 50.0, 4)
    searching = 50.0 * (1 - SHRINK_SHARE)
    assert [w.search_until for w in windows] == pytest.approx(
        [100 + searching * k / 4 for k in (1, 2, 3, 4)]
    )
    # A failure may be shrunk past its slot by the held-back share, never past the deadline.
    assert [w.shrink_until for w in windows] == pytest.approx(
        [min(150.0, w.search_until + 50.0 * SHRINK_SHARE) for w in windows]
    )
    assert windows[-1].shrink_until == pytest.approx(150.0)


def test_a_slowly_shrinking_failure_ends_by_the_deadline_reported_as_found(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Unbounded, shrinking this store's failure runs for minutes (the README gives the figure).
    monkeypatch.chdir(tmp_path)
    budget = 12.0
    report = tmp_path / "report.json"
    began = time.monotonic()
    code = main(["--no-progress", "--seed", "1", "--budget", str(budget), "--database", "none",
                 "--profile", "dev",
                 "--target", "kvcheck_targets:shrinks_slowly", "--json", str(report)])  # fmt: skip
    elapsed = time.monotonic() - began
    assert code == 1
    # The slack is one shrink attempt and the final replay of the failure, a few seconds here.
    assert elapsed < budget + 6, elapsed
    out = capsys.readouterr().out
    assert "Shrinking stopped at the deadline" in out and "h = Harness(" in out
    assert "five minutes" not in out  # Hypothesis's own warning is replaced by kvcheck's
    document = json.loads(report.read_text())
    jsonschema.validate(document, SCHEMA)
    failure = document["properties"][0]["failure"]
    assert failure["minimal"] is False and failure["operations"] >= 5


def test_runs_with_different_seeds_search_different_batches_and_shards_split_a_run() -> None:
    from kvcheck.frontends.runner import Search, Window, batch_seed

    window = Window(0.0, 0.0)
    one = {Search(window, 1).batch(n) for n in range(200)}
    two = {Search(window, 2).batch(n) for n in range(200)}
    assert not one & two and len(one) == len(two) == 200
    shards = [Search(window, 1, shard, 3) for shard in range(3)]
    dealt = [s.batch(n) for n in range(10) for s in shards]
    assert sorted(dealt) == sorted(batch_seed(1, i) for i in range(30))
    assert Search(window, 7).batch(0) == 7  # the printed seed replays its batch first
