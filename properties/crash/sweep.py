"""Damage at rest, exhaustively: every truncation, bit flip and zeroed sector of a small store.

Theory of operation. `HISTORY` is a fixed sequence of puts, overwrites, deletes, syncs, index
flushes and a reclamation ending in a clean close, on `GEOMETRY`: small enough to sweep every
byte, large enough that both superblock extents hold records, an index run exists, an extent
was reclaimed, and log chunks lie both below and above the soft write pointers. After a clean
close everything is durable, so the reference is simply the model's final state.

`sweep` builds that store once per backend, then for every `Case` (an extent or file cut at a
length, one bit mask of one byte flipped, or one page-aligned sector zeroed) damages a copy,
runs fsck on it, reopens the node over it and reads every key ever written (and a few never
written) and a full scan, and classifies what it saw (`OUTCOMES`, worst first). If the node
opened, it is closed, reopened and read once more: recovery's repairs (truncations, resets,
a new superblock record at close) must not lose what the first open could still read.

* `wrong`: a read or the scan returned a value that is not the reference's (a deleted key came
  back, a key that never existed appeared, an old value);
* `missing`: a synced key read as absent, or was absent from a successful scan, with no error;
* `undocumented`: an exception other than `CorruptionError` (on open: or `DataDirError`);
* `refused`: the open raised `CorruptionError` or `DataDirError`;
* `damaged_keys_fail`: it opened, at least one read raised `CorruptionError`, none was wrong;
* `correct`: it opened and every read and the scan matched the reference.

fsck runs first, on the damaged copy, and must agree: it must not raise, and whenever the
outcome is not `correct` it must report damage. fsck reporting damage on a `correct` outcome is
allowed (the damage may be in dead data) and only counted. Every bad case carries a standalone
recipe, and `replay(case)` reruns it exactly.

Sampling (`sample=N`) is stratified: the draw is shared out over every (kind, region) stratum,
so a small region such as the newest superblock record is covered as densely as a large one.
"""

from __future__ import annotations

import bisect
import contextlib
import functools
import os
import random
import shutil
import sysconfig
import tempfile
import time
import traceback
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

import attrs

from kvnode import FileDisk, Geometry, Node, SimDisk
from kvnode.chunk import Kind, decode_header
from kvnode.errors import CorruptionError, DataDirError
from kvnode.filedisk import FORMAT_FILE
from kvnode.fsck import fsck as shipped_fsck
from kvnode.limits import SUPERBLOCK_EXTENTS
from kvnode.superblock import Superblock, record_bytes

#: Eight extents: six log extents, of which two are reserved, so a few kilobytes of history
#: fill the log, roll the superblock over to extent 1 and force a reclamation.
GEOMETRY = Geometry(page_bytes=256, extent_bytes=4096, extent_count=8)
BACKENDS = ("sim", "file")
KINDS = ("cut", "flip", "zero")
OUTCOMES = ("wrong", "missing", "undocumented", "refused", "damaged_keys_fail", "correct")
BAD_OUTCOMES = frozenset({"wrong", "missing", "undocumented"})
REGIONS = (
    "superblock, newest record",
    "superblock, older records",
    "index run",
    "log below soft wp",
    "log above soft wp",
    "format header",
)
#: Keys no step writes: a read must say absent, and a scan must not invent them.
PROBES = (b"key99", b"never-written")


@attrs.frozen
class Step:
    """One operation of the history: put, delete, sync, flush, reclaim or close."""

    op: str
    key: bytes = b""
    value: bytes = b""


def _history() -> tuple[Step, ...]:
    keys = [b"key%02d" % i for i in range(16)]
    steps: list[Step] = []
    present: set[bytes] = set()
    for rnd in range(7):
        for i, key in enumerate(keys):
            if (i * 7 + rnd * 3) % 11 == 0 and key in present:
                steps.append(Step("delete", key))
                present.discard(key)
            elif (i + rnd) % 3 or rnd == 0:
                # Lengths vary so chunks straddle page boundaries at many phases.
                value = bytes([0x61 + rnd]) * (20 + (i * 13 + rnd * 29) % 90) + key
                steps.append(Step("put", key, value))
                present.add(key)
            if len(steps) % 3 == 0:
                steps.append(Step("sync"))
        if rnd in (2, 5):
            steps.append(Step("flush"))
        if rnd == 3:
            steps.append(Step("reclaim"))
    # The tail puts every kind of superblock change among the newest few records, so that
    # falling back even one or two records crosses it: a flush, a reclamation (an older
    # record's run points into the reset extent), an extent opened (an older record calls it
    # free) and log chunks above the soft write pointers that only the newest records replay.
    steps += [
        Step("flush"),
        Step("put", b"key01", b"after the last flush"),
        Step("sync"),
        Step("reclaim"),
        *(Step("put", b"key%02d" % i, b"%d" % i * 150) for i in range(4, 12)),
        Step("delete", b"key02"),
        Step("sync"),
        Step("put", b"key03", b"unflushed, synced by close"),
        Step("put", b"key13", b"x" * 200),
        Step("delete", b"key05"),
        Step("close"),
    ]
    return tuple(steps)


#: The fixed history every store is built with.
HISTORY = _history()
#: Every key the history touches, then the probes.
KEYS = tuple(sorted({s.key for s in HISTORY if s.key})) + PROBES


def reference() -> dict[bytes, bytes]:
    """The state after `HISTORY`: after its clean close, all of it is durable."""
    state: dict[bytes, bytes] = {}
    for step in HISTORY:
        if step.op == "put":
            state[step.key] = step.value
        elif step.op == "delete":
            state.pop(step.key, None)
    return state


class NodeClass(Protocol):
    """What the sweep needs of a node class: `kvnode.Node` or a patched copy's."""

    def open(self, disk: Any) -> Any: ...


FsckFn = Callable[[Any], Any]


def run_history(node: Any) -> None:
    """Apply `HISTORY` to an open node; it ends by closing the node."""
    for step in HISTORY:
        if step.op == "put":
            node.put(step.key, step.value)
        elif step.op == "delete":
            node.delete(step.key)
        elif step.op == "sync":
            node.sync()
        elif step.op == "flush":
            node.flush_index()
        elif step.op == "reclaim":
            node.reclaim()
        elif step.op == "close":
            node.close()
        else:
            raise ValueError(f"unknown step {step.op!r}")


# -- the store's layout, for naming regions ------------------------------------------------------


@attrs.frozen
class Span:
    """A byte range of one extent and the region it belongs to."""

    start: int
    end: int
    region: str


@attrs.frozen
class Layout:
    """Where each structure of the undamaged store lies, extent by extent."""

    spans: Mapping[int, tuple[Span, ...]]
    newest_generation: int
    records: Mapping[int, int]  # superblock extent -> records it holds
    soft_wps: tuple[int, ...]

    def region(self, extent: int | None, offset: int) -> str:
        """The region of byte `offset` of `extent` (None: the format header)."""
        if extent is None:
            return "format header"
        spans = self.spans.get(extent, ())
        i = bisect.bisect_right([s.start for s in spans], offset) - 1
        if i < 0 or offset >= spans[i].end:
            raise ValueError(f"byte {offset} of extent {extent} is past the store's data")
        return spans[i].region

    def present(self) -> set[str]:
        """The regions this store has bytes in (the format header aside)."""
        return {s.region for spans in self.spans.values() for s in spans}


def layout(images: Sequence[bytes]) -> Layout:
    """Parse the undamaged extent images into regions."""
    size = record_bytes(len(images))
    records = [
        (extent, pos, Superblock.decode(images[extent][pos : pos + size]))
        for extent in range(SUPERBLOCK_EXTENTS)
        for pos in range(0, len(images[extent]), size)
    ]
    newest = max(records, key=lambda r: r[2].generation)
    spans: dict[int, list[Span]] = {e: [] for e in range(len(images))}
    for extent, pos, record in records:
        which = "newest record" if record is newest[2] else "older records"
        spans[extent].append(Span(pos, pos + size, f"superblock, {which}"))
    soft_wps = newest[2].soft_wps
    for extent in range(SUPERBLOCK_EXTENTS, len(images)):
        image, pos = images[extent], 0
        while pos < len(image):
            header = decode_header(image[pos:])
            end = pos + header.total_bytes
            if header.kind is Kind.INDEX:
                region = "index run"
            elif pos < soft_wps[extent]:
                region = "log below soft wp"
            else:
                region = "log above soft wp"
            spans[extent].append(Span(pos, end, region))
            pos = end
    counts = {e: sum(1 for r in records if r[0] == e) for e in range(SUPERBLOCK_EXTENTS)}
    return Layout(
        {e: tuple(s) for e, s in spans.items() if s}, newest[2].generation, counts, soft_wps
    )


# -- cases ----------------------------------------------------------------------------------------


def _extent_file(extent: int | None) -> str:
    return FORMAT_FILE if extent is None else f"extent-{extent:05d}"


@attrs.frozen
class Case:
    """One damage to the medium at rest. `extent` None is the format header file."""

    backend: str
    kind: str  # cut: keep `offset` bytes; flip: xor `mask` into byte `offset`; zero: a sector
    extent: int | None
    offset: int
    mask: int = 0
    length: int = 0
    region: str = attrs.field(default="", eq=False)

    def describe(self) -> str:
        """One line naming the backend, the structure and the bytes damaged."""
        if self.backend == "file":
            where = f"file {_extent_file(self.extent)}"
        else:
            where = f"extent {self.extent}"
        if self.kind == "cut":
            what = f"truncated to {self.offset} bytes"
        elif self.kind == "flip":
            what = f"byte {self.offset} xor {self.mask:#04x}"
        else:
            what = f"bytes {self.offset}..{self.offset + self.length} zeroed"
        region = f" ({self.region})" if self.region else ""
        return f"{self.backend}: {where} {what}{region}"

    def constructor(self) -> str:
        """The Python expression that rebuilds this case, for `replay`."""
        extras = "".join(
            f", {name}={value}"
            for name, value in (("mask", self.mask), ("length", self.length))
            if value
        )
        return f"Case({self.backend!r}, {self.kind!r}, {self.extent!r}, {self.offset}{extras})"


def enumerate_cases(
    backend: str, images: Mapping[int | None, bytes], geometry: Geometry, where: Layout
) -> list[Case]:
    """Every cut, single-bit flip and page-aligned zeroed sector of every byte in `images`.
    A case is labelled with the region of the first byte it damages (a cut: the first lost)."""
    cases: list[Case] = []
    for extent, image in images.items():
        size = len(image)
        regions = [where.region(extent, offset) for offset in range(size)]
        cases += (Case(backend, "cut", extent, n, region=regions[n]) for n in range(size))
        for offset in range(size):
            region = regions[offset]
            cases += (
                Case(backend, "flip", extent, offset, 1 << b, region=region) for b in range(8)
            )
        for offset in range(0, size, geometry.page_bytes):
            region = regions[offset]
            cases.append(
                Case(backend, "zero", extent, offset, length=geometry.page_bytes, region=region)
            )
    return cases


@functools.lru_cache(maxsize=4)
def all_cases(
    backend: str, images: tuple[tuple[int | None, bytes], ...], geometry: Geometry
) -> tuple[Case, ...]:
    """`enumerate_cases` of a store, remembered: every sweep of a backend builds the same store,
    and making ninety thousand cases costs more than a small sample takes to run."""
    found = dict(images)
    where = layout([found.get(e, b"") for e in range(geometry.extent_count)])
    return tuple(enumerate_cases(backend, found, geometry, where))


def stratified_sample(cases: Sequence[Case], n: int, seed: int) -> list[Case]:
    """`n` cases shared out over the (kind, region) strata, in their original order."""
    strata: dict[tuple[str, str], list[int]] = {}
    for i, case in enumerate(cases):
        strata.setdefault((case.kind, case.region), []).append(i)
    rng = random.Random(seed)
    chosen: list[int] = []
    left, groups = n, sorted(strata.values(), key=len)
    # Smallest strata first: what one cannot use passes to the larger ones.
    for position, group in enumerate(groups):
        share = min(len(group), left // (len(groups) - position))
        chosen += rng.sample(group, share)
        left -= share
    return [cases[i] for i in sorted(chosen)]


# -- backends: a base store, and a damaged copy per case ----------------------------------------


class Copy(Protocol):
    """A damaged copy of a store, opened afresh for fsck and again for the node."""

    def fsck_disk(self) -> Any:
        """A disk over the copy for fsck, which only reads."""
        ...

    def node_disk(self) -> Any:
        """A disk over the copy for the node."""
        ...


class Backend(Protocol):
    """A built store that hands out damaged copies of itself."""

    name: str
    geometry: Geometry

    def images(self) -> dict[int | None, bytes]:
        """The undamaged bytes of every extent holding data (and of the format header)."""
        ...

    def damaged(self, case: Case) -> Copy:
        """A copy of the store with `case` applied."""
        ...

    def close(self) -> None:
        """Remove whatever the store keeps outside memory."""
        ...


@attrs.frozen
class SimCopy:
    """A damaged clone: fsck and the node share it, fsck first, as it only reads."""

    disk: SimDisk

    def fsck_disk(self) -> SimDisk:
        """The clone."""
        return self.disk

    def node_disk(self) -> SimDisk:
        """The clone."""
        return self.disk


class SimBackend:
    """The store on a `SimDisk`; each case damages a clone."""

    name = "sim"

    def __init__(self, node_class: NodeClass, geometry: Geometry = GEOMETRY):
        self.geometry = geometry
        self._base = SimDisk(geometry)
        run_history(node_class.open(self._base))

    def images(self) -> dict[int | None, bytes]:
        """Extent images (a SimDisk has no format header)."""
        count = self.geometry.extent_count
        return {e: img for e in range(count) if (img := self._base.durable_image(e))}

    def damaged(self, case: Case) -> SimCopy:
        """A clone with the damage applied on its medium."""
        if case.extent is None:
            raise ValueError("a SimDisk has no format header")
        disk = self._base.clone()
        if case.kind == "cut":
            disk.cut(case.extent, case.offset)
        elif case.kind == "flip":
            disk.damage(case.extent, case.offset, case.mask)
        else:
            disk.zero(case.extent, case.offset, case.length)
        return SimCopy(disk)

    def close(self) -> None:
        """Nothing outside memory."""


@attrs.frozen
class FileCopy:
    """A damaged copy of the data directory; every call opens a fresh `FileDisk` over it."""

    path: str

    def fsck_disk(self) -> FileDisk:
        """The copy opened read-only, as fsck's own command opens it."""
        return FileDisk.open(self.path, read_only=True)

    def node_disk(self) -> FileDisk:
        """The copy opened for writing, as recovery needs."""
        return FileDisk.open(self.path)


class FileBackend:
    """The store in a data directory; each case damages a copy of its files."""

    name = "file"

    def __init__(
        self, node_class: NodeClass, geometry: Geometry = GEOMETRY, workdir: str | None = None
    ):
        self.geometry = geometry
        self._root = tempfile.mkdtemp(prefix="kvnode-sweep-", dir=workdir)
        base = os.path.join(self._root, "base")
        run_history(node_class.open(FileDisk.create(base, geometry)))
        self._files = {name: Path(base, name).read_bytes() for name in sorted(os.listdir(base))}
        self._copy = os.path.join(self._root, "copy")
        shutil.copytree(base, self._copy)

    def images(self) -> dict[int | None, bytes]:
        """Every non-empty extent file, and the format header under `None`."""
        found: dict[int | None, bytes] = {None: self._files[FORMAT_FILE]}
        for extent in range(self.geometry.extent_count):
            if image := self._files[_extent_file(extent)]:
                found[extent] = image
        return found

    def _restore(self) -> None:
        # One copy, reused: rewriting the few files the last case changed is far cheaper than
        # copying a directory tree per case.
        for name in set(os.listdir(self._copy)) - set(self._files):
            os.remove(os.path.join(self._copy, name))
        for name, image in self._files.items():
            path = os.path.join(self._copy, name)
            with contextlib.suppress(FileNotFoundError):
                if os.path.getsize(path) == len(image) and Path(path).read_bytes() == image:
                    continue
            Path(path).write_bytes(image)

    def damaged(self, case: Case) -> FileCopy:
        """The copy restored to the base store, then damaged as a file."""
        self._restore()
        path = os.path.join(self._copy, _extent_file(case.extent))
        if case.kind == "cut":
            os.truncate(path, case.offset)
        else:
            with open(path, "r+b") as f:
                size = os.fstat(f.fileno()).st_size
                f.seek(case.offset)
                if case.kind == "flip":
                    byte = f.read(1)[0]
                    f.seek(case.offset)
                    f.write(bytes([byte ^ case.mask]))
                else:
                    f.write(bytes(max(0, min(case.length, size - case.offset))))
        return FileCopy(self._copy)

    def close(self) -> None:
        """Remove the directory holding the base store and the copy."""
        shutil.rmtree(self._root, ignore_errors=True)


def make_backend(name: str, node_class: NodeClass, workdir: str | None = None) -> Backend:
    """The built store for backend `name` ("sim" or "file")."""
    if name == "sim":
        return SimBackend(node_class)
    if name == "file":
        return FileBackend(node_class, workdir=workdir)
    raise ValueError(f"unknown backend {name!r}; choose from {', '.join(BACKENDS)}")


# -- running one case -----------------------------------------------------------------------------

_STDLIB = sysconfig.get_paths()["stdlib"]


def raised_at(err: BaseException, depth: int = 3) -> str:
    """Where `err` was raised, as `package/module.py:line`, outside the standard library: the
    deepest frame first, then up to `depth - 1` of its callers (`a <- b <- c`)."""
    frames = traceback.extract_tb(err.__traceback__)
    mine = [f for f in frames if not f.filename.startswith(_STDLIB)] or frames
    if not mine:
        return "?"
    return " <- ".join(
        f"{Path(f.filename).parent.name}/{Path(f.filename).name}:{f.lineno}"
        for f in reversed(mine[-depth:])
    )


def _exception(err: BaseException) -> str:
    return f"{type(err).__name__}: {err} (raised at {raised_at(err)})"


@attrs.frozen
class CaseResult:
    """What reopening a damaged copy gave, and what fsck said about it."""

    case: Case
    outcome: str
    detail: str
    #: For `undocumented`: the exception type and `module:line` where it was raised.
    exception: tuple[str, str] | None = None
    #: None when fsck raised, or could not open the disk (the latter counts as a report).
    fsck_ok: bool | None = None
    fsck_error: str | None = None
    node: str = "kvnode.node.Node"
    fsck: str = "kvnode.fsck.fsck"

    @property
    def fsck_disagrees(self) -> bool:
        """fsck raised, or called the disk clean while the outcome was not `correct`."""
        return self.fsck_error is not None or (self.outcome != "correct" and self.fsck_ok is True)

    @property
    def fsck_flags_correct(self) -> bool:
        """fsck reported damage the node never noticed (allowed: dead data can be damaged)."""
        return self.outcome == "correct" and self.fsck_ok is False

    @property
    def bad(self) -> bool:
        """A case the node or fsck got wrong."""
        return self.outcome in BAD_OUTCOMES or self.fsck_disagrees

    def _replay_args(self) -> str:
        args = ""
        if self.node != qualified_name(Node):
            args += f", node_class={self.node}"
        if self.fsck != qualified_name(shipped_fsck):
            args += f", fsck_fn={self.fsck}"
        return args

    def recipe(self) -> str:
        """A standalone paragraph that reproduces this case."""
        case = self.case
        if case.backend == "sim":
            medium = f"a SimDisk of {GEOMETRY!r}"
            damage = {
                "cut": f"disk.cut({case.extent}, {case.offset})",
                "flip": f"disk.damage({case.extent}, {case.offset}, {case.mask:#04x})",
                "zero": f"disk.zero({case.extent}, {case.offset}, {case.length})",
            }[case.kind]
            reopen = f"run {self.fsck}(disk), then open the node on the same disk"
        else:
            medium = f"a data directory made by FileDisk.create(path, {GEOMETRY!r})"
            name = _extent_file(case.extent)
            damage = {
                "cut": f"truncate the file {name} to {case.offset} bytes",
                "flip": f"xor byte {case.offset} of the file {name} with {case.mask:#04x}",
                "zero": f"zero bytes {case.offset}..{case.offset + case.length} of the file {name}",
            }[case.kind]
            reopen = (
                f"run {self.fsck}(FileDisk.open(path, read_only=True)) and close that disk, then "
                "open the node on a fresh FileDisk.open(path)"
            )
        if self.fsck_error:
            fsck_said = f"fsck raised {self.fsck_error}"
        elif self.fsck_ok is None:
            fsck_said = "fsck could not open the directory (DataDirError)"
        else:
            fsck_said = "fsck reported " + ("no damage" if self.fsck_ok else "damage")
        return (
            f"Open {self.node}.open on {medium}, apply kvcheck.crash.sweep.HISTORY to it with "
            f"kvcheck.crash.sweep.run_history (a fixed {len(HISTORY)}-step history ending in a "
            f"clean close), then {damage}; {reopen}, get every key in kvcheck.crash.sweep.KEYS and "
            f"scan() everything, comparing with kvcheck.crash.sweep.reference(). Outcome "
            f"{self.outcome}: {self.detail}; {fsck_said}. Replay: "
            f"kvcheck.crash.sweep.replay(kvcheck.crash.sweep.{case.constructor()}{self._replay_args()})."
        )


def _classify_reads(node: Any, expected: Mapping[bytes, bytes]) -> tuple[str, str, Any]:
    """Read every key and scan; (outcome, detail, undocumented exception or None)."""
    wrong: list[str] = []
    missing: list[str] = []
    failed: list[str] = []
    strange: BaseException | None = None

    def attempt(what: str, fn: Callable[[], Any]) -> tuple[bool, Any]:
        nonlocal strange
        try:
            return True, fn()
        except CorruptionError as err:
            failed.append(f"{what}: {err}")
        except Exception as err:
            strange = strange or err
            failed.append(f"{what}: {_exception(err)}")
        return False, None

    for key in KEYS:
        ok, got = attempt(f"get({key!r})", functools.partial(node.get, key))
        want = expected.get(key)
        if not ok or got == want:
            continue
        if got is None:
            missing.append(f"get({key!r}) is None, expected {want!r}")
        else:
            wrong.append(f"get({key!r}) = {got!r}, expected {want!r}")
    ok, pairs = attempt("scan()", node.scan)
    if ok:
        seen = dict(pairs)
        for key, value in pairs:
            if expected.get(key) != value:
                wrong.append(f"scan() holds {key!r}: {value!r}, expected {expected.get(key)!r}")
        missing += [f"scan() lacks {key!r}" for key in expected if key not in seen]
    attempt("close()", node.close)
    if wrong:
        return "wrong", "; ".join(wrong[:3]), strange
    if missing:
        return "missing", "; ".join(missing[:3]), strange
    if strange is not None:
        return "undocumented", _exception(strange), strange
    if failed:
        return "damaged_keys_fail", f"{len(failed)} reads raised, first {failed[0]}", None
    return "correct", "every read matched", None


def _run_fsck(copy: Copy, fsck_fn: FsckFn) -> tuple[bool | None, str | None]:
    """(report.ok, None), or (None, why) when fsck raised; (None, None) when the directory
    itself is refused with `DataDirError`, which is how fsck reports that damage."""
    try:
        disk = copy.fsck_disk()
    except DataDirError:
        return None, None
    except Exception as err:
        return None, f"opening the disk for fsck: {_exception(err)}"
    try:
        return bool(fsck_fn(disk).ok), None
    except Exception as err:
        return None, _exception(err)
    finally:
        disk.close()


def qualified_name(thing: NodeClass | FsckFn) -> str:
    """`module.name` of a node class or fsck function, as recipes name it."""
    return f"{thing.__module__}.{getattr(thing, '__qualname__', thing)}"


def _open_and_read(
    copy: Copy, node_class: NodeClass, expected: Mapping[bytes, bytes]
) -> tuple[str, str, BaseException | None]:
    """Open a node over the copy and read everything: (outcome, detail, undocumented error)."""
    disk = None
    try:
        disk = copy.node_disk()
        node = node_class.open(disk)
    except (CorruptionError, DataDirError) as err:
        return "refused", f"{type(err).__name__}: {err}", None
    except Exception as err:
        return "undocumented", f"open: {_exception(err)}", err
    else:
        return _classify_reads(node, expected)
    finally:
        if disk is not None:
            disk.close()  # a failed open leaves it open; after `node.close` it is harmless


def run_case(
    backend: Backend,
    case: Case,
    *,
    node_class: NodeClass = Node,
    fsck_fn: FsckFn = shipped_fsck,
    expected: Mapping[bytes, bytes] | None = None,
) -> CaseResult:
    """Damage a copy of `backend`'s store as `case` says, fsck it, reopen it and read it all;
    then reopen and read it again, since the first open's repairs must lose nothing either."""
    expected = reference() if expected is None else expected
    copy = backend.damaged(case)
    fsck_ok, fsck_error = _run_fsck(copy, fsck_fn)
    outcome, detail, strange = _open_and_read(copy, node_class, expected)
    if outcome in ("correct", "damaged_keys_fail"):
        again, again_detail, again_strange = _open_and_read(copy, node_class, expected)
        if again in BAD_OUTCOMES:
            outcome, strange = again, again_strange
            detail = f"the first reopen read back fine, the second: {again_detail}"
    exception = None if strange is None else (type(strange).__name__, raised_at(strange))
    return CaseResult(
        case,
        outcome,
        detail,
        exception,
        fsck_ok,
        fsck_error,
        qualified_name(node_class),
        qualified_name(fsck_fn),
    )


# -- the sweep ------------------------------------------------------------------------------------


@attrs.define
class SweepReport:
    """Counts per outcome and per region, and every bad case with its recipe."""

    backend: str
    node: str
    cases: int = 0
    seconds: float = 0.0
    counts: Counter[str] = attrs.field(factory=Counter)
    by_region: dict[str, Counter[str]] = attrs.field(factory=dict)
    fsck_flags_correct: int = 0
    fsck_disagreements: list[CaseResult] = attrs.field(factory=list)
    bad: list[CaseResult] = attrs.field(factory=list)
    #: (exception type, where raised) -> cases
    undocumented: Counter[tuple[str, str]] = attrs.field(factory=Counter)
    region_seconds: dict[str, float] = attrs.field(factory=dict)

    def add(self, result: CaseResult, seconds: float = 0.0) -> None:
        """Count one case, which took `seconds`."""
        self.cases += 1
        region_time = self.region_seconds.get(result.case.region, 0.0)
        self.region_seconds[result.case.region] = region_time + seconds
        self.counts[result.outcome] += 1
        region = self.by_region.setdefault(result.case.region, Counter())
        region[result.outcome] += 1
        region["cases"] += 1
        if result.fsck_flags_correct:
            self.fsck_flags_correct += 1
            region["fsck flags correct"] += 1
        if result.fsck_disagrees:
            self.fsck_disagreements.append(result)
            region["fsck disagrees"] += 1
        if result.bad:
            self.bad.append(result)
        if result.exception is not None:
            self.undocumented[result.exception] += 1

    @property
    def ok(self) -> bool:
        """No wrong, missing or undocumented outcome, and fsck always agreed."""
        return not self.bad

    def families(self) -> list[tuple[tuple[str, str, str], int, CaseResult]]:
        """Bad cases grouped by (outcome or fsck, kind, region): count and first example."""
        groups: dict[tuple[str, str, str], list[CaseResult]] = {}
        for result in self.bad:
            label = result.outcome if result.outcome in BAD_OUTCOMES else "fsck disagrees"
            groups.setdefault((label, result.case.kind, result.case.region), []).append(result)
        return [(key, len(found), found[0]) for key, found in sorted(groups.items())]

    def summary(self, examples: int = 5) -> str:
        """The counts, the bad-case families, and recipes for the first few bad cases."""
        counts = ", ".join(f"{o} {self.counts[o]}" for o in OUTCOMES)
        lines = [
            f"{self.backend} ({self.node}): {self.cases} cases in {self.seconds:.1f} s: {counts}; "
            f"fsck disagrees {len(self.fsck_disagreements)}, flags correct "
            f"{self.fsck_flags_correct}"
        ]
        for (label, kind, region), count, first in self.families():
            lines.append(f"  {label}: {count} x {kind} in {region}, e.g. {first.case.describe()}")
        for (name, where), count in sorted(self.undocumented.items()):
            lines.append(f"  undocumented {name} raised at {where}: {count} cases")
        for result in self.bad[:examples]:
            lines.append("")
            lines.append(result.recipe())
        return "\n".join(lines)


def sweep(
    backend: str,
    *,
    sample: int | None = None,
    seed: int = 0,
    node_class: NodeClass = Node,
    fsck_fn: FsckFn = shipped_fsck,
    select: Callable[[Case], bool] | None = None,
    workdir: str | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> SweepReport:
    """Damage every byte of a fresh store on `backend` ("sim" or "file") and classify each.

    `select` keeps only the cases it accepts; `sample` then draws that many, stratified (see
    the module docstring) with `seed`. `workdir` holds the file backend's directories.
    """
    start = time.perf_counter()
    built = make_backend(backend, node_class, workdir)
    try:
        cases = list(all_cases(backend, tuple(built.images().items()), built.geometry))
        if select is not None:
            cases = [c for c in cases if select(c)]
        if sample is not None and sample < len(cases):
            cases = stratified_sample(cases, sample, seed)
        expected = reference()
        report = SweepReport(backend, qualified_name(node_class))
        for i, case in enumerate(cases):
            began = time.perf_counter()
            result = run_case(
                built, case, node_class=node_class, fsck_fn=fsck_fn, expected=expected
            )
            report.add(result, time.perf_counter() - began)
            if progress is not None:
                progress(i + 1, len(cases))
    finally:
        built.close()
    report.seconds = time.perf_counter() - start
    return report


def replay(
    case: Case,
    *,
    node_class: NodeClass = Node,
    fsck_fn: FsckFn = shipped_fsck,
    workdir: str | None = None,
) -> CaseResult:
    """Rebuild the store and rerun one case exactly, region label included."""
    built = make_backend(case.backend, node_class, workdir)
    try:
        where = _layout_of(built)
        case = attrs.evolve(case, region=where.region(case.extent, case.offset))
        return run_case(built, case, node_class=node_class, fsck_fn=fsck_fn)
    finally:
        built.close()


def store_layout(backend: str = "sim", node_class: NodeClass = Node) -> Layout:
    """The layout of a freshly built store, to check it has every region the sweep names."""
    built = make_backend(backend, node_class)
    try:
        return _layout_of(built)
    finally:
        built.close()


def _layout_of(built: Backend) -> Layout:
    images = built.images()
    return layout([images.get(e, b"") for e in range(built.geometry.extent_count)])


__all__ = [
    "BACKENDS",
    "GEOMETRY",
    "HISTORY",
    "KEYS",
    "KINDS",
    "OUTCOMES",
    "REGIONS",
    "Case",
    "CaseResult",
    "Layout",
    "Step",
    "SweepReport",
    "all_cases",
    "enumerate_cases",
    "layout",
    "make_backend",
    "reference",
    "replay",
    "run_case",
    "run_history",
    "store_layout",
    "stratified_sample",
    "sweep",
]
