"""`Maintenance`: index flushes and reclamation on a background thread, beside the clients.

The worker wakes every `interval_s` seconds, or at once on `request()`, and does what `plan`
(a pure function of the node's stats) says is due: an index flush once the log a reopen would
replay exceeds `flush_after_bytes`, and a reclamation while free extents are at most
`reclaim_at_free_extents`. At most one of each per wake-up, so a disk whose extents are all
nearly live is not copied round in circles. It takes no lock of its own around the node's calls:
the node's locks make them safe beside client threads (see the theory of operation in
`kvnode.node`).

Errors: a closed or failed node stops the worker (it has nothing left to do until reopened); a
full disk or a read error is recorded in `last_error` and retried at the next wake-up; anything
else stops it and is kept in `error`, which `stop` raises.
"""

from __future__ import annotations

import threading
from typing import Literal

import attrs

from kvnode.errors import KVError, NodeClosedError, NodeFailedError
from kvnode.node import Node, NodeStats

Task = Literal["flush_index", "reclaim"]


@attrs.frozen
class MaintenancePolicy:
    """When background work is due, and how often to look."""

    #: Flush the index once a reopen would replay more than this many log bytes.
    flush_after_bytes: int = 4 << 20
    #: Reclaim while no more than this many log extents are free (clients may use all but two).
    reclaim_at_free_extents: int = 3
    #: Seconds between looks.
    interval_s: float = 1.0


def plan(stats: NodeStats, policy: MaintenancePolicy) -> tuple[Task, ...]:
    """The work due now, in the order to do it (a flush first: reclamation flushes anyway)."""
    tasks: list[Task] = []
    if stats.unflushed_bytes > policy.flush_after_bytes:
        tasks.append("flush_index")
    if stats.free_extents <= policy.reclaim_at_free_extents:
        tasks.append("reclaim")
    return tuple(tasks)


class Maintenance:
    """Runs `plan`'s work for one node on a daemon thread: `start()` ... `stop()`, or `with`."""

    def __init__(self, node: Node, policy: MaintenancePolicy | None = None):
        self.node = node
        self.policy = policy or MaintenancePolicy()
        #: Tasks done so far, by kind.
        self.done: dict[Task, int] = {"flush_index": 0, "reclaim": 0}
        #: The last transient error (retried), or None.
        self.last_error: KVError | None = None
        #: The error that stopped the worker, if one did.
        self.error: BaseException | None = None
        self._wake = threading.Condition()
        self._stopping = False
        self._requested = False
        self._thread: threading.Thread | None = None

    def run_once(self) -> tuple[Task, ...]:
        """Do what is due now, on the calling thread; returns the tasks that did something."""
        did: list[Task] = []
        for task in plan(self.node.stats(), self.policy):
            if task == "reclaim":
                before = self.node.stats().reclaims
                self.node.reclaim()
                if self.node.stats().reclaims == before:
                    continue  # nothing worth reclaiming
            else:
                self.node.flush_index()
            self.done[task] += 1
            did.append(task)
        return tuple(did)

    def start(self) -> None:
        """Start the worker thread."""
        if self._thread is not None:
            raise RuntimeError("maintenance already started")
        self._thread = threading.Thread(target=self._loop, name="kvnode-maintenance", daemon=True)
        self._thread.start()

    def request(self) -> None:
        """Wake the worker now instead of at the end of its interval."""
        with self._wake:
            self._requested = True
            self._wake.notify()

    def stop(self) -> None:
        """Stop the worker and wait for it; raise the error that stopped it, if any."""
        with self._wake:
            self._stopping = True
            self._wake.notify()
        if self._thread is not None:
            self._thread.join()
        if self.error is not None:
            raise self.error

    def __enter__(self) -> Maintenance:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _woken(self) -> bool:
        return self._stopping or self._requested

    def _loop(self) -> None:
        while True:
            with self._wake:
                self._wake.wait_for(self._woken, self.policy.interval_s)
                if self._stopping:
                    return
                self._requested = False
            try:
                self.run_once()
            except (NodeClosedError, NodeFailedError):
                return
            except KVError as err:
                self.last_error = err
            except BaseException as err:
                self.error = err
                return
