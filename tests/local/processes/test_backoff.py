"""Restart delays: doubling, capped, reset after a healthy run."""

from __future__ import annotations

from coalmine.local.processes.backoff import Backoff


def test_delays_double_up_to_the_cap() -> None:
    backoff = Backoff(initial=1.0, maximum=10.0, reset_after=60.0)
    assert [backoff.next_delay(ran_for=0.1) for _ in range(6)] == [1, 2, 4, 8, 10, 10]


def test_a_long_healthy_run_resets_the_delay() -> None:
    backoff = Backoff(initial=1.0, maximum=10.0, reset_after=60.0)
    for _ in range(4):
        backoff.next_delay(ran_for=5.0)
    assert backoff.next_delay(ran_for=60.0) == 1.0
    assert backoff.next_delay(ran_for=0.1) == 2.0
