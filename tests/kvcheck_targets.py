"""Targets for the kvcheck command-line tests, named as `kvcheck_targets:NAME`."""

from __future__ import annotations

import time
from typing import Any

from kvcheck import StoreTarget, Target
from kvcheck.models import ReferenceKV


class _EndlessStore(ReferenceKV):
    """The reference model as a store: it never fills."""


def never_fills() -> Target:
    """A store that never fills, without saying so: `disk-full` is missed."""
    return StoreTarget(_EndlessStore, "never_fills")


def never_fills_and_says_so() -> Target:
    """The same store, declaring the states it cannot reach."""
    target = StoreTarget(_EndlessStore, "never_fills_and_says_so")
    target.not_applicable = frozenset({"disk-full"})
    return target


def raises() -> Any:
    """A factory that fails."""
    raise RuntimeError("the store's server is down")


class _PartStore:
    def get(self, key: bytes) -> bytes | None:
        return None

    def put(self, key: bytes, value: bytes) -> None:
        pass


def lacks_methods() -> object:
    """A factory whose store has only part of the API."""
    return _PartStore()


class _Interrupting(_EndlessStore):
    """Ctrl-C arrives after a while."""

    calls = 0

    def get(self, key: bytes) -> bytes | None:
        """A get, until the user presses Ctrl-C."""
        _Interrupting.calls += 1
        if _Interrupting.calls > 200:
            raise KeyboardInterrupt
        return super().get(key)


def interrupted() -> Target:
    """A store during whose checking the user presses Ctrl-C."""
    return StoreTarget(_Interrupting, "interrupted")


class _SlowStore(_EndlessStore):
    """Every call takes a few milliseconds, and with five or more keys held, `get` of the
    smallest key misses: a failure found in seconds whose shrinking takes minutes, because
    each of the shrinker's hundreds of attempts replays a whole example slowly."""

    DELAY = 0.004

    def get(self, key: bytes) -> bytes | None:
        """A get that loses the smallest key of a store holding five or more."""
        time.sleep(self.DELAY)
        held = self.scan()
        if len(held) >= 5 and key == held[0][0]:
            return None
        return super().get(key)

    def put(self, key: bytes, value: bytes) -> None:
        """A slow put."""
        time.sleep(self.DELAY)
        super().put(key, value)

    def scan(self, start: bytes = b"", end: bytes | None = None) -> list[tuple[bytes, bytes]]:
        """A slow scan."""
        time.sleep(self.DELAY)
        return super().scan(start, end)


def shrinks_slowly() -> Target:
    """A store whose failure takes minutes to shrink."""
    target = StoreTarget(_SlowStore, "shrinks_slowly")
    target.not_applicable = frozenset({"disk-full"})
    return target


def racy_node() -> Target:
    """The built-in node with a planted race: reclamation undoes a put it races."""
    from kvcheck.evidence.planted_races import CopiesWithoutCompare
    from kvcheck.machine.targets import SimDiskTarget

    return SimDiskTarget(node_class=CopiesWithoutCompare)


def node_with_a_codec_bug() -> Target:
    """The built-in node, patched so a truncated chunk header escapes its decoder."""
    from kvcheck.evidence.catalog import BY_NAME

    return BY_NAME["truncated_header_escapes"].target_factory()()


def node_syncing_outside_the_lock() -> Target:
    """A planted race that only a power cut shows: sync's watermark taken after an unlocked
    disk sync."""
    from kvcheck.evidence.planted_races import SyncsOutsideTheLock
    from kvcheck.machine.targets import SimDiskTarget

    return SimDiskTarget(node_class=SyncsOutsideTheLock)


def node_ticketing_before_writing() -> Target:
    """A planted race that only a power cut shows: a put's durability ticket taken before its
    write."""
    from kvcheck.evidence.planted_races import TicketBeforeWriting
    from kvcheck.machine.targets import SimDiskTarget

    return SimDiskTarget(node_class=TicketBeforeWriting)
