"""A history as a self-contained HTML timeline: one lane per process, one bar per operation.

The file needs nothing else (inline CSS and SVG, no scripts), so it can be attached to a CI run
and opened anywhere. Bars span an operation's interval; an operation that never completed runs
off the right edge with a dashed outline. Given a checker result, the bars carry their position
in the linearization (or in the longest linearizable prefix, ``#1``, ``#2``, ...), and the
operation that could not be placed is red. Hovering over a bar shows its full description.

Everything the history holds is untrusted: keys, values and results are whatever a store
returned, error messages whatever it raised, and process names whatever the caller recorded. So
every field goes into the page through `_text`, which escapes it for HTML text and attributes
alike, and no text is written any other way.
"""

from __future__ import annotations

from html import escape
from pathlib import Path

from kvcheck.concurrency.history import History, Operation
from kvcheck.concurrency.linearizability import LinearizabilityResult

_LABEL_WIDTH = 110
_LANE_HEIGHT = 64
_BAR_TOP = 22  # within a lane: room above the bar for the linearization number
_BAR_HEIGHT = 32
_AXIS_HEIGHT = 26
_CHAR_WIDTH = 6.7  # of the 11px monospace labels, to decide which label fits a bar

_CSS = """
body { font-family: sans-serif; margin: 1.5em; color: #222; }
h1 { font-size: 1.3em; }
.verdict-ok { color: #1a7f37; }
.verdict-bad { color: #c62828; }
.verdict-none { color: #555; }
.legend span { display: inline-block; padding: 0 .5em; margin-right: .6em;
  border: 1px solid #555; font-size: .85em; }
.scroll { overflow-x: auto; border: 1px solid #ddd; }
svg text { font-family: monospace; font-size: 11px; }
.lane-bg { fill: #fafafa; } .lane-bg.odd { fill: #f0f0f0; }
.lane-label { font-family: sans-serif; font-size: 12px; font-weight: bold; }
.grid { stroke: #ddd; } .axis-label { fill: #777; font-size: 10px; }
.op rect { stroke: #555; stroke-width: 1; }
.ok rect, span.ok { fill: #cfe3fb; background: #cfe3fb; }
.failed rect, span.failed { fill: #e0e0e0; background: #e0e0e0; }
.indeterminate rect, span.indeterminate { fill: #fff1c9; background: #fff1c9;
  stroke-dasharray: 5 3; }
.pending rect, span.pending { stroke: #e65100; stroke-width: 2; }
.culprit rect, span.culprit { fill: #e53935; background: #e53935; stroke: #8e0000;
  stroke-width: 3; }
.culprit text.label { fill: #fff; font-weight: bold; }
.order { fill: #1a237e; font-weight: bold; }
pre { background: #f6f6f6; padding: 1em; overflow-x: auto; }
"""


def _text(value: object) -> str:
    """`value` as HTML text or a quoted attribute value. A lone surrogate (an error message can
    hold one) becomes its escape, since no encoding can write it and the page must still save."""
    escaped = escape(str(value), quote=True)
    return escaped.encode("utf-8", "backslashreplace").decode("utf-8")


def write_timeline(
    history: History,
    result: LinearizabilityResult | None,
    path: str | Path,
    problem: str | None = None,
) -> None:
    """Write `history` (annotated with `result`, if given) as an HTML page to `path`; with
    `problem`, the run failed for that reason, whatever the linearizability verdict."""
    Path(path).write_text(render_timeline(history, result, problem), encoding="utf-8")


def render_timeline(
    history: History, result: LinearizabilityResult | None, problem: str | None = None
) -> str:
    """The page `write_timeline` writes, as a string. The verdict is never green for a run
    that failed: a deadlock or a bad recovery fails it even when its history is linearizable."""
    if result is not None and not result.ok:
        verdict = '<span class="verdict-bad">NOT linearizable</span>'
    elif problem is not None:
        first = problem.splitlines()[0] if problem else "failed"
        verdict = f'<span class="verdict-bad">FAILED: {_text(first)}</span>'
    elif result is None:
        verdict = '<span class="verdict-none">not checked</span>'
    else:
        verdict = '<span class="verdict-ok">linearizable</span>'
    explanation = "" if result is None else f"<pre>{_text(result.explain(limit=200))}</pre>"
    if problem is not None and (result is None or result.ok):
        explanation = f"<pre>{_text(problem)}</pre>" + explanation
    return "\n".join(
        [
            "<!DOCTYPE html>",
            '<html lang="en">',
            '<head><meta charset="utf-8"><title>History timeline</title>',
            f"<style>{_CSS}</style></head>",
            "<body>",
            f"<h1>History of {_text(len(history))} operations by "
            f"{_text(len(history.processes))} processes: "
            f"{verdict}</h1>",
            _legend(),
            f'<div class="scroll">{_svg(history, result)}</div>',
            explanation,
            "</body>",
            "</html>",
            "",
        ]
    )


def _legend() -> str:
    items = [
        ("ok", "completed"),
        ("failed", "failed (did not happen)"),
        ("indeterminate", "indeterminate (may have happened)"),
        ("pending", "pending when the search got stuck"),
        ("culprit", "could not be placed"),
    ]
    spans = "".join(f'<span class="{_text(cls)}">{_text(text)}</span>' for cls, text in items)
    return (
        f'<p class="legend">{spans} #n: position in the linearization '
        "(or in the longest linearizable prefix)</p>"
    )


def _svg(history: History, result: LinearizabilityResult | None) -> str:
    # Only the order of events matters, so times are replaced by their rank: a gap in the clock
    # (say, a hand-written history counting in hundreds) does not stretch the picture.
    times = sorted(
        {op.invoke for op in history} | {op.complete for op in history if op.complete is not None}
    )
    rank = {t: n for n, t in enumerate(times)}
    ticks = len(times) + 1  # one more: where never-completed operations run off to
    scale = max(8.0, min(120.0, 1400 / max(ticks, 1)))
    width = _LABEL_WIDTH + int(ticks * scale) + 20
    processes = history.processes
    height = _AXIS_HEIGHT + _LANE_HEIGHT * len(processes)

    def x(t: int | None) -> float:
        return _LABEL_WIDTH + (ticks if t is None else rank[t]) * scale + 4

    order = {op.id: n for n, op in enumerate(result.linearization, 1)} if result else {}
    culprit = result.culprit.id if result and result.culprit else None
    pending = {op.id for op in result.pending} if result else set()

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'role="img" aria-label="timeline">'
    ]
    step = max(1, int(60 // scale))
    for n in range(0, len(times), step):
        gx = _LABEL_WIDTH + n * scale + 4
        parts.append(
            f'<line class="grid" x1="{gx:.1f}" y1="{_AXIS_HEIGHT - 6}" x2="{gx:.1f}" '
            f'y2="{height}"/><text class="axis-label" x="{gx + 2:.1f}" y="{_AXIS_HEIGHT - 10}">'
            f"t={_text(times[n])}</text>"
        )
    lane_of = {p: n for n, p in enumerate(processes)}
    for process in processes:
        top = _AXIS_HEIGHT + lane_of[process] * _LANE_HEIGHT
        odd = " odd" if lane_of[process] % 2 else ""
        parts.append(
            f'<g class="lane" data-process="{_text(process)}">'
            f'<rect class="lane-bg{odd}" x="0" y="{top}" width="{width}" height="{_LANE_HEIGHT}"/>'
            f'<text class="lane-label" x="8" y="{top + _BAR_TOP + 17}">'
            f"process {_text(process)}</text>"
        )
        for op in history:
            if op.process == process:
                classes: list[str] = [op.outcome]
                if op.id == culprit:
                    classes.append("culprit")
                elif op.id in pending:
                    classes.append("pending")
                parts.append(_bar(op, classes, order.get(op.id), x(op.invoke), x(op.complete), top))
        parts.append("</g>")
    parts.append("</svg>")
    return "\n".join(parts)


def _bar(
    op: Operation, classes: list[str], position: int | None, x1: float, x2: float, top: float
) -> str:
    width = max(x2 - x1, 4.0)
    y = top + _BAR_TOP
    title = f"#{position} " if position is not None else ""
    title += f"op {op.id}: {op.describe()}"
    call, reply = _fitting_labels(op, width - 6)
    number = (
        ""
        if position is None
        else f'<text class="order" x="{x1 + 1:.1f}" y="{y - 4}">#{_text(position)}</text>'
    )
    text = "".join(
        f'<text class="label" x="{x1 + 4:.1f}" y="{y + dy}">{_text(line)}</text>'
        for line, dy in ((call, 13), (reply, 27))
        if line
    )
    return (
        f'<g class="op {_text(" ".join(classes))}" data-op="{_text(op.id)}">'
        f"<title>{_text(title)}</title>"
        f'<rect x="{x1:.1f}" y="{y}" width="{width:.1f}" height="{_BAR_HEIGHT}" rx="3"/>'
        f"{number}{text}</g>"
    )


def _fitting_labels(op: Operation, room: float) -> tuple[str, str]:
    """Two lines, as detailed as fit in `room` pixels: the call (or its kind), then the reply."""
    call = next((text for text in (op.call(), op.kind) if len(text) * _CHAR_WIDTH <= room), "")
    reply = op.reply() if len(op.reply()) * _CHAR_WIDTH <= room else ""
    return call, reply
