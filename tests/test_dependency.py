"""Dependencies: persistent once a sync covers them; `and_` waits for both."""

from __future__ import annotations

import pytest

from kvnode.dependency import Dependency, DurabilityClock
from kvnode.errors import KVTypeError


def issued(clock: DurabilityClock) -> Dependency:
    return Dependency(clock, clock.tick())


class TestIsPersistent:
    def test_a_mutation_is_not_persistent_until_a_sync_covers_it(self) -> None:
        clock = DurabilityClock()
        dep = issued(clock)
        assert not dep.is_persistent()
        clock.synced(clock.issued)
        assert dep.is_persistent()

    def test_a_sync_covers_only_what_was_issued_before_it(self) -> None:
        clock = DurabilityClock()
        first = issued(clock)
        clock.synced(clock.issued)
        second = issued(clock)
        assert first.is_persistent() and not second.is_persistent()

    def test_an_older_sync_finishing_late_does_not_move_durability_back(self) -> None:
        clock = DurabilityClock()
        dep = issued(clock)
        clock.synced(1)
        clock.synced(0)
        assert dep.is_persistent()

    def test_persistent_is_persistent_at_once(self) -> None:
        assert Dependency.persistent().is_persistent()


class TestAnd:
    def test_waits_for_the_later_of_two_mutations_of_one_node(self) -> None:
        clock = DurabilityClock()
        first, second = issued(clock), issued(clock)
        clock.synced(1)
        assert not first.and_(second).is_persistent()
        assert not second.and_(first).is_persistent()
        clock.synced(2)
        assert first.and_(second).is_persistent()

    def test_with_an_already_persistent_one_is_the_other(self) -> None:
        clock = DurabilityClock()
        dep = issued(clock)
        assert not Dependency.persistent().and_(dep).is_persistent()
        assert not dep.and_(Dependency.persistent()).is_persistent()
        assert Dependency.persistent().and_(Dependency.persistent()).is_persistent()

    def test_dependencies_of_different_nodes_do_not_combine(self) -> None:
        with pytest.raises(ValueError, match="different nodes"):
            issued(DurabilityClock()).and_(issued(DurabilityClock()))

    # Ids by type: an object's repr differs between processes, which pytest-xdist refuses.
    @pytest.mark.parametrize(
        "other", [None, True, 1, "dep", object()], ids=lambda v: type(v).__name__
    )
    def test_with_something_that_is_not_a_dependency_is_a_type_error(self, other: object) -> None:
        for dep in (issued(DurabilityClock()), Dependency.persistent()):
            with pytest.raises(KVTypeError, match="not " + type(other).__name__):
                dep.and_(other)  # type: ignore[arg-type]
