"""ReferenceKV: the model has the node's API, and behaves as the obvious dict."""

from __future__ import annotations

import inspect

import pytest

from kvcheck.models import ReferenceKV
from kvnode import InvalidKeyError, InvalidValueError, KVTypeError, Node, NodeClosedError
from kvnode.cli import UsageError, put_lines


def public_methods(cls: type) -> dict[str, inspect.Signature]:
    return {
        name: inspect.signature(member)
        for name, member in inspect.getmembers(cls, inspect.isfunction)
        if not name.startswith("_")
    }


def test_model_has_exactly_the_nodes_public_methods_and_signatures() -> None:
    node, model = public_methods(Node), public_methods(ReferenceKV)
    assert sorted(model) == sorted(node)
    for name, signature in node.items():
        params = [(p.name, p.kind, p.default) for p in signature.parameters.values()]
        model_params = [(p.name, p.kind, p.default) for p in model[name].parameters.values()]
        assert model_params == params, name


def test_scan_is_sorted_and_half_open() -> None:
    kv = ReferenceKV()
    for key in [b"c", b"a", b"b"]:
        kv.put(key, key)
    assert kv.scan() == [(b"a", b"a"), (b"b", b"b"), (b"c", b"c")]
    assert kv.scan(b"b", b"c") == [(b"b", b"b")]


def test_every_dependency_is_already_persistent() -> None:
    kv = ReferenceKV()
    assert kv.put(b"a", b"1").is_persistent()
    assert kv.delete(b"a").is_persistent()


def test_shared_data_survives_a_new_instance() -> None:
    data: dict[bytes, bytes] = {}
    ReferenceKV(data).put(b"a", b"1")
    assert ReferenceKV(data).get(b"a") == b"1"


@pytest.mark.parametrize(
    ("key", "value", "error"),
    [
        ("a", b"", KVTypeError),
        (b"a", "v", KVTypeError),
        (b"", b"", InvalidKeyError),
        (b"k" * 257, b"", InvalidKeyError),
        (b"k", b"v" * 4000, InvalidValueError),
    ],
)
def test_bad_input_raises_the_nodes_errors(key: object, value: object, error: type) -> None:
    with pytest.raises(error):
        ReferenceKV().put(key, value)  # type: ignore[arg-type]


def test_closed_model_refuses_use() -> None:
    kv = ReferenceKV()
    kv.close()
    with pytest.raises(NodeClosedError):
        kv.get(b"a")


def test_cli_put_lines_loads_pairs_into_any_store() -> None:
    """The model stands in for a node: the loader's unit test needs no disk."""
    store = ReferenceKV()
    assert put_lines(store, [b"a\t1\n", b"b\t2\r\n", b"c\t\n"]) == 3
    assert store.scan() == [(b"a", b"1"), (b"b", b"2\r"), (b"c", b"")]
    with pytest.raises(UsageError, match="line 2"):
        put_lines(ReferenceKV(), [b"a\t1\n", b"no tab\n"])
