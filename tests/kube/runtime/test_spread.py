"""A daemon's first tick, read from the body kopf found: at once when never ticked, else its slot.

The grid itself (offsets, the next slot) is the engine's: tests/engine/test_slots.py."""

from __future__ import annotations

import pytest

from coalmine.engine.slots import offset
from coalmine.kube.runtime.spread import first_wait, interval_of

NOW = 1_800_000_000.0  # a wall-clock second
UID = "3d2f7a8e-2c1b-4b7e-9a51-0f6c1d2e3f40"


def test_a_new_canary_ticks_at_once_and_a_ticked_one_waits_for_its_slot() -> None:
    ticked = {"spec": {"analysis": {"interval": "1m"}}, "status": {"phase": "Succeeded"}}

    assert first_wait(UID, {"spec": {"analysis": {"interval": "1m"}}}, NOW) == 0
    assert first_wait(UID, {**ticked, "spec": {"analysis": {"interval": "soon"}}}, NOW) == 0
    wait = first_wait(UID, ticked, NOW)
    assert 0 <= wait < 60
    assert (NOW + wait - offset(UID, 60)) % 60 == pytest.approx(0, abs=1e-6)


def test_the_interval_is_read_without_validating_the_canary() -> None:
    assert interval_of({"spec": {"analysis": {"interval": "1m30s"}}}) == 90.0
    assert interval_of({"spec": {"analysis": {"interval": "soon"}}}) is None
    assert interval_of({"spec": {"analysis": {"interval": "0s"}}}) is None
    assert interval_of({"spec": {}}) is None
