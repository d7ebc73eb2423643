"""The node's exceptions: one root (`KVError`), few leaves, each carrying its context.

Leaves also subclass the builtin they semantically are, so callers that already catch
`ValueError`, `TypeError` or `OSError` keep working.
"""

from __future__ import annotations


class KVError(Exception):
    """Root of every error the node raises on purpose."""


class InvalidKeyError(KVError, ValueError):
    """A key is empty or longer than the node's `key_bytes_max`."""


class InvalidValueError(KVError, ValueError):
    """A value is longer than the node's `value_bytes_max`."""


class KVTypeError(KVError, TypeError):
    """An argument has the wrong type (keys and values are `bytes`)."""


class CorruptionError(KVError):
    """Bytes that were durable no longer read back as what was written."""

    def __init__(self, reason: str, *, extent: int | None = None, offset: int | None = None):
        self.reason = reason
        self.extent = extent
        self.offset = offset
        where = (
            ""
            if extent is None
            else f" at extent {extent}" + ("" if offset is None else f" offset {offset}")
        )
        super().__init__(f"corruption{where}: {reason}")


class CorruptChunk(CorruptionError):
    """A byte string is not a valid chunk; raised by the pure decoders."""


class FormatError(KVError, ValueError):
    """A byte string is not a valid data-directory format header; raised by its pure decoder."""

    def __init__(self, reason: str):
        self.reason = reason
        super().__init__(reason)


class DataDirError(KVError):
    """A data directory is missing, foreign, of a newer format, damaged or in use."""

    def __init__(self, path: str, reason: str):
        self.path = path
        self.reason = reason
        super().__init__(f"{path}: {reason}")


class DiskIOError(KVError, OSError):
    """The disk failed an I/O operation (read, write or sync)."""

    def __init__(self, op: str, reason: str, *, extent: int | None = None):
        self.op = op
        self.extent = extent
        where = "" if extent is None else f" on extent {extent}"
        super().__init__(f"{op} failed{where}: {reason}")


class DiskFullError(KVError, OSError):
    """No space is left even after reclamation; nothing persistent was lost."""


class NodeFailedError(KVError):
    """A write or sync failed earlier; the node refuses changes until it is reopened."""


class ReadOnlyError(KVError):
    """The node was opened read-only (`Node.open(disk, read_only=True)`); it refuses changes."""


class NodeClosedError(KVError, ValueError):
    """The node was closed; like I/O on a closed file, this is a `ValueError`."""
