"""A real crash: a writer on FileDisk killed with SIGKILL loses nothing it acknowledged."""

from __future__ import annotations

from pathlib import Path

from kvcheck.crash import sigkill


def test_killed_writers_lose_no_acknowledged_operation(tmp_path: Path) -> None:
    trials = sigkill.run(str(tmp_path / "data"), count=4, seed=2024)
    assert trials.failures == []
    assert trials.kills == 4
    assert trials.acknowledged > 0


def test_operation_sequence_is_deterministic() -> None:
    assert [sigkill.operation(i) for i in range(50)] == [sigkill.operation(i) for i in range(50)]
    assert any(value is None for _, value in map(sigkill.operation, range(50)))
