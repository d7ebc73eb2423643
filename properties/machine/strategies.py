"""Hypothesis strategies with the argument bias that finds storage bugs.

- Keys come mostly from a small alphabet, so puts, gets and deletes keep colliding (collisions
  are where bugs live), and sometimes are arbitrary bytes up to the key limit. The alphabet
  holds two long keys, so the index run and a drain's tombstones soon need real room.
- Value sizes cluster at 0, 1, the sizes that make a chunk end within a byte of a page
  boundary, and within a byte of the largest value (a chunk that fills an extent), the largest
  most often: a few of those fill the disk, so reclamation runs short of room in most runs.
- Operations are drawn with weights that make flushes, reclamation and reboots happen in most
  runs, from an alphabet ordered simple to complex so shrinking prefers simple steps.
- Crash plans are drawn from the same choice sequence as the operations, so a failing case
  shrinks its crash together with its steps: `keep` shrinks towards losing every unsynced
  write, `tears` towards none, `during` towards a crash between operations.
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from kvcheck.machine import ops
from kvcheck.machine.damage import HOWS
from kvcheck.machine.ops import KINDS, Op
from kvnode.limits import CHUNK_HEADER_BYTES, Limits

#: Relative weight of each operation kind, in `KINDS` order (0: only when switched on).
WEIGHTS = {
    "get": 3,
    "put": 8,
    "delete": 2,
    "scan": 1,
    "sync": 1,
    "flush_index": 1,
    "reclaim": 1,
    "drain": 1,
    "clean_reboot": 1,
    "dirty_reboot": 2,
    "crash_sweep": 1,
    "fail_disk": 1,
    "flip_bit": 1,
    "fault_sweep": 1,
    "damage": 2,
}
assert tuple(WEIGHTS) == KINDS
#: Pending writes a crash plan can name by position; later ones are lost.
PLAN_WRITES_MAX = 48


def keys(limits: Limits) -> st.SearchStrategy[bytes]:
    """Keys that mostly collide: a small alphabet, sometimes any bytes up to the limit.

    Besides short keys the alphabet has keys of half and three quarters of the key limit: each
    adds an index entry as long as itself, and leaves less of an extent beside a value of the
    largest size, so with a few of them an evacuation's copies and index run outgrow an extent.
    """
    longest = limits.key_bytes_max
    alphabet = [b"k0", b"k1", b"k2", b"k3", b"a", b"k" * min(longest, 40)]
    alphabet += [b"K" * max(1, longest // 2), b"L" * max(1, longest * 3 // 4)]
    # Three distinct copies of the alphabet branch (one_of merges identical ones): 3 in 4 keys.
    return st.one_of(
        *(st.sampled_from(alphabet) for _ in range(3)),
        st.binary(min_size=1, max_size=limits.key_bytes_max),
    )


def value_sizes(limits: Limits, page_bytes: int, key_bytes: int = 2) -> st.SearchStrategy[int]:
    """Sizes clustered at 0, 1, page boundaries +-1 and the largest value +-1; the largest
    value (or one less) comes from three branches of five, any size from one."""
    page_fit = page_bytes - CHUNK_HEADER_BYTES - key_bytes
    largest = [s for s in (limits.value_bytes_max - 1, limits.value_bytes_max) if s >= 0]
    candidates = (0, 1, page_fit - 1, page_fit, page_fit + 1, page_bytes, *largest)
    special = sorted({s for s in candidates if 0 <= s <= limits.value_bytes_max})
    # Distinct copies of the largest-value branch, as one_of merges identical ones.
    return st.one_of(
        st.sampled_from(special),
        *(st.sampled_from(largest) for _ in range(3)),
        st.integers(min_value=0, max_value=limits.value_bytes_max),
    )


def values(limits: Limits, page_bytes: int) -> st.SearchStrategy[bytes]:
    """Values of a biased size filled with one drawn byte (cheap to compare and to print)."""
    return st.builds(
        ops.repeat_byte, value_sizes(limits, page_bytes), st.integers(min_value=0, max_value=255)
    )


def interruptible(limits: Limits, page_bytes: int) -> list[st.SearchStrategy[tuple[object, ...]]]:
    """The operations a crash or a fault may interrupt, as `(kind, *args)`, one branch each."""
    return [
        st.just(("reclaim",)),
        st.just(("flush_index",)),
        st.builds(lambda k, v: ("put", k, v), keys(limits), values(limits, page_bytes)),
        st.builds(lambda k: ("delete", k), keys(limits)),
        st.just(("clean_reboot",)),
        st.just(("sync",)),
    ]


def _kept(page_bytes: int) -> tuple[st.SearchStrategy[tuple[bool, ...]], st.SearchStrategy[Any]]:
    keep = st.lists(st.booleans(), max_size=PLAN_WRITES_MAX).map(tuple)
    tears = st.lists(
        st.tuples(st.integers(0, PLAN_WRITES_MAX - 1), st.integers(0, page_bytes)), max_size=2
    ).map(tuple)
    return keep, tears


def crash_plans(limits: Limits, page_bytes: int) -> st.SearchStrategy[Op]:
    """A dirty reboot: pending writes kept, pages torn, and the operation it interrupts."""
    keep, tears = _kept(page_bytes)
    return st.builds(
        ops.dirty_reboot,
        keep,
        tears,
        st.one_of(st.none(), *interruptible(limits, page_bytes)),
        # Mostly within the first few disk writes: where an operation's ordering matters.
        st.integers(min_value=0, max_value=4) | st.integers(min_value=0, max_value=40),
        st.booleans(),
        # Counting only syncs puts the loss just before a sync, where most writes are pending.
        st.booleans(),
    )


def crash_sweeps(limits: Limits, page_bytes: int) -> st.SearchStrategy[Op]:
    """A power cut at every point of one operation, all under one drawn crash plan."""
    keep, tears = _kept(page_bytes)
    return st.builds(
        ops.crash_sweep,
        st.one_of(*interruptible(limits, page_bytes)),
        keep,
        tears,
        st.booleans(),
        st.booleans(),
    )


def fault_sweeps(limits: Limits, page_bytes: int, kinds: tuple[str, ...]) -> st.SearchStrategy[Op]:
    """Each disk call of one kind inside one operation (a get or scan too) failing in turn."""
    during = st.one_of(
        st.builds(lambda k: ("get", k), keys(limits)),
        *interruptible(limits, page_bytes),
        st.just(("scan", b"", None)),
    )
    return st.builds(ops.fault_sweep, during, st.sampled_from(kinds))


#: The faults every simulated device injects (`kvnode.simdisk.FaultInjection.FAULTS`).
FAULT_KINDS = ("read", "write", "sync")


def faults(kinds: tuple[str, ...] = FAULT_KINDS) -> st.SearchStrategy[Op]:
    """A disk fault of one of `kinds`: one failed read, write or sync, or a file system that
    fills ("space"), once or until the next reboot."""
    return st.builds(ops.fail_disk, st.sampled_from(kinds), st.sampled_from([1, None]))


def damages(page_bytes: int) -> st.SearchStrategy[Op]:
    """Damage at rest: a flipped bit (mostly single bits), a zeroed sector or a truncation,
    somewhere in a region, often counted from its end, where the newest records are."""
    return st.builds(
        ops.damage,
        st.sampled_from(HOWS),
        # Regions 0 and 1 are the newest superblock record and the index run, where damage
        # tests recovery's trust hardest; higher numbers fall on whole extents.
        st.integers(min_value=0, max_value=1) | st.integers(min_value=0, max_value=15),
        # The low bytes of a structure's first little-endian fields (its header, then
        # sequence numbers and offsets), where a flipped bit changes what recovery believes.
        st.integers(min_value=0, max_value=15).map(lambda i: 4 * i)
        | st.integers(min_value=0, max_value=4 * page_bytes)
        | st.integers(min_value=0),
        st.booleans(),
        st.sampled_from([0, 1, 3, 7, 15, 31, 63, 127]) | st.integers(min_value=0, max_value=254),
        st.booleans(),
    )


def operations(
    limits: Limits,
    page_bytes: int,
    *,
    crashes: bool = False,
    faults_on: bool = False,
    damage_on: bool = False,
    fault_kinds: tuple[str, ...] = FAULT_KINDS,
    sweeps: bool = False,
) -> st.SearchStrategy[Op]:
    """One operation, drawn with `WEIGHTS`, with biased arguments (faults of `fault_kinds`);
    with `sweeps`, crash and fault sweeps too (`kvcheck.machine.sweeps`)."""

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
        if kind == "dirty_reboot":
            return crash_plans(limits, page_bytes)
        if kind == "crash_sweep":
            return crash_sweeps(limits, page_bytes)
        if kind == "fault_sweep":
            return fault_sweeps(limits, page_bytes, fault_kinds)
        if kind == "fail_disk":
            return faults(fault_kinds)
        if kind == "damage":
            return damages(page_bytes)
        if kind == "flip_bit":
            return st.builds(ops.flip_bit, st.integers(min_value=0, max_value=8 * page_bytes))
        return st.just(Op(kind))

    enabled = {
        kind
        for kind in KINDS
        if (kind != "dirty_reboot" or crashes)
        and (kind not in ("fail_disk", "flip_bit") or faults_on)
        and (kind != "crash_sweep" or (crashes and sweeps))
        and (kind != "fault_sweep" or (faults_on and sweeps))
        and (kind != "damage" or damage_on)
    }
    # one_of shrinks towards its first branches, so KINDS order keeps simple steps preferred.
    # A kind is weighted by repeating its branch; each copy must be a distinct strategy object
    # because one_of merges identical branches.
    return st.one_of(
        [strategy(kind) for kind in KINDS if kind in enabled for _ in range(WEIGHTS[kind])]
    )
