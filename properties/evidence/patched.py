"""Copies of the `kvnode` package with source patches applied.

A planted bug that lives inside a function (a bound check left out, a slice one byte short) is
best planted as an edit to the source, not as an override. `patched_package` copies every module
of `kvnode` into a private directory under a new package name, rewrites the package's own
imports to point at the copy, applies the patches, and imports the copy. The shipped package is
never touched, and a copy's modules are ordinary files, so CrossHair can check them too.

The shared vocabulary (`SHARED`: errors, limits, dependencies, the disks) is not copied: a copy
imports it from `kvnode`, so its errors are the errors the properties catch and its node runs on
the `SimDisk` the properties crash.

A patch names the exact text it replaces, which must occur exactly once: when the shipped code
changes under a planted bug, the bug fails loudly (`StalePatch`) instead of silently planting
nothing.
"""

from __future__ import annotations

import atexit
import importlib
import re
import shutil
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

import attrs

import kvnode

#: Modules a copy shares with `kvnode` instead of copying.
SHARED = frozenset({"errors", "limits", "dependency", "disk", "simdisk", "filedisk"})
_IMPORT = re.compile(r"^(\s*)(from|import) kvnode(\.\w+)?\b", re.MULTILINE)
_root: Path | None = None


class StalePatch(Exception):
    """A patch's text does not occur exactly once in the module it patches."""


@attrs.frozen
class Patch:
    """Replace `old` by `new` in the module `kvnode.<module>`."""

    module: str
    old: str
    new: str


def copies_root() -> Path:
    """The directory holding this process's patched copies; it is on `sys.path`."""
    global _root
    if _root is None:
        _root = Path(tempfile.mkdtemp(prefix="kvnode-patched-"))
        atexit.register(shutil.rmtree, _root, ignore_errors=True)
        sys.path.insert(0, str(_root))
    return _root


def patched_source(module: str, patches: Sequence[Patch], package: str) -> str:
    """The source of `kvnode.<module>` with `patches` applied and imports pointed at `package`."""
    source = (Path(kvnode.__file__).parent / f"{module}.py").read_text()
    for patch in patches:
        if patch.module != module:
            continue
        found = source.count(patch.old)
        if found != 1:
            raise StalePatch(f"kvnode/{module}.py holds the patched text {found} times, not once")
        source = source.replace(patch.old, patch.new)

    def point(match: re.Match[str]) -> str:
        submodule = match[3] or ""
        if submodule[1:] in SHARED:
            return match[0]
        return f"{match[1]}{match[2]} {package}{submodule}"

    return _IMPORT.sub(point, source)


def patched_package(package: str, patches: Sequence[Patch]) -> ModuleType:
    """Import a copy of `kvnode` named `package` with `patches` applied (once per process)."""
    if package in sys.modules:
        return sys.modules[package]
    if not package.isidentifier() or package == "kvnode":
        raise ValueError(f"{package!r} cannot name a copy of kvnode")
    modules = sorted(p.stem for p in Path(kvnode.__file__).parent.glob("*.py"))
    unknown = {p.module for p in patches} - (set(modules) - SHARED)
    if unknown:
        raise StalePatch(f"not a patchable kvnode module: {', '.join(sorted(unknown))}")
    # Every patch is applied before anything is written, so a stale one leaves nothing behind
    # that a later copy of the same name would trip over.
    sources = {m: patched_source(m, patches, package) for m in modules if m not in SHARED}
    target = copies_root() / package
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir()
    for module, source in sources.items():
        (target / f"{module}.py").write_text(source)
    return _import_fresh(package)


def _import_fresh(name: str) -> ModuleType:
    """Import a copy just written; if importing fails, forget every module it left half made."""
    from kvcheck.frontends import constants

    importlib.invalidate_caches()
    try:
        made = importlib.import_module(name)
    except BaseException:
        for loaded in [m for m in sys.modules if m == name or m.startswith(f"{name}.")]:
            del sys.modules[loaded]
        raise
    # Hypothesis would draw constants from the copy too, so that which bugs were planted
    # earlier in a process changed what a derandomized test draws.
    constants.exclude(made)
    return made


def patched_module(module: str, patches: Sequence[Patch], name: str) -> ModuleType:
    """Import a copy of the one module `kvnode.<module>` as `name`, with `patches` applied and
    its imports left pointing at `kvnode` (once per process): for a planted bug in a shared
    module such as `filedisk`, whose copy runs beside the shipped node."""
    if name in sys.modules:
        return sys.modules[name]
    if not name.isidentifier() or "." in name:
        raise ValueError(f"{name!r} cannot name a copy of a module")
    source = (Path(kvnode.__file__).parent / f"{module}.py").read_text()
    for patch in patches:
        found = source.count(patch.old)
        if patch.module != module or found != 1:
            raise StalePatch(f"kvnode/{module}.py holds the patched text {found} times, not once")
        source = source.replace(patch.old, patch.new)
    (copies_root() / f"{name}.py").write_text(source)
    return _import_fresh(name)


def module(package: ModuleType, name: str) -> ModuleType:
    """The submodule `name` of a package (`kvnode` itself or a patched copy)."""
    if name in SHARED:
        return importlib.import_module(f"kvnode.{name}")
    return importlib.import_module(f"{package.__name__}.{name}")
