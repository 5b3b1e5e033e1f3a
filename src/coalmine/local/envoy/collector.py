"""Scrapes Envoy's stats every second in the background and answers per-cluster windows.

Keeps a bounded ring of timestamped samples (`retention_s` worth); a window is computed
from the deltas between them (see `stats`). A scrape that fails (Envoy restarting) is
skipped and remembered in `last_error`; counters that restart from zero are handled.
Given a `SampleHistory`, samples are also kept on disk, and a collector started on the
same Envoy (adopted after a restart of `coalmine up`) begins with them.
A window that reaches back before the collector's first sample (restored ones included)
waits for data: a `coalmine up` that started a fresh Envoy has no samples from before it,
see `stats.summarize`.

A cluster keeps its name across revisions (`go-demo-7-canary` runs 0.0.4, then 0.0.5), and
Envoy counts a request when it finishes, in the stats of the cluster it was routed
through, which a replaced cluster shares by name with its successor: the slow answers of
a canary rolled back a moment ago land in the stats after the next revision's analysis
began. (Measured on Envoy 1.40: a stat the successor has not used yet goes with the old
cluster instead, so those answers may also never show; neither is read after the fence.)
So a check's window also waits until it begins at or after the cluster's fence: the
first sample taken a stats flush and a scrape after the replicas behind the cluster that
run another revision than their Deployment's current one were drained (their processes
had exited, so none of their requests was still in flight, and Envoy had added the last
durations to its histograms). `drained` says when that was; while such a replica
still runs, the window waits.

It also keeps, per cluster, the responses and 5xx responses served since it started,
summed scrape by scrape. Envoy's per-class counters of a cluster start again from zero
whenever the cluster is replaced (a CDS update, e.g. its endpoints changed), and a
counter that restarted may already be above its old value, so a reset cannot be told
from the numbers: the data plane replaces clusters inside `replacing(names)`, which
scrapes just before and counts those clusters from zero at the next scrape.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterable
from datetime import UTC, datetime

from coalmine.engine.observations import Measurement
from coalmine.errors import Unavailable
from coalmine.local.envoy.admin import EnvoyAdmin
from coalmine.local.envoy.history import Identity, SampleHistory
from coalmine.metrics.providers.envoy.stats import (
    STATS_FILTER,
    ZERO,
    ClusterWindow,
    Sample,
    Since,
    parse_prometheus,
    parse_uptime,
    served_between,
    summarize,
    waiting_since,
)

__all__ = ["Drained", "StatsCollector"]

log = logging.getLogger(__name__)

Drained = Callable[[str], float | None]
"""When the replicas behind an Envoy cluster that run another revision than their
Deployment's current one were last all stopped, in the collector's clock; `math.inf` while
one still runs; None when none ever stopped."""


def _never_drained(_cluster: str) -> float | None:
    return None


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
        history: SampleHistory | None = None,
        identity: Callable[[], Identity | None] = lambda: None,
        wall_clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        drained: Drained | None = None,
        flush_s: float = 1.0,
    ) -> None:
        self._admin = admin
        self.interval_s = interval_s
        self.flush_s = flush_s
        """Envoy's stats flush interval: a finished request's duration is in the histograms
        after the next flush."""
        self._drained = drained or _never_drained
        self.retention_s = retention_s
        self._clock = clock
        self._wall_clock = wall_clock
        self.started: float | None = None
        """When the first sample was taken: windows reaching back before it wait."""
        self._samples: deque[Sample] = deque(maxlen=math.ceil(retention_s / interval_s) + 2)
        self._task: asyncio.Task[None] | None = None
        self._history = history
        self._identity = identity
        """The running Envoy's (pid, start ticks): which samples on disk belong to it."""
        self.last_error = ""
        """Why the last scrape failed; empty after a successful one."""
        self.restored = 0
        """Samples read back from the history at start (an adopted Envoy's)."""
        self._served: dict[str, tuple[int, int]] = {}
        self._scraping = asyncio.Lock()
        self._fresh: set[str] = set()
        """Clusters replaced since the last scrape: their counters start from zero."""
        self._envoy: Identity | None = None
        """The Envoy the last sample came from."""

    def start(self) -> None:
        if self._task is None:
            identity = self._identity()
            if self._history is not None and identity is not None and not self._samples:
                since = self._clock() - self.retention_s
                self._samples.extend(self._history.load(identity, since))
                self.restored = len(self._samples)
                if self._samples:  # the adopted Envoy's windows reach back across the restart
                    self.started = self._samples[0].time
            self._task = asyncio.create_task(self._run(), name="envoy-stats-collector")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def scrape(self) -> Sample | None:
        """Take one sample now; None (and `last_error` says why) when Envoy is down.
        One at a time: a sample read earlier must not be kept after a later one."""
        async with self._scraping:
            return await self._scrape()

    @contextlib.asynccontextmanager
    async def replacing(self, clusters: Iterable[str]) -> AsyncIterator[None]:
        """Around a CDS update that replaces `clusters`: what they served up to now is
        counted first, and no scrape runs until the update is done."""
        async with self._scraping:
            if self._task is not None:  # before start, the samples kept on disk come first
                await self._scrape()
            yield
            self._fresh.update(clusters)

    async def _scrape(self) -> Sample | None:
        try:
            text = await self._admin().prometheus(STATS_FILTER)
        except Unavailable as error:
            self.last_error = str(error)
            return None
        sample = Sample(self._clock(), parse_prometheus(text), parse_uptime(text))
        identity = self._identity()
        if identity is not None and self._envoy not in (None, identity) and self._samples:
            self._fresh.update(self._samples[-1].clusters)  # a new Envoy counts from zero
        self._envoy = identity or self._envoy
        self._add_served(sample)
        self._samples.append(sample)
        if self.started is None:
            self.started = sample.time
        self.last_error = ""
        if self._history is not None and identity is not None:
            try:
                self._history.append(identity, sample, list(self._samples))
            except OSError as error:  # windows still work; only a restart loses them
                log.warning("cannot keep Envoy's stats on disk: %s", error)
        return sample

    def window(
        self, cluster: str, window_s: float = 60.0, *, wait_for_data: bool = False
    ) -> ClusterWindow:
        """`cluster`'s requests, errors and durations over the last `window_s` seconds.

        With `wait_for_data` (a check), a window reaching back before the first sample, or
        before the cluster's fence (see the module docstring), is "waiting for data"
        instead of being computed from the part that belongs to it."""
        now = self._clock()
        since = self._since(cluster, now) if wait_for_data else None
        return summarize(list(self._samples), cluster, window_s, now, self.last_error, since)

    def fenced(self, cluster: str, window_s: float) -> Measurement | None:
        """ "Waiting" when a window of `cluster` over the last `window_s` seconds would
        begin before its fence (see the module docstring); None when it would not. For
        windows that another source (Prometheus, scraping this Envoy) computes."""
        now = self._clock()
        return waiting_since(window_s, now, self._fence(cluster, now, self._wall_clock()))

    def _since(self, cluster: str, now: float) -> Since:
        """The later of the collector's first sample and the cluster's fence."""
        wall = self._wall_clock()
        started = self.started if self.started is not None else now
        since = Since(started, wall, slack_s=self.interval_s)
        fence = self._fence(cluster, now, wall)
        if fence is not None and fence.started > since.started - since.slack_s:
            return fence
        return since

    def _fence(self, cluster: str, now: float, wall: datetime) -> Since | None:
        """The first sample a window of `cluster` may begin at, as earlier revisions go:
        `now` while their replicas still run or their last answers are not sampled yet."""
        drained = self._drained(cluster)
        if drained is None:
            return None
        behind = f"the replicas of an earlier revision behind cluster {cluster}"
        if math.isinf(drained):
            return Since(now, wall, slack_s=0.0, why=f"{behind} were still serving requests then")
        counted = drained + self.flush_s + self.interval_s
        if self._samples and counted <= self._samples[0].time:
            return None  # before every sample kept: no window reaches back that far
        for sample in self._samples:
            if sample.time >= counted:
                why = f"the first Envoy stats after {behind} were drained"
                return Since(sample.time, wall, slack_s=0.0, why=why)
        why = f"{behind} were drained; Envoy's stats did not hold their last answers yet"
        return Since(now, wall, slack_s=0.0, why=why)

    def served(self, cluster: str) -> tuple[int, int]:
        """Responses and 5xx responses of `cluster` since the collector started, as of
        the last scrape; never decreasing."""
        return self._served.get(cluster, (0, 0))

    def _add_served(self, sample: Sample) -> None:
        before = dict(self._samples[-1].clusters) if self._samples else {}
        for cluster in self._fresh:
            before[cluster] = ZERO
        self._fresh.clear()
        for cluster in sample.clusters.keys() | before.keys():
            added = served_between(before.get(cluster, ZERO), sample.clusters.get(cluster, ZERO))
            requests, errors = self._served.get(cluster, (0, 0))
            self._served[cluster] = (requests + added[0], errors + added[1])

    async def _run(self) -> None:
        while True:
            started = self._clock()
            await self.scrape()
            elapsed = self._clock() - started
            await asyncio.sleep(max(0.0, self.interval_s - elapsed))
