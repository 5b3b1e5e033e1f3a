"""`coalmine backtest`: what a Canary's analysis would have decided over Prometheus history.

The history is cut into ticks of the analysis interval. A past release is a run of
consecutive ticks in which the canary workload served requests. Each one is replayed
through the real engine (`testing.replay`), tick by tick, with the per-side counts
Prometheus held for that tick (`PrometheusObserver` at a past time): the judge decides on
them, and the built-in request-success-rate and request-duration are computed from the
same counts. Other metrics (templates, inline queries) are left out of the replay, and
the result says so.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from coalmine.api.canary import Canary
from coalmine.judge.observations import TickObservation
from coalmine.metrics.observer import PrometheusObserver
from coalmine.testing.replay import replay

__all__ = ["PastRelease", "backtest", "replayable"]

REPLAYED_METRICS = ("request-success-rate", "request-duration")


@dataclass(frozen=True)
class PastRelease:
    """One stretch of canary traffic and what the analysis would have said of it."""

    start: datetime
    end: datetime
    verdict: str
    """promoted, rolled-back, or undecided (the traffic stopped first)."""
    decided_at: datetime | None
    reason: str
    """The last tick's judge lines and events: why."""
    ticks: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "verdict": self.verdict,
            "decidedAt": self.decided_at.isoformat() if self.decided_at else None,
            "reason": self.reason,
            "ticks": self.ticks,
        }


def replayable(canary: Canary) -> tuple[Canary, list[str]]:
    """The canary with only the metrics a replay can compute; the names left out."""
    metrics = canary.spec.analysis.metrics
    kept = [m for m in metrics if m.name in REPLAYED_METRICS and not m.query and not m.template_ref]
    left_out = [m.name for m in metrics if m not in kept]
    analysis = canary.spec.analysis.model_copy(update={"metrics": kept})
    spec = canary.spec.model_copy(update={"analysis": analysis})
    return canary.model_copy(update={"spec": spec}), left_out


async def backtest(
    canary: Canary, observer: PrometheusObserver, start: datetime, end: datetime
) -> list[PastRelease]:
    interval = canary.spec.analysis.interval_seconds
    history = await _history(canary, observer, start, end, interval)
    replayed, _ = replayable(canary)
    releases = []
    for segment in _segments(history):
        releases.append(await _judge(replayed, segment, interval))
    return releases


async def _history(
    canary: Canary, observer: PrometheusObserver, start: datetime, end: datetime, step: float
) -> list[tuple[datetime, TickObservation]]:
    ticks = []
    at = start + timedelta(seconds=step)
    while at <= end:
        ticks.append((at, await observer.observe(canary, step, at=at)))
        at += timedelta(seconds=step)
    return ticks


def _segments(
    history: list[tuple[datetime, TickObservation]],
) -> list[list[tuple[datetime, TickObservation]]]:
    segments: list[list[tuple[datetime, TickObservation]]] = []
    current: list[tuple[datetime, TickObservation]] = []
    for at, observed in history:
        if observed.canary.requests > 0:
            current.append((at, observed))
        elif current:
            segments.append(current)
            current = []
    if current:
        segments.append(current)
    return segments


async def _judge(
    canary: Canary, segment: list[tuple[datetime, TickObservation]], interval: float
) -> PastRelease:
    result = await replay(canary, [observed for _, observed in segment])
    times = [at for at, _ in segment]
    decided = times[result.tick - 1] if result.tick else None
    last = result.ticks[-1] if result.ticks else None
    lines = [str(check["message"]) for check in (last.judge if last else [])]
    reason = "; ".join(lines or (last.events if last else []))
    return PastRelease(
        start=times[0] - timedelta(seconds=interval),
        end=times[-1],
        verdict=result.verdict,
        decided_at=decided,
        reason=reason,
        ticks=[tick.to_json() for tick in result.ticks],
    )
