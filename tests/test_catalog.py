"""Every catalog bug is found by the check it names, under the `ci` profile, and shrinks."""

from __future__ import annotations

from pathlib import Path

import pytest

from kvcheck.evidence.bugs import Detection, detect
from kvcheck.evidence.catalog import BUGS, CHECKS, KINDS, Bug
from kvcheck.evidence.patched import StalePatch

#: What counts as a short reproduction. Hypothesis's stateful shrinker sometimes settles in a
#: local minimum a few steps above the shortest sequence; `kvcheck bugs` reports actual sizes.
SHORT = 10
#: Seeds tried in turn until one finds the bug. Crash-window bugs take a median of about 150
#: runs of 20 steps to find; a second seed is more effort, not a looser check.
SEEDS = (0, 1, 2)


def first_detection(bug: Bug) -> Detection:
    runs = []
    for seed in SEEDS:
        run = detect(bug, seed)
        if run.detected:
            return run
        runs.append(run)
    pytest.fail(f"{bug.name} was not found with seeds {SEEDS}: {runs}")


@pytest.mark.parametrize("bug", BUGS, ids=lambda bug: bug.name)
def test_the_check_finds_the_bug_and_shrinks_it(bug: Bug) -> None:
    run = first_detection(bug)
    if bug.check in ("conformance", "crashes", "faults", "damage"):
        assert run.operations is not None and run.operations <= SHORT, run
    if bug.check == "crashes":
        assert run.crashes, run


def test_the_catalog_covers_every_kind_with_at_least_sixteen_bugs() -> None:
    assert len(BUGS) >= 16
    assert {bug.kind for bug in BUGS} == set(KINDS)
    assert len({bug.name for bug in BUGS}) == len(BUGS)


def test_every_bug_names_a_known_check_and_describes_itself() -> None:
    for bug in BUGS:
        assert bug.check in CHECKS
        assert len(bug.description) > 40, bug.name


def test_a_patch_whose_text_moved_fails_loudly() -> None:
    from kvcheck.evidence.patched import Patch, patched_package

    with pytest.raises(StalePatch, match="0 times"):
        patched_package("kvnode_stale_example", [Patch("index", "no such text", "")])


def test_a_stale_patch_leaves_nothing_behind_for_the_next_copy_of_that_name() -> None:
    import sys

    from kvcheck.evidence.patched import Patch, copies_root, patched_package

    # "node" sorts after "index": a patch that fails there comes after other modules' sources.
    stale = [Patch("node", "no such text", "")]
    for _ in range(2):  # the second attempt must fail the same way, not on leftovers
        with pytest.raises(StalePatch, match="0 times"):
            patched_package("kvnode_stale_twice", stale)
    assert not (copies_root() / "kvnode_stale_twice").exists()
    assert "kvnode_stale_twice" not in sys.modules
    fixed = patched_package("kvnode_stale_twice", [])  # the name is still free for a good copy
    assert fixed.__name__ == "kvnode_stale_twice"


class TestKvcheckBugs:
    def test_prints_the_table_and_writes_json(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        import json

        from kvcheck.frontends.cli import main

        out = tmp_path / "bugs.json"
        assert main(["bugs", "--only", "length_unbounded", "--seeds", "2", "--json", str(out)]) == 0
        printed = capsys.readouterr().out
        assert "| length_unbounded | serialization | codec | 2/2 |" in printed
        (row,) = json.loads(out.read_text())
        assert row["bug"] == "length_unbounded" and row["found_with_seeds"] == [0, 1]

    def test_an_unknown_bug_is_a_usage_error(self, capsys: pytest.CaptureFixture[str]) -> None:
        from kvcheck.frontends.cli import main

        assert main(["bugs", "--only", "no_such_bug"]) == 2
        assert "unknown bug 'no_such_bug'" in capsys.readouterr().err

    def test_list_names_every_bug(self, capsys: pytest.CaptureFixture[str]) -> None:
        from kvcheck.frontends.cli import main

        assert main(["bugs", "--list"]) == 0
        listed = capsys.readouterr().out
        assert all(bug.name in listed for bug in BUGS)
