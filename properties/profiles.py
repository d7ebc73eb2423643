"""Hypothesis profiles for the properties: `dev`, `ci`, `nightly`, and `crosshair` when the
CrossHair backend is installed (`pip install 'kvnode-lfm[crosshair]'`).

Each is registered with an explicit parent: a profile registered without one inherits whatever
profile is loaded at that moment, including the built-in `ci` profile Hypothesis loads when the
`CI` variable is set. Select one with `--hypothesis-profile NAME` or `KV_PROFILE=NAME`.
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
settings.register_profile("dev", parent=_BASE, max_examples=40, stateful_step_count=40)
settings.register_profile(
    "ci", parent=_BASE, max_examples=80, stateful_step_count=50, derandomize=True,
    database=None, print_blob=True,
)  # fmt: skip
# Mutation testing runs the suite once per mutant, so this is `ci` with less effort per
# property (the score is measured at this effort). It also runs every test twice in one process
# (once to learn which tests reach which functions, once clean), which trips the health check
# against a test method called from two instances of its class.
settings.register_profile(
    "mutation",
    parent=settings.get_profile("ci"),
    max_examples=25,
    stateful_step_count=25,
    suppress_health_check=[*_QUIET, HealthCheck.differing_executors],
)
settings.register_profile(
    "nightly", parent=_BASE, max_examples=5000, stateful_step_count=100, print_blob=True
)


def _register_crosshair() -> bool:
    """Register `crosshair`: examples found by symbolic execution instead of random draws.

    Meant for the codec properties (`tests/test_codec_properties.py`), nightly; stateful tests are
    far too slow under it. Hypothesis refuses a profile naming a backend that is not installed,
    so without hypothesis-crosshair the profile is simply absent.
    """
    try:
        settings.register_profile(
            "crosshair", parent=_BASE, backend="crosshair", max_examples=200, database=None,
            print_blob=True,
        )  # fmt: skip
    except InvalidArgument:
        return False
    return True


#: Whether the `crosshair` profile could be registered.
CROSSHAIR_AVAILABLE = _register_crosshair()
#: Profiles for whole runs (`kvcheck --profile`); `crosshair` is for the codec properties only.
PROFILES = ("dev", "ci", "nightly")


def default_profile() -> str:
    """`KV_PROFILE` if set, else `ci` under CI, else `dev`."""
    chosen = os.environ.get("KV_PROFILE")
    if chosen:
        if chosen not in (*PROFILES, "crosshair", "mutation", "default"):
            raise ValueError(
                f"KV_PROFILE={chosen!r}: expected one of {', '.join(PROFILES)} or crosshair"
            )
        if chosen == "crosshair" and not CROSSHAIR_AVAILABLE:
            raise ValueError(
                "KV_PROFILE=crosshair needs the CrossHair backend: "
                "pip install 'kvnode-lfm[crosshair]'"
            )
        return chosen
    return "ci" if os.environ.get("CI") else "dev"
