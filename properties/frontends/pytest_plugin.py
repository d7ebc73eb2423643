"""pytest plugin: `pytest --kv-target module:factory` runs the shipped properties on a store.

Registered through the `pytest11` entry point as `kvcheck` (`-p no:kvcheck` turns it off), so it
loads in every pytest run of an environment where this package is installed. It therefore acts
only when asked: at import it needs nothing but pytest; without `--kv-target` (or the `kv_target`
ini option) it adds no items and imports neither Hypothesis nor the properties. Its Hypothesis
profiles are namespaced (`kvcheck-dev`, ...) and apply to its own items only, never to the
user's tests, unless the user picks one with `--hypothesis-profile`.

Each target gets one item per property of `kvcheck`'s main job (`kvcheck::conformance[module:
factory]`, `crashes[...]`, `faults[...]`, `damage[...]`, `races[...]`, `codecs[...]`), each with
a stable node id (so `--co`, `--lf`, `-k`, JUnit and pytest-xdist see it like any test) and its
own key in the example database, so one target's passing run never deletes another's saved
failure. A property that does not apply to the target is skipped, with the reason `kvcheck`
gives for listing it as n/a. A failure is
reported as the property's message, the minimal sequence as a program, and the command that
replays it, not as pytest's and Hypothesis's internals.
"""

from __future__ import annotations

import contextlib
from typing import Any

import pytest

#: The collector the items hang from: their node ids start with it.
COLLECTOR = "kvcheck"


def pytest_addoption(parser: pytest.Parser) -> None:
    """Add `--kv-target` and `--kv-profile`, and their ini options."""
    group = parser.getgroup("kvcheck", "key-value store properties (kvcheck)")
    group.addoption(
        "--kv-target",
        action="append",
        default=[],
        metavar="MODULE:FACTORY",
        help="run kvcheck's properties against the store this factory makes (repeatable)",
    )
    group.addoption(
        "--kv-profile",
        default=None,
        metavar="NAME",
        help="kvcheck profile for the --kv-target items: dev, ci or nightly (default: ci under "
        "CI, else dev; --hypothesis-profile overrides it)",
    )
    parser.addini("kv_target", "module:factory targets, as --kv-target", type="linelist")
    parser.addini("kv_profile", "kvcheck profile for the --kv-target items, as --kv-profile")


def _targets(config: pytest.Config) -> list[str]:
    given: list[str] = config.getoption("kv_target") or []
    return given or [str(spec) for spec in config.getini("kv_target")]


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    """With targets asked for: register the namespaced profiles before `--hypothesis-profile`
    is read, and refuse a target that cannot be loaded as a usage error (exit 4)."""
    targets = _targets(config)
    if not targets:
        return
    from kvcheck.machine.targets import load_factory

    with contextlib.suppress(ImportError):  # without Hypothesis the items report it
        import kvcheck.frontends.profiles  # noqa: F401
    for spec in targets:
        try:
            load_factory(spec)
        except ValueError as err:
            raise pytest.UsageError(f"--kv-target {spec}: {err}") from None


@pytest.hookimpl(tryfirst=True)  # before -k, -m and --lf select among the items
def pytest_collection_modifyitems(
    session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
) -> None:
    """Append one item per shipped property and target."""
    targets = _targets(config)
    if not targets:
        return
    with contextlib.suppress(ImportError):
        from kvcheck.frontends import constants

        # Here, not at configure time (when Hypothesis asks plugins to keep off its storage):
        # the items draw the same examples whatever else the run imports.
        constants.settle()
    collector = KVCheckCollector.from_parent(session, name=COLLECTOR, nodeid=COLLECTOR)
    collector.targets = tuple(targets)
    made = collector.collect()
    # Reported like a collected file, so the terminal counts the items and xdist, --lf and the
    # other plugins see them as collected.
    config.hook.pytest_collectreport(
        report=pytest.CollectReport(collector.nodeid, "passed", None, list(made))
    )
    items.extend(item for item in made if isinstance(item, pytest.Item))


class KVCheckCollector(pytest.Collector):
    """The parent of the plugin's items (they are made by the plugin, not found in a file)."""

    targets: tuple[str, ...] = ()

    def collect(self) -> list[pytest.Item | pytest.Collector]:
        """One item per shipped property and target."""
        # The node id is given whole, so it is parsed as pytest parses the ids it reads back
        # (for --lf): with the target as the bracketed parameter.
        from kvcheck.frontends.applicable import PROPERTIES

        return [
            KVPropertyItem.from_parent(
                self, name=f"{kind}[{spec}]", nodeid=f"{self.nodeid}::{kind}[{spec}]", spec=spec,
                kind=kind,
            )
            for spec in self.targets
            for kind in PROPERTIES
        ]  # fmt: skip


class KVPropertyItem(pytest.Item):
    """One of `kvcheck`'s properties (`kind`) against one target."""

    def __init__(self, *, spec: str, kind: str = "conformance", **kwargs: Any):
        super().__init__(**kwargs)
        self.spec = spec
        self.kind = kind
        self._log: list[Any] = []

    def _settings(self) -> Any:
        """The item's profile: `--hypothesis-profile` if the user gave one, else kvcheck's
        (`--kv-profile`, the `kv_profile` ini option, `KV_PROFILE`, ci under CI, dev); the
        example database keyed by target and property."""
        from hypothesis import settings

        from kvcheck.frontends import profiles
        from kvcheck.frontends.database import keyed

        config = self.config
        if config.getoption("hypothesis_profile", None):
            base = settings()  # the profile --hypothesis-profile loaded
        else:
            chosen = config.getoption("kv_profile") or config.getini("kv_profile")
            try:
                name = profiles.qualified(chosen) if chosen else profiles.default_profile()
            except ValueError as err:
                raise pytest.UsageError(f"--kv-profile: {err}") from None
            base = settings.get_profile(name)
        return settings(base, database=keyed(base.database, self.name))

    def runtest(self) -> None:
        """Run the property against the target (skipped, with why, where it does not apply)."""
        from hypothesis.stateful import run_state_machine_as_test

        from kvcheck.frontends.applicable import not_applicable
        from kvcheck.machine.conformance import ConformanceMachine, conformance_machine
        from kvcheck.machine.targets import load_factory

        factory = load_factory(self.spec)
        probe = factory()
        reason = not_applicable(probe)[self.kind]
        node_class = getattr(probe, "node_class", None)
        probe.cleanup()
        if reason is not None:
            pytest.skip(f"n/a: {reason}")
        if self.kind in ("races", "codecs"):
            from kvcheck.concurrency.property import race_test
            from kvcheck.frontends import checks

            assert node_class is not None  # they apply only to a SimDiskTarget
            config = self._settings()
            if self.kind == "races":
                race_test(node_class, config)()
            else:
                for test in checks.codec_tests(node_class, config).values():
                    test()
            return
        machine = conformance_machine(
            factory,
            crashes=self.kind != "conformance",
            faults=self.kind == "faults",
            damage=self.kind == "damage",
        )
        try:
            run_state_machine_as_test(machine, settings=self._settings())
        finally:
            harness = ConformanceMachine.last_harness
            self._log = [] if harness is None else list(harness.log)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        """The property's message, the minimal sequence as a program, and how to replay it."""
        from kvcheck.frontends.report import PropertyResult, program

        error = excinfo.value
        message = f"{type(error).__name__}: {error}".strip()
        lines = message.splitlines()[:12]
        if not isinstance(error, AssertionError) and type(error).__module__ != "kvcheck":
            # Not a property's verdict (a crash in the store or the factory): say where.
            entry = excinfo.traceback[-1]
            lines.append(f"  raised at {entry.path}:{entry.lineno + 1}")
        if self._log:
            result = PropertyResult(self.name, self.spec, None, 0.0, 0, log=self._log)  # type: ignore[arg-type]
            lines += [
                "",
                f"Minimal failing sequence ({len(self._log)} operations), as a program:",
                "",
                program(result, indent="    "),
            ]
        lines += [
            "",
            "Replay (the example database keeps the failure, which then runs first):",
            f"  pytest --kv-target {self.spec} --lf",
            f"  kvcheck --target {self.spec} --only {self.kind}   (the same property, with "
            "kvcheck's report)",
        ]
        return "\n".join(lines)

    def reportinfo(self) -> tuple[str, int | None, str]:
        """Where the test comes from, for pytest's report."""
        return self.spec, None, self.name
