"""Each canary ticks at a stable offset within its interval: spread, stable, once per slot."""

from __future__ import annotations

import itertools
import uuid

import pytest
from tests.engine.builders import canary

from coalmine.api.canary import CanaryStatus, Phase
from coalmine.engine.slots import (
    an_interval_after,
    first_wait,
    next_slot,
    offset,
    on_its_slots,
    wait_for_slot,
)

NOW = 1_800_000_000.0  # a wall-clock second


def uids(count: int) -> list[str]:
    return [str(uuid.UUID(int=n * 7919 + 12345, version=4)) for n in range(count)]


def test_the_offset_is_stable_and_within_the_interval() -> None:
    uid = "3d2f7a8e-2c1b-4b7e-9a51-0f6c1d2e3f40"

    assert offset(uid, 60) == offset(uid, 60), "same uid, same interval: same offset"
    assert 0 <= offset(uid, 60) < 60
    assert offset(uid, 60) != offset("another-uid", 60)


def test_a_thousand_canaries_are_spread_over_the_interval() -> None:
    offsets = [offset(uid, 60) for uid in uids(1000)]
    per_second = [0] * 60
    for value in offsets:
        per_second[int(value)] += 1

    assert max(per_second) <= 35, "no second of the interval wakes more than ~2x the mean"
    assert min(per_second) >= 5, "every second of the interval has some canaries"


def test_local_keys_are_spread_too() -> None:
    """Local mode has no uids: `namespace/name` places the slot."""
    offsets = [offset(f"shop/web-{n}", 10) for n in range(200)]

    assert len({int(value) for value in offsets}) == 10, "every second of 10 s has some"


def test_ticks_stay_on_the_grid_one_interval_apart() -> None:
    uid = uids(1)[0]
    grid = offset(uid, 60)
    started = NOW  # the first tick, off the grid (a new canary ticks at once)
    slots = []
    for _ in range(5):
        started = next_slot(uid, 60, started) + 0.004  # the loop wakes a little late
        slots.append(started)

    assert all((slot - 0.004 - grid) % 60 == pytest.approx(0, abs=1e-6) for slot in slots)
    gaps = [later - earlier for earlier, later in itertools.pairwise(slots)]
    assert gaps == pytest.approx([60.0] * 4)
    assert 30 <= slots[0] - NOW <= 90, "the first joins the grid within 1.5 intervals"


def test_a_tick_that_ends_just_before_its_next_slot_does_not_run_twice() -> None:
    uid = uids(1)[0]
    slot = next_slot(uid, 60, NOW)
    woke_early = slot - 0.001  # asyncio may wake a hair before the deadline

    assert next_slot(uid, 60, woke_early) == pytest.approx(slot + 60)


def test_a_new_canary_ticks_at_once_and_a_ticked_one_waits_for_its_slot() -> None:
    new = canary()  # interval 1m
    ticked = new.with_status(CanaryStatus(phase=Phase.SUCCEEDED))

    assert first_wait("shop/web", new, NOW) == 0
    assert wait_for_slot("shop/web", None, True, NOW) == 0, "an unreadable interval: at once"
    wait = first_wait("shop/web", ticked, NOW)
    assert 0 <= wait < 60
    assert (NOW + wait - offset("shop/web", 60)) % 60 == pytest.approx(0, abs=1e-6)


def test_the_operators_pace_is_its_slots_and_local_modes_an_interval_after_each_tick() -> None:
    uid = uids(1)[0]
    slot = next_slot(uid, 60, NOW)

    assert on_its_slots(uid, 60, NOW, NOW + 2) == pytest.approx(slot - NOW - 2)
    assert on_its_slots(uid, 60, NOW, slot + 1) < 0, "a tick past its slot: the next at once"
    assert an_interval_after(uid, 60, NOW, NOW + 2) == 60
