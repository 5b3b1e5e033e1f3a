"""The event loop's lateness: how much later than due a timer ran (the test's clock)."""

from __future__ import annotations

import asyncio
import contextlib

from prometheus_client import CollectorRegistry

from coalmine.kube.runtime.loop_lag import LoopLag


async def test_each_wake_up_records_how_late_it_came() -> None:
    now = [100.0]
    late_by = iter([0.0, 0.3, 0.01])
    woke = asyncio.Event()

    async def sleep(seconds: float) -> None:
        """The loop was busy for `late_by` past the timer's due time."""
        try:
            now[0] += seconds + next(late_by)
        except StopIteration:
            woke.set()
            await asyncio.Event().wait()

    registry = CollectorRegistry()
    lag = LoopLag(registry, period=0.25, clock=lambda: now[0], sleep=sleep)
    running = asyncio.create_task(lag.run())
    await woke.wait()
    running.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await running
    assert registry.get_sample_value("coalmine_event_loop_lag_seconds_count") == 3
    total = registry.get_sample_value("coalmine_event_loop_lag_seconds_sum")
    assert total is not None and abs(total - 0.31) < 1e-9
    over = registry.get_sample_value("coalmine_event_loop_lag_seconds_bucket", {"le": "0.25"})
    assert over == 2, "one wake-up 0.3 s late"
