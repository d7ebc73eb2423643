"""Targets with planted bugs, to show that the properties catch what they claim to.

Each factory returns the built-in node on a simulated disk behind a wrapper that misbehaves in
one realistic way. Try one: `kvcheck --target properties.planted:scan_out_of_order`.
"""

from __future__ import annotations

import contextlib
from typing import Any

from kvnode import DiskFullError, Node
from properties.targets import SimDiskTarget


class _Wrapper:
    """Delegates everything to the node it wraps."""

    def __init__(self, node: Node, target: _PlantedTarget):
        self._node = node
        self._target = target

    def __getattr__(self, name: str) -> Any:
        return getattr(self._node, name)


class _PlantedTarget(SimDiskTarget):
    wrapper: type[_Wrapper] = _Wrapper

    def __init__(self) -> None:
        super().__init__()
        self.forgotten: set[bytes] = set()
        self.deleted: dict[bytes, bytes] = {}

    def open(self) -> Any:
        return self.wrapper(super().open(), self)


class _ForgetsAfterReclaim(_Wrapper):
    """Reclamation that moved live chunks forgets the smallest key (as if it skipped a copy)."""

    def reclaim(self) -> None:
        moved = self._node.stats().chunks_moved
        self._node.reclaim()
        pairs = self._visible()
        if self._node.stats().chunks_moved > moved and pairs:
            self._target.forgotten.add(pairs[0][0])

    def put(self, key: bytes, value: bytes) -> Any:
        self._target.forgotten.discard(key)
        return self._node.put(key, value)

    def get(self, key: bytes) -> bytes | None:
        return None if key in self._target.forgotten else self._node.get(key)

    def scan(self, start: bytes = b"", end: bytes | None = None) -> list[tuple[bytes, bytes]]:
        return [(k, v) for k, v in self._node.scan(start, end) if k not in self._target.forgotten]

    def _visible(self) -> list[tuple[bytes, bytes]]:
        return self.scan()


class _LosesDeletesOnReboot(_Wrapper):
    """Recovery that ignores tombstones: keys deleted before a clean reboot come back."""

    def __init__(self, node: Node, target: _PlantedTarget):
        super().__init__(node, target)
        for key, value in target.deleted.items():
            with contextlib.suppress(DiskFullError):
                node.put(key, value)
        target.deleted.clear()

    def delete(self, key: bytes) -> Any:
        old = self._node.get(key)
        if old is not None:
            self._target.deleted[key] = old
        return self._node.delete(key)

    def put(self, key: bytes, value: bytes) -> Any:
        self._target.deleted.pop(key, None)
        return self._node.put(key, value)


class _ScansOutOfOrder(_Wrapper):
    """A scan that returns pairs in reverse key order once there are several."""

    def scan(self, start: bytes = b"", end: bytes | None = None) -> list[tuple[bytes, bytes]]:
        pairs = self._node.scan(start, end)
        return pairs[::-1] if len(pairs) > 2 else pairs


def _planted(wrapper: type[_Wrapper]) -> _PlantedTarget:
    target = _PlantedTarget()
    target.wrapper = wrapper
    target.name = wrapper.__name__.strip("_")
    return target


def forget_after_reclaim() -> _PlantedTarget:
    """The node, but reclamation forgets a key."""
    return _planted(_ForgetsAfterReclaim)


def lose_delete_after_reboot() -> _PlantedTarget:
    """The node, but deletes are lost across a clean reboot."""
    return _planted(_LosesDeletesOnReboot)


def scan_out_of_order() -> _PlantedTarget:
    """The node, but scans of three or more pairs come back in reverse order."""
    return _planted(_ScansOutOfOrder)


PLANTED = {
    "forget_after_reclaim": forget_after_reclaim,
    "lose_delete_after_reboot": lose_delete_after_reboot,
    "scan_out_of_order": scan_out_of_order,
}
