"""A derandomized run draws the same examples whatever the process imported before it
(`kvcheck.frontends.constants`)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from kvcheck.frontends import constants

SCRIPT = Path(__file__).with_name("derandomized_draws.py")


def draws(*args: str) -> str:
    done = subprocess.run(
        [sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def test_importing_more_and_planting_bugs_leaves_a_settled_run_unchanged() -> None:
    alone = draws("--settle")
    assert alone.count("\n") > 100  # it drew something
    assert draws("--settle", "--import-more") == alone


@pytest.mark.skipif(not constants.supported(), reason="this Hypothesis collects no constants")
def test_without_settling_the_same_imports_change_what_is_drawn() -> None:
    # What `settle` and `exclude` guard against, shown on this Hypothesis: if this stops
    # failing to differ, the mechanism moved and the guard may need to move with it.
    assert draws("--import-more") != draws()


@pytest.mark.skipif(not constants.supported(), reason="this Hypothesis collects no constants")
def test_an_excluded_module_adds_nothing_to_the_pool(tmp_path: Path) -> None:
    import importlib

    from hypothesis.internal.conjecture import providers

    (tmp_path / "kvcheck_constant_probe.py").write_text("MARK = 987654321987\n")
    (tmp_path / "kvcheck_constant_kept.py").write_text("MARK = 123456789123\n")
    sys.path.insert(0, str(tmp_path))
    try:
        constants.exclude(importlib.import_module("kvcheck_constant_probe"))
        importlib.import_module("kvcheck_constant_kept")
        pool = providers._get_local_constants().set_for_type("integer")
    finally:
        sys.path.remove(str(tmp_path))
    assert 123456789123 in pool  # a module not excluded is collected (the test can fail)
    assert 987654321987 not in pool
