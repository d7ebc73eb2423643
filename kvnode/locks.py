"""Where a node gets its locks, so that a checker can substitute its own.

The node asks a `LockFactory` for each of its locks by name (`"node.state"`,
`"node.maintenance"`). The default, `thread_lock`, makes plain `threading.Lock`s. A deterministic
scheduler passes a factory whose locks hand control to it at every acquire and release, so that
the interleavings of the node's threads can be chosen, replayed and shrunk; the names then
appear in its reports ("waits for node.state, held by maintenance").
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from types import TracebackType
from typing import Protocol


class Lock(Protocol):
    """A non-reentrant mutual-exclusion lock, used only as a context manager."""

    def __enter__(self) -> object: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> object: ...


#: Makes the lock with the given name.
LockFactory = Callable[[str], Lock]


def thread_lock(name: str) -> Lock:
    """A `threading.Lock` (the name is for factories that report waits)."""
    return threading.Lock()
