"""What `kvcheck` prints and writes: tables, runnable reproductions, regression tests, JUnit XML.

Reproductions and regression tests are Python source built from what a store returned and what
it raised, which are untrusted: a store under test can return any bytes, and its errors can say
anything. So every value written into source is a literal made by `ascii` (`repr` with every
non-ASCII character escaped), never text pasted between quotes, and the one name that is not a
literal, the harness method, must be an operation kind. The generated file is then ASCII
whatever the messages held, so it reads back the same under any encoding.
"""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence

import attrs

from kvcheck.machine.coverage import STATES, Coverage
from kvcheck.machine.ops import KINDS, Op


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
    #: Shrinking stopped at the deadline: the sequence may not be minimal.
    shrink_cut: bool = False
    #: The failure was replayed from the example database, not found by this run's search.
    replayed: bool = False
    #: Seconds from the property's start until an example first failed (before shrinking).
    found_after: float | None = None
    #: A program that replays the failure, for checks whose failures are not a harness log.
    reproduction: str | None = None
    #: Why the property does not apply to this target (it was not run).
    not_applicable: str | None = None

    @property
    def ok(self) -> bool:
        """True when the property held."""
        return self.error is None

    @property
    def message(self) -> str:
        """The failure's first line."""
        if self.error is None:
            return ""
        # A failure carried from a worker process keeps its original type's name.
        kind = getattr(self.error, "type_name", type(self.error).__name__)
        return f"{kind}: {self.error}".split("\n")[0]

    @property
    def replay(self) -> str:
        """The command that replays this property's failing batch as its first."""
        kind = self.name.split("[")[0]
        return f"kvcheck --target {self.target} --only {kind} --seed {self.seed}"

    @property
    def blob(self) -> str | None:
        """Hypothesis's `@reproduce_failure(...)` line, when it printed one."""
        for note in getattr(self.error, "__notes__", []):
            found = re.search(r"@reproduce_failure\(.*\)", note)
            if found:
                return found.group(0)
        return None


def literal(value: object) -> str:
    """`value` as a Python literal that evaluates to an equal value and does nothing else: None,
    a bool, an int, a finite float, a str, bytes (a run of one byte as `b"x" * n`), or a tuple
    of these. Anything else is refused: its `repr` could be any text at all."""
    if value is None or isinstance(value, bool):
        return repr(value)
    if isinstance(value, int):
        return repr(int(value))  # an int subclass (an enum) may repr as anything
    if isinstance(value, float) and math.isfinite(value):
        return repr(float(value))
    if isinstance(value, str):
        return ascii(str.__str__(value))
    if isinstance(value, bytes):
        data = bytes(value)
        if len(data) > 8 and data == data[:1] * len(data):
            return f"{data[:1]!r} * {len(data)}"
        return repr(data)
    if isinstance(value, tuple):
        inner = ", ".join(literal(item) for item in value)
        return f"({inner},)" if len(value) == 1 else f"({inner})"
    raise TypeError(f"no literal for a {type(value).__name__} in generated source")


def call(op: Op, receiver: str = "h") -> str:
    """`op` as a call of the harness method it names, with literal arguments."""
    if op.kind not in KINDS or not op.kind.isidentifier():
        raise ValueError(f"{op.kind!r} is not an operation kind")
    return f"{receiver}.{op.kind}({', '.join(literal(arg) for arg in op.args)})"


def program(result: PropertyResult, indent: str = "") -> str:
    """The minimal failing sequence as a Python program that replays it."""
    if result.reproduction is not None:
        return "\n".join(
            indent + line if line else line for line in result.reproduction.split("\n")
        )
    lines = [
        "from kvcheck import Harness, load_factory",
        "",
        f"h = Harness(load_factory({literal(result.target)})())",
        *(call(op) for op in result.log),
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
        "from kvcheck import Harness, load_factory",
    ]
    for number, result in enumerate(r for r in results if not r.ok):
        # ASCII only: `\w` would also keep letters that are not valid in identifiers.
        name = re.sub(r"[^0-9a-z]+", "_", f"{result.name}_{number}".lower()).strip("_")
        parts += ["", "", f"def test_{name}() -> None:"]
        parts.append(f"    {literal(result.message[:200])}")
        if result.reproduction is not None:
            parts.append(program(result, indent="    "))
            continue
        parts.append(f"    h = Harness(load_factory({literal(result.target)})())")
        parts.append("    try:")
        parts += [f"        {call(op)}" for op in result.log]
        parts += ["    finally:", "        h.close()"]
    return "\n".join(parts) + "\n"


def table(results: Sequence[PropertyResult]) -> str:
    """One row per property, then what each one covered and missed."""
    width = max([len("property")] + [len(r.name) for r in results])
    head = f"{'property':{width}} {'result':7} {'examples':>8} {'steps':>8} {'time':>7}  states"
    rows = [head, "-" * len(head)]
    for r in results:
        cov = r.coverage
        reachable = sum(s not in cov.not_applicable for s in STATES)
        reached = reachable - len(cov.missed_states())
        result = "n/a" if r.not_applicable else "ok" if r.ok else "FAILED"
        states = f"{reached}/{reachable}" if reachable else "-"
        rows.append(
            f"{r.name:{width}} {result:7} {cov.examples:>8} {cov.steps:>8} "
            f"{r.seconds:>6.1f}s  {states}"
        )
    for r in results:
        cov = r.coverage
        rows += ["", r.name]
        if r.not_applicable is not None:
            rows.append(f"  n/a: {r.not_applicable}")
            continue
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
        if cov.audit:
            audit = ", ".join(f"{what} {n}" for what, n in sorted(cov.audit.items()))
            rows.append("  fsync audit: " + audit)
    return "\n".join(rows)


#: Characters XML 1.0 cannot hold at all, escaped or not (and lone surrogates, which no
#: encoding can write).
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _xml_text(text: str) -> str:
    """`text` with what XML cannot hold written as a Python escape, so the report still parses."""
    return _NOT_XML.sub(lambda found: ascii(found[0])[1:-1], text)


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
            suite, "testcase", classname="kvcheck", name=_xml_text(r.name), time=f"{r.seconds:.3f}"
        )
        cov = r.coverage
        summary = (
            f"examples {cov.examples}, steps {cov.steps}, seed {r.seed}; "
            f"missed: {', '.join(cov.missed_states() + cov.missed_ops()) or 'nothing'}"
        )
        ET.SubElement(case, "system-out").text = _xml_text(summary)
        if not r.ok:
            failure = ET.SubElement(case, "failure", message=_xml_text(r.message))
            failure.text = program(r)
    return bytes(ET.tostring(suite, encoding="utf-8", xml_declaration=True))
