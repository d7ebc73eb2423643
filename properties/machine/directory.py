"""Stores kept in a directory: how to open one, and when it promises a mutation durable.

A factory named as `module:factory` returns a `DirectoryStore`. `open(path)` opens (creating if
need be) the store kept in the directory `path` and returns an object with `put(key, value)`,
`get(key) -> bytes | None`, `delete(key)` and `close()`, keys and values bytes, plus `sync()`
when the store promises durability at sync. `durable` says what the store promises:

- `"return"`: a mutation is durable once its call returns (an autocommitting database);
- `"sync"`: every mutation before a `sync()` is durable once `sync()` returns;
- `"close"`: every mutation is durable once `close()` returns (and nothing before).

The checks hold the store to exactly that promise and no more: a store that says `"close"` may
lose everything since it was opened when killed, but nothing it had closed.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import attrs

from kvcheck.machine.targets import TargetError, resolve

#: What a store may promise, in `DirectoryStore.durable`.
PROMISES = ("return", "sync", "close")
#: The methods every directory store needs, and the one a `"sync"` store needs as well.
_NEEDED = ("put", "get", "delete", "close")


def _promise(_instance: object, _attribute: object, value: str) -> None:
    if value not in PROMISES:
        raise ValueError(f"durable must be one of {', '.join(PROMISES)}, got {value!r}")


@attrs.frozen
class DirectoryStore:
    """A store kept in a directory: its name, how to open it, and what it promises."""

    name: str
    open: Callable[[str], Any]
    durable: str = attrs.field(default="sync", validator=_promise)
    #: False for a store whose file I/O is done in C (`sqlite3`, `lmdb`): no interception sees
    #: it, so only process kills (`kvcheck sigkill`) can check it.
    in_python: bool = True

    def open_checked(self, path: str) -> Any:
        """`open(path)`, checked to have the API (a missing method is a `TargetError`)."""
        store = self.open(path)
        needed = _NEEDED + (("sync",) if self.durable == "sync" else ())
        missing = [name for name in needed if not callable(getattr(store, name, None))]
        if missing:
            raise TargetError(
                f"{self.name}: the store {type(store).__name__} lacks {', '.join(missing)}"
            )
        return store


def load_directory_store(spec: str) -> DirectoryStore:
    """The `DirectoryStore` the factory `module:factory` returns.

    Raises `ValueError` for a malformed spec and `TargetError` for a factory that cannot be
    loaded, raises, or returns something else.
    """
    factory = resolve(spec)
    try:
        made = factory()
    except Exception as err:
        raise TargetError(f"the factory {spec} raised {type(err).__name__}: {err}") from err
    if not isinstance(made, DirectoryStore):
        raise TargetError(
            f"the factory {spec} returned a {type(made).__name__}, not a DirectoryStore "
            "(kvcheck.machine.directory)"
        )
    return made


def make_directory(path: str) -> None:
    """Create the directory `path` (and its parents) durably: each new directory's parent is
    fsynced, without which a power loss may take the new directory, and all in it, away."""
    missing = []
    head = os.path.abspath(path)
    while not os.path.isdir(head):
        missing.append(head)
        head = os.path.dirname(head)
    for directory in reversed(missing):
        os.mkdir(directory)
        fd = os.open(os.path.dirname(directory), os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
