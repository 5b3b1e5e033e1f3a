"""What the checks alone do not keep: the primary's value of each checked built-in, and
the canary's request and error rates, measured at every tick of an analysis.

The engine judges the canary only; a chart of "canary against primary" and the
requests a revision served need the other side too. `BaselineSampler` is a Recorder:
after a tick that ran checks it measures, in the background (a recorder must not slow
the tick), through the runtime's own measurer, and stores the values beside the checks.

After every tick it also reads what the canary's Envoy cluster served so far (the stats
collector's sums of Envoy's counters, as of its last scrape, at most a second old) and
stores the responses and 5xx responses since the previous tick as `requests` and
`errors` samples of the tick's revision: summed, they are what the canary served, from
counters, whether the tick ran checks or not.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from coalmine.api.canary import Canary
from coalmine.api.common import parse_duration
from coalmine.engine.decision import Decision
from coalmine.errors import Unavailable
from coalmine.local.envoy import cluster_name
from coalmine.local.store import Store
from coalmine.metrics.builtins import Role
from coalmine.metrics.providers.base import BuiltinChecks
from coalmine.routing.virtual_service import canary_host

__all__ = ["SAMPLED_BUILTINS", "TRAFFIC", "BaselineSampler", "Counters"]

log = logging.getLogger(__name__)

SAMPLED_BUILTINS = ("request-success-rate", "request-duration")
"""Built-ins whose primary value is drawn beside the canary's."""

TRAFFIC = ("request-rate", "error-rate")
"""The canary's rates since the last sample (an estimate of what it served, where no
counters are read)."""

Counters = Callable[[str], tuple[int, int]]
"""Responses and 5xx responses an Envoy cluster served so far (never decreasing); raises
Unavailable while Envoy is down."""


class BaselineSampler:
    """Recorder port: measure the primary and the canary's traffic after each checked tick."""

    def __init__(
        self, store: Store, measurer: BuiltinChecks, counters: Counters | None = None
    ) -> None:
        self.store = store
        self.measurer = measurer
        self.counters = counters
        self._counted: dict[str, tuple[tuple[int, int], float]] = {}
        """Each canary's last counters read, and when (loop time)."""
        self._marked: dict[str, str] = {}
        """The revision each canary's counts were last stored for: a revision's first
        count is stored even when zero (its requests read 0, not unknown)."""
        self._tasks: set[asyncio.Task[None]] = set()
        self._last: dict[str, float] = {}
        """When each canary was last sampled (loop time): its traffic is counted since."""

    def record_tick(self, canary: Canary, decision: Decision, seconds: float) -> None:
        revision = decision.status.last_applied_spec or ""
        self._count(canary, revision)
        if not decision.checks:
            return
        task = asyncio.get_running_loop().create_task(self._sample(canary, revision))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _count(self, canary: Canary, revision: str) -> None:
        """Store what the canary's cluster served since the previous tick."""
        if self.counters is None:
            return
        try:
            now = self.counters(cluster_name(canary.namespace, canary_host(canary)))
        except Unavailable:  # Envoy is down: count from the next reading
            return
        at = asyncio.get_running_loop().time()
        before = self._counted.get(canary.key)
        self._counted[canary.key] = (now, at)
        if before is None:
            return
        (requests, errors), seconds = before[0], at - before[1]
        if now[0] == requests and self._marked.get(canary.key) == revision:
            return  # nothing served: an idle canary adds no rows
        self._marked[canary.key] = revision
        rows = [("canary", "requests", float(now[0] - requests), seconds)]
        rows.append(("canary", "errors", float(now[1] - errors), seconds))
        self.store.add_samples(canary.namespace, canary.name, revision, rows)

    async def _sample(self, canary: Canary, revision: str) -> None:
        try:
            samples = await self._measure(canary)
        except Exception:  # a missing baseline must never disturb the canary
            log.exception("sampling the primary failed", extra={"canary": canary.name})
            return
        self.store.add_samples(canary.namespace, canary.name, revision, samples)

    async def _measure(self, canary: Canary) -> list[tuple[str, str, float | None, float]]:
        found: list[tuple[str, str, float | None, float]] = []
        analysis = canary.spec.analysis
        for metric in analysis.metrics:
            if metric.name in SAMPLED_BUILTINS and not metric.query and not metric.template_ref:
                interval = metric.interval_or_default
                measured = await self.measurer.measure_builtin(
                    canary, metric.name, role=Role.PRIMARY, interval=interval
                )
                found.append(("primary", metric.name, measured.value, _seconds(interval)))
        now = asyncio.get_running_loop().time()
        since = now - self._last.get(canary.key, now - analysis.interval_seconds)
        self._last[canary.key] = now
        window = min(max(since, 1.0), 3 * max(analysis.interval_seconds, 1.0))
        tick = f"{round(window * 1000)}ms"
        for name in TRAFFIC:
            measured = await self.measurer.measure_builtin(
                canary, name, role=Role.CANARY, interval=tick
            )
            found.append(("canary", name, measured.value, _seconds(tick)))
        return found

    async def close(self) -> None:
        """Wait for the samples in flight (at stop, before the store closes)."""
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=5.0)


def _seconds(interval: str) -> float:
    return parse_duration(interval).total_seconds()
