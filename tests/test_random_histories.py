"""Random histories with crashes: the node recovers to a prefix holding every synced write.

A compact differential check that guards the node while the full conformance and crash
properties live in `properties/`.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from kvnode import SMALL_GEOMETRY, CrashPlan, DiskFullError, Node, SimDisk

KEYS = st.sampled_from([b"a", b"b", b"c", b"d", b"e"])
SIZES = st.sampled_from([0, 1, 100, 231, 232, 233, 1000, 3000])
OPS = st.one_of(
    st.tuples(st.just("put"), KEYS, SIZES, st.integers(0, 255)),
    st.tuples(st.just("delete"), KEYS),
    st.tuples(st.just("sync")),
    st.tuples(st.just("flush")),
    st.tuples(st.just("reclaim")),
    st.tuples(st.just("reboot")),
    st.tuples(st.just("crash"), st.randoms(use_true_random=False)),
)


@settings(max_examples=150, deadline=None)
@given(st.lists(OPS, max_size=60))
def test_recovered_state_is_a_prefix_containing_every_synced_write(
    ops: list[tuple[object, ...]],
) -> None:
    disk = SimDisk(SMALL_GEOMETRY)
    node = Node.open(disk)
    model: dict[bytes, bytes] = {}
    since_sync = [dict(model)]  # states after each mutation since the last durable point
    for op in ops:
        kind = op[0]
        try:
            if kind == "put":
                node.put(op[1], bytes([op[3]]) * op[2])
                model[op[1]] = bytes([op[3]]) * op[2]
                since_sync.append(dict(model))
            elif kind == "delete":
                node.delete(op[1])
                model.pop(op[1], None)
                since_sync.append(dict(model))
            elif kind == "sync":
                node.sync()
                since_sync = [dict(model)]
            elif kind == "flush":
                node.flush_index()
                since_sync = [dict(model)]
            elif kind == "reclaim":
                node.reclaim()
        except DiskFullError:
            pass
        if kind == "reboot":
            node.close()
            node = Node.open(disk)
            since_sync = [dict(model)]
        elif kind == "crash":
            rnd = op[1]
            pending = disk.pending_writes()
            keep = {w.index for w in pending if rnd.random() < 0.5}
            tears = {
                i: rnd.randrange(1, SMALL_GEOMETRY.page_bytes) for i in keep if rnd.random() < 0.3
            }
            disk.crash(CrashPlan(keep, tears))
            node = Node.open(disk)
            model = dict(node.scan())
            assert model in since_sync
            since_sync = [dict(model)]
        assert node.scan() == sorted(model.items())
