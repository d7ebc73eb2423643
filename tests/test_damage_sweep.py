"""Damage at rest, swept: no truncation, bit flip or zeroed sector makes the node lie.

Each sweep here is a seeded, stratified sample of `kvcheck.crash.sweep`'s exhaustive one (run it
whole with the damage benchmark). A failure prints every bad case family and a standalone
recipe for the first few cases, each ending in the `replay(...)` call that reruns it.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Callable
from pathlib import Path

import attrs
import pytest

from kvcheck.crash.sweep import (
    BACKENDS,
    GEOMETRY,
    HISTORY,
    KEYS,
    REGIONS,
    Case,
    SweepReport,
    reference,
    replay,
    run_history,
    store_layout,
    sweep,
)
from kvcheck.evidence import patched
from kvcheck.evidence.catalog import BY_NAME
from kvcheck.evidence.patched import Patch, patched_package
from kvnode import Node, SimDisk
from kvnode.fsck import FsckReport
from kvnode.limits import CHUNK_HEADER_BYTES, SUPERBLOCK_EXTENTS
from kvnode.superblock import record_bytes

SEED = 20240617
#: Cases per backend, about three seconds each; the file backend pays an fsync per reopen.
SAMPLE = {"sim": 400, "file": 200}


@pytest.mark.parametrize("backend", BACKENDS)
def test_sampled_damage_never_returns_wrong_or_missing_data_and_fsck_always_agrees(
    backend: str, tmp_path: Path
) -> None:
    report = sweep(backend, sample=SAMPLE[backend], seed=SEED, workdir=str(tmp_path))
    assert report.cases == SAMPLE[backend]
    assert report.counts["wrong"] == report.counts["missing"] == 0, report.summary()
    assert report.counts["undocumented"] == 0, report.summary()
    assert not report.fsck_disagreements, report.summary()


#: The newest superblock records the dense sweeps cover: they span the history's last extent
#: opening, so a recovery that trusts a record older than the newest valid one loses data.
NEWEST = 3


def newest_headers() -> Callable[[Case], bool]:
    """Every cut and every bit flip within the headers of the newest `NEWEST` superblock
    records: where a damaged record hides newer ones from a recovery that stops at it."""
    where = store_layout()
    size = record_bytes(GEOMETRY.extent_count)
    first = (where.records[1] - NEWEST) * size

    def select(case: Case) -> bool:
        in_header = (
            case.extent == 1 and case.offset >= first and case.offset % size < CHUNK_HEADER_BYTES
        )
        return in_header and case.kind in ("cut", "flip")

    return select


def test_every_cut_and_bit_flip_of_the_newest_superblock_headers_is_refused_or_read_back() -> None:
    report = sweep("sim", select=newest_headers())
    assert report.cases == NEWEST * CHUNK_HEADER_BYTES * 9
    assert report.ok, report.summary()


def test_the_store_holds_every_structure_the_sweep_damages() -> None:
    where = store_layout()
    assert where.present() == set(REGIONS) - {"format header"}
    assert all(where.records[e] >= 2 for e in range(SUPERBLOCK_EXTENTS)), where.records
    runs = [s for spans in where.spans.values() for s in spans if s.region == "index run"]
    assert len(runs) >= 2
    assert {"flush", "reclaim", "close"} <= {step.op for step in HISTORY}
    disk = SimDisk(GEOMETRY)
    node = Node.open(disk)
    run_history(node)
    with Node.open(disk) as after:
        assert after.stats().superblock_generation == where.newest_generation
        assert dict(after.scan()) == reference()


def test_the_history_deletes_and_overwrites_keys_and_probes_keys_it_never_wrote() -> None:
    written = [s.key for s in HISTORY if s.op == "put"]
    deleted = {s.key for s in HISTORY if s.op == "delete"}
    assert len(written) > len(set(written))
    assert deleted - set(reference())
    assert [k for k in KEYS if k not in written]


class ForgetsKey03(Node):
    """Loses a synced key without an error."""

    def get(self, key: bytes) -> bytes | None:
        return None if key == b"key03" else super().get(key)


class InventsValues(Node):
    """Returns a value no one wrote."""

    def get(self, key: bytes) -> bytes | None:
        return b"invented" if key == b"key99" else super().get(key)


class RaisesIndexError(Node):
    """Fails a read with an exception the node does not document."""

    def get(self, key: bytes) -> bytes | None:
        raise IndexError("index out of range")


#: A flip in an older superblock record: dead data, read back correctly.
DEAD_FLIP = Case("sim", "flip", 0, 30, mask=0x04)


@pytest.mark.parametrize(
    ("node_class", "outcome"),
    [(Node, "correct"), (ForgetsKey03, "missing"), (InventsValues, "wrong")],
)
def test_each_outcome_is_told_apart_from_what_the_reads_return(
    node_class: type[Node], outcome: str
) -> None:
    assert replay(DEAD_FLIP, node_class=node_class).outcome == outcome


def test_an_undocumented_exception_is_reported_with_where_it_was_raised() -> None:
    result = replay(DEAD_FLIP, node_class=RaisesIndexError)
    assert result.outcome == "undocumented"
    assert result.exception is not None
    name, where = result.exception
    assert name == "IndexError"
    assert re.match(r"tests/test_damage_sweep\.py:\d+ <- ", where), where


def test_fsck_calling_a_refused_disk_clean_is_a_disagreement() -> None:
    def always_clean(disk: object) -> FsckReport:
        return FsckReport(None, 0, 0, 0, 0, (), ())

    result = replay(Case("sim", "cut", 2, 100), fsck_fn=always_clean)
    assert result.outcome == "refused"
    assert result.fsck_disagrees
    assert result.bad


def test_fsck_raising_is_a_disagreement_even_when_the_node_reads_correctly() -> None:
    def broken(disk: object) -> FsckReport:
        raise struct.error("unpack requires a buffer of 4 bytes")

    result = replay(DEAD_FLIP, fsck_fn=broken)
    assert result.outcome == "correct"
    assert result.fsck_disagrees
    assert result.fsck_error is not None and "unpack requires" in result.fsck_error


def test_a_bad_case_replays_exactly_from_its_recipe() -> None:
    result = replay(DEAD_FLIP, node_class=ForgetsKey03)
    recipe = result.recipe()
    assert "disk.damage(0, 30, 0x04)" in recipe
    call = re.search(
        r"kvcheck\.crash\.sweep\.replay\(kvcheck\.crash\.sweep\.(Case\([^)]*\)), (.*)\)\.$", recipe
    )
    assert call is not None, recipe
    assert call[2] == "node_class=test_damage_sweep.ForgetsKey03"
    again = replay(eval(call[1], {"Case": Case}), node_class=ForgetsKey03)
    assert attrs.evolve(again, case=result.case) == result


#: The data-loss bug the sweep exists for, as the catalog plants it: recovery's scan of a
#: superblock extent stops at the first record that fails to decode, so a damaged record hides
#: every newer one (the first patch), and the extents that older record calls free are reset
#: whatever they hold, and replay may stop short of an index run's evidence (the rest).
DATA_LOSS = BY_NAME["superblock_scan_stops_at_damage"]


def sweep_planted(name: str, patches: list[Patch]) -> SweepReport:
    """The sampled sweep of the newest headers, on a copy of the node with `patches`."""
    package = patched_package(name, patches)
    return sweep(
        "sim",
        sample=200,
        seed=SEED,
        select=newest_headers(),
        node_class=package.Node,
        fsck_fn=patched.module(package, "fsck").fsck,
    )


def test_the_sweep_catches_a_recovery_that_trusts_an_older_superblock_record() -> None:
    report = sweep_planted("kvnode_sweep_trusts_older_record", list(DATA_LOSS.patches))
    assert report.counts["wrong"] + report.counts["missing"] > 0, report.summary()
    assert report.fsck_disagreements
    assert "kvcheck.crash.sweep.replay(kvcheck.crash.sweep.Case(" in report.summary()


def test_a_recovery_that_trusts_an_older_record_still_refuses_to_destroy_newer_data() -> None:
    # Only the first half: the scan stops early, but the evidence checks are still there.
    report = sweep_planted("kvnode_sweep_trusts_older_record_only", list(DATA_LOSS.patches[:1]))
    assert report.ok, report.summary()
    assert report.counts["refused"] > 0
