"""Every canary's recent weights, in one read: the overview's small weight history.

On a cluster with a Prometheus, one range query of `coalmine_canary_weight` over the
last hour answers for every canary at once (each canary's series is the one whose
`workload` is its target). Without one, each canary's Events and status
(`history.cluster`): its last analysis's steps and the weight now.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta

from coalmine.history.cluster import event_ticks
from coalmine.history.model import WeightPoint
from coalmine.metrics.providers.base import ProviderSettings
from coalmine.metrics.providers.prometheus import PrometheusProvider
from coalmine.targets.base import CanaryView, EventView

__all__ = ["POINTS", "RECENT", "WEIGHTS_QUERY", "event_weights", "prometheus_weights"]

RECENT = timedelta(hours=1)
POINTS = 120
"""Points of each series asked for: a sparkline is 120 pixels wide."""
WEIGHTS_QUERY = "coalmine_canary_weight"
"""Every canary's weight series (and every primary's), in one answer."""

Key = tuple[str, str]


async def prometheus_weights(
    canaries: Sequence[CanaryView],
    server: str,
    *,
    now: datetime | None = None,
    recent: timedelta = RECENT,
) -> dict[Key, tuple[WeightPoint, ...]]:
    """One range query over the last `recent`, POINTS points a series."""
    end = now or datetime.now(UTC)
    provider = PrometheusProvider(ProviderSettings(server))
    result = await provider.range(
        WEIGHTS_QUERY, start=end - recent, end=end, step_seconds=recent.total_seconds() / POINTS
    )
    series = {
        (s.labels.get("namespace", ""), s.labels.get("workload", "")): s for s in result.series
    }
    found: dict[Key, tuple[WeightPoint, ...]] = {}
    for canary in canaries:
        mine = series.get((canary.namespace, canary.target))
        points = mine.points if mine is not None else ()
        found[(canary.namespace, canary.name)] = tuple(
            WeightPoint(datetime.fromtimestamp(p.time, UTC), int(p.value), "", 0, "")
            for p in points
            if p.value == p.value  # not NaN
        )
    return found


def event_weights(
    canaries: Sequence[CanaryView], events: Mapping[Key, Sequence[EventView]], now: datetime
) -> dict[Key, tuple[WeightPoint, ...]]:
    return {
        (c.namespace, c.name): _from_events(c, events.get((c.namespace, c.name), ()), now)
        for c in canaries
    }


def _from_events(
    canary: CanaryView, events: Sequence[EventView], now: datetime
) -> tuple[WeightPoint, ...]:
    """The last analysis's steps and the weight now; a flat line since the last
    transition when the Events tell nothing (expired, or none yet)."""
    ticks = event_ticks(canary, events, now)
    if not ticks:
        return ()
    last = ticks[-1].revision
    points = [
        WeightPoint(t.time, t.weight, t.phase, t.failed_checks, t.revision)
        for t in ticks
        if t.revision == last
    ]
    since = _parsed(canary.last_transition)
    if len(points) == 1 and since is not None and since < now:
        points.insert(0, WeightPoint(since, canary.weight, points[0].phase, 0, last))
    return tuple(points)


def _parsed(text: str | None) -> datetime | None:
    try:
        return datetime.fromisoformat(str(text).replace("Z", "+00:00")) if text else None
    except ValueError:
        return None
