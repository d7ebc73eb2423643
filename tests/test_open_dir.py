"""`open_dir`: a node on a data directory, made on request, with its arguments checked."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

from kvnode import SMALL_GEOMETRY, DataDirError, KVTypeError, Node, open_dir


def test_creates_then_reopens_a_store(tmp_path: Path) -> None:
    with open_dir(tmp_path / "s", create=True, geometry=SMALL_GEOMETRY) as node:
        node.put(b"a", b"1")
    with open_dir(tmp_path / "s") as node:
        assert node.get(b"a") == b"1"


@pytest.mark.parametrize("geometry", [None, (256, 4096, 16), "SMALL", 4096], ids=repr)
def test_a_geometry_that_is_not_a_geometry_is_a_type_error(
    tmp_path: Path, geometry: object
) -> None:
    with pytest.raises(KVTypeError, match="geometry must be a Geometry"):
        open_dir(tmp_path / "s", create=True, geometry=geometry)  # type: ignore[arg-type]
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("path", [b"s", 3, None], ids=repr)
def test_a_path_that_is_not_a_string_or_path_is_a_type_error(path: object) -> None:
    with pytest.raises(KVTypeError, match="path must be a str"):
        open_dir(path, create=True)  # type: ignore[arg-type]


def test_create_must_be_a_bool(tmp_path: Path) -> None:
    with pytest.raises(KVTypeError, match="create must be a bool"):
        open_dir(tmp_path / "s", create="yes")  # type: ignore[arg-type]


def test_an_absent_store_without_create_is_refused(tmp_path: Path) -> None:
    with pytest.raises(DataDirError, match="no such data directory"):
        open_dir(tmp_path / "s")


def test_concurrent_creating_opens_all_end_on_the_one_store(tmp_path: Path) -> None:
    """Whoever loses the race to create opens what the winner made (or finds it in use)."""
    path = tmp_path / "s"
    barrier = threading.Barrier(3)
    outcomes: list[str] = []
    lock = threading.Lock()

    def open_and_put(i: int) -> None:
        barrier.wait()
        outcome = "still in use after 10 s"
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with open_dir(path, create=True, geometry=SMALL_GEOMETRY) as node:
                    node.put(b"k%d" % i, b"v")
                outcome = "ok"
                break
            except DataDirError as err:
                if "in use" not in err.reason:
                    outcome = err.reason
                    break
                time.sleep(0.001)
        with lock:
            outcomes.append(outcome)

    threads = [threading.Thread(target=open_and_put, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert outcomes == ["ok"] * 3
    with open_dir(path) as node:
        assert [k for k, _ in node.scan()] == [b"k0", b"k1", b"k2"]
    assert isinstance(node, Node)
