"""Reports built from what a store returned and raised: the regression tests and programs kvcheck
writes hold nothing but literals, and the JUnit report parses, whatever the store said."""

from __future__ import annotations

import ast
import importlib.util
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from kvcheck.frontends.report import PropertyResult, junit_xml, literal, program, regression_tests
from kvcheck.machine.coverage import Coverage
from kvcheck.machine.ops import KINDS, Op, delete, dirty_reboot, fail_disk, get, put, scan

TARGET = "kvcheck.machine.targets:simdisk_target"
#: Characters outside XML 1.0's `Char` production.
NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")

#: Text that breaks out of a quoted string, a docstring, a line or a format string if pasted.
#: The newline is last: a result's message is its error's first line.
HOSTILE_TEXT = [
    '"""',
    "'''",
    "\\",
    "\\x00",
    "\r",
    "\x00",
    "\u2028",
    "\u2029",
    "\x85",
    "{}",
    "{0!r:>{1}}",
    "\udcff",  # a lone surrogate: no encoding can write it
    "\N{RIGHT-TO-LEFT OVERRIDE}",
    "é",
    "# ",
    "\\N{",
    "\n",
]
HOSTILE_BYTES = [
    b'"""',
    b"'''",
    b"\\",
    b"\x00",
    b"\n",
    b"\xff\xfe\x80",  # not UTF-8
    "\u2028".encode(),
    b"{}",
]


def payloads(marker: Path) -> list[str]:
    """Text that creates `marker` if pasted into source between quotes: one for each kind of
    quote, the first as it breaks out of a triple-quoted docstring. The code itself uses the
    other kind of quote, so that `repr` leaves it unescaped."""
    dq = f'__import__("pathlib").Path("{marker}").touch()'
    sq = f"__import__('pathlib').Path('{marker}').touch()"
    return [f'"""+{dq}+"""', f"'''+{sq}+'''", f'"+{dq}+"', f"'+{sq}+'"]


def hostile_results(marker: Path) -> list[PropertyResult]:
    """Failed results whose names, messages, targets and operations hold the payloads and every
    hostile string. The first two have a target that imports, so that they can run: the first
    holds just what a store returning a payload makes kvcheck write, the second everything."""
    texts = payloads(marker)
    values = [text.encode() for text in texts]
    keys = [*HOSTILE_BYTES, b"".join(HOSTILE_BYTES)]
    store_said = PropertyResult(
        "conformance[simdisk]",
        TARGET,
        Coverage(),
        1.0,
        1,
        AssertionError(f"get(b'k') returned {values[0]!r}, not None"),
        [put(b"k", values[0]), get(b"k")],
    )
    log = [put(key, value + key) for key in keys for value in values]
    log += [get(key) for key in keys] + [delete(keys[1]), scan(values[0], None)]
    # All of it within the 200 characters a docstring keeps.
    message = "".join(texts[1:] + HOSTILE_TEXT) + f" get({values[0]!r}) returned {values[1]!r}"
    everything = PropertyResult(
        f"conformance[{texts}]", TARGET, Coverage(), 1.0, 1, AssertionError(message), log
    )
    odd = [
        PropertyResult(
            f"faults[{hostile}]",
            f"{hostile}:{texts}",
            Coverage(),
            1.0,
            2,
            Exception(hostile + "".join(texts)),
            [
                fail_disk(hostile + texts[2], None),
                dirty_reboot((True, False), ((0, 3),), ("put", values[3], hostile), 2, True, False),
                Op("flip_bit", (-7,)),
            ],
        )
        for hostile in HOSTILE_TEXT
    ]
    return [store_said, everything, *odd]


def value(node: ast.expr) -> object:
    """The value of a literal argument as `literal` writes it; AssertionError for anything
    else, which would be code."""
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.Tuple):
        return tuple(value(item) for item in node.elts)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        operand = value(node.operand)
        assert isinstance(operand, int | float), ast.dump(node)
        return -operand
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mult):
        left, right = value(node.left), value(node.right)
        assert isinstance(left, bytes) and len(left) == 1 and type(right) is int, ast.dump(node)
        return left * right
    raise AssertionError(f"not a literal: {ast.dump(node)}")


def called(statement: ast.stmt, receiver: str) -> tuple[str, tuple[object, ...]]:
    """The method name and literal arguments of a statement `receiver.method(literals...)`."""
    assert isinstance(statement, ast.Expr), ast.dump(statement)
    call = statement.value
    assert isinstance(call, ast.Call) and not call.keywords, ast.dump(statement)
    assert isinstance(call.func, ast.Attribute), ast.dump(statement)
    assert isinstance(call.func.value, ast.Name) and call.func.value.id == receiver
    return call.func.attr, tuple(value(arg) for arg in call.args)


def harness_target(statement: ast.stmt) -> object:
    """The literal target of `h = Harness(load_factory(TARGET)())`."""
    assert isinstance(statement, ast.Assign), ast.dump(statement)
    assert [ast.dump(t) for t in statement.targets] == [ast.dump(ast.Name("h", ast.Store()))]
    harness = statement.value
    assert isinstance(harness, ast.Call) and isinstance(harness.func, ast.Name)
    assert harness.func.id == "Harness" and len(harness.args) == 1 and not harness.keywords
    made = harness.args[0]
    assert isinstance(made, ast.Call) and not made.args and not made.keywords
    factory = made.func
    assert isinstance(factory, ast.Call) and isinstance(factory.func, ast.Name)
    assert factory.func.id == "load_factory" and len(factory.args) == 1
    return value(factory.args[0])


def check_replay(body: list[ast.stmt], result: PropertyResult, receiver: str = "h") -> None:
    """`body` replays `result`: the harness on its target, then exactly its operations."""
    assert harness_target(body[0]) == result.target
    expected = [(op.kind, op.args) for op in result.log]
    assert [called(statement, receiver) for statement in body[1:-1]] == expected
    assert called(body[-1], receiver) == ("close", ())


def test_a_regression_test_holds_only_literals_whatever_the_store_returned_or_raised(
    tmp_path: Path,
) -> None:
    marker = tmp_path / "payload-ran"
    results = hostile_results(marker)
    source = regression_tests(results)
    assert source.isascii()

    tree = ast.parse(source)
    docstring, imports, *functions = tree.body
    assert isinstance(docstring, ast.Expr) and isinstance(docstring.value, ast.Constant)
    assert ast.dump(imports) == ast.dump(
        ast.ImportFrom("kvcheck", [ast.alias("Harness"), ast.alias("load_factory")], 0)
    )
    assert len(functions) == len(results)
    for function, result in zip(functions, results, strict=True):
        assert isinstance(function, ast.FunctionDef), ast.dump(function)
        assert function.name.startswith("test_") and function.name.isascii()
        assert not function.decorator_list and not function.args.args
        assert ast.get_docstring(function, clean=False) == result.message[:200]
        _, setup, replay = function.body
        assert isinstance(replay, ast.Try) and not replay.handlers and not replay.orelse
        check_replay([setup, *replay.body, *replay.finalbody], result)
    assert {kind for r in results for kind in (op.kind for op in r.log)} <= set(KINDS)

    path = tmp_path / "test_generated_regression.py"
    path.write_text(source, encoding="utf-8")
    spec = importlib.util.spec_from_file_location("generated_regression", path)
    assert spec is not None and spec.loader is not None
    generated: Any = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(generated)
    assert not marker.exists(), "importing the regression test ran the payload"
    # The store here is the node itself, so the replays pass: only a payload could fail them.
    for function in functions[:2]:
        getattr(generated, function.name)()
    assert not marker.exists(), "running the regression test ran the payload"


def test_the_printed_reproduction_holds_only_literals_too(tmp_path: Path) -> None:
    for result in hostile_results(tmp_path / "payload-ran"):
        source = program(result, indent="    ")
        assert source.isascii()
        imports, *body = ast.parse("\n".join(line[4:] for line in source.split("\n"))).body
        assert isinstance(imports, ast.ImportFrom) and imports.module == "kvcheck"
        check_replay(body, result)


class ReprLies(str):
    def __repr__(self) -> str:
        return "__import__('os')"


class IntReprLies(int):
    def __repr__(self) -> str:
        return "__import__('os')"


@pytest.mark.parametrize(
    ("arg", "written"),
    [(ReprLies("k"), "'k'"), (IntReprLies(7), "7"), (b"\x07" * 300, "b'\\x07' * 300")],
)
def test_a_value_is_written_as_its_literal_not_as_its_repr(arg: object, written: str) -> None:
    assert literal(arg) == written
    assert literal((arg,)) == f"({written},)"


@pytest.mark.parametrize("arg", [object(), float("nan"), [b"k"], {b"k": b"v"}, bytearray(b"k")])
def test_a_value_without_a_literal_form_is_refused_rather_than_written(arg: object) -> None:
    with pytest.raises(TypeError, match="no literal"):
        regression_tests(
            [PropertyResult("p", TARGET, Coverage(), 1.0, 1, AssertionError("x"), [put(arg, b"")])]
        )


def test_the_junit_report_parses_whatever_the_failure_message_holds(tmp_path: Path) -> None:
    results = hostile_results(tmp_path / "payload-ran")
    suite = ET.fromstring(junit_xml(results))
    failures = suite.findall("testcase/failure")
    assert len(failures) == len(results)
    for failure, result in zip(failures, results, strict=True):
        shown = failure.get("message", "")
        # What XML cannot hold is shown escaped, and every run of text between such characters
        # exactly, in order.
        pos = 0
        for piece in NOT_XML.split(result.message):
            found = shown.find(piece, pos)
            assert found >= 0, f"{piece!r} is missing from {shown!r}"
            pos = found + len(piece)
        assert failure.text == program(result)
