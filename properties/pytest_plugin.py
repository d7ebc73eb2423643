"""pytest plugin: `pytest --kv-target module:factory` runs the shipped properties on a store.

Registered through the `pytest11` entry point, so it loads in every pytest run of an environment
where this package is installed. It therefore imports nothing but pytest at import time, and
imports Hypothesis and the properties only when a `--kv-target` test runs: a run without them,
or without `--kv-target`, is never affected.
"""

from __future__ import annotations

import contextlib
from typing import Any

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    """Add `--kv-target`."""
    group = parser.getgroup("kvnode", "key-value store properties")
    group.addoption(
        "--kv-target",
        action="append",
        default=[],
        metavar="MODULE:FACTORY",
        help="run the conformance properties against the store this factory makes (repeatable)",
    )


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    """Register the dev/ci/nightly Hypothesis profiles before `--hypothesis-profile` is read."""
    # Without Hypothesis there is nothing to register, and nothing here will need it.
    with contextlib.suppress(ImportError):
        import properties.profiles  # noqa: F401


def pytest_collection_modifyitems(
    session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
) -> None:
    """Append one test per shipped property and `--kv-target`."""
    for spec in config.getoption("kv_target"):
        items.append(KVPropertyItem.from_parent(session, name=f"conformance[{spec}]", spec=spec))


class KVPropertyItem(pytest.Item):
    """The conformance state machine against one target."""

    def __init__(self, *, spec: str, **kwargs: Any):
        super().__init__(**kwargs)
        self.spec = spec
        self._log: list[Any] = []

    def runtest(self) -> None:
        """Run the machine under the loaded Hypothesis profile."""
        from hypothesis.stateful import run_state_machine_as_test

        from properties.conformance import ConformanceMachine, conformance_machine
        from properties.targets import load_factory

        try:
            factory = load_factory(self.spec)
        except ValueError as err:
            raise pytest.UsageError(f"--kv-target: {err}") from None
        try:
            run_state_machine_as_test(conformance_machine(factory))
        finally:
            harness = ConformanceMachine.last_harness
            self._log = [] if harness is None else list(harness.log)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        """The failure, then its minimal sequence as a replayable program."""
        from properties.report import PropertyResult, program

        lines = [str(super().repr_failure(excinfo, style))]
        if self._log:
            result = PropertyResult(self.name, self.spec, None, 0.0, 0, log=self._log)  # type: ignore[arg-type]
            lines += [
                "",
                f"Minimal failing sequence ({len(self._log)} operations):",
                "",
                program(result, indent="    "),
            ]
        return "\n".join(lines)

    def reportinfo(self) -> tuple[str, int | None, str]:
        """Where the test comes from, for pytest's report."""
        return self.spec, None, self.name
