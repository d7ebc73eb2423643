"""A failure one process finds is replayed first by another, through a shared Redis database.

Needs a `redis-server` binary (CI installs Debian's); the test starts its own on a free
loopback port and skips, saying why, where none can start.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

PLANTED = "kvcheck.evidence.planted:scan_out_of_order"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def redis_url(tmp_path: Path) -> Iterator[str]:
    """A private redis-server on loopback, for this test only."""
    server = shutil.which("redis-server")
    if server is None:
        pytest.skip("no redis-server binary (apt-get install redis-server)")
    port = _free_port()
    process = subprocess.Popen(
        [server, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--dir", str(tmp_path)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        for _ in range(100):
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.05)
        else:
            pytest.skip("redis-server did not start")
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.terminate()
        process.wait(timeout=10)


def kvcheck(cwd: Path, *args: str) -> tuple[int, dict[str, object]]:
    """Run kvcheck in its own process; its exit status and JSON report."""
    report = cwd / f"report-{time.monotonic_ns()}.json"
    done = subprocess.run(
        [sys.executable, "-m", "kvcheck.frontends.cli", "--no-progress", "--budget", "3",
         "--target", PLANTED, "--only", "conformance", "--json", str(report), *args],
        cwd=cwd, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    return done.returncode, json.loads(report.read_text())


def test_a_failure_found_by_one_worker_is_replayed_first_by_another(
    redis_url: str, tmp_path: Path
) -> None:
    # Two workers in two directories: nothing is shared but the Redis server.
    first, second = tmp_path / "worker-1", tmp_path / "worker-2"
    first.mkdir()
    second.mkdir()
    code, found = kvcheck(first, "--database", redis_url, "--seed", "1")
    assert code == 1
    searched = found["properties"][0]  # type: ignore[index]
    code, replayed = kvcheck(second, "--database", redis_url, "--seed", "12345")
    assert code == 1
    again = replayed["properties"][0]  # type: ignore[index]
    assert again["result"] == "failed"
    assert again["examples"] == 1 < searched["examples"], (searched, again)
    assert again["failure"]["program"] == searched["failure"]["program"]
