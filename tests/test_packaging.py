"""The wheel installs only the project's own import names, with type information and a licence."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> zipfile.ZipFile:
    out = tmp_path_factory.mktemp("wheel")
    done = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(ROOT)],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    if done.returncode != 0:
        pytest.skip(f"cannot build the wheel here: {done.stderr.strip().splitlines()[-1:]}")
    (built,) = out.glob("*.whl")
    return zipfile.ZipFile(built)


def test_the_wheel_has_only_the_projects_top_level_names(wheel: zipfile.ZipFile) -> None:
    tops = {name.split("/")[0] for name in wheel.namelist()}
    packages = {top for top in tops if not top.endswith(".dist-info")}
    assert packages == {"kvnode", "kvcheck"}, packages
    names = set(wheel.namelist())
    assert {"kvcheck/models/reference.py", "kvcheck/machine/harness.py"} <= names
    assert not any(n.startswith(("properties/", "models/", "tests/")) for n in names)


def test_every_package_is_typed_and_the_licence_ships(wheel: zipfile.ZipFile) -> None:
    names = set(wheel.namelist())
    assert {"kvnode/py.typed", "kvcheck/py.typed"} <= names
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names), sorted(names)[-8:]
    (metadata,) = [n for n in names if n.endswith(".dist-info/METADATA")]
    text = wheel.read(metadata).decode()
    assert "License-Expression: Apache-2.0" in text
    assert "Classifier: Typing :: Typed" in text


def test_the_entry_points_name_the_installed_modules(wheel: zipfile.ZipFile) -> None:
    (entry_points,) = [n for n in wheel.namelist() if n.endswith("entry_points.txt")]
    text = wheel.read(entry_points).decode()
    assert "kvcheck = kvcheck.frontends.cli:main" in text
    assert "kvcheck = kvcheck.frontends.pytest_plugin" in text
