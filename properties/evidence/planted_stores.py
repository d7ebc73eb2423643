"""Directory stores with planted crash bugs, and the correct store they break, for showing that
the process-kill trials (`kvcheck.crash.process_kill`) bite.

`RecordFile` keeps every pair in one file of records, rewritten whole after each mutation, and
promises durability on return. Done right, it writes a new file and renames it over the old one
(`replace_file`): a kill leaves the old file or the new one. The planted bugs are the two
mistakes such stores make most:

- `rewrite_in_place`: it truncates the live file and writes the records into it, so a kill in
  between leaves a file that is cut short;
- `acknowledge_before_writing`: it buffers mutations and writes the file every few, while
  still saying a mutation is durable when it returns.
"""

from __future__ import annotations

import os

from kvcheck.crash.directory import DirectoryStore


class RecordFile:
    """Every pair in `PATH/records`, a line `key-hex value-hex` each, closed by an `end` line."""

    FLUSH_EVERY = 1

    def __init__(self, path: str):
        os.makedirs(path, exist_ok=True)
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
        self._data[key] = value
        self._changed()

    def get(self, key: bytes) -> bytes | None:
        """The value of `key`, or None."""
        return self._data.get(key)

    def delete(self, key: bytes) -> None:
        """Remove `key`, then write the file."""
        if self._data.pop(key, None) is not None:
            self._changed()

    def close(self) -> None:
        """Write what is unwritten."""
        if self._unwritten:
            self._write()

    def _changed(self) -> None:
        self._unwritten += 1
        if self._unwritten >= self.FLUSH_EVERY:
            self._write()

    def _write(self) -> None:
        temporary = self._file + ".new"
        self._write_records(temporary)
        os.replace(temporary, self._file)
        self._unwritten = 0

    def _write_records(self, name: str) -> None:
        # A line per record, each written as it is made, as a store streaming its records does.
        with open(name, "w", encoding="ascii", buffering=1) as f:
            for key, value in sorted(self._data.items()):
                f.write(f"{key.hex()} {value.hex()}\n")
            f.write("end\n")
            f.flush()
            os.fsync(f.fileno())


class _RewriteInPlace(RecordFile):
    def _write(self) -> None:
        self._write_records(self._file)
        self._unwritten = 0


class _AcknowledgeBeforeWriting(RecordFile):
    FLUSH_EVERY = 5


def replace_file() -> DirectoryStore:
    """The record file written right: a new file renamed over the old one."""
    return DirectoryStore("record-file", RecordFile, durable="return")


def rewrite_in_place() -> DirectoryStore:
    """Planted: the live file truncated and rewritten in place."""
    return DirectoryStore("rewrite-in-place", _RewriteInPlace, durable="return")


def acknowledge_before_writing() -> DirectoryStore:
    """Planted: durability promised on return, the file written every fifth mutation."""
    return DirectoryStore("acknowledge-before-writing", _AcknowledgeBeforeWriting, durable="return")
