"""`kvnode`: the operator's command line for a node in a data directory.

Exit status follows grep: 0 success, 1 a negative answer (key not found, fsck found damage),
2 an error (bad usage, a refused directory, corruption met while serving a command).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Iterable, Sequence
from typing import Protocol

import attrs

from kvnode import demo
from kvnode.errors import KVError
from kvnode.filedisk import FileDisk
from kvnode.fsck import fsck
from kvnode.limits import DEFAULT_GEOMETRY, Geometry
from kvnode.node import Node

EXIT_OK, EXIT_NO, EXIT_ERROR = 0, 1, 2


def _text(data: bytes) -> str:
    return data.decode("utf-8", errors="backslashreplace")


def _open(args: argparse.Namespace) -> Node:
    disk = FileDisk.open(args.dir)
    try:
        return Node.open(disk)
    except BaseException:
        disk.close()
        raise


class _Puts(Protocol):
    def put(self, key: bytes, value: bytes) -> object: ...


def put_lines(store: _Puts, lines: Iterable[bytes]) -> int:
    """Put every `KEY<TAB>VALUE` line into `store`; return how many there were."""
    count = 0
    for count, line in enumerate(lines, start=1):
        key, sep, value = line.rstrip(b"\r\n").partition(b"\t")
        if not sep:
            raise SystemExit(f"kvnode: error: stdin line {count}: expected KEY<TAB>VALUE")
        store.put(key, value)
    return count


def cmd_init(args: argparse.Namespace) -> int:
    """Create a data directory."""
    geometry = Geometry(args.page_bytes, args.extent_bytes, args.extent_count)
    Node.open(FileDisk.create(args.dir, geometry)).close()
    print(f"created {args.dir} ({geometry.extent_count} extents of {geometry.extent_bytes} bytes)")
    return EXIT_OK


def cmd_put(args: argparse.Namespace) -> int:
    """Put one pair, or `KEY<TAB>VALUE` lines from stdin when KEY is `-`."""
    with _open(args) as node:
        if args.key == "-":
            put_lines(node, sys.stdin.buffer)
        elif args.value is None:
            raise SystemExit("kvnode: error: put needs KEY VALUE (or - to read stdin)")
        else:
            node.put(os.fsencode(args.key), os.fsencode(args.value))
    return EXIT_OK


def cmd_get(args: argparse.Namespace) -> int:
    """Print a key's value."""
    with _open(args) as node:
        value = node.get(os.fsencode(args.key))
    if value is None:
        print(f"kvnode: {args.key}: not found", file=sys.stderr)
        return EXIT_NO
    sys.stdout.buffer.write(value if args.raw else value + b"\n")
    return EXIT_OK


def cmd_delete(args: argparse.Namespace) -> int:
    """Delete a key."""
    with _open(args) as node:
        node.delete(os.fsencode(args.key))
    return EXIT_OK


def cmd_scan(args: argparse.Namespace) -> int:
    """Print `KEY<TAB>VALUE` lines in key order."""
    end = None if args.end is None else os.fsencode(args.end)
    with _open(args) as node:
        pairs = node.scan(os.fsencode(args.start), end)
    for key, value in pairs[: args.limit]:
        print(f"{_text(key)}\t{_text(value)}")
    return EXIT_OK


def cmd_stats(args: argparse.Namespace) -> int:
    """Print the node's counters."""
    with _open(args) as node:
        stats = attrs.asdict(node.stats())
    if args.json:
        print(json.dumps(stats, indent=2))
    else:
        for name, value in stats.items():
            print(f"{name:24} {value}")
    return EXIT_OK


def cmd_fsck(args: argparse.Namespace) -> int:
    """Verify every chunk and the superblock without changing anything."""
    disk = FileDisk.open(args.dir)
    try:
        report = fsck(disk)
    finally:
        disk.close()
    if args.json:
        print(json.dumps(attrs.asdict(report) | {"ok": report.ok}, indent=2))
    else:
        print(f"superblock generation {report.superblock_generation}")
        print(f"extents scanned       {report.extents_scanned}")
        print(f"chunks verified       {report.chunks_verified} ({report.bytes_verified} bytes)")
        print(f"keys                  {report.keys}")
        for note in report.notes:
            print(f"note: {note}")
        for finding in report.damage:
            print(f"DAMAGE: {finding}")
        print("clean" if report.ok else f"{len(report.damage)} damaged location(s)")
    return EXIT_OK if report.ok else EXIT_NO


def cmd_demo(args: argparse.Namespace) -> int:
    """Show the node at work on a simulated disk and on real files."""
    demo.run(print)
    return EXIT_OK


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kvnode", description=__doc__.splitlines()[0])
    parser.add_argument(
        "-d",
        "--dir",
        default=os.environ.get("KVNODE_DIR"),
        help="data directory (default: $KVNODE_DIR)",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name: str, fn: Callable[[argparse.Namespace], int]) -> argparse.ArgumentParser:
        doc = (fn.__doc__ or "").strip()
        p = sub.add_parser(name, help=doc, description=doc)
        p.set_defaults(fn=fn, needs_dir=name != "demo")
        return p

    p = add("init", cmd_init)
    p.add_argument("--page-bytes", type=int, default=DEFAULT_GEOMETRY.page_bytes)
    p.add_argument("--extent-bytes", type=int, default=DEFAULT_GEOMETRY.extent_bytes)
    p.add_argument("--extent-count", type=int, default=DEFAULT_GEOMETRY.extent_count)
    p = add("put", cmd_put)
    p.add_argument("key", help="key, or - to read KEY<TAB>VALUE lines from stdin")
    p.add_argument("value", nargs="?")
    p = add("get", cmd_get)
    p.add_argument("key")
    p.add_argument("--raw", action="store_true", help="write the value without a newline")
    add("delete", cmd_delete).add_argument("key")
    p = add("scan", cmd_scan)
    p.add_argument("--start", default="", help="first key (inclusive)")
    p.add_argument("--end", default=None, help="last key (exclusive)")
    p.add_argument("--limit", type=int, default=None, help="print at most this many pairs")
    add("stats", cmd_stats).add_argument("--json", action="store_true")
    add("fsck", cmd_fsck).add_argument("--json", action="store_true")
    add("demo", cmd_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `kvnode` command."""
    parser = _parser()
    args = parser.parse_args(argv)
    if args.needs_dir and not args.dir:
        parser.error("a data directory is required: pass --dir DIR or set KVNODE_DIR")
    fn: Callable[[argparse.Namespace], int] = args.fn
    try:
        return fn(args)
    except (KVError, ValueError) as err:
        print(f"kvnode: error: {err}", file=sys.stderr)
        return EXIT_ERROR
    except BrokenPipeError:
        return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
