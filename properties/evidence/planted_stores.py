"""Directory stores with planted crash bugs, and the correct store they break, for showing that
the process-kill trials (`kvcheck.crash.process_kill`) bite.

`RecordFile` keeps every pair in one file of records, rewritten whole after each mutation, and
promises durability on return. Done right, it writes a new file, fsyncs it, renames it over the
old one and fsyncs the directory (`replace_file`): a kill or a power loss leaves the old file or
the new one. The planted bugs are the mistakes such stores make most:

- `rewrite_in_place`: it truncates the live file and writes the records into it, so a kill in
  between leaves a file that is cut short;
- `acknowledge_before_writing`: it buffers mutations and writes the file every few, while
  still saying a mutation is durable when it returns;
- `rename_not_synced`: it does everything right but fsync the directory after the rename, so
  the rename can be lost on power loss. A kill cannot show this (the rename reached the OS);
  only the simulated file system can.

(The first version of `replace_file` here was `rename_not_synced`: it held 12 kills and failed
on its first simulated power loss.)
"""

from __future__ import annotations

import os

from kvcheck.machine.directory import DirectoryStore, make_directory


class RecordFile:
    """Every pair in `PATH/records`, a line `key-hex value-hex` each, closed by an `end` line."""

    FLUSH_EVERY = 1

    def __init__(self, path: str):
        make_directory(path)
        self._file = os.path.join(path, "records")
        self._data: dict[bytes, bytes] = {}
        self._unwritten = 0
        if os.path.exists(self._file):
            self._data = self._load()

    def _load(self) -> dict[bytes, bytes]:
        with open(self._file, encoding="ascii") as f:
            lines = f.read().splitlines()
        if not lines or lines[-1] != "end":
            raise ValueError(f"{self._file} is cut short: no end line")
        pairs = (line.split(" ") for line in lines[:-1])
        return {bytes.fromhex(k): bytes.fromhex(v) for k, v in pairs}

    def put(self, key: bytes, value: bytes) -> None:
        """Set `key`, then write the file."""
        self._commit({**self._data, key: value})

    def get(self, key: bytes) -> bytes | None:
        """The value of `key`, or None."""
        return self._data.get(key)

    def delete(self, key: bytes) -> None:
        """Remove `key`, then write the file."""
        if key in self._data:
            self._commit({k: v for k, v in self._data.items() if k != key})

    def close(self) -> None:
        """Write what is unwritten."""
        if self._unwritten:
            self._write(self._data)

    def _commit(self, data: dict[bytes, bytes]) -> None:
        # The new state becomes visible only once it is written (when it is written at all): a
        # write that fails leaves the old one, so nothing is shown that a crash could take back.
        if self._unwritten + 1 >= self.FLUSH_EVERY:
            self._write(data)
        else:
            self._unwritten += 1
        self._data = data

    def _write(self, data: dict[bytes, bytes]) -> None:
        temporary = self._file + ".new"
        self._write_records(temporary, data)
        os.replace(temporary, self._file)
        self._sync_directory()
        self._unwritten = 0

    def _sync_directory(self) -> None:
        fd = os.open(os.path.dirname(self._file), os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def _write_records(self, name: str, data: dict[bytes, bytes]) -> None:
        # A line per record, each written as it is made, as a store streaming its records does.
        with open(name, "w", encoding="ascii", buffering=1) as f:
            for key, value in sorted(data.items()):
                f.write(f"{key.hex()} {value.hex()}\n")
            f.write("end\n")
            f.flush()
            os.fsync(f.fileno())


class _RewriteInPlace(RecordFile):
    def _write(self, data: dict[bytes, bytes]) -> None:
        self._write_records(self._file, data)
        self._unwritten = 0


class _AcknowledgeBeforeWriting(RecordFile):
    FLUSH_EVERY = 5


class _RenameNotSynced(RecordFile):
    def _sync_directory(self) -> None:
        pass


def replace_file() -> DirectoryStore:
    """The record file written right: a new file renamed over the old one."""
    return DirectoryStore("record-file", RecordFile, durable="return")


def rewrite_in_place() -> DirectoryStore:
    """Planted: the live file truncated and rewritten in place."""
    return DirectoryStore("rewrite-in-place", _RewriteInPlace, durable="return")


def acknowledge_before_writing() -> DirectoryStore:
    """Planted: durability promised on return, the file written every fifth mutation."""
    return DirectoryStore("acknowledge-before-writing", _AcknowledgeBeforeWriting, durable="return")


def rename_not_synced() -> DirectoryStore:
    """Planted: the directory is not fsynced after the rename that replaces the file."""
    return DirectoryStore("rename-not-synced", _RenameNotSynced, durable="return")
