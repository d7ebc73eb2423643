"""Hypothesis profiles: namespaced, the `crosshair` one exactly when its backend exists, and
short names accepted wherever a profile is chosen."""

from __future__ import annotations

import importlib.util

import pytest
from hypothesis import settings

from kvcheck.frontends import profiles


def test_crosshair_profile_is_registered_exactly_when_the_backend_is_installed() -> None:
    installed = importlib.util.find_spec("hypothesis_crosshair_provider") is not None
    assert installed == profiles.CROSSHAIR_AVAILABLE
    if installed:
        assert settings.get_profile("kvcheck-crosshair").backend == "crosshair"


def test_registering_without_the_backend_does_not_fail(monkeypatch: pytest.MonkeyPatch) -> None:
    # Hypothesis knows its backends by this table; without the plugin there is no such entry.
    from hypothesis import _settings

    monkeypatch.delitem(_settings.AVAILABLE_PROVIDERS, "crosshair", raising=False)
    assert profiles._register_crosshair() is False


def test_asking_for_crosshair_without_the_backend_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(profiles, "CROSSHAIR_AVAILABLE", False)
    monkeypatch.setenv("KV_PROFILE", "crosshair")
    with pytest.raises(ValueError, match=r"pip install 'kvnode-lfm\[crosshair\]'"):
        profiles.default_profile()


def test_an_unknown_profile_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KV_PROFILE", "fast")
    with pytest.raises(ValueError, match="expected one of dev, ci, nightly, mutation, crosshair"):
        profiles.default_profile()


def test_short_and_full_names_name_the_same_profile() -> None:
    assert profiles.qualified("ci") == profiles.qualified("kvcheck-ci") == "kvcheck-ci"
    assert profiles.settings_for("dev") == settings.get_profile("kvcheck-dev")


def test_every_registered_profile_is_namespaced() -> None:
    for name in ("kvcheck-dev", "kvcheck-ci", "kvcheck-nightly", "kvcheck-mutation"):
        settings.get_profile(name)
    # Hypothesis's own names keep Hypothesis's own settings.
    assert (
        settings.get_profile("ci").max_examples != settings.get_profile("kvcheck-ci").max_examples
    )
