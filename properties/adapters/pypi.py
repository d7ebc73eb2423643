"""Stores from the package index, as directory stores (`pip install 'kvnode-lfm[stores]'`).

Each promises only what its documentation does. Pure-Python ones run under `kvcheck --target`
(on the simulated file system) and `kvcheck sigkill`; C-backed ones only under `kvcheck sigkill`
(no Python interception sees their I/O):

- `tinydb` (pure Python): its JSON storage writes the whole file and fsyncs it on every
  change, so a mutation is durable on return.
- `semidbm` (pure Python): an append-only data file; `sync()` fsyncs it. Opened with its
  plain-read loader rather than the `mmap` one it picks by default: `mmap` is C and sees no
  simulated file (the loaders read the same format).
- `pickledb` (pure Python over `orjson`): the whole database is one file that `save()` writes
  to a temporary name and renames over the old one ("atomically save"), so it promises at
  `save()`, which the adapter calls as `sync()`.
- `ZODB`'s `FileStorage` (pure-Python I/O): a transaction is appended to `Data.fs` and fsynced
  at commit, so with a commit per mutation a mutation is durable on return.
- `sqlitedict` (SQLite, C): with `autocommit=True` every mutation is committed on return.
- `diskcache` (SQLite and files, C): every `set` and `delete` is committed on return.
- `lmdb` (C): every write transaction is durable when it commits (the default `sync=True`).
"""

from __future__ import annotations

import importlib
import logging
import os
from types import ModuleType
from typing import Any

from kvcheck.adapters.stdlib import MappingStore
from kvcheck.machine.directory import DirectoryStore, make_directory


def _need(module: str) -> ModuleType:
    try:
        return importlib.import_module(module)
    except ImportError:
        raise ImportError(
            f"this adapter needs {module}: pip install 'kvnode-lfm[stores]'"
        ) from None


class TinyStore:
    """One TinyDB table in `PATH/db.json`, a document per key (hex, as JSON holds text)."""

    def __init__(self, path: str):
        tinydb = _need("tinydb")
        make_directory(path)
        self._db = tinydb.TinyDB(os.path.join(path, "db.json"))
        self._query = tinydb.Query()

    def put(self, key: bytes, value: bytes) -> None:
        """Insert or update `key`."""
        self._db.upsert({"k": key.hex(), "v": value.hex()}, self._query.k == key.hex())

    def get(self, key: bytes) -> bytes | None:
        """The value of `key`, or None."""
        found = self._db.get(self._query.k == key.hex())
        return None if found is None else bytes.fromhex(found["v"])

    def delete(self, key: bytes) -> None:
        """Remove `key` if present."""
        self._db.remove(self._query.k == key.hex())

    def close(self) -> None:
        """Close the file."""
        self._db.close()


def tinydb_store() -> DirectoryStore:
    """`tinydb`'s JSON storage: durable on return."""
    return DirectoryStore("tinydb", TinyStore, durable="return")


class SemiStore(MappingStore):
    """`semidbm` in `PATH/db` (semidbm's own directory); `sync()` fsyncs its data file, and
    `close()` syncs first."""

    def __init__(self, path: str):
        _need("semidbm")
        db = importlib.import_module("semidbm.db")
        simpleload = importlib.import_module("semidbm.loaders.simpleload")

        make_directory(path)
        params = db._create_default_params(verify_checksums=False)  # semidbm's own default
        params["data_loader"] = simpleload.SimpleFileLoader()
        self._db: Any = db._SemiDBM(os.path.join(path, "db"), **params)


def semidbm_store() -> DirectoryStore:
    """`semidbm`: durable at `sync()`."""
    return DirectoryStore("semidbm", SemiStore, durable="sync")


class PickleStore:
    """A `pickledb.PickleDB` in `PATH/db.json` (keys and values hex, as JSON holds text)."""

    def __init__(self, path: str):
        pickledb = _need("pickledb")
        make_directory(path)
        self._db = pickledb.PickleDB(os.path.join(path, "db.json")).load()

    def put(self, key: bytes, value: bytes) -> None:
        """Set `key` in memory."""
        self._db.set(key.hex(), value.hex())

    def get(self, key: bytes) -> bytes | None:
        """The value of `key`, or None."""
        value = self._db.get(key.hex())
        return None if value is None else bytes.fromhex(value)

    def delete(self, key: bytes) -> None:
        """Remove `key` if present."""
        self._db.remove(key.hex())

    def sync(self) -> None:
        """`save()`: write the file anew and rename it into place."""
        self._db.save()

    def close(self) -> None:
        """Save (pickledb has no close of its own)."""
        self._db.save()


def pickledb_store() -> DirectoryStore:
    """`pickledb`: durable at `save()` (the adapter's `sync()`)."""
    return DirectoryStore("pickledb", PickleStore, durable="sync")


_QUIET = logging.NullHandler()


class ZodbStore:
    """A ZODB `FileStorage` in `PATH/Data.fs`: one root mapping, a transaction per mutation."""

    def __init__(self, path: str):
        _need("ZODB")
        filestorage = importlib.import_module("ZODB.FileStorage")
        zodb = importlib.import_module("ZODB")
        self._transaction = importlib.import_module("transaction")
        make_directory(path)
        # ZODB logs each recovery it makes (a damaged index rebuilt, a failed commit aborted)
        # with a traceback; with no handler configured, Python would print every one. A null
        # handler keeps them out of the report and from any handler the caller configured.
        for name in ("ZODB", "txn"):
            logging.getLogger(name).addHandler(_QUIET)
        self._db = zodb.DB(filestorage.FileStorage(os.path.join(path, "Data.fs")))
        # A transaction manager of its own, so the checks' stores never share one.
        self._manager = self._transaction.TransactionManager()
        self._connection = self._db.open(self._manager)
        self._root = self._connection.root()

    def _commit(self) -> None:
        try:
            self._manager.commit()
        except BaseException:
            self._manager.abort()
            raise

    def put(self, key: bytes, value: bytes) -> None:
        """Set `key` and commit."""
        self._root[key.hex()] = value
        self._commit()

    def get(self, key: bytes) -> bytes | None:
        """The value of `key`, or None."""
        value = self._root.get(key.hex())
        return None if value is None else bytes(value)

    def delete(self, key: bytes) -> None:
        """Remove `key` if present and commit."""
        if key.hex() in self._root:
            del self._root[key.hex()]
            self._commit()

    def close(self) -> None:
        """Close the connection and the database."""
        self._connection.close()
        self._db.close()


def zodb_store() -> DirectoryStore:
    """ZODB's `FileStorage`: durable when each transaction commits."""
    return DirectoryStore("zodb", ZodbStore, durable="return")


class SqliteDictStore:
    """`sqlitedict` in `PATH/db.sqlite`, autocommitting."""

    def __init__(self, path: str):
        sqlitedict = _need("sqlitedict")
        make_directory(path)
        self._db = sqlitedict.SqliteDict(
            os.path.join(path, "db.sqlite"), autocommit=True, encode=bytes, decode=bytes
        )

    def put(self, key: bytes, value: bytes) -> None:
        """Set `key` (keys are text in sqlitedict: hex)."""
        self._db[key.hex()] = value

    def get(self, key: bytes) -> bytes | None:
        """The value of `key`, or None."""
        value = self._db.get(key.hex())
        return None if value is None else bytes(value)

    def delete(self, key: bytes) -> None:
        """Remove `key` if present."""
        self._db.pop(key.hex(), None)

    def close(self) -> None:
        """Close the connection."""
        self._db.close()


def sqlitedict_store() -> DirectoryStore:
    """`sqlitedict` with `autocommit=True`: durable on return."""
    return DirectoryStore("sqlitedict", SqliteDictStore, durable="return", in_python=False)


class DiskCacheStore:
    """`diskcache.Cache` in `PATH`."""

    def __init__(self, path: str):
        diskcache = _need("diskcache")
        make_directory(path)
        self._cache = diskcache.Cache(path)

    def put(self, key: bytes, value: bytes) -> None:
        """Set `key`."""
        self._cache.set(key, value)

    def get(self, key: bytes) -> bytes | None:
        """The value of `key`, or None."""
        value = self._cache.get(key)
        return None if value is None else bytes(value)

    def delete(self, key: bytes) -> None:
        """Remove `key` if present."""
        self._cache.delete(key)

    def close(self) -> None:
        """Close the cache."""
        self._cache.close()


def diskcache_store() -> DirectoryStore:
    """`diskcache`: durable on return."""
    return DirectoryStore("diskcache", DiskCacheStore, durable="return", in_python=False)


class LmdbStore:
    """An LMDB environment in `PATH`, a write transaction per mutation."""

    def __init__(self, path: str):
        lmdb = _need("lmdb")
        make_directory(path)
        self._env = lmdb.open(path, map_size=64 << 20)

    def put(self, key: bytes, value: bytes) -> None:
        """Set `key` in its own committed transaction."""
        with self._env.begin(write=True) as txn:
            txn.put(key, value)

    def get(self, key: bytes) -> bytes | None:
        """The value of `key`, or None."""
        with self._env.begin() as txn:
            value = txn.get(key)
        return None if value is None else bytes(value)

    def delete(self, key: bytes) -> None:
        """Remove `key` if present, in its own committed transaction."""
        with self._env.begin(write=True) as txn:
            txn.delete(key)

    def close(self) -> None:
        """Close the environment."""
        self._env.close()


def lmdb_store() -> DirectoryStore:
    """`lmdb`: durable when each transaction commits."""
    return DirectoryStore("lmdb", LmdbStore, durable="return", in_python=False)
