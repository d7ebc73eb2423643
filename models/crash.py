"""The crash model: which states a store may legally recover to after a crash.

It keeps the history of states since the last durable point, each with the dependency of the
mutation that produced it. After a crash the recovered state must be the state after some prefix
of that history (nothing reordered, nothing invented) that holds every mutation whose dependency
was persistent at the moment of the crash (persistence). A mutation that failed with an error
may or may not have happened; it is recorded with `maybe`, as a state that is never persistent.
"""

from __future__ import annotations

from typing import Any

State = dict[bytes, bytes]


class CrashModel:
    """History of states since the last reboot, for judging what a crash may leave."""

    def __init__(self, state: State):
        self._history: list[tuple[Any, State]] = [(None, dict(state))]

    def record(self, dependency: Any, state: State) -> None:
        """A mutation succeeded, leaving `state`; `dependency.is_persistent()` says if durable."""
        self._history.append((dependency, dict(state)))

    def maybe(self, state: State) -> None:
        """A mutation failed and may or may not have happened: `state` is if it did."""
        self._history.append((_NEVER, dict(state)))

    def legal_states(self) -> list[State]:
        """States a crash right now may recover to: prefixes holding every persistent mutation."""
        last = max(i for i, (dep, _) in enumerate(self._history) if _persistent(dep))
        return [state for _, state in self._history[last:]]


class _Never:
    def is_persistent(self) -> bool:
        return False


_NEVER = _Never()


def _persistent(dependency: Any) -> bool:
    if dependency is None:  # the state the history starts from
        return True
    check = getattr(dependency, "is_persistent", None)
    return bool(check()) if check is not None else True
