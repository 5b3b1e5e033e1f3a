"""Scrapes Envoy's stats every second in the background and answers per-cluster windows.

Keeps a bounded ring of timestamped samples (`retention_s` worth); a window is computed
from the deltas between them (see `stats`). A scrape that fails (Envoy restarting) is
skipped and remembered in `last_error`; counters that restart from zero are handled.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections import deque
from collections.abc import Callable

from coalmine.errors import Unavailable
from coalmine.local.envoy.admin import EnvoyAdmin
from coalmine.local.envoy.stats import (
    STATS_FILTER,
    ZERO,
    ClusterCounters,
    ClusterWindow,
    Sample,
    parse_prometheus,
    summarize,
)

__all__ = ["StatsCollector"]

log = logging.getLogger(__name__)


class StatsCollector:
    """Per-cluster request metrics from one Envoy's admin API.

    `admin` returns the current admin client (it changes when Envoy restarts) or raises
    Unavailable while Envoy is down.
    """

    def __init__(
        self,
        admin: Callable[[], EnvoyAdmin],
        *,
        interval_s: float = 1.0,
        retention_s: float = 600.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._admin = admin
        self.interval_s = interval_s
        self._clock = clock
        self._samples: deque[Sample] = deque(maxlen=math.ceil(retention_s / interval_s) + 2)
        self._task: asyncio.Task[None] | None = None
        self.last_error = ""
        """Why the last scrape failed; empty after a successful one."""

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="envoy-stats-collector")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def scrape(self) -> Sample | None:
        """Take one sample now; None (and `last_error` says why) when Envoy is down."""
        try:
            text = await self._admin().prometheus(STATS_FILTER)
        except Unavailable as error:
            self.last_error = str(error)
            return None
        sample = Sample(self._clock(), parse_prometheus(text))
        self._samples.append(sample)
        self.last_error = ""
        return sample

    def window(self, cluster: str, window_s: float = 60.0) -> ClusterWindow:
        """`cluster`'s requests, errors and durations over the last `window_s` seconds."""
        return summarize(list(self._samples), cluster, window_s, self._clock(), self.last_error)

    def latest(self, cluster: str) -> ClusterCounters | None:
        """`cluster`'s cumulative counters at the last scrape: zero when Envoy does not
        know the cluster (it has none yet, or it was removed); None before any scrape."""
        if not self._samples:
            return None
        return self._samples[-1].clusters.get(cluster, ZERO)

    async def _run(self) -> None:
        while True:
            started = self._clock()
            await self.scrape()
            elapsed = self._clock() - started
            await asyncio.sleep(max(0.0, self.interval_s - elapsed))
