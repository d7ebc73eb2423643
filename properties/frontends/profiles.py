"""Hypothesis profiles for the properties: `kvcheck-dev`, `kvcheck-ci`, `kvcheck-nightly`,
`kvcheck-mutation`, and `kvcheck-crosshair` when the CrossHair backend is installed (`pip install
'kvnode-lfm[crosshair]'`).

The names are namespaced because the pytest plugin registers them in every pytest run of an
environment where the package is installed: a bare `ci` would replace the user's own `ci`
profile, or Hypothesis's built-in one. Registering is all that happens: nothing here loads a
profile. `kvcheck` and the plugin's own items pass theirs explicitly (`settings_for`); the suite
loads one in its conftest. Each is registered with an explicit parent, since a profile registered
without one inherits whatever profile is loaded at that moment. Select one with `KV_PROFILE=NAME`
or `kvcheck --profile NAME` (the short names `dev`, `ci`, ... work too), or for a whole pytest
run `--hypothesis-profile kvcheck-NAME`.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, Phase, settings
from hypothesis.errors import InvalidArgument

_DEFAULT = settings.get_profile("default")
_QUIET = [HealthCheck.too_slow, HealthCheck.data_too_large]
# The explain phase re-runs a shrunk stateful failure hundreds of times to annotate which
# arguments did not matter; it cost 3x the shrink itself here, and the operation log says more.
_PHASES = [p for p in Phase if p is not Phase.explain]

# Every profile names its parent explicitly (see the module docstring): this one.
_BASE = settings(_DEFAULT, deadline=None, suppress_health_check=_QUIET, phases=_PHASES)
settings.register_profile("kvcheck-dev", parent=_BASE, max_examples=40, stateful_step_count=40)
settings.register_profile(
    "kvcheck-ci", parent=_BASE, max_examples=80, stateful_step_count=50, derandomize=True,
    database=None, print_blob=True,
)  # fmt: skip
# Mutation testing runs the suite once per mutant, so this is `ci` with less effort per
# property (the score is measured at this effort). It also runs every test twice in one process
# (once to learn which tests reach which functions, once clean), which trips the health check
# against a test method called from two instances of its class.
settings.register_profile(
    "kvcheck-mutation",
    parent=settings.get_profile("kvcheck-ci"),
    max_examples=25,
    stateful_step_count=25,
    suppress_health_check=[*_QUIET, HealthCheck.differing_executors],
)
settings.register_profile(
    "kvcheck-nightly", parent=_BASE, max_examples=5000, stateful_step_count=100, print_blob=True
)


def _register_crosshair() -> bool:
    """Register `crosshair`: examples found by symbolic execution instead of random draws.

    Meant for the codec properties (`tests/test_codec_properties.py`), nightly; stateful tests are
    far too slow under it. Hypothesis refuses a profile naming a backend that is not installed,
    so without hypothesis-crosshair the profile is simply absent.
    """
    try:
        settings.register_profile(
            "kvcheck-crosshair", parent=_BASE, backend="crosshair", max_examples=200, database=None,
            print_blob=True,
        )  # fmt: skip
    except InvalidArgument:
        return False
    return True


#: Whether the `kvcheck-crosshair` profile could be registered.
CROSSHAIR_AVAILABLE = _register_crosshair()
#: Profiles for whole runs (`kvcheck --profile`), by short name; `crosshair` is for the codec
#: properties only, `mutation` for mutation testing.
PROFILES = ("dev", "ci", "nightly")
_ALL = (*PROFILES, "mutation", "crosshair")
PREFIX = "kvcheck-"


def qualified(name: str) -> str:
    """The registered name of one of these profiles, given its short or its full name."""
    short = name.removeprefix(PREFIX)
    if short not in _ALL:
        raise ValueError(f"unknown profile {name!r}: expected one of {', '.join(_ALL)}")
    if short == "crosshair" and not CROSSHAIR_AVAILABLE:
        raise ValueError(
            "the crosshair profile needs the CrossHair backend: pip install 'kvnode-lfm[crosshair]'"
        )
    return PREFIX + short


def settings_for(name: str) -> settings:
    """The settings of one of these profiles, by short or full name."""
    return settings.get_profile(qualified(name))


def default_profile() -> str:
    """The registered name of `KV_PROFILE` if set, else of `ci` under CI, else of `dev`."""
    chosen = os.environ.get("KV_PROFILE")
    if chosen:
        try:
            return qualified(chosen)
        except ValueError as err:
            raise ValueError(f"KV_PROFILE={chosen!r}: {err}") from None
    return qualified("ci" if os.environ.get("CI") else "dev")
