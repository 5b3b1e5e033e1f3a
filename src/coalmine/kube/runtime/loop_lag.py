"""How late the operator's event loop runs what is ready: every tick in flight waits as long.

One task asks to wake every `period` and records how much later than asked it ran, in
`coalmine_event_loop_lag_seconds`. A long synchronous stretch on the loop (a large
watch event decoded, a full garbage collection, kopf handling a burst of Canary events)
shows there, and so does a process the machine does not schedule (two cores shared by
many processes); a tick's own time (`kube.runtime.tick_timing`) includes these waits, and this
histogram tells them from the tick's own work. Four wake-ups a second cost nothing
measurable.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from prometheus_client import CollectorRegistry, Histogram

__all__ = ["BUCKETS", "LoopLag"]

BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
"""Seconds late."""


class LoopLag:
    """Measures the event loop's lateness, until cancelled (`run`)."""

    def __init__(
        self,
        registry: CollectorRegistry,
        *,
        period: float = 0.25,
        clock: Callable[[], float] = time.perf_counter,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.period = period
        self.clock = clock
        self.sleep = sleep
        self.lag = Histogram(
            "coalmine_event_loop_lag_seconds",
            "Seconds the event loop ran a timer later than it was due: how long whatever"
            " was ready (ticks among them) waited for the loop",
            buckets=BUCKETS,
            registry=registry,
        )

    async def run(self) -> None:
        while True:
            due = self.clock() + self.period
            await self.sleep(self.period)
            self.lag.observe(max(self.clock() - due, 0.0))
