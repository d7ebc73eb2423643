"""`kvnode`: the operator's command line for a node in a data directory.

Exit status follows grep: 0 success, 1 a negative answer (key not found, fsck found damage),
2 an error (bad usage, bad input, a refused directory, an error of the operating system such as
no permission or no space, corruption met while serving a command). An error is one line on
stderr, never a traceback.

`get`, `scan`, `stats` and `fsck` open the data directory read-only: they write nothing, so they
work on a read-only file system or a directory the caller may only read.

Output: `get` and `scan` print keys and values as UTF-8 text with escapes, one pair a line, so
no byte can break a line or reach the terminal as a control sequence: a backslash is `\\\\`, tab,
newline and carriage return are `\\t`, `\\n` and `\\r`, and every other control or invisible
format character, and every byte that is not UTF-8, is `\\xNN` for each of its bytes. `get --raw`
writes the value's exact bytes instead.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from typing import Protocol

import attrs

from kvnode import demo
from kvnode.errors import KVError
from kvnode.filedisk import FileDisk
from kvnode.fsck import fsck
from kvnode.limits import DEFAULT_GEOMETRY, Geometry, Limits
from kvnode.node import Node

EXIT_OK, EXIT_NO, EXIT_ERROR = 0, 1, 2


class UsageError(KVError, ValueError):
    """Bad arguments or bad input lines for a command (exit status 2, nothing changed)."""


class _OutputError(Exception):
    """Standard output cannot be written (closed, or a full device)."""


# -- output ------------------------------------------------------------------------------------

_PLAIN = re.compile(r"[ -\[\]-~]*")  # printable ASCII but the backslash: nothing to escape
_NAMED = {"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"}
# Controls (C0, DEL, C1), invisible format characters (bidi overrides among them), line and
# paragraph separators, and surrogates (a byte that was not UTF-8).
_HIDDEN = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs"})


def escape(data: bytes) -> str:
    """`data` as one line of text: see the module docstring for the escapes."""
    text = data.decode("utf-8", errors="surrogateescape")
    if _PLAIN.fullmatch(text):
        return text
    out = []
    for ch in text:
        if ch in _NAMED:
            out.append(_NAMED[ch])
        elif 0xDC80 <= ord(ch) <= 0xDCFF:
            out.append(f"\\x{ord(ch) - 0xDC00:02x}")  # the byte surrogateescape stood in for
        elif unicodedata.category(ch) in _HIDDEN:
            out.extend(f"\\x{byte:02x}" for byte in ch.encode("utf-8"))
        else:
            out.append(ch)
    return "".join(out)


def _one_line(message: str) -> str:
    # Messages are text, not data: only what would break the line or reach the terminal as a
    # control sequence is escaped (a backslash stays itself).
    if _PLAIN.fullmatch(message.replace("\\", "")):
        return message
    return "".join(
        ch if ch == "\\" else escape(ch.encode("utf-8", errors="surrogateescape")) for ch in message
    )


def _write(data: bytes) -> None:
    stream = sys.stdout
    if stream is None:  # the process started with standard output closed
        raise _OutputError("standard output is closed")
    try:
        buffer = getattr(stream, "buffer", None)
        if buffer is None:
            stream.write(data.decode("utf-8", errors="surrogateescape"))
        else:
            buffer.write(data)
    except BrokenPipeError:
        raise
    except (OSError, ValueError) as err:
        raise _OutputError(_reason(err)) from None


def _line(text: str) -> None:
    _write(text.encode("utf-8", errors="surrogateescape") + b"\n")


def _flush_stdout() -> None:
    stream = sys.stdout
    if stream is None:
        return
    try:
        stream.flush()
    except BrokenPipeError:
        raise
    except (OSError, ValueError) as err:
        raise _OutputError(_reason(err)) from None


def _discard_stdout() -> None:
    """Point standard output at the null device, so the interpreter's last flush of what is
    still buffered cannot fail again on the way out."""
    stream = sys.stdout
    if stream is None:
        return
    try:
        null = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(null, stream.fileno())
        finally:
            os.close(null)
    except (OSError, ValueError):
        pass  # not a real file (captured): nothing will flush it to a device


def _stderr(line: str) -> None:
    stream = sys.stderr
    if stream is None:
        return
    try:
        stream.write(line + "\n")
        stream.flush()
    except (OSError, ValueError):
        pass  # nowhere left to report it; the exit status still tells


def _error(message: str) -> None:
    _stderr(f"kvnode: error: {_one_line(message)}")


def _reason(err: BaseException) -> str:
    """One line for any error: an `OSError` as `FILE: what went wrong`."""
    if isinstance(err, OSError) and not isinstance(err, KVError) and err.strerror:
        names = [os.fsdecode(n) for n in (err.filename, err.filename2) if n is not None]
        return ": ".join([*names[:1], err.strerror])
    return str(err) or type(err).__name__


# -- commands ------------------------------------------------------------------------------------


def _open(args: argparse.Namespace, *, read_only: bool = False) -> Node:
    disk = FileDisk.open(args.dir, read_only=read_only)
    try:
        return Node.open(disk, read_only=read_only)
    except BaseException:
        disk.close()
        raise


class _Puts(Protocol):
    def put(self, key: bytes, value: bytes) -> object: ...


def parse_lines(lines: Iterable[bytes]) -> list[tuple[bytes, bytes]]:
    """Parse `KEY<TAB>VALUE` lines; raise `UsageError` naming the first bad line.

    Only the `\\n` terminator is stripped (a `\\r` before it is part of the value); the value
    is everything after the first tab. Line N becomes pair N (an empty line is a bad line).
    """
    pairs = []
    for number, line in enumerate(lines, start=1):
        body = line[:-1] if line.endswith(b"\n") else line
        if not body:
            raise UsageError(f"stdin line {number}: empty line, expected KEY<TAB>VALUE")
        key, sep, value = body.partition(b"\t")
        if not sep:
            raise UsageError(f"stdin line {number}: no tab, expected KEY<TAB>VALUE")
        pairs.append((key, value))
    return pairs


def check_limits(pairs: Sequence[tuple[bytes, bytes]], limits: Limits) -> None:
    """Raise `UsageError` naming the first line whose key or value a node would refuse."""
    for number, (key, value) in enumerate(pairs, start=1):
        if not key:
            raise UsageError(f"stdin line {number}: empty key")
        if len(key) > limits.key_bytes_max:
            raise UsageError(
                f"stdin line {number}: key of {len(key)} bytes exceeds "
                f"key_bytes_max={limits.key_bytes_max}"
            )
        if len(value) > limits.value_bytes_max:
            raise UsageError(
                f"stdin line {number}: value of {len(value)} bytes exceeds "
                f"value_bytes_max={limits.value_bytes_max}"
            )


def put_lines(store: _Puts, lines: Iterable[bytes], limits: Limits | None = None) -> int:
    """Put every `KEY<TAB>VALUE` line into `store`; return how many there were.

    Every line is checked first (its form, and with `limits` its key and value), so a bad
    line puts nothing.
    """
    pairs = parse_lines(lines)
    if limits is not None:
        check_limits(pairs, limits)
    for key, value in pairs:
        store.put(key, value)
    return len(pairs)


def cmd_init(args: argparse.Namespace) -> int:
    """Create a data directory."""
    geometry = Geometry(args.page_bytes, args.extent_bytes, args.extent_count)
    disk = FileDisk.create(args.dir, geometry)
    try:
        node = Node.open(disk)
    except BaseException:
        disk.close()
        raise
    node.close()
    _line(
        f"created {escape(os.fsencode(args.dir))} "
        f"({geometry.extent_count} extents of {geometry.extent_bytes} bytes)"
    )
    return EXIT_OK


def cmd_put(args: argparse.Namespace) -> int:
    """Put one pair, or KEY<TAB>VALUE lines from stdin when KEY is -. Only the newline ends a
    line: a carriage return before it is part of the value. The whole input is checked before
    any of it is put, so a bad line (no tab, an empty line, a key or value out of limits) puts
    nothing."""
    if args.key == "-":
        if args.value is not None:
            raise UsageError("put - reads KEY<TAB>VALUE lines from stdin and takes no VALUE")
        if sys.stdin is None:
            raise UsageError("put -: standard input is closed")
        # Read and check it all before opening the store: no lock is held while input
        # trickles in, and a bad line is reported before anything is put.
        pairs = parse_lines(sys.stdin.buffer)
        with _open(args) as node:
            check_limits(pairs, node.limits)
            for key, value in pairs:
                node.put(key, value)
        return EXIT_OK
    if args.value is None:
        raise UsageError("put needs KEY VALUE (or - to read KEY<TAB>VALUE lines from stdin)")
    with _open(args) as node:
        node.put(os.fsencode(args.key), os.fsencode(args.value))
    return EXIT_OK


def cmd_get(args: argparse.Namespace) -> int:
    """Print a key's value (escaped; --raw for its exact bytes)."""
    with _open(args, read_only=True) as node:
        value = node.get(os.fsencode(args.key))
    if value is None:
        _stderr(f"kvnode: {escape(os.fsencode(args.key))}: not found")
        return EXIT_NO
    _write(value if args.raw else escape(value).encode("utf-8") + b"\n")
    return EXIT_OK


def cmd_delete(args: argparse.Namespace) -> int:
    """Delete a key."""
    with _open(args) as node:
        node.delete(os.fsencode(args.key))
    return EXIT_OK


def cmd_scan(args: argparse.Namespace) -> int:
    """Print KEY<TAB>VALUE lines in key order (escaped)."""
    end = None if args.end is None else os.fsencode(args.end)
    with _open(args, read_only=True) as node:
        pairs = node.scan(os.fsencode(args.start), end)
    for key, value in pairs[: args.limit]:
        _line(f"{escape(key)}\t{escape(value)}")
    return EXIT_OK


def cmd_stats(args: argparse.Namespace) -> int:
    """Print the node's counters."""
    with _open(args, read_only=True) as node:
        stats = attrs.asdict(node.stats())
    if args.json:
        _line(json.dumps(stats, indent=2))
    else:
        for name, value in stats.items():
            _line(f"{name:24} {value}")
    return EXIT_OK


def cmd_fsck(args: argparse.Namespace) -> int:
    """Verify every chunk and the superblock without changing anything."""
    disk = FileDisk.open(args.dir, read_only=True)
    try:
        report = fsck(disk)
    finally:
        disk.close()
    if args.json:
        _line(json.dumps(attrs.asdict(report) | {"ok": report.ok}, indent=2))
    else:
        _line(f"superblock generation {report.superblock_generation}")
        _line(f"extents scanned       {report.extents_scanned}")
        _line(f"chunks verified       {report.chunks_verified} ({report.bytes_verified} bytes)")
        _line(f"keys                  {report.keys}")
        for note in report.notes:
            _line(f"note: {_one_line(str(note))}")
        for finding in report.damage:
            _line(f"DAMAGE: {_one_line(str(finding))}")
        _line("clean" if report.ok else f"{len(report.damage)} damaged location(s)")
    return EXIT_OK if report.ok else EXIT_NO


def cmd_demo(args: argparse.Namespace) -> int:
    """Show the node at work on a simulated disk and on real files."""
    demo.run(_line)
    return EXIT_OK


# -- arguments -----------------------------------------------------------------------------------


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must not be negative: {value}")
    return value


def version() -> str:
    """The installed package's version ("unknown" in a source tree never installed)."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as installed

    try:
        return installed("kvnode-lfm")
    except PackageNotFoundError:
        return "unknown"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kvnode",
        description=__doc__.split("\n\n")[0],
        epilog="\n\n".join(__doc__.split("\n\n")[1:]),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"kvnode {version()}")
    parser.add_argument(
        "-d",
        "--dir",
        default=os.environ.get("KVNODE_DIR"),
        help="data directory (default: $KVNODE_DIR)",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name: str, fn: Callable[[argparse.Namespace], int]) -> argparse.ArgumentParser:
        doc = " ".join((fn.__doc__ or "").split())
        p = sub.add_parser(name, help=doc.split(". ")[0].rstrip(".") + ".", description=doc)
        p.set_defaults(fn=fn, needs_dir=name != "demo")
        return p

    p = add("init", cmd_init)
    p.add_argument("--page-bytes", type=int, default=DEFAULT_GEOMETRY.page_bytes)
    p.add_argument("--extent-bytes", type=int, default=DEFAULT_GEOMETRY.extent_bytes)
    p.add_argument("--extent-count", type=int, default=DEFAULT_GEOMETRY.extent_count)
    p = add("put", cmd_put)
    p.add_argument("key", help="key, or - to read KEY<TAB>VALUE lines from stdin")
    p.add_argument("value", nargs="?", help="value (required unless KEY is -)")
    p = add("get", cmd_get)
    p.add_argument("key")
    p.add_argument("--raw", action="store_true", help="write the exact bytes, no newline")
    add("delete", cmd_delete).add_argument("key")
    p = add("scan", cmd_scan)
    p.add_argument("--start", default="", help="first key (inclusive)")
    p.add_argument("--end", default=None, help="last key (exclusive)")
    p.add_argument(
        "--limit", type=_count, default=None, metavar="N", help="print at most N pairs (N >= 0)"
    )
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
        status = fn(args)
        _flush_stdout()  # a full or closed output fails here, not unreported at exit
        return status
    except BrokenPipeError:
        # The reader went away (`kvnode scan | head`): not an error of ours.
        _discard_stdout()
        return EXIT_OK
    except _OutputError as err:
        _discard_stdout()
        _error(f"cannot write to standard output: {err}")
        return EXIT_ERROR
    except (KVError, ValueError, OSError) as err:
        _error(_reason(err))
        return EXIT_ERROR
    except KeyboardInterrupt:
        _error("interrupted")
        return 130


if __name__ == "__main__":
    sys.exit(main())
