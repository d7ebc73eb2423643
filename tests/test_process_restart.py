"""Persistence across a real process restart on FileDisk."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import kvnode

CHILD = textwrap.dedent(
    """
    import os, sys
    from kvnode import SMALL_GEOMETRY, FileDisk, Node
    path = sys.argv[1]
    node = Node.open(FileDisk.create(path, SMALL_GEOMETRY))
    for i in range(120):
        node.put(b"key-%03d" % i, b"value-%d" % i * (i % 9))
    for i in range(0, 120, 10):
        node.delete(b"key-%03d" % i)
    node.sync()
    # Exit without close(): only what sync made durable may be relied on.
    os._exit(0)
    """
)


def expected() -> dict[bytes, bytes]:
    pairs = {b"key-%03d" % i: b"value-%d" % i * (i % 9) for i in range(120)}
    return {k: v for k, v in pairs.items() if int(k[4:]) % 10}


def test_synced_writes_survive_a_child_process_that_exits_without_closing(tmp_path: Path) -> None:
    path = tmp_path / "data"
    subprocess.run([sys.executable, "-c", CHILD, str(path)], check=True, timeout=60)
    with kvnode.open_dir(path) as node:
        assert dict(node.scan()) == expected()


def test_reopened_directory_keeps_working_across_restarts(tmp_path: Path) -> None:
    path = tmp_path / "data"
    subprocess.run([sys.executable, "-c", CHILD, str(path)], check=True, timeout=60)
    with kvnode.open_dir(path) as node:
        node.put(b"later", b"x")
    with kvnode.open_dir(path) as node:
        assert node.get(b"later") == b"x"
        assert len(node.scan()) == len(expected()) + 1
