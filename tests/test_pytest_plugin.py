"""The pytest plugin: `--kv-target` runs the properties, and loading it never breaks pytest."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path


def pytest_in(path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    (path / "test_trivial.py").write_text("def test_trivial():\n    pass\n")
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args],
        cwd=path,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_the_model_conforms_to_itself_through_the_plugin(tmp_path: Path) -> None:
    result = pytest_in(tmp_path, "--kv-target", "models:ReferenceKV")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 passed" in result.stdout


def test_a_planted_bug_fails_through_the_plugin_with_its_sequence(tmp_path: Path) -> None:
    result = pytest_in(
        tmp_path,
        "--kv-target",
        "properties.planted:scan_out_of_order",
        "--hypothesis-profile",
        "ci",
    )
    assert result.returncode == 1
    assert "Minimal failing sequence" in result.stdout


def test_without_kv_target_the_plugin_adds_nothing(tmp_path: Path) -> None:
    result = pytest_in(tmp_path)
    assert result.returncode == 0
    assert "1 passed" in result.stdout


def test_loading_the_plugin_without_hypothesis_does_not_break_pytest(tmp_path: Path) -> None:
    (tmp_path / "test_trivial.py").write_text("def test_trivial():\n    pass\n")
    script = textwrap.dedent(
        f"""
        import sys

        class NoHypothesis:  # as if Hypothesis were not installed
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] == "hypothesis":
                    raise ModuleNotFoundError(f"No module named {{name!r}}")

        sys.meta_path.insert(0, NoHypothesis())
        import pytest
        import properties.pytest_plugin  # loads and registers without Hypothesis
        code = pytest.main(["-q", "-p", "no:hypothesispytest", "-p", "no:cacheprovider",
                            {str(tmp_path)!r}])
        sys.exit(int(code))
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed" in result.stdout
