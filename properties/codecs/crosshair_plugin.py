"""A CrossHair plugin: stand in a checksum the solver can reason about for the node's CRC-32C.

The real CRC-32C is C code (`google_crc32c`). CrossHair cannot look inside it, so it would have
to guess concrete bytes whose checksum matches, and would never get a symbolic byte string past a
decoder's checksum test. With this plugin, every call to `kvnode.chunk.crc32c` during symbolic
execution runs `stand_in_crc` instead: a sum over the bytes, each plus one so that every byte,
zero included, counts. The decoders' framing logic (which bytes the checksum covers, where each
length field may point, what is trusted before the checksum is checked) is then open to the
solver.

What this does not check: the CRC itself. `tests/test_chunk.py` pins it to the published
CRC-32C check value, and the Hypothesis codec properties (bit flips in particular) run against the
real CRC. A bug that only reorders the bytes fed to the checksum is invisible to a sum; the bit-flip
properties would catch it.

Use: `crosshair check --extra_plugin properties/codecs/crosshair_plugin.py kvnode/chunk.py ...`. To
check a patched copy of the package (`kvcheck.evidence.patched`), name it in `KVNODE_PACKAGE`.
"""

from __future__ import annotations

import importlib
import os

from crosshair import register_patch


def stand_in_crc(*parts: bytes | bytearray | memoryview) -> int:
    """A 32-bit checksum of the concatenation of `parts` that is linear in every byte."""
    total = 0
    for part in parts:
        for byte in bytes(part):
            total += byte + 1
    return total % (1 << 32)


register_patch(
    importlib.import_module(os.environ.get("KVNODE_PACKAGE", "kvnode") + ".chunk").crc32c,
    stand_in_crc,
)
