"""A deterministic scheduler: real threads that run one at a time and switch only at yield points.

Theory of operation. Each logical thread runs on an OS thread of its own (a *carrier*, reused
from run to run because starting one costs milliseconds, and a daemon, so that one that never
finishes cannot keep the process alive), but only the thread holding the baton runs. Every
thread waits on a binary semaphore of its own; the controller (whoever called `run`) releases
exactly one, then waits until that one reaches a yield point, blocks on a lock, or finishes,
and hands the baton back by a second semaphore. Code yields by calling `yield_point(label)`; the
cooperative locks from `lock(name)` yield before every acquire and after every release, and
`YieldingDisk` yields before every disk call. A thread that wants a lock another thread holds is
parked and is not runnable until the lock is free. Since only one thread moves at a time and
the controller alone decides which, with the choices coming from a `Schedule`, a run is a
function of the threads' code and the schedule: the same schedule replays the same run, step
for step.

Failures are exceptions from `run`, each with the trace so far: `Deadlock` when threads remain
but none is runnable (every one waits for a lock another holds); `Stuck` when a thread does not
come back within `timeout_s` (it blocked on something the scheduler cannot see, or looped);
`TooManySteps` past `max_steps` (a livelock). Before `run` raises, it wakes every parked thread
with `_Abort`, a `BaseException` that unwinds it (releasing the locks its `with` blocks hold),
one thread at a time, so no thread is left behind but a stuck one.

Threads outside the run (the one that calls `run`, say, setting up before and checking after)
may use the same locks and disk: for them nothing yields.
"""

from __future__ import annotations

import functools
import queue
import threading
from collections.abc import Callable, Sequence
from types import TracebackType
from typing import ClassVar

import attrs

from kvcheck.concurrency.schedule import Schedule
from kvnode.disk import Disk
from kvnode.limits import Geometry


class _Abort(BaseException):
    """Unwinds a parked thread when the run is abandoned."""


@attrs.frozen
class Step:
    """One step of a run: `thread` ran until it stopped at `label` ("done" when it finished)."""

    thread: str
    label: str


@attrs.frozen
class Wait:
    """In a deadlock: `thread` waits for `lock`, which `holder` holds."""

    thread: str
    lock: str
    holder: str


class ScheduleError(AssertionError):
    """A run that could not complete; `trace` is every step up to that point."""

    def __init__(self, message: str, trace: Sequence[Step]):
        super().__init__(message)
        self.trace = tuple(trace)


class Deadlock(ScheduleError):
    """Threads remain, but each waits for a lock that another holds."""

    def __init__(self, waits: Sequence[Wait], trace: Sequence[Step]):
        self.waits = tuple(waits)
        text = "; ".join(f"{w.thread} waits for {w.lock}, held by {w.holder}" for w in waits)
        super().__init__(f"deadlock: {text}", trace)


class Stuck(ScheduleError):
    """A thread did not reach a yield point in time."""


class TooManySteps(ScheduleError):
    """The run went on past the step limit."""


def _semaphore() -> threading.Lock:
    """A binary semaphore at 0: a raw lock, held, that another thread may release (in C, so a
    hand-over costs a fraction of what `threading.Semaphore`'s condition variable does)."""
    lock = threading.Lock()
    lock.acquire()
    return lock


class _Thread:
    def __init__(self, index: int, name: str, fn: Callable[[], object]):
        self.index = index
        self.name = name
        self.fn = fn
        self.turn = _semaphore()
        self.label = "start"
        self.waiting: CoopLock | None = None
        self.done = False
        self.abort = False
        self.error: BaseException | None = None


class Scheduler:
    """Runs `spawn`ed threads one at a time, in the order a `Schedule` chooses."""

    def __init__(self, schedule: Schedule, *, timeout_s: float = 10.0, max_steps: int = 20_000):
        self.schedule = schedule
        self.timeout_s = timeout_s
        self.max_steps = max_steps
        #: Every step so far.
        self.trace: list[Step] = []
        #: Steps at which more than one thread could run.
        self.decisions = 0
        self._chooser = schedule.chooser()
        self._threads: list[_Thread] = []
        self._back = _semaphore()
        self._local = threading.local()
        self._started = False

    def spawn(self, name: str, fn: Callable[[], object]) -> None:
        """Add a thread that will run `fn` (before `run`)."""
        if self._started:
            raise RuntimeError("spawn threads before run")
        self._threads.append(_Thread(len(self._threads), name, fn))

    def lock(self, name: str) -> CoopLock:
        """A lock whose acquire and release are yield points (a `kvnode.locks.LockFactory`)."""
        return CoopLock(self, name)

    @property
    def errors(self) -> dict[str, BaseException]:
        """The exception that ended each thread that raised one."""
        return {t.name: t.error for t in self._threads if t.error is not None}

    def yield_point(self, label: str) -> None:
        """Let the scheduler run another thread here (a no-op outside the run's threads)."""
        thread = self._current()
        if thread is None or thread.abort:
            return
        thread.label = label
        self._back.release()
        thread.turn.acquire()
        if thread.abort:
            raise _Abort

    def run(self) -> None:
        """Run every thread to its end; raises `ScheduleError` (after cleaning up) otherwise."""
        if self._started:
            raise RuntimeError("a scheduler runs once")
        self._started = True
        for thread in self._threads:
            _Carrier.run(functools.partial(self._body, thread))
        stuck: _Thread | None = None
        try:
            self._drive()
        except Stuck:
            stuck = next(t for t in self._threads if not t.done and t.label == "running")
            raise
        finally:
            self._abort(skip=stuck)

    def _current(self) -> _Thread | None:
        return getattr(self._local, "thread", None)

    def _body(self, thread: _Thread) -> None:
        self._local.thread = thread
        thread.turn.acquire()
        try:
            if not thread.abort:
                thread.fn()
        except _Abort:
            pass
        except BaseException as err:
            thread.error = err
        finally:
            thread.done = True
            thread.waiting = None
            self._back.release()

    def _drive(self) -> None:
        last: int | None = None
        while True:
            live = [t for t in self._threads if not t.done]
            if not live:
                return
            runnable = [t.index for t in live if t.waiting is None or t.waiting.free]
            if not runnable:
                raise Deadlock([self._wait_of(t) for t in live], self.trace)
            if len(self.trace) >= self.max_steps:
                raise TooManySteps(f"no end after {self.max_steps} steps", self.trace)
            self.decisions += len(runnable) > 1
            thread = self._threads[self._chooser.choose(runnable, last, len(self.trace))]
            thread.label = "running"
            thread.turn.release()
            if not self._back.acquire(timeout=self.timeout_s):
                raise Stuck(
                    f"{thread.name} did not reach a yield point within {self.timeout_s}s",
                    self.trace,
                )
            self.trace.append(Step(thread.name, "done" if thread.done else thread.label))
            last = thread.index

    def _wait_of(self, thread: _Thread) -> Wait:
        lock = thread.waiting
        assert lock is not None, "a live thread that is not runnable waits for a lock"
        return Wait(thread.name, lock.name, lock.holder)

    def _abort(self, skip: _Thread | None) -> None:
        for thread in self._threads:
            if thread.done or thread is skip:
                continue
            thread.abort = True
            thread.turn.release()
            if not self._back.acquire(timeout=self.timeout_s):
                return  # it is stuck unwinding: leave it (a daemon) and the rest


class _Carrier:
    """An OS thread that runs thread bodies one after another, idle in a pool between them."""

    _idle: ClassVar[list[_Carrier]] = []
    _idle_lock = threading.Lock()

    def __init__(self) -> None:
        self._jobs: queue.SimpleQueue[Callable[[], None]] = queue.SimpleQueue()
        threading.Thread(target=self._loop, name="sched-carrier", daemon=True).start()

    @classmethod
    def run(cls, job: Callable[[], None]) -> None:
        """Run `job` on an idle carrier, or on a new one."""
        with cls._idle_lock:
            carrier = cls._idle.pop() if cls._idle else None
        (carrier or cls())._jobs.put(job)

    def _loop(self) -> None:
        while True:
            self._jobs.get()()
            with self._idle_lock:
                self._idle.append(self)


class CoopLock:
    """A non-reentrant lock whose acquire and release are yield points of its scheduler."""

    def __init__(self, scheduler: Scheduler, name: str):
        self.name = name
        self._scheduler = scheduler
        self._owner: _Thread | None = None
        self._held_outside = False  # by a thread outside the run (which runs alone)

    @property
    def free(self) -> bool:
        """Whether no one holds the lock."""
        return self._owner is None and not self._held_outside

    @property
    def holder(self) -> str:
        """Who holds the lock, for reports."""
        if self._owner is not None:
            return self._owner.name
        return "a thread outside the run" if self._held_outside else "no one"

    def acquire(self) -> bool:
        """Take the lock, parking (not runnable) while another thread holds it."""
        thread = self._scheduler._current()
        if thread is None:
            if not self.free:
                raise RuntimeError(f"{self.name} is held by {self.holder}")
            self._held_outside = True
            return True
        if thread.abort:
            raise _Abort
        self._scheduler.yield_point(f"acquire {self.name}")
        while not self.free:
            thread.waiting = self
            self._scheduler.yield_point(f"wait {self.name}")
        thread.waiting = None
        self._owner = thread
        return True

    def release(self) -> None:
        """Release the lock, then yield."""
        thread = self._scheduler._current()
        if thread is None:
            if not self._held_outside:
                raise RuntimeError(f"{self.name} released but not held outside the run")
            self._held_outside = False
            return
        if self._owner is not thread:
            raise RuntimeError(f"{thread.name} released {self.name}, held by {self.holder}")
        self._owner = None
        self._scheduler.yield_point(f"release {self.name}")

    def __enter__(self) -> bool:
        return self.acquire()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()


class YieldingDisk:
    """Wraps a disk so that each call that does I/O is first a yield point of `scheduler`."""

    def __init__(self, disk: Disk, scheduler: Scheduler):
        self.disk = disk
        self._scheduler = scheduler

    @property
    def geometry(self) -> Geometry:
        """The wrapped disk's shape."""
        return self.disk.geometry

    def append(self, extent: int, data: bytes) -> int:
        """Yield, then append."""
        self._scheduler.yield_point(f"disk.append e{extent}")
        return self.disk.append(extent, data)

    def read(self, extent: int, offset: int, length: int) -> bytes:
        """Yield, then read."""
        self._scheduler.yield_point(f"disk.read e{extent}@{offset}")
        return self.disk.read(extent, offset, length)

    def write_pointer(self, extent: int) -> int:
        """The write pointer (no I/O, so no yield)."""
        return self.disk.write_pointer(extent)

    def truncate(self, extent: int, length: int) -> None:
        """Yield, then truncate."""
        self._scheduler.yield_point(f"disk.truncate e{extent}")
        self.disk.truncate(extent, length)

    def reset(self, extent: int) -> None:
        """Yield, then reset."""
        self._scheduler.yield_point(f"disk.reset e{extent}")
        self.disk.reset(extent)

    def sync(self) -> None:
        """Yield, then sync."""
        self._scheduler.yield_point("disk.sync")
        self.disk.sync()

    def close(self) -> None:
        """Close the wrapped disk."""
        self.disk.close()


def describe_trace(trace: Sequence[Step], limit: int = 40) -> str:
    """The trace as one line per run of consecutive steps by the same thread."""
    runs: list[tuple[str, list[str]]] = []
    for step in trace:
        if runs and runs[-1][0] == step.thread:
            runs[-1][1].append(step.label)
        else:
            runs.append((step.thread, [step.label]))
    lines = [f"  {name:>6}: {', '.join(labels)}" for name, labels in runs[-limit:]]
    if len(runs) > limit:
        lines.insert(0, f"  ... ({len(runs) - limit} earlier turns)")
    return "\n".join(lines) or "  (no steps)"
