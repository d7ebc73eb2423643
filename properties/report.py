"""What `kvcheck` prints and writes: tables, runnable reproductions, regression tests, JUnit XML."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence

import attrs

from properties.coverage import STATES, Coverage
from properties.ops import KINDS, Op


@attrs.define
class PropertyResult:
    """The outcome of running one property against one target."""

    name: str
    target: str  # the module:factory that makes the target
    coverage: Coverage
    seconds: float
    seed: int
    error: BaseException | None = None
    log: list[Op] = attrs.field(factory=list)
    #: Shown instead of operation and state coverage, for checks that have none.
    summary: str | None = None

    @property
    def ok(self) -> bool:
        """True when the property held."""
        return self.error is None

    @property
    def message(self) -> str:
        """The failure's first line."""
        return (
            ""
            if self.error is None
            else f"{type(self.error).__name__}: {self.error}".split("\n")[0]
        )

    @property
    def blob(self) -> str | None:
        """Hypothesis's `@reproduce_failure(...)` line, when it printed one."""
        for note in getattr(self.error, "__notes__", []):
            found = re.search(r"@reproduce_failure\(.*\)", note)
            if found:
                return found.group(0)
        return None


def program(result: PropertyResult, indent: str = "") -> str:
    """The minimal failing sequence as a Python program that replays it."""
    lines = [
        "from properties import Harness, load_factory",
        "",
        f"h = Harness(load_factory({result.target!r})())",
        *(op.code("h") for op in result.log),
        "h.close()",
    ]
    return "\n".join(indent + line if line else line for line in lines)


def regression_tests(results: Sequence[PropertyResult]) -> str:
    """A pytest module with one test per failed result; each fails until the bug is fixed."""
    parts = [
        '"""Regression tests written by kvcheck: each replays a minimal failing sequence.',
        "",
        "Each fails until its bug is fixed; then keep it as a regression test.",
        '"""',
        "",
        "from properties import Harness, load_factory",
    ]
    for number, result in enumerate(r for r in results if not r.ok):
        name = re.sub(r"\W+", "_", f"{result.name}_{number}").strip("_").lower()
        parts += ["", "", f"def test_{name}() -> None:"]
        parts.append(f'    """{result.message[:200].replace(chr(92), "/")!s}"""')
        parts.append(f"    h = Harness(load_factory({result.target!r})())")
        parts.append("    try:")
        parts += [f"        {op.code('h')}" for op in result.log]
        parts += ["    finally:", "        h.close()"]
    return "\n".join(parts) + "\n"


def table(results: Sequence[PropertyResult]) -> str:
    """One row per property, then what each one covered and missed."""
    width = max([len("property")] + [len(r.name) for r in results])
    head = f"{'property':{width}} {'result':7} {'examples':>8} {'steps':>8} {'time':>7}  states"
    rows = [head, "-" * len(head)]
    for r in results:
        cov = r.coverage
        reachable = len(STATES) - len(cov.not_applicable)
        reached = reachable - len(cov.missed_states())
        rows.append(
            f"{r.name:{width}} {'ok' if r.ok else 'FAILED':7} {cov.examples:>8} {cov.steps:>8} "
            f"{r.seconds:>6.1f}s  {reached}/{reachable}"
        )
    for r in results:
        cov = r.coverage
        rows += ["", r.name]
        if r.summary is not None:
            rows.append(f"  {r.summary}")
            continue
        used = [k for k in KINDS if k not in cov.not_applicable]
        reached_text = ", ".join(f"{s} {cov.states[s]}" for s in STATES if cov.states[s])
        rows.append("  operations: " + ", ".join(f"{k} {cov.ops[k]}" for k in used))
        rows.append("  reached:    " + (reached_text or "nothing"))
        missed = cov.missed_states() + [f"{k} (operation)" for k in cov.missed_ops()]
        rows.append("  MISSED:     " + ", ".join(missed) if missed else "  missed:     nothing")
        not_applicable = sorted(x for x in cov.not_applicable if x in STATES)
        if not_applicable:
            rows.append("  n/a:        " + ", ".join(not_applicable))
    return "\n".join(rows)


def junit_xml(results: Sequence[PropertyResult]) -> bytes:
    """A JUnit XML report: one test case per property, failures carrying the reproduction."""
    suite = ET.Element(
        "testsuite",
        name="kvcheck",
        tests=str(len(results)),
        failures=str(sum(not r.ok for r in results)),
        time=f"{sum(r.seconds for r in results):.3f}",
    )
    for r in results:
        case = ET.SubElement(
            suite, "testcase", classname="kvcheck", name=r.name, time=f"{r.seconds:.3f}"
        )
        cov = r.coverage
        summary = (
            f"examples {cov.examples}, steps {cov.steps}, seed {r.seed}; "
            f"missed: {', '.join(cov.missed_states() + cov.missed_ops()) or 'nothing'}"
        )
        ET.SubElement(case, "system-out").text = summary
        if not r.ok:
            failure = ET.SubElement(case, "failure", message=r.message)
            failure.text = program(r)
    return bytes(ET.tostring(suite, encoding="utf-8", xml_declaration=True))
