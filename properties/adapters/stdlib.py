"""The standard library's stores, as directory stores for `kvcheck sigkill`.

Each promises only what its documentation does. `sqlite3` in autocommit mode commits every
statement, so a mutation is durable on return. `dbm.dumb` keeps its index in memory and writes
the index file at `sync()` and `close()` (its documentation: the index "is written to disk" by
`sync`), so it promises at sync; `shelve` over it likewise.
"""

from __future__ import annotations

import dbm.dumb
import os
import shelve
import sqlite3
from typing import Any

from kvcheck.machine.directory import DirectoryStore, make_directory


class SqliteStore:
    """A table of blobs in `PATH/kv.sqlite`, every statement committed on its own."""

    def __init__(self, path: str):
        make_directory(path)
        self._db = sqlite3.connect(os.path.join(path, "kv.sqlite"), isolation_level=None)
        self._db.execute("CREATE TABLE IF NOT EXISTS kv (key BLOB PRIMARY KEY, value BLOB)")

    def put(self, key: bytes, value: bytes) -> None:
        """Insert or replace `key`."""
        self._db.execute("INSERT OR REPLACE INTO kv VALUES (?, ?)", (key, value))

    def get(self, key: bytes) -> bytes | None:
        """The value of `key`, or None."""
        row = self._db.execute("SELECT value FROM kv WHERE key = ?", (key,)).fetchone()
        return None if row is None else bytes(row[0])

    def delete(self, key: bytes) -> None:
        """Remove `key` if present."""
        self._db.execute("DELETE FROM kv WHERE key = ?", (key,))

    def close(self) -> None:
        """Close the connection."""
        self._db.close()


def sqlite() -> DirectoryStore:
    """`sqlite3`, autocommitting: durable on return."""
    return DirectoryStore("sqlite3", SqliteStore, durable="return", in_python=False)


class MappingStore:
    """A store over a dict-like database of bytes (`self._db`), with `sync()` and `close()`."""

    _db: Any

    def put(self, key: bytes, value: bytes) -> None:
        """Set `key`."""
        self._db[key] = value

    def get(self, key: bytes) -> bytes | None:
        """The value of `key`, or None."""
        return bytes(self._db[key]) if key in self._db else None

    def delete(self, key: bytes) -> None:
        """Remove `key` if present."""
        if key in self._db:
            del self._db[key]

    def sync(self) -> None:
        """The database's own `sync()`."""
        self._db.sync()

    def close(self) -> None:
        """The database's own `close()`."""
        self._db.close()


class DumbStore(MappingStore):
    """`dbm.dumb` in `PATH/db`: `PATH/db.dat` holds the values, `PATH/db.dir` the index (written
    by `sync()` and `close()`)."""

    def __init__(self, path: str):
        make_directory(path)
        # Held open for the store's life, closed by `close()`.
        self._db = dbm.dumb.open(os.path.join(path, "db"), "c")  # noqa: SIM115


def dbm_dumb() -> DirectoryStore:
    """`dbm.dumb`: durable at `sync()`."""
    return DirectoryStore("dbm.dumb", DumbStore, durable="sync")


class ShelveStore(DumbStore):
    """`shelve` over `dbm.dumb`; shelve's keys are text, so bytes keys map one-to-one through
    latin-1, and values are pickled bytes."""

    def __init__(self, path: str):
        make_directory(path)
        inner: Any = dbm.dumb.open(os.path.join(path, "shelf"), "c")  # noqa: SIM115
        self._db = shelve.Shelf(inner)

    def put(self, key: bytes, value: bytes) -> None:
        """Set `key`."""
        self._db[key.decode("latin-1")] = value

    def get(self, key: bytes) -> bytes | None:
        """The value of `key`, or None."""
        value = self._db.get(key.decode("latin-1"))
        return None if value is None else bytes(value)

    def delete(self, key: bytes) -> None:
        """Remove `key` if present."""
        text = key.decode("latin-1")
        if text in self._db:
            del self._db[text]


def shelve_dumb() -> DirectoryStore:
    """`shelve` over `dbm.dumb`: durable at `sync()`."""
    return DirectoryStore("shelve", ShelveStore, durable="sync")
