"""Seeded random histories with crashes: recovery yields a prefix holding every synced write.

A compact differential check that guards the node until the Hypothesis state machines in
`properties/` take over. Each history is a pure function of its seed, so a failure names the
seed and the step, and `pytest -k 'seed_N'` replays it exactly.
"""

from __future__ import annotations

import random

import pytest

from kvnode import SMALL_GEOMETRY, CrashPlan, Dependency, DiskFullError, Node, SimDisk

KEYS = [b"k%d" % i for i in range(12)]
SIZES = [0, 1, 255, 256, 257, 1000, 3000]
STEPS = 300


def crash_plan(disk: SimDisk, rnd: random.Random) -> CrashPlan:
    """Lose exactly one write, a suffix, or a random subset, sometimes tearing kept pages."""
    indices = [w.index for w in disk.pending_writes()]
    if not indices:
        return CrashPlan()
    mode = rnd.choice(["all-but-one", "prefix", "subset"])
    if mode == "all-but-one":
        keep = set(indices) - {rnd.choice(indices)}
    elif mode == "prefix":
        keep = set(indices[: rnd.randrange(len(indices) + 1)])
    else:
        keep = {i for i in indices if rnd.random() < 0.5}
    page = SMALL_GEOMETRY.page_bytes
    return CrashPlan(keep, {i: rnd.randrange(1, page) for i in keep if rnd.random() < 0.2})


def mutate(node: Node, rnd: random.Random, model: dict[bytes, bytes]) -> Dependency | None:
    """Apply one put or delete to node and model; None if the disk was full."""
    key = rnd.choice(KEYS)
    try:
        if rnd.random() < 0.8:
            value = bytes([rnd.randrange(256)]) * rnd.choice(SIZES)
            dep = node.put(key, value)
            model[key] = value
        else:
            dep = node.delete(key)
            model.pop(key, None)
    except DiskFullError:
        return None
    return dep


def legal_states(
    history: list[tuple[Dependency | None, dict[bytes, bytes]]],
) -> list[dict[bytes, bytes]]:
    """States after a prefix of the history that holds every mutation reported persistent."""
    last_persistent = max(
        (i for i, (dep, _) in enumerate(history) if dep is None or dep.is_persistent()),
    )
    return [state for _, state in history[last_persistent:]]


def run_history(seed: int) -> None:
    rnd = random.Random(seed)
    disk = SimDisk(SMALL_GEOMETRY)
    node = Node.open(disk)
    model: dict[bytes, bytes] = {}
    # Every state since the last reboot, each with the dependency of the mutation that made it.
    history: list[tuple[Dependency | None, dict[bytes, bytes]]] = [(None, {})]
    for step in range(STEPS):
        where = f"seed {seed} step {step}"
        roll = rnd.random()
        if roll < 0.6:
            dep = mutate(node, rnd, model)
            if dep is not None:
                history.append((dep, dict(model)))
        elif roll < 0.7:
            key = rnd.choice(KEYS)
            assert node.get(key) == model.get(key), where
        elif roll < 0.76:
            node.sync()
            assert all(dep is None or dep.is_persistent() for dep, _ in history), where
        elif roll < 0.8:
            try:
                node.flush_index() if rnd.random() < 0.5 else node.reclaim()
            except DiskFullError:
                continue
        elif roll < 0.84:
            node.close()
            assert all(dep is None or dep.is_persistent() for dep, _ in history), where
            node = Node.open(disk)
            assert dict(node.scan()) == model, where
            history = [(None, dict(model))]
        elif roll < 0.92:
            legal = legal_states(history)
            disk.crash(crash_plan(disk, rnd))
            node = Node.open(disk)
            model = dict(node.scan())
            assert model in legal, f"{where}: recovered state is not a legal prefix"
            history = [(None, dict(model))]
        assert node.scan() == sorted(model.items()), where
    node.close()


@pytest.mark.parametrize("seed", [pytest.param(s, id=f"seed_{s}") for s in range(60)])
def test_recovered_state_is_a_prefix_containing_every_synced_write(seed: int) -> None:
    run_history(seed)
