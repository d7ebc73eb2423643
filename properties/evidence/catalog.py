"""The bug catalog: realistic seeded bugs, and the check expected to catch each.

ShardStore's evaluation is a table of the issues its checks blocked. This is ours: every entry is
a bug of a kind those checks caught, planted in a copy of the node (a source patch through
`kvcheck.evidence.patched`, or an override in `kvcheck.evidence.planted`), never in the shipped
code. `kvcheck bugs` runs each through its check and prints whether it was found, how fast, and how
small the counterexample shrank; `tests/test_catalog.py` requires every one to be found.

To add a bug: append a `Bug` with a one-paragraph description, the check that should catch it
(`CHECKS`), and either `patches` (the exact text to replace; it must occur once) or `factory`
(`module:function` returning a target). Then run `kvcheck bugs --only NAME`.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

import attrs

from kvcheck.evidence.patched import Patch, patched_package
from kvcheck.evidence.planted_codecs import CODEC_BUGS
from kvcheck.machine.targets import SimDiskTarget, Target, load_factory
from kvnode import Node

#: The checks a bug can name, and what each runs.
CHECKS = {
    "conformance": "the conformance machine without crash steps",
    "crashes": "the conformance machine with dirty reboots (crash consistency)",
    "faults": "the conformance machine with injected disk faults",
    "damage": "the conformance machine with damage at rest (bit flips, zeroed sectors, cuts)",
    "exhaustive": "exhaustive crash states of short histories",
    "codec": "a codec robustness property (kvcheck.codecs.robustness)",
    "races": "linearizability under the controlled scheduler (kvcheck.concurrency.races)",
}
KINDS = ("functional", "crash", "fault", "damage", "concurrency", "serialization")


@attrs.frozen
class Bug:
    """A planted bug: what it is, where it is planted, and which check should catch it."""

    name: str
    kind: str
    description: str
    check: str
    patches: tuple[Patch, ...] = ()
    #: `module:function` returning a target, or for races `module:Class`, a node class.
    factory: str | None = None
    #: For codec bugs, the codec property that should fail.
    codec_property: str | None = None

    def __attrs_post_init__(self) -> None:
        if self.kind not in KINDS or self.check not in CHECKS:
            raise ValueError(f"{self.name}: unknown kind {self.kind!r} or check {self.check!r}")
        if (not self.patches) == (self.factory is None):
            raise ValueError(f"{self.name}: give exactly one of patches or factory")

    @property
    def package(self) -> str:
        """The name a patched copy of `kvnode` for this bug is imported under."""
        return f"kvnode_planted_{self.name}"

    def node_class(self) -> type[Node]:
        """The node class with this bug (for races, and for patched bugs)."""
        if self.factory is not None:
            module, _, name = self.factory.partition(":")
            found: type[Node] = getattr(importlib.import_module(module), name)
            return found
        node: type[Node] = patched_package(self.package, self.patches).Node
        return node

    def target_factory(self) -> Callable[[], Target]:
        """A factory of targets running the node with this bug on a `SimDisk`."""
        if self.factory is not None:
            return load_factory(self.factory)
        node_class = self.node_class()

        def make() -> Target:
            target = SimDiskTarget(node_class=node_class)
            target.name = self.name
            return target

        return make


def _override(name: str, kind: str, check: str, description: str, factory: str) -> Bug:
    return Bug(name, kind, description, check, factory=factory)


_PLANTED = "kvcheck.evidence.planted"

BUGS: tuple[Bug, ...] = (
    # -- functional ------------------------------------------------------------------------
    _override(
        "never_reclaims",
        "functional",
        "conformance",
        "Reclamation never finds a victim: once the log fills, every put fails with DiskFullError "
        "even after every key is deleted. The Drain step requires space to come back.",
        f"{_PLANTED}:never_reclaims",
    ),
    _override(
        "forget_after_reclaim",
        "functional",
        "conformance",
        "Reclamation that moved live chunks forgets one of the keys it moved, as if a copy "
        "were skipped.",
        f"{_PLANTED}:forget_after_reclaim",
    ),
    _override(
        "scan_out_of_order",
        "functional",
        "conformance",
        "A scan of three or more pairs comes back in reverse key order.",
        f"{_PLANTED}:scan_out_of_order",
    ),
    Bug(
        "reserve_spent_by_reclamation",
        "functional",
        "Reclamation evacuates the extent with the most dead bytes however much room its copies "
        "and index run need, and client writes may take any room left in the reserve: after a "
        "few large values and a drain, no free extent is left, the durable index run points "
        "into every other extent, and the node refuses every large put forever.",
        "conformance",
        patches=(
            Patch(
                "node",
                "        fits = self._evacuations_that_fit(copies, wps[self._active])\n"
                "        capacity = self._geometry.extent_bytes\n"
                "        victim = choose_victim(self._states, wps, live, self._active, droppable, "
                "fits, capacity)\n",
                "        victim = choose_victim(self._states, wps, live, self._active, "
                "droppable)\n",
            ),
            Patch(
                "log",
                "        if client:\n"
                "            self._check_reserve(kind)\n"
                "        if kind is Kind.TOMBSTONE:\n"
                "            self._check_run_fits_after(key, len(data), client=client)\n",
                "",
            ),
            Patch("log", "        if client:\n            self._check_reserve(Kind.INDEX)\n", ""),
        ),
    ),
    Bug(
        "live_bytes_not_drained",
        "functional",
        "A delete leaves the dead chunk counted in its extent's live bytes (an accounting cache "
        "not drained), so reclamation thinks extents full of deleted data are still live and "
        "never frees them.",
        "conformance",
        patches=(
            Patch(
                "index",
                "        if old is not None:\n            self._live[old.extent] -= old.length\n",
                "        if old is not None:\n",
            ),
        ),
    ),
    Bug(
        "index_run_drops_last_entry",
        "functional",
        "The index run encoder skips the last key (an off-by-one in its loop) while still "
        "counting entries consistently: after an index flush and a reboot, the largest key is "
        "gone although its chunk was durable.",
        "conformance",
        patches=(
            Patch(
                "index_run",
                "    for key, loc in entries:\n        parts.append(",
                "    for key, loc in list(entries)[:-1]:\n        parts.append(",
            ),
        ),
    ),
    Bug(
        "victim_may_be_active",
        "functional",
        "The reclamation policy forgets to exclude the extent client writes are appending to, "
        "and evacuates and resets it under them.",
        "conformance",
        patches=(
            Patch(
                "reclaim",
                "        if state is not ExtentState.LOG or extent == active:",
                "        if state is not ExtentState.LOG:",
            ),
        ),
    ),
    Bug(
        "tombstones_not_replayed",
        "functional",
        "Recovery replays puts from the log but skips tombstones: a key deleted after the last "
        "index flush comes back after the next reboot, clean or not.",
        "conformance",
        patches=(
            Patch(
                "recovery",
                "        elif chunk.kind is Kind.TOMBSTONE:\n            index.remove(chunk.key)\n",
                "",
            ),
        ),
    ),
    # -- crash consistency -----------------------------------------------------------------
    _override(
        "record_file_rewrite_in_place",
        "crash",
        "crashes",
        "A store of one record file truncates the live file and writes the records into it, so "
        "power lost in between leaves a file cut short, which the store cannot open. A store "
        "kept in a directory, on the simulated file system.",
        "kvcheck.evidence.planted_stores:rewrite_in_place",
    ),
    _override(
        "record_file_acknowledge_before_writing",
        "crash",
        "crashes",
        "A store of one record file says a mutation is durable when its call returns, but "
        "writes the file only every fifth mutation: power loss takes acknowledged writes.",
        "kvcheck.evidence.planted_stores:acknowledge_before_writing",
    ),
    _override(
        "record_file_rename_not_synced",
        "crash",
        "crashes",
        "A store of one record file writes a new file, fsyncs it and renames it over the old "
        "one, but never fsyncs the directory: power loss can take the rename back. No process "
        "kill shows this (the rename reached the OS); the simulated file system does.",
        "kvcheck.evidence.planted_stores:rename_not_synced",
    ),
    _override(
        "filedisk_directory_not_synced",
        "crash",
        "crashes",
        "FileDisk creates a store's extent files and header in a hidden directory and renames it "
        "into place without fsyncing the directory first: after power loss the store's "
        "directory can exist with none of its files, and the store cannot be opened. Found on "
        "the simulated file system (posix model).",
        "kvcheck.evidence.planted_filedisk:directory_not_synced",
    ),
    _override(
        "filedisk_header_not_synced",
        "crash",
        "crashes",
        "FileDisk renames a new store into place before the header's data is fsynced: after "
        "power loss the header can be there but empty, and the store cannot be opened. Found "
        "on the simulated file system (posix model).",
        "kvcheck.evidence.planted_filedisk:header_not_synced",
    ),
    _override(
        "filedisk_short_write_ignored",
        "fault",
        "faults",
        "FileDisk makes one pwrite per append and takes its count on trust: when the file "
        "system fills mid-write (a short write, then ENOSPC) the chunk's tail is never "
        "written, the append is acknowledged, and the store cannot be opened after a clean "
        "reboot. Found by the simulated file system's full-disk fault.",
        "kvcheck.evidence.planted_filedisk:short_write_ignored",
    ),
    _override(
        "early_persistence",
        "crash",
        "crashes",
        "A put's dependency reports persistent at once, before any sync made it durable.",
        f"{_PLANTED}:early_persistence",
    ),
    _override(
        "reset_before_durable",
        "crash",
        "crashes",
        "Reclamation resets the victim extent right after copying its live chunks, before the "
        "copies and the index run naming them are durable: a crash in that window loses them.",
        f"{_PLANTED}:reset_before_durable",
    ),
    _override(
        "stale_replay",
        "crash",
        "crashes",
        "Recovery does not truncate what lies beyond the recovered end of the log: soft and "
        "hard write pointers disagree after a crash, new chunks land behind a torn one, and "
        "the next recovery stops at the torn one and loses them.",
        f"{_PLANTED}:stale_replay",
    ),
    Bug(
        "freed_extent_not_reset",
        "crash",
        "Recovery does not reset extents the superblock calls free but that still hold data (a "
        "crash during reclamation, between the superblock that frees the victim and its "
        "reset): the extent is reused with old chunks in front of the new ones.",
        "crashes",
        patches=(
            Patch("recovery", "    for extent in plan.resets:\n        disk.reset(extent)\n", ""),
        ),
    ),
    Bug(
        "extent_opened_unrecorded",
        "crash",
        "Opening a new log extent skips the superblock record that names it: a chunk written "
        "there depends on that pointer update, but nothing orders them, so a sync reports the "
        "chunk persistent while recovery still calls its extent free and resets it.",
        "crashes",
        patches=(
            Patch(
                "log",
                "        # damaged), and recovery refuses rather than reset the extent.\n"
                "        self._write_superblock()\n        self._disk_sync()\n",
                "",
            ),
        ),
    ),
    Bug(
        "run_named_before_durable",
        "crash",
        "An index flush names the new index run in the superblock without first syncing the "
        "run: a power cut can keep the superblock record and lose the run it points at.",
        "crashes",
        patches=(
            Patch(
                "log",
                "        self._disk_sync()  # the run is durable before the superblock names it\n",
                "",
            ),
        ),
    ),
    Bug(
        "covers_one_too_many",
        "crash",
        "An index flush records that its run covers one more sequence number than it does: "
        "the next write after the flush is skipped by replay, so it is lost at the next "
        "reboot, clean or not, although it was durable.",
        "conformance",
        patches=(
            Patch(
                "log", "        covers = self._next_seq - 1\n", "        covers = self._next_seq\n"
            ),
        ),
    ),
    _override(
        "stale_read_after_error",
        "fault",
        "faults",
        "A get that meets a read error answers from a cache of earlier reads, which may hold "
        "an older value.",
        f"{_PLANTED}:stale_read_after_error",
    ),
    Bug(
        "copy_skipped_after_read_error",
        "fault",
        "Reclamation that meets a read error while copying a live chunk skips that chunk and "
        "frees the extent anyway, as if the error were the chunk's absence: the key is lost.",
        "faults",
        patches=(
            Patch(
                "node",
                "            value = self._read_value(key, loc)  # a read error aborts: the victim "
                "stays intact\n",
                "            try:\n                value = self._read_value(key, loc)\n"
                "            except OSError:\n                continue\n",
            ),
        ),
    ),
    # -- damage at rest ---------------------------------------------------------------------
    Bug(
        "superblock_scan_stops_at_damage",
        "damage",
        "The superblock scan stops at the first record that fails to decode, and recovery then "
        "trusts the older record it found: it resets extents that record calls free and ends "
        "replay at a gap, though the disk holds newer synced chunks. One flipped bit in an old "
        "record loses synced data silently, and fsck calls the store clean.",
        "damage",
        patches=(
            Patch(
                "recovery",
                "                bad.append((extent, pos, err.reason))\n",
                "                bad.append((extent, pos, err.reason))\n                break\n",
            ),
            Patch(
                "recovery",
                "        newer = [c for c in scan_extent(disk, extent, 0, 0).chunks"
                " if c.seq > sb.covers_seq]\n",
                "        newer: list[Scanned] = []\n",
            ),
            Patch(
                "recovery",
                "        if chunk.kind is Kind.INDEX and chunk.seq - 1 > required:\n",
                "        if False:\n",
            ),
        ),
    ),
    Bug(
        "superblock_checksum_ignored",
        "damage",
        "Recovery picks the superblock record by its header and parses the body without "
        "checking the record's checksum, to save a CRC per record: a flipped bit in a soft "
        "write pointer, a sequence number or the generation is trusted, and recovery truncates "
        "or skips durable chunks on its word.",
        "damage",
        patches=(
            Patch(
                "recovery",
                "                best = SuperblockFound("
                "Superblock.decode(piece), extent, pos + size)\n",
                "                record = decode_body(uint(piece, 4, 8), bytes(piece[24:]))\n"
                "                best = SuperblockFound(record, extent, pos + size)\n",
            ),
            Patch(
                "recovery",
                "from kvnode.errors import CorruptChunk, CorruptionError\n",
                "from kvnode.errors import CorruptChunk, CorruptionError\n"
                "from kvnode.fields import uint\nfrom kvnode.superblock import decode_body\n",
            ),
        ),
    ),
    Bug(
        "mid_log_damage_taken_for_torn_tail",
        "damage",
        "Recovery takes any chunk that fails to decode for the torn tail a crash leaves: replay "
        "ends there and the synced chunks after it are truncated away, although the superblock "
        "says they were durable (LevelDB's distinction: a torn tail is end of log, a bad "
        "checksum in the middle is corruption).",
        "damage",
        patches=(Patch("recovery", "    if last >= required:\n        return\n", "    return\n"),),
    ),
    # -- concurrency -----------------------------------------------------------------------
    _override(
        "lost_put_during_reclaim",
        "concurrency",
        "races",
        "Reclamation on the maintenance thread installs each copied chunk without checking that "
        "the key still points at the chunk it copied: a put racing the reclamation of its "
        "extent is undone (reclamation racing a write, as in ShardStore's table).",
        "kvcheck.evidence.planted_races:CopiesWithoutCompare",
    ),
    _override(
        "locator_before_chunk",
        "concurrency",
        "races",
        "A put publishes its locator in the index before the chunk it points to is written, to "
        "keep the critical section short: a racing get follows it to bytes not yet there.",
        "kvcheck.evidence.planted_races:PublishesBeforeWriting",
    ),
    _override(
        "lock_order_deadlock",
        "concurrency",
        "races",
        "Sync takes the maintenance lock inside the state lock, the reverse of reclamation's "
        "order: a sync and a reclamation that each hold their first lock wait for each other "
        "forever (a deadlock waiting on a superblock update).",
        "kvcheck.evidence.planted_races:SyncLocksMaintenanceInside",
    ),
    _override(
        "sync_outside_the_lock",
        "concurrency",
        "races",
        "Sync runs the disk sync without the state lock, so puts are not held up, and takes the "
        "durable watermark after it: a put landing during the sync is reported persistent, and "
        "a power cut before the next sync loses it. Nothing shows without a crash.",
        "kvcheck.evidence.planted_races:SyncsOutsideTheLock",
    ),
    _override(
        "ticket_before_writing",
        "concurrency",
        "races",
        "A put takes its durability ticket in one critical section and writes its chunk in a "
        "second: a sync in between covers the ticket, so the put reports persistent before its "
        "chunk is written, and a power cut loses it. Readers never see anything wrong.",
        "kvcheck.evidence.planted_races:TicketBeforeWriting",
    ),
    # -- serialization ---------------------------------------------------------------------
    *(
        Bug(
            bug.name,
            "serialization",
            bug.description,
            "codec",
            patches=bug.patches,
            codec_property=bug.caught_by[0],
        )
        for bug in CODEC_BUGS
    ),
)

BY_NAME = {bug.name: bug for bug in BUGS}
