"""The example database `kvcheck` and the plugin share: where failures are kept to replay first.

A failure Hypothesis found is saved under a key; the next run of the same test replays it before
generating anything new. Every property and target gets its own key (`keyed`): the conformance
machine's test is the same function for every target, so under one key a target's passing run
would delete another target's saved failure. `from_url` reads `--database`: `none`, a
directory (the default, `.hypothesis/examples`, as Hypothesis's own), or `redis://HOST:PORT/DB`,
which every worker and CI machine pointing at the same server shares
(`hypothesis.extra.redis.RedisExampleDatabase`; needs the `redis` package).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator

import hypothesis
from hypothesis.database import DirectoryBasedExampleDatabase, ExampleDatabase

#: The directory database's default place, Hypothesis's own.
DEFAULT_DIRECTORY = ".hypothesis/examples"


class KeyedDatabase(ExampleDatabase):
    """A view of `inner` in which every key is prefixed by `name`."""

    def __init__(self, inner: ExampleDatabase, name: str):
        super().__init__()
        self.inner = inner
        self.name = name
        self._prefix = f"kvcheck:{name}:".encode()

    def save(self, key: bytes, value: bytes) -> None:
        """Save `value` under `key` in this view."""
        self.inner.save(self._prefix + key, value)

    def fetch(self, key: bytes) -> Iterable[bytes]:
        """The values saved under `key` in this view."""
        return self.inner.fetch(self._prefix + key)

    def delete(self, key: bytes, value: bytes) -> None:
        """Remove `value` from `key` in this view."""
        self.inner.delete(self._prefix + key, value)

    def move(self, src: bytes, dest: bytes, value: bytes) -> None:
        """Move `value` from one key to another in this view."""
        self.inner.move(self._prefix + src, self._prefix + dest, value)

    def __repr__(self) -> str:
        return f"KeyedDatabase({self.inner!r}, {self.name!r})"


def keyed(database: ExampleDatabase | None, name: str) -> ExampleDatabase | None:
    """`database` seen through keys of its own for the property `name` (None stays None)."""
    return None if database is None else KeyedDatabase(database, name)


class SavedFailures:
    """`kvcheck`'s own record of failures in a database, for seeded runs.

    Hypothesis neither reads nor writes the database of a test with an explicit seed, and
    kvcheck's batches are seeded so that `--seed` replays a run. So kvcheck saves each failure's
    `@reproduce_failure` blob (which names the Hypothesis version it is good for) under a key
    of the property's own, and replays every saved blob before searching: one that still fails
    is the run's failure, found at once; one that passes (the bug was fixed) or was written by
    another Hypothesis version is deleted.
    """

    def __init__(self, database: ExampleDatabase | None, name: str):
        self._db = database
        self._key = f"kvcheck-failures:{name}".encode()

    def save(self, blob_line: str | None) -> None:
        """Keep the failure `@reproduce_failure(...)` describes (nothing if None)."""
        found = None if blob_line is None else _BLOB.search(blob_line)
        if self._db is not None and found is not None:
            self._db.save(self._key, f"{found.group(1)} {found.group(2)}".encode())

    def replays(self, test: Callable[[], None]) -> Iterator[Callable[[], None]]:
        """`test` under each saved failure in turn; a replay that passes deletes its failure.

        (The caller stops iterating at the first replay that fails.)
        """
        if self._db is None:
            return
        for value in sorted(self._db.fetch(self._key)):
            version, _, blob = value.decode("ascii", "replace").partition(" ")
            if version != hypothesis.__version__:
                self._db.delete(self._key, value)
                continue
            passed: list[bool] = []

            def replay(
                version: str = version, blob: str = blob, passed: list[bool] = passed
            ) -> None:
                hypothesis.reproduce_failure(version, blob.encode())(test)()
                passed.append(True)

            yield replay
            if passed:
                self._db.delete(self._key, value)


_BLOB = re.compile(r"@reproduce_failure\('([^']+)', b'([A-Za-z0-9+/=]+)'\)")


class DatabaseError(ValueError):
    """`--database` names no database this can open."""


def from_url(url: str) -> ExampleDatabase | None:
    """The database `--database` names: `none`, `redis://HOST:PORT/DB`, or a directory."""
    if url.lower() == "none":
        return None
    if url.startswith(("redis://", "rediss://", "unix://")):
        try:
            import redis
            from hypothesis.extra.redis import RedisExampleDatabase
        except ImportError:
            raise DatabaseError(
                f"{url}: a Redis database needs the redis package: pip install redis"
            ) from None
        client = redis.Redis.from_url(url)
        try:
            client.ping()
        except redis.RedisError as err:
            raise DatabaseError(f"{url}: cannot reach the Redis server ({err})") from None
        return RedisExampleDatabase(client, key_prefix=b"kvcheck:")
    return DirectoryBasedExampleDatabase(url)
