"""Process-kill trials for any store kept in a directory: a correct store holds, each planted
mistake is found and classified, and the shipped `sqlite3` adapter holds."""

from __future__ import annotations

from pathlib import Path

import pytest

from kvcheck.crash import process_kill
from kvcheck.frontends.cli import main
from kvcheck.machine.directory import DirectoryStore, load_directory_store
from kvcheck.machine.targets import TargetError

PLANTED = "kvcheck.evidence.planted_stores"


def trials(spec: str, tmp_path: Path, count: int) -> process_kill.Trials:
    return process_kill.run(spec, str(tmp_path / "data"), count, seed=7, delay_max=0.2)


def test_the_record_file_written_by_rename_holds(tmp_path: Path) -> None:
    done = trials(f"{PLANTED}:replace_file", tmp_path, 12)
    assert done.failure is None, done.failure
    assert done.outcomes["all there"] == 12 and done.acknowledged > 100


@pytest.mark.parametrize(
    ("bug", "outcome"),
    [("rewrite_in_place", "unopenable"), ("acknowledge_before_writing", "promised data missing")],
)
def test_a_planted_mistake_is_found_and_classified(bug: str, outcome: str, tmp_path: Path) -> None:
    done = trials(f"{PLANTED}:{bug}", tmp_path, 40)
    assert done.failure is not None and done.outcomes[outcome] == 1, (done.outcomes, done.failure)


def test_sqlite_in_autocommit_holds(tmp_path: Path) -> None:
    done = trials("kvcheck.adapters.stdlib:sqlite", tmp_path, 8)
    assert done.failure is None, done.failure


def test_the_operations_are_deterministic_and_include_deletes() -> None:
    ops = [process_kill.operation(i) for i in range(30)]
    assert ops == [process_kill.operation(i) for i in range(30)]
    assert any(value is None for _, value in ops)


def test_a_factory_must_return_a_directory_store() -> None:
    with pytest.raises(TargetError, match="not a DirectoryStore"):
        load_directory_store("kvcheck.machine.targets:simdisk_target")
    with pytest.raises(ValueError, match="durable must be one of"):
        DirectoryStore("x", dict, durable="eventually")


def test_the_command_keeps_the_killed_directory_of_a_failure(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    args = ["sigkill", "--target", f"{PLANTED}:rewrite_in_place", "--trials", "40", "--seed", "3",
            "--delay-max", "0.2", "--keep", str(tmp_path / "kept")]  # fmt: skip
    assert main(args) == 1
    out = capsys.readouterr().out
    assert "FAILED: kill" in out and "unopenable" in out
    assert (tmp_path / "kept" / "records").exists()
    assert main(["sigkill", "--target", "kvcheck_targets:raises"]) == 3


def test_bad_trial_counts_are_usage_errors(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sigkill", "--target", f"{PLANTED}:replace_file", "--trials", "0"]) == 2
    assert "--trials must be positive" in capsys.readouterr().err


def test_a_store_lacking_a_method_of_its_promise_is_named(tmp_path: Path) -> None:
    kind = DirectoryStore("partial", lambda path: object(), durable="sync")
    with pytest.raises(TargetError, match="lacks put, get, delete, close, sync"):
        kind.open_checked(str(tmp_path))
