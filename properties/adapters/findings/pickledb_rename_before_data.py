"""Standalone evidence: `pickledb`'s "atomic" save renames a file whose data was never fsynced.

Uses only pickledb and the standard library. `PickleDB.save()` (pickledb 1.6) writes the whole
database to `<location>.tmp` and `os.replace`s it over `<location>`, and calls no fsync. On a
file system that may write the rename before the data (POSIX allows it; ext4 without
`auto_da_alloc`, XFS and others do), a power loss after `save()` leaves `<location>` naming a
file that is empty or cut short: `load()` of an empty file silently returns an empty database,
of a cut one raises `JSONDecodeError`. Either way the old contents are gone too, so the save is
not atomic against power loss. Writing, then fsyncing the temporary file before the rename, and
fsyncing the directory after it, would make it so.

This script records every fsync and rename during one `save()` and reports whether the data
was fsynced before the rename. It cannot cut the power; `kvcheck --target
kvcheck.adapters.pypi:pickledb_store` does, on the simulated file system, and finds the file
cut short after one save.

Run: python pickledb_rename_before_data.py   (exit 1: the rename came before any fsync)
"""

import os
import sys
import tempfile

events: list[str] = []
real_fsync, real_fdatasync, real_replace = os.fsync, os.fdatasync, os.replace


def fsync(fd):  # type: ignore[no-untyped-def]
    events.append("fsync")
    return real_fsync(fd)


def fdatasync(fd):  # type: ignore[no-untyped-def]
    events.append("fsync")
    return real_fdatasync(fd)


def replace(src, dst, **kwargs):  # type: ignore[no-untyped-def]
    events.append("rename")
    return real_replace(src, dst, **kwargs)


def main() -> int:
    import pickledb

    os.fsync, os.fdatasync, os.replace = fsync, fdatasync, replace
    with tempfile.TemporaryDirectory() as scratch:
        db = pickledb.PickleDB(os.path.join(scratch, "db.json")).load()
        db.set("k", "v")
        db.save()
    print(f"during save(): {' then '.join(events) or 'nothing recorded'}")
    renamed = events.index("rename") if "rename" in events else len(events)
    return 0 if "fsync" in events[:renamed] else 1


if __name__ == "__main__":
    sys.exit(main())
