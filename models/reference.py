"""`ReferenceKV`: the executable specification of the node's API. A dict, and nothing more.

It shares only vocabulary with `kvnode` (errors, limits, `Dependency`), never its logic. Scans
sort; every dependency is already persistent; flushes and reclamation are no-ops. It doubles as
a fast in-memory mock of a `Node` in unit tests.
"""

from __future__ import annotations

from kvnode.dependency import Dependency
from kvnode.errors import InvalidKeyError, InvalidValueError, KVTypeError, NodeClosedError
from kvnode.limits import SMALL_GEOMETRY, Limits


class ReferenceKV:
    """A dict with the node's API. Pass `data` to share contents with a later instance."""

    def __init__(self, data: dict[bytes, bytes] | None = None, limits: Limits | None = None):
        self._data = {} if data is None else data
        self.limits = limits or Limits.for_geometry(SMALL_GEOMETRY)
        self._closed = False

    def put(self, key: bytes, value: bytes) -> Dependency:
        """Map `key` to `value`."""
        self._check_open()
        self._check_key(key)
        if type(value) is not bytes:
            raise KVTypeError(f"value must be bytes, not {type(value).__name__}")
        if len(value) > self.limits.value_bytes_max:
            raise InvalidValueError(f"value of {len(value)} bytes exceeds value_bytes_max")
        self._data[key] = value
        return Dependency.persistent()

    def get(self, key: bytes) -> bytes | None:
        """The value of `key`, or None."""
        self._check_open()
        self._check_key(key)
        return self._data.get(key)

    def delete(self, key: bytes) -> Dependency:
        """Remove `key` if present."""
        self._check_open()
        self._check_key(key)
        self._data.pop(key, None)
        return Dependency.persistent()

    def scan(self, start: bytes = b"", end: bytes | None = None) -> list[tuple[bytes, bytes]]:
        """Pairs with start <= key < end (no upper bound if `end` is None), in key order."""
        self._check_open()
        if type(start) is not bytes or (end is not None and type(end) is not bytes):
            raise KVTypeError("scan bounds must be bytes")
        return sorted(
            (k, v) for k, v in self._data.items() if start <= k and (end is None or k < end)
        )

    def sync(self) -> None:
        """Nothing to do: every change is already durable."""
        self._check_open()

    def flush_index(self) -> None:
        """Nothing to do: the model has no index to flush."""
        self._check_open()

    def reclaim(self) -> None:
        """Nothing to do: the model has no space to reclaim."""
        self._check_open()

    def close(self) -> None:
        """Refuse further use."""
        self._closed = True

    def stats(self) -> dict[str, int]:
        """The number of keys."""
        self._check_open()
        return {"keys": len(self._data)}

    def _check_open(self) -> None:
        if self._closed:
            raise NodeClosedError("closed")

    def _check_key(self, key: object) -> None:
        if type(key) is not bytes:
            raise KVTypeError(f"key must be bytes, not {type(key).__name__}")
        if not key or len(key) > self.limits.key_bytes_max:
            raise InvalidKeyError(f"key must be 1 to {self.limits.key_bytes_max} bytes")
