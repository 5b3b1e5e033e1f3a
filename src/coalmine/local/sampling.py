"""What the checks alone do not keep: the primary's value of each checked built-in, and
the canary's request and error rates, measured at every tick of an analysis.

The engine judges the canary only; a chart of "canary against primary" and the
requests a revision served need the other side too. `BaselineSampler` is a Recorder:
after a tick that ran checks it measures, in the background (a recorder must not slow
the tick), through the runtime's own measurer, and stores the values beside the checks.
"""

from __future__ import annotations

import asyncio
import logging

from coalmine.api.canary import Canary
from coalmine.api.common import parse_duration
from coalmine.engine.decision import Decision
from coalmine.local.store import Store
from coalmine.metrics.builtins import Role
from coalmine.metrics.side_by_side import BuiltinMeasurer

__all__ = ["SAMPLED_BUILTINS", "TRAFFIC", "BaselineSampler"]

log = logging.getLogger(__name__)

SAMPLED_BUILTINS = ("request-success-rate", "request-duration")
"""Built-ins whose primary value is drawn beside the canary's."""

TRAFFIC = ("request-rate", "error-rate")
"""The canary's rates since the last sample: requests and errors served, summed."""


class BaselineSampler:
    """Recorder port: measure the primary and the canary's traffic after each checked tick."""

    def __init__(self, store: Store, measurer: BuiltinMeasurer) -> None:
        self.store = store
        self.measurer = measurer
        self._tasks: set[asyncio.Task[None]] = set()
        self._last: dict[str, float] = {}
        """When each canary was last sampled (loop time): its traffic is counted since."""

    def record_tick(self, canary: Canary, decision: Decision, seconds: float) -> None:
        if not decision.checks:
            return
        revision = decision.status.last_applied_spec or ""
        task = asyncio.get_running_loop().create_task(self._sample(canary, revision))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

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
