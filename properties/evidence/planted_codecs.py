"""Planted codec bugs: the serialization mistakes the codec checks must catch.

Each bug is a source patch applied to a private copy of `kvnode` (`kvcheck.evidence.patched`),
so the shipped codecs never change. `symbolic` names the functions whose CrossHair contracts should
report the bug, and `caught_by` the codec properties (`kvcheck.codecs.robustness`) that should fail.
"""

from __future__ import annotations

from types import ModuleType

import attrs

from kvcheck.evidence.patched import Patch, patched_package


@attrs.frozen
class CodecBug:
    """A planted serialization bug and the checks expected to catch it."""

    name: str
    description: str
    patches: tuple[Patch, ...]
    symbolic: tuple[str, ...]
    caught_by: tuple[str, ...]

    @property
    def package(self) -> str:
        """The name the patched copy of `kvnode` is imported under."""
        return f"kvnode_planted_{self.name}"

    def load(self) -> ModuleType:
        """The patched copy of `kvnode` (imported once per process)."""
        return patched_package(self.package, self.patches)


CODEC_BUGS = (
    CodecBug(
        "truncated_header_escapes",
        "The chunk header decoder lost its length check: a buffer shorter than a header that "
        "starts with the magic lets IndexError escape instead of CorruptChunk, the Python form "
        "of ShardStore's deserializer panic on a truncated record.",
        (
            Patch(
                "chunk",
                "    if len(buf) < CHUNK_HEADER_BYTES:\n"
                '        raise CorruptChunk(f"truncated header: {len(buf)} of {CHUNK_HEADER_BYTES}'
                ' bytes")\n    if buf[0:2] != MAGIC:',
                "    if buf[0:2] != MAGIC:",
            ),
        ),
        symbolic=("chunk.decode_header",),
        caught_by=("chunk_arbitrary_bytes", "chunk_truncation"),
    ),
    CodecBug(
        "checksum_skips_last_byte",
        "The chunk checksum stops one byte short of the value, in the encoder and decoders "
        "alike: chunks round trip, but damage to a value's last byte goes undetected.",
        (
            Patch(
                "chunk",
                "    return crc32c(head, key, value)",
                "    return crc32c(head, key, value[:-1])",
            ),
        ),
        symbolic=("chunk.decode",),
        caught_by=("chunk_bit_flips",),
    ),
    CodecBug(
        "length_unbounded",
        "The chunk header decoder trusts its length fields without a bound: a corrupt header "
        "announcing gigabytes makes the streaming reader wait and buffer instead of refusing it.",
        (
            Patch(
                "chunk",
                "    if total > limit:\n        raise CorruptChunk(",
                "    if False:\n        raise CorruptChunk(",
            ),
        ),
        symbolic=("chunk.decode_header",),
        caught_by=("chunk_arbitrary_bytes", "reader_streaming"),
    ),
    CodecBug(
        "superblock_count_trusted",
        "The superblock decoder trusts the record's extent count without checking it against "
        "the body's length: a short body lets IndexError escape, and a long one is accepted "
        "with bytes that belong to nothing.",
        (
            Patch(
                "superblock",
                "    if len(body) != BODY_BYTES + count * ENTRY_BYTES:\n        raise",
                "    if False:\n        raise",
            ),
        ),
        symbolic=("superblock.decode_body",),
        caught_by=("superblock_bodies",),
    ),
)

BY_NAME = {bug.name: bug for bug in CODEC_BUGS}
