"""`kvcheck --json PATH`: the run as JSON, for CI dashboards and scripts.

The document follows `SCHEMA` (JSON Schema, draft 2020-12), versioned by its `schema` field: a
change that removes or retypes a field bumps it; added fields do not. Version 1:

- `schema` ("kvcheck-report/1"), `kvcheck` (the package version), `seed`, `budget_seconds`,
  `interrupted` (Ctrl-C ended the run), `ok` (every property that ran held);
- `properties`: one object per property run, with `name` (`conformance[simdisk]`), `target`
  (its `module:factory`), `result` (`ok`, `failed`, `target-failed` or `n/a`, with the reason
  in `not_applicable`), `examples`, `steps`,
  `seconds`, `seed` (of the batch that failed, or the first), `coverage` (`reached`: state to
  count; `missed` and `not_applicable`: state names; `operations`: kind to count; `audit`: what
  a target's fsync audit counted, for a directory store) and, when it
  failed, `failure`: `message`, `operations` (how many), `program` (the minimal sequence as
  Python source), `replay` (the command that replays it), `minimal` (false when shrinking
  stopped at the deadline, so the program fails but may be longer than it needs),
  `replayed` (the failure was replayed from the example database, not found afresh) and
  `found_after_seconds` (from the property's start to the first failing example, before
  shrinking; null when not measured).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from kvcheck.frontends.report import PropertyResult, program
from kvcheck.machine.targets import TargetError
from kvnode.cli import version

VERSION = "kvcheck-report/1"

_COUNTS = {"type": "object", "additionalProperties": {"type": "integer", "minimum": 0}}
_NAMES = {"type": "array", "items": {"type": "string"}}

#: The JSON Schema every report validates against.
SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "kvcheck report, version 1",
    "type": "object",
    "required": ["schema", "kvcheck", "seed", "budget_seconds", "interrupted", "ok", "properties"],
    "properties": {
        "schema": {"const": VERSION},
        "kvcheck": {"type": "string"},
        "seed": {"type": "integer", "minimum": 0},
        "budget_seconds": {"type": "number", "exclusiveMinimum": 0},
        "interrupted": {"type": "boolean"},
        "ok": {"type": "boolean"},
        "properties": {
            "type": "array",
            "items": {
                "type": "object",
                "required": [
                    "name", "target", "result", "examples", "steps", "seconds", "seed",
                    "coverage",
                ],
                "properties": {
                    "name": {"type": "string"},
                    "target": {"type": "string"},
                    "result": {"enum": ["ok", "failed", "target-failed", "n/a"]},
                    "not_applicable": {"type": ["string", "null"]},
                    "examples": {"type": "integer", "minimum": 0},
                    "steps": {"type": "integer", "minimum": 0},
                    "seconds": {"type": "number", "minimum": 0},
                    "seed": {"type": "integer", "minimum": 0},
                    "summary": {"type": ["string", "null"]},
                    "coverage": {
                        "type": "object",
                        "required": ["reached", "missed", "not_applicable", "operations"],
                        "properties": {
                            "reached": _COUNTS,
                            "missed": _NAMES,
                            "not_applicable": _NAMES,
                            "operations": _COUNTS,
                            "audit": _COUNTS,
                        },
                    },
                    "failure": {
                        "type": "object",
                        "required": ["message", "operations", "program", "replay"],
                        "properties": {
                            "message": {"type": "string"},
                            "operations": {"type": "integer", "minimum": 0},
                            "program": {"type": "string"},
                            "replay": {"type": "string"},
                            "minimal": {"type": "boolean"},
                            "replayed": {"type": "boolean"},
                            "found_after_seconds": {"type": ["number", "null"], "minimum": 0},
                        },
                    },
                },
            },
        },
    },
}  # fmt: skip


def _result(r: PropertyResult) -> dict[str, Any]:
    cov = r.coverage
    entry: dict[str, Any] = {
        "name": r.name,
        "target": r.target,
        "result": "n/a"
        if r.not_applicable
        else "ok"
        if r.ok
        else ("target-failed" if isinstance(r.error, TargetError) else "failed"),
        "not_applicable": r.not_applicable,
        "examples": cov.examples,
        "steps": cov.steps,
        "seconds": round(r.seconds, 3),
        "seed": r.seed,
        "summary": r.summary,
        "coverage": {
            "reached": {state: count for state, count in cov.states.items() if count},
            "missed": cov.missed_states() + cov.missed_ops(),
            "not_applicable": sorted(cov.not_applicable),
            "operations": {kind: count for kind, count in cov.ops.items() if count},
            "audit": dict(cov.audit),
        },
    }
    if not r.ok:
        entry["failure"] = {
            "message": r.message,
            "operations": len(r.log),
            "program": program(r),
            "replay": r.replay,
            "minimal": not r.shrink_cut,
            "replayed": r.replayed,
            "found_after_seconds": None if r.found_after is None else round(r.found_after, 3),
        }
    return entry


def report(
    results: Sequence[PropertyResult], *, seed: int, budget: float, interrupted: bool
) -> dict[str, Any]:
    """The run as a JSON-ready document following `SCHEMA`."""
    return {
        "schema": VERSION,
        "kvcheck": version(),
        "seed": seed,
        "budget_seconds": budget,
        "interrupted": interrupted,
        "ok": all(r.ok for r in results),
        "properties": [_result(r) for r in results],
    }


def write_json(
    path: str, results: Sequence[PropertyResult], *, seed: int, budget: float, interrupted: bool
) -> None:
    """Write the report to `path`."""
    document = report(results, seed=seed, budget=budget, interrupted=interrupted)
    with open(path, "w", encoding="utf-8") as out:
        json.dump(document, out, indent=2, sort_keys=False)
        out.write("\n")
