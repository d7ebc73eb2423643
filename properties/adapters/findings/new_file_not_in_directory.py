"""Standalone evidence: `tinydb`, `semidbm` and ZODB's `FileStorage` create their files without
fsyncing the directory.

Uses only the store named on the command line and the standard library. On Linux and POSIX, a
new file's name is durable only once its directory is fsynced (fsync(2)); until then a power
loss can take the file away, with everything written and fsynced into it. This script wraps
`os.fsync` to record which files and directories the store fsyncs, creates a store in a fresh
directory, writes one key and makes it durable the way the store offers (tinydb: every write;
semidbm: `sync()` and `close()`; ZODB: every commit), then reports whether the directory
holding the new file was ever fsynced. It cannot cut the power; `kvcheck --target
kvcheck.adapters.pypi:tinydb_store` (or `semidbm_store`, `zodb_store`) does, on the simulated
file system, and loses the key.

Run: python new_file_not_in_directory.py tinydb|semidbm|zodb   (exit 1: never fsynced)
"""

import os
import sys
import tempfile

fsynced: list[tuple[int, int]] = []  # (device, inode) of every file or directory fsynced
real_fsync = os.fsync


def recording_fsync(fd):  # type: ignore[no-untyped-def]
    st = os.fstat(fd if isinstance(fd, int) else fd.fileno())
    fsynced.append((st.st_dev, st.st_ino))
    return real_fsync(fd)


def main(store: str) -> int:
    os.fsync = recording_fsync
    with tempfile.TemporaryDirectory() as scratch:
        if store == "tinydb":
            import tinydb

            db = tinydb.TinyDB(os.path.join(scratch, "db.json"))
            db.insert({"k": "v"})  # tinydb fsyncs the file on every write
            db.close()
            created = scratch
        elif store == "semidbm":
            import semidbm

            db = semidbm.open(os.path.join(scratch, "db"), "c")
            db[b"k"] = b"v"
            db.sync()
            db.close()
            created = os.path.join(scratch, "db")
        elif store == "zodb":
            import transaction
            import ZODB
            import ZODB.FileStorage

            db = ZODB.DB(ZODB.FileStorage.FileStorage(os.path.join(scratch, "Data.fs")))
            connection = db.open()
            connection.root()["k"] = "v"
            transaction.commit()  # FileStorage fsyncs Data.fs at every commit
            connection.close()
            db.close()
            created = scratch
        else:
            sys.exit("usage: new_file_not_in_directory.py tinydb|semidbm|zodb")
        directory = os.stat(created)
        synced = (directory.st_dev, directory.st_ino) in fsynced
        print(f"fsyncs: {len(fsynced)}; of the directory holding the new file: {synced}")
        return 0 if synced else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else ""))
