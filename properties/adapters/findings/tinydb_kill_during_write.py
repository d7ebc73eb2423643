"""Standalone reproduction: a kill while `tinydb` writes leaves a file it cannot open.

Uses only tinydb and the standard library. `JSONStorage.write` seeks to the start of the live
file, writes the new JSON over the old, flushes, fsyncs, and only then truncates what is left of
the old content. A process killed after the write and before the truncate leaves the new JSON
followed by the tail of the old one, and `TinyDB(path)` then raises `JSONDecodeError: Extra
data`. The child below is killed at its fsync, which stands for a kill anywhere in that window;
`kvcheck sigkill --target kvcheck.adapters.pypi:tinydb_store` hit it on its second random kill.

Run: python tinydb_kill_during_write.py   (exit 1 while the weakness is there)
"""

import json
import os
import signal
import sys
import tempfile

import tinydb


def child(path: str) -> None:
    db = tinydb.TinyDB(path)
    db.insert_multiple({"key": n, "value": "x" * 50} for n in range(50))
    os.fsync = lambda fd: os.kill(os.getpid(), signal.SIGKILL)  # the kill lands here
    db.truncate()  # the new content is much shorter than the old


def main() -> int:
    with tempfile.TemporaryDirectory() as scratch:
        path = os.path.join(scratch, "db.json")
        pid = os.fork()
        if pid == 0:
            child(path)
            os._exit(0)
        os.waitpid(pid, 0)
        try:
            found = len(tinydb.TinyDB(path))
        except json.JSONDecodeError as err:
            print(f"after the kill, TinyDB(path) raises JSONDecodeError: {err}")
            return 1
        print(f"after the kill the database opens with {found} documents")
        return 0


if __name__ == "__main__":
    sys.exit(main())
