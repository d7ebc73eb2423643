"""The maintenance worker: its policy, one run on demand, and the background thread."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import attrs
import pytest

from kvcheck.machine.targets import CHECK_GEOMETRY
from kvnode import Maintenance, MaintenancePolicy, Node, SimDisk
from kvnode.errors import DiskIOError
from kvnode.maintenance import plan

EAGER = MaintenancePolicy(flush_after_bytes=0, reclaim_at_free_extents=8, interval_s=0.001)


def filled_node() -> Node:
    """A node whose first log extent is full and half dead."""
    node = Node.open(SimDisk(CHECK_GEOMETRY))
    for i in range(8):
        node.put(b"k%d" % (i % 4), bytes([i]) * 900)
    return node


def eventually(condition: Callable[[], bool], timeout_s: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.001)
    return True


class TestPlan:
    def test_flushes_once_the_unflushed_log_exceeds_the_threshold(self) -> None:
        stats = filled_node().stats()
        policy = MaintenancePolicy(flush_after_bytes=stats.unflushed_bytes - 1)
        assert plan(stats, policy) == ("flush_index",)
        assert plan(stats, attrs.evolve(policy, flush_after_bytes=stats.unflushed_bytes)) == ()

    def test_reclaims_while_few_extents_are_free(self) -> None:
        stats = filled_node().stats()
        policy = MaintenancePolicy(reclaim_at_free_extents=stats.free_extents)
        assert plan(stats, policy) == ("reclaim",)
        assert plan(stats, attrs.evolve(policy, reclaim_at_free_extents=0)) == ()


class TestRunOnce:
    def test_does_the_work_that_is_due_and_counts_it(self) -> None:
        node = filled_node()
        maintenance = Maintenance(node, EAGER)
        assert maintenance.run_once() == ("flush_index", "reclaim")
        assert maintenance.done == {"flush_index": 1, "reclaim": 1}
        assert node.stats().reclaims == 1

    def test_counts_add_up_over_runs(self) -> None:
        node = filled_node()
        maintenance = Maintenance(node, attrs.evolve(EAGER, reclaim_at_free_extents=0))
        maintenance.run_once()
        node.put(b"k0", b"again")
        maintenance.run_once()
        assert maintenance.done == {"flush_index": 2, "reclaim": 0}

    def test_a_reclamation_that_frees_nothing_is_not_counted(self) -> None:
        node = Node.open(SimDisk(CHECK_GEOMETRY))
        maintenance = Maintenance(node, attrs.evolve(EAGER, flush_after_bytes=1 << 20))
        assert maintenance.run_once() == ()


class TestWorker:
    def test_flushes_and_reclaims_in_the_background_while_clients_write(self) -> None:
        node = filled_node()
        with Maintenance(node, EAGER) as maintenance:
            for i in range(40):
                node.put(b"k%d" % (i % 4), bytes([i]) * 900)
            assert eventually(lambda: maintenance.done["reclaim"] > 0)
        assert [k for k, _ in node.scan()] == [b"k0", b"k1", b"k2", b"k3"]
        assert node.stats().index_flushes > 0

    def test_request_wakes_the_worker_before_its_interval(self) -> None:
        node = filled_node()
        with Maintenance(node, attrs.evolve(EAGER, interval_s=3600)) as maintenance:
            maintenance.request()
            assert eventually(lambda: maintenance.done["flush_index"] > 0)

    def test_a_closed_node_stops_the_worker_quietly(self) -> None:
        node = filled_node()
        maintenance = Maintenance(node, EAGER)
        maintenance.start()
        node.close()
        assert eventually(
            lambda: maintenance._thread is not None and not maintenance._thread.is_alive()
        )
        maintenance.stop()

    def test_stop_raises_the_error_that_stopped_the_worker(self) -> None:
        node = filled_node()

        def broken() -> None:
            raise RuntimeError("bug in reclamation")

        node.reclaim = broken  # type: ignore[method-assign]
        maintenance = Maintenance(node, EAGER)
        maintenance.start()
        assert eventually(lambda: maintenance.error is not None)
        with pytest.raises(RuntimeError, match="bug in reclamation"):
            maintenance.stop()

    def test_a_failed_round_is_recorded_and_the_worker_keeps_going(self) -> None:
        node = filled_node()
        maintenance = Maintenance(node, EAGER)
        assert maintenance.last_error is None
        real = node.reclaim
        calls = []

        def flaky() -> None:
            calls.append(1)
            if len(calls) == 1:
                raise DiskIOError("read", "transient")
            real()

        node.reclaim = flaky  # type: ignore[method-assign]
        with maintenance:
            assert eventually(lambda: maintenance.done["reclaim"] > 0)
        assert isinstance(maintenance.last_error, DiskIOError)
        assert maintenance.error is None

    def test_the_worker_is_a_named_daemon_thread(self) -> None:
        # A daemon, so a worker nobody stopped never keeps the process alive.
        with Maintenance(filled_node(), attrs.evolve(EAGER, interval_s=3600)):
            (worker,) = [t for t in threading.enumerate() if t.name == "kvnode-maintenance"]
            assert worker.daemon

    def test_stop_waits_for_the_worker_to_finish(self) -> None:
        maintenance = Maintenance(filled_node(), EAGER)
        maintenance.start()
        maintenance.stop()
        assert not [t for t in threading.enumerate() if t.name == "kvnode-maintenance"]

    def test_starting_twice_is_refused(self) -> None:
        with Maintenance(filled_node(), EAGER) as maintenance, pytest.raises(RuntimeError):
            maintenance.start()
