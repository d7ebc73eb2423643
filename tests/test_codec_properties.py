"""The codec properties hold for the shipped node, and each planted codec bug breaks one."""

from __future__ import annotations

import pytest
from hypothesis import settings

import kvnode
from kvcheck.codecs.robustness import PROPERTIES
from kvcheck.evidence.patched import Patch, patched_package
from kvcheck.evidence.planted_codecs import CODEC_BUGS, CodecBug

#: Effort for the shipped package: the loaded profile's, but never fewer than this many examples.
EXAMPLES = 100

#: Mistakes a faster `decode_value` could make, each a check the reference decoder does and the
#: fast path left out, with the properties that must fail. They are not in the bug catalog: they
#: show that the fast path is checked against the reference, not what the catalog measures.
FAST_PATH_BUGS = {
    # The key's length is still compared, so only a different key of the same length gets in.
    "ignores_the_key_bytes": (
        Patch(
            "chunk",
            "    if buf[CHUNK_HEADER_BYTES:key_end] != key:\n"
            '        raise CorruptChunk("chunk holds another key")\n',
            "",
        ),
        ("chunk_fast_path",),
    ),
    "skips_the_checksum": (
        Patch("chunk", "    if computed != crc:\n", "    if False:\n"),
        ("chunk_fast_path", "chunk_bit_flips"),
    ),
    "ignores_the_kind": (
        Patch(
            "chunk",
            "    if got_kind != kind or got_seq != seq or key_len != len(key):\n",
            "    if got_seq != seq or key_len != len(key):\n",
        ),
        ("chunk_fast_path",),
    ),
}


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


@pytest.mark.parametrize(
    ("bug", "name"), [(bug, name) for bug, (_, names) in FAST_PATH_BUGS.items() for name in names]
)
def test_a_decode_value_that_skips_a_check_of_decode_fails_the_fast_path_properties(
    bug: str, name: str
) -> None:
    patch, _ = FAST_PATH_BUGS[bug]
    test = PROPERTIES[name](patched_package(f"kvnode_fast_path_{bug}", (patch,)))
    with pytest.raises(AssertionError, match="decode_value"):
        settings(max_examples=300, derandomize=True, database=None, print_blob=False)(test)()
