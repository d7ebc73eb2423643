"""Hypothesis strategies with the argument bias that finds storage bugs.

- Keys come mostly from a small alphabet, so puts, gets and deletes keep colliding (collisions
  are where bugs live), and sometimes are arbitrary bytes up to the key limit.
- Value sizes cluster at 0, 1, the sizes that make a chunk end within a byte of a page
  boundary, and within a byte of the largest value (a chunk that fills an extent).
- Operations are drawn with weights that make flushes, reclamation and reboots happen in most
  runs, from an alphabet ordered simple to complex so shrinking prefers simple steps.
"""

from __future__ import annotations

from hypothesis import strategies as st

from kvnode.limits import CHUNK_HEADER_BYTES, Limits
from properties import ops
from properties.ops import KINDS, Op

#: Relative weight of each operation kind, in `KINDS` order.
WEIGHTS = {
    "get": 3,
    "put": 5,
    "delete": 2,
    "scan": 1,
    "sync": 1,
    "flush_index": 1,
    "reclaim": 1,
    "clean_reboot": 1,
}
assert tuple(WEIGHTS) == KINDS


def keys(limits: Limits) -> st.SearchStrategy[bytes]:
    """Keys that mostly collide: a small alphabet, sometimes any bytes up to the limit."""
    alphabet = [b"k0", b"k1", b"k2", b"k3", b"a", b"k" * min(limits.key_bytes_max, 40)]
    # Three distinct copies of the alphabet branch (one_of merges identical ones): 3 in 4 keys.
    return st.one_of(
        *(st.sampled_from(alphabet) for _ in range(3)),
        st.binary(min_size=1, max_size=limits.key_bytes_max),
    )


def value_sizes(limits: Limits, page_bytes: int, key_bytes: int = 2) -> st.SearchStrategy[int]:
    """Sizes clustered at 0, 1, page boundaries +-1 and the largest value +-1."""
    page_fit = page_bytes - CHUNK_HEADER_BYTES - key_bytes
    special = sorted(
        {
            s
            for s in (
                0,
                1,
                page_fit - 1,
                page_fit,
                page_fit + 1,
                page_bytes,
                limits.value_bytes_max - 1,
                limits.value_bytes_max,
            )
            if 0 <= s <= limits.value_bytes_max
        }
    )
    return st.one_of(
        st.sampled_from(special), st.integers(min_value=0, max_value=limits.value_bytes_max)
    )


def values(limits: Limits, page_bytes: int) -> st.SearchStrategy[bytes]:
    """Values of a biased size filled with one drawn byte (cheap to compare and to print)."""
    return st.builds(
        ops.repeat_byte, value_sizes(limits, page_bytes), st.integers(min_value=0, max_value=255)
    )


def operations(limits: Limits, page_bytes: int) -> st.SearchStrategy[Op]:
    """One operation, drawn with `WEIGHTS`, with biased arguments."""

    def strategy(kind: str) -> st.SearchStrategy[Op]:
        k = keys(limits)
        if kind == "get":
            return st.builds(ops.get, k)
        if kind == "delete":
            return st.builds(ops.delete, k)
        if kind == "put":
            return st.builds(ops.put, k, values(limits, page_bytes))
        if kind == "scan":
            return st.builds(ops.scan, st.just(b"") | k, st.none() | k)
        return st.just(Op(kind))

    # one_of shrinks towards its first branches, so KINDS order keeps simple steps preferred.
    # A kind is weighted by repeating its branch; each copy must be a distinct strategy object
    # because one_of merges identical branches.
    return st.one_of([strategy(kind) for kind in KINDS for _ in range(WEIGHTS[kind])])
