"""Probe thresholds, counted as the kubelet counts them."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

from coalmine.local.processes.probes import (
    Check,
    ProbeTiming,
    until_liveness_fails,
    until_started,
    watch_readiness,
)

TIMING = ProbeTiming(initial_delay=0, period=0, timeout=1, success_threshold=2, failure_threshold=3)


def scripted(results: str) -> Check:
    """A check that passes on "+" and fails on "-", in order, then keeps the last answer."""
    answers: Iterator[str] = iter(results)
    last = results[-1]

    async def check() -> str | None:
        nonlocal last
        last = next(answers, last)
        return None if last == "+" else "failed"

    return check


async def readiness_changes(results: str) -> list[bool]:
    """How a replica's readiness (unready at first) changes under these probe results."""
    changes: list[bool] = []

    def set_ready(ready: bool) -> None:
        if ready != (changes[-1] if changes else False):
            changes.append(ready)

    watcher = asyncio.create_task(watch_readiness(scripted(results), TIMING, set_ready))
    for _ in range(len(results) * 3):
        await asyncio.sleep(0)
    watcher.cancel()
    return changes


async def test_readiness_needs_its_thresholds_in_a_row() -> None:
    assert await readiness_changes("+-+-+-+-") == []
    assert await readiness_changes("-++") == [True]
    assert await readiness_changes("++--+---") == [True, False]


async def test_liveness_fails_after_failure_threshold_in_a_row() -> None:
    async with asyncio.timeout(5):
        assert await until_liveness_fails(scripted("--+--+---"), TIMING) == "failed"


async def test_a_startup_probe_passes_at_its_first_success_or_fails_after_its_threshold() -> None:
    async with asyncio.timeout(5):
        assert await until_started(scripted("--+"), TIMING) is None
        assert await until_started(scripted("-+---"), TIMING) is None
        assert await until_started(scripted("---+"), TIMING) == "failed"
