"""The codec properties hold for the shipped node, and each planted codec bug breaks one."""

from __future__ import annotations

import pytest
from hypothesis import settings

import kvnode
from properties.codecs import PROPERTIES
from properties.planted_codecs import CODEC_BUGS, CodecBug

#: Effort for the shipped package: the loaded profile's, but never fewer than this many examples.
EXAMPLES = 100


@pytest.mark.parametrize("name", sorted(PROPERTIES))
def test_property_holds_for_the_shipped_node(name: str) -> None:
    test = PROPERTIES[name](kvnode)
    settings(max_examples=max(EXAMPLES, settings().max_examples))(test)()


@pytest.mark.parametrize(
    ("bug", "name"),
    [(bug, name) for bug in CODEC_BUGS for name in bug.caught_by],
    ids=lambda x: x if isinstance(x, str) else x.name,
)
def test_property_catches_the_planted_bug(bug: CodecBug, name: str) -> None:
    test = PROPERTIES[name](bug.load())
    with pytest.raises((AssertionError, LookupError, ExceptionGroup)):
        settings(max_examples=300, derandomize=True, database=None, print_blob=False)(test)()
