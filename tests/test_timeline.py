"""The HTML timeline writes every field of a history as escaped text, whatever it holds."""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from kvcheck.concurrency.history import History, Operation
from kvcheck.concurrency.linearizability import check
from kvcheck.concurrency.timeline import render_timeline, write_timeline

#: Markup that would run script, close the element it sits in, or open an attribute if pasted.
HOSTILE = [
    '<script>alert("x")</script>',
    "\"'><img src=x onerror=alert(1)>",
    "</title></text></g></svg><script>alert(2)</script>",
    "&amp; &lt; &#60; &",
    "<!-- ]]> <![CDATA[",
]

#: Everything the page itself is made of.
TAGS = {"html", "head", "meta", "title", "style", "body", "h1", "span", "p", "div", "svg"}
TAGS |= {"line", "text", "g", "rect", "pre"}
ATTRIBUTES = {"lang", "charset", "class", "xmlns", "width", "height", "role", "aria-label"}
ATTRIBUTES |= {"x", "y", "x1", "y1", "x2", "y2", "rx", "data-process", "data-op"}


class Page(HTMLParser):
    """What a browser would see in a page: its tags, attributes, comments and text."""

    def __init__(self, page: str):
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.attributes: list[tuple[str, str | None]] = []
        self.comments: list[str] = []
        self.text: list[str] = []
        self.feed(page)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attributes += attrs

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)

    def handle_comment(self, data: str) -> None:
        self.comments.append(data)

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def hostile_history() -> History:
    """Every field a bar shows holds hostile markup: process names, keys, values, scan bounds,
    results and error messages. Process names are recorded as given, so they are strings here."""
    processes: list[Any] = [f"{n}{text}" for n, text in enumerate(HOSTILE)]
    data = [text.encode() for text in HOSTILE]
    ops = [
        Operation(0, processes[0], "put", 0, 1, "ok", key=data[0], value=data[1]),
        Operation(1, processes[1], "delete", 2, 3, "failed", key=data[2], error=HOSTILE[3]),
        Operation(2, processes[2], "put", 4, None, "indeterminate", key=data[3], value=data[4]),
        Operation(3, processes[3], "scan", 5, 6, "ok", start=data[4], end=data[0], result=()),
        Operation(4, processes[4], "put", 7, 8, "indeterminate", key=data[1], value=b"",
                  error=HOSTILE[0]),
        # Reads a value nothing wrote: the culprit, drawn with the explanation below.
        Operation(5, processes[0], "get", 9, 10, "ok", key=data[0], result=data[2]),
        Operation(6, processes[1], "scan", 11, 12, "ok", start=b"", end=None,
                  result=((data[0], data[3]),)),
    ]  # fmt: skip
    return History(ops)


def test_every_field_of_the_timeline_is_escaped_text(tmp_path: Path) -> None:
    history = hostile_history()
    result = check(history)
    assert not result.ok and result.culprit is not None
    path = tmp_path / "timeline.html"
    write_timeline(history, result, path)
    page = path.read_text(encoding="utf-8")

    parsed = Page(page)
    assert set(parsed.tags) <= TAGS, set(parsed.tags) - TAGS
    assert {name for name, _ in parsed.attributes} <= ATTRIBUTES
    assert not parsed.comments
    assert "<script" not in page and "<img" not in page and "<!--" not in page
    # Each hostile string reads back as the text it was: it was escaped, not interpreted.
    shown = "".join(parsed.text)
    for op in history:
        assert ("data-process", str(op.process)) in parsed.attributes
        assert f"process {op.process}" in shown
        assert op.describe() in shown  # in the bar's title
        if op.error is not None:
            assert op.error in shown
    assert result.explain(limit=200) in shown


def test_a_timeline_with_an_unencodable_error_message_is_still_written(tmp_path: Path) -> None:
    # A store's error message can hold a lone surrogate, which no encoding can write.
    op = Operation(0, 0, "get", 0, 1, "failed", key=b"k", error="KVError: \udcff<b>")
    path = tmp_path / "timeline.html"
    write_timeline(History([op]), check(History([op])), path)
    page = path.read_text(encoding="utf-8")
    assert "\\udcff&lt;b&gt;" in page and "<b>" not in page
    assert "\udcff" not in render_timeline(History([op]), None)


def test_a_run_that_failed_is_never_shown_green_even_when_linearizable() -> None:
    op = Operation(id=0, process=0, kind="put", invoke=0, complete=1, outcome="ok", key=b"k",
                   value=b"v")  # fmt: skip
    history = History([op])
    result = check(history)
    assert result.ok
    assert 'class="verdict-ok">linearizable' in render_timeline(history, result)
    failed = render_timeline(history, result, "a clean reopen recovered [], not [(b'k', b'v')]")
    heading = failed.split("<h1>")[1].split("</h1>")[0]
    assert "verdict-ok" not in heading and "verdict-bad" in heading
    assert "FAILED: a clean reopen recovered" in failed and "not [(b&#x27;k&#x27;" in failed
    unchecked = render_timeline(history, None)
    assert "verdict-ok" not in unchecked.split("<h1>")[1].split("</h1>")[0]
    assert "not checked" in unchecked
