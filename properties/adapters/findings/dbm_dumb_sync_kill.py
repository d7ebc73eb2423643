"""Standalone reproduction: a kill during `dbm.dumb`'s sync() loses everything synced before.

Uses only the standard library. `sync()` (`_commit`) renames the index file `db.dir` to
`db.bak`, then writes a new `db.dir` from scratch. A process killed after the rename and before
the last line is written leaves an empty (or cut) `db.dir`; `dbm.dumb.open` reads the index only
from `db.dir`, never from `db.bak`, so the database opens empty (or fails to parse), although
every value is still in `db.dat` and the previous index in `db.bak`.

The child below is killed at the moment of the rename, which stands for a kill landing anywhere
in that window; `kvcheck sigkill --target kvcheck.adapters.stdlib:dbm_dumb` hits it on its
first random kill. Run: python dbm_dumb_sync_kill.py
"""

import dbm.dumb
import os
import signal
import sys
import tempfile


def child(base: str) -> None:
    db = dbm.dumb.open(base, "c")  # noqa: SIM115 (the process dies holding it open)
    for n in range(50):
        db[b"key-%d" % n] = b"value-%d" % n
    db.sync()  # everything so far is promised: the index is on disk
    db[b"one-more"] = b"value"
    rename = db._os.rename

    def rename_then_die(source: str, target: str) -> None:
        rename(source, target)
        os.kill(os.getpid(), signal.SIGKILL)

    db._os.rename = rename_then_die  # the kill lands inside the next sync
    db.sync()


def main() -> int:
    with tempfile.TemporaryDirectory() as scratch:
        base = os.path.join(scratch, "db")
        pid = os.fork()
        if pid == 0:
            child(base)
            os._exit(0)
        os.waitpid(pid, 0)
        print("files after the kill:", sorted(os.listdir(scratch)))
        try:
            dbm.dumb.open(base, "r").close()
        except OSError as err:
            print(f"open(..., 'r') raises {type(err).__name__}: {err.strerror}")
        with dbm.dumb.open(base, "c") as db:  # as an application that creates on first run
            found = len(db.keys())
        print(f"synced 50 keys, killed during the next sync; open(..., 'c') finds {found} keys")
        return 0 if found >= 50 else 1


if __name__ == "__main__":
    sys.exit(main())
