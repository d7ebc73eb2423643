"""The pytest plugin: `--kv-target` runs the properties, and loading it never breaks pytest."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import xml.etree.ElementTree as ET
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
    result = pytest_in(tmp_path, "--kv-target", "kvcheck.models:ReferenceKV")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 passed" in result.stdout


def test_a_planted_bug_fails_through_the_plugin_with_its_sequence(tmp_path: Path) -> None:
    result = pytest_in(
        tmp_path,
        "--kv-target",
        "kvcheck.evidence.planted:scan_out_of_order",
        "--kv-profile",
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
        import kvcheck.frontends.pytest_plugin  # loads and registers without Hypothesis
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


# -- a good citizen: the plugin acts only when asked -----------------------------------------


def write(path: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (path / name).parent.mkdir(parents=True, exist_ok=True)
        (path / name).write_text(textwrap.dedent(text))
    return path


USER_PROFILES = {
    "conftest.py": """
        from hypothesis import settings

        settings.register_profile("ci", max_examples=7)
        settings.register_profile("dev", max_examples=3)
        settings.load_profile("ci")
    """,
    "test_mine.py": """
        from hypothesis import settings

        def test_my_profile_is_mine():
            assert settings().max_examples == 7
            assert settings.get_profile("dev").max_examples == 3
    """,
}


def run_pytest(
    path: Path, *args: str, env: dict[str, str] | None = None, cache: bool = False
) -> subprocess.CompletedProcess[str]:
    import os

    environment = {k: v for k, v in os.environ.items() if k not in ("CI", "KV_PROFILE")}
    no_cache = [] if cache else ["-p", "no:cacheprovider"]
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", *no_cache, *args],
        cwd=path, capture_output=True, text=True, timeout=300, env={**environment, **(env or {})},
    )  # fmt: skip


def test_a_users_own_profiles_are_untouched(tmp_path: Path) -> None:
    write(tmp_path, USER_PROFILES)
    for env in ({}, {"CI": "1"}):
        done = run_pytest(tmp_path, env=env)
        assert done.returncode == 0, done.stdout + done.stderr
        # ... even with the plugin's items in the same run.
        done = run_pytest(tmp_path, "--kv-target", "kvcheck.models:ReferenceKV", env=env)
        assert done.returncode == 0, done.stdout + done.stderr


def test_hypothesis_builtin_ci_profile_is_untouched_under_ci(tmp_path: Path) -> None:
    write(tmp_path, {"test_builtin.py": """
        from hypothesis import settings

        def test_builtin_ci():
            assert settings._current_profile == "ci"
            assert settings().max_examples == settings.get_profile("ci").max_examples != 80
    """})  # fmt: skip
    done = run_pytest(tmp_path, env={"CI": "1"})
    assert done.returncode == 0, done.stdout + done.stderr


def test_a_user_project_with_its_own_properties_and_models_runs(tmp_path: Path) -> None:
    write(tmp_path, {
        "properties/__init__.py": "NAME = 'theirs'\n",
        "models.py": "NAME = 'theirs too'\n",
        "test_theirs.py": """
            import models
            import properties

            def test_their_modules():
                assert properties.NAME == "theirs" and models.NAME == "theirs too"
        """,
    })  # fmt: skip
    done = run_pytest(tmp_path, "--kv-target", "kvcheck.models:ReferenceKV")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "2 passed" in done.stdout


def test_a_bad_target_is_a_one_line_usage_error(tmp_path: Path) -> None:
    for spec in ("nocolon", "no_such_module:make"):
        done = run_pytest(tmp_path, "--kv-target", spec)
        assert done.returncode == 4, done.stdout + done.stderr
        assert f"--kv-target {spec}:" in done.stderr
        assert len(done.stderr.strip().splitlines()) == 1, done.stderr


def test_a_planted_failure_reads_in_about_forty_lines(tmp_path: Path) -> None:
    done = run_pytest(tmp_path, "--kv-target", "kvcheck.evidence.planted:scan_out_of_order",
                      "--kv-profile", "ci", "-k", "conformance")  # fmt: skip
    assert done.returncode == 1
    lines = done.stdout.splitlines()
    assert len(lines) <= 45, done.stdout
    assert (
        "h = Harness(load_factory('kvcheck.evidence.planted:scan_out_of_order')())" in done.stdout
    )
    assert "pytest --kv-target kvcheck.evidence.planted:scan_out_of_order --lf" in done.stdout
    assert "_pytest" not in done.stdout and "pluggy" not in done.stdout


def test_items_have_real_node_ids_for_collect_only_lf_and_junit(tmp_path: Path) -> None:
    targets = ["--kv-target", "kvcheck.models:ReferenceKV",
               "--kv-target", "kvcheck.evidence.planted:scan_out_of_order"]  # fmt: skip
    (tmp_path / "test_trivial.py").write_text("def test_trivial():\n    pass\n")
    listed = run_pytest(tmp_path, "--co", *targets)
    assert "kvcheck::conformance[kvcheck.models:ReferenceKV]" in listed.stdout, listed.stdout
    assert "13 tests collected" in listed.stdout  # six properties per target, and the file's
    assert "kvcheck::races[kvcheck.models:ReferenceKV]" in listed.stdout
    targets += ["-k", "conformance"]
    first = run_pytest(tmp_path, *targets, "--junit-xml", "junit.xml", cache=True)
    assert first.returncode == 1
    cases = ET.parse(tmp_path / "junit.xml").getroot().iter("testcase")
    assert {c.get("classname") for c in cases if "conformance" in (c.get("name") or "")} == {
        "kvcheck"
    }
    again = run_pytest(tmp_path, *targets, "--lf", cache=True)
    assert again.returncode == 1
    assert "1 failed" in again.stdout and "passed" not in again.stdout, again.stdout


def test_targets_can_come_from_the_ini_file(tmp_path: Path) -> None:
    write(tmp_path, {"pytest.ini": """
        [pytest]
        kv_target = kvcheck.models:ReferenceKV
        kv_profile = dev
    """})  # fmt: skip
    done = run_pytest(tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 passed" in done.stdout


def test_the_plugin_can_be_turned_off_by_name(tmp_path: Path) -> None:
    done = run_pytest(tmp_path, "-p", "no:kvcheck", "--kv-target", "x:y")
    assert done.returncode == 4 and "unrecognized arguments: --kv-target" in done.stderr


def test_items_run_under_xdist(tmp_path: Path) -> None:
    (tmp_path / "test_trivial.py").write_text("def test_trivial():\n    pass\n")
    done = run_pytest(tmp_path, "-n", "2", "--kv-target", "kvcheck.models:ReferenceKV",
                      "--kv-target", "kvcheck.machine.targets:simdisk_target")  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    # ReferenceKV has no disk and no node: only conformance applies; the other five say why.
    assert "8 passed, 5 skipped" in done.stdout


def test_each_target_has_its_own_keys_in_the_example_database(tmp_path: Path) -> None:
    from hypothesis.database import DirectoryBasedExampleDatabase

    from kvcheck.frontends.database import keyed

    shared = DirectoryBasedExampleDatabase(str(tmp_path / "db"))
    mine, theirs = keyed(shared, "conformance[a:b]"), keyed(shared, "conformance[c:d]")
    assert mine is not None and theirs is not None
    mine.save(b"key", b"failure")
    assert list(theirs.fetch(b"key")) == []
    theirs.delete(b"key", b"failure")  # a passing run of the other target
    assert list(mine.fetch(b"key")) == [b"failure"]


def test_a_property_that_does_not_apply_is_skipped_with_the_reason(tmp_path: Path) -> None:
    done = run_pytest(tmp_path, "--kv-target", "kvcheck.models:ReferenceKV", "-rs", "-k", "races")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 skipped" in done.stdout and "n/a: races drive the node's threads" in done.stdout
