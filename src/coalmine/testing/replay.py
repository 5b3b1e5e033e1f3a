"""Replay recorded or generated per-tick observations through the real engine.

`coalmine simulate --observations` and benchmarks/judgement.py use it: release 0.0.1
becomes the primary, 0.0.2 is analysed, and each analysis tick reads the next
observation, for the judge (the counts as they are) and for fixed-range metrics
(request-success-rate and request-duration computed from the same counts).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from coalmine.api.canary import Canary, CanaryMetric, Phase
from coalmine.engine.observations import Measurement
from coalmine.judge.observations import TickObservation
from coalmine.testing.simulation import Simulation

__all__ = ["CustomMetric", "Replay", "ReplayTick", "Source", "replay"]

Verdict = Literal["promoted", "rolled-back", "undecided"]

CustomMetric = Callable[[CanaryMetric, Sequence[TickObservation]], float | None]
"""A metric computed from the observations so far (the last is this tick's)."""

Source = Callable[[int, int], TickObservation | None]
"""Observations made on demand: (0-based tick, canary weight during it) to the tick's
counts, or None when there are no more. A generator whose canary share follows the
weights the engine sets (benchmarks/judgement.py) is one."""

ANALYSIS = (Phase.PROGRESSING, Phase.WAITING_PROMOTION)


@dataclass(frozen=True)
class ReplayTick:
    tick: int
    """1-based number of the observation this tick read."""
    phase: str
    weight: int
    decision: str
    """rollback, advance, hold, promote (or failed-check) in one word."""
    events: list[str]
    judge: list[dict[str, Any]]
    checks: list[dict[str, Any]]

    def to_json(self) -> dict[str, Any]:
        return {
            "tick": self.tick,
            "phase": self.phase,
            "weight": self.weight,
            "decision": self.decision,
            "judge": self.judge,
            "checks": self.checks,
            "events": self.events,
        }


@dataclass
class Replay:
    verdict: Verdict = "undecided"
    tick: int | None = None
    """The observation at which the verdict was made; None when undecided."""
    ticks: list[ReplayTick] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "verdict": self.verdict,
            "tick": self.tick,
            "ticks": [tick.to_json() for tick in self.ticks],
        }


class _Feed:
    """The observer of the replay, and the source of the fixed-range metrics: both read the
    same observation in one tick."""

    def __init__(self, source: Sequence[TickObservation] | Source, custom: CustomMetric | None):
        self.source = source
        self.seen: list[TickObservation] = []
        self.index = 0
        self.used = False
        self.weight = 0
        self.custom = custom

    def has_more(self) -> bool:
        if len(self.seen) > self.index:
            return True
        if callable(self.source):
            following = self.source(self.index, self.weight)
            if following is None:
                return False
            self.seen.append(following)
            return True
        if self.index < len(self.source):
            self.seen.append(self.source[self.index])
            return True
        return False

    @property
    def current(self) -> TickObservation:
        self.used = True
        return self.seen[self.index]

    async def observe(self, canary: Canary, window_seconds: float) -> TickObservation:
        return self.current

    def measure(self, canary: Canary, metric: CanaryMetric) -> Measurement | float | None:
        observed = self.current
        if metric.name == "request-success-rate":
            side = observed.canary
            if side.requests == 0:
                return Measurement.no_data("no requests to the canary")
            return 100 * (1 - side.errors / side.requests)
        if metric.name == "request-duration":
            latency = observed.canary.latency
            value = None if latency is None else latency.interpolated_quantile(0.99)
            return value if value is not None else Measurement.no_data("no latency histogram")
        if self.custom is not None:
            return self.custom(metric, self.seen[: self.index + 1])
        return None


async def replay(
    canary: Canary,
    observations: Sequence[TickObservation] | Source,
    *,
    custom: CustomMetric | None = None,
    max_ticks: int = 1000,
    on_tick: Callable[[ReplayTick], None] | None = None,
) -> Replay:
    """Run the canary through the engine, one observation per analysis tick."""
    feed = _Feed(observations, custom)
    sim = Simulation(canary)
    sim.measurer.function = feed.measure
    sim.ports = replace(sim.ports, observer=feed)
    await sim.run_until_phase(Phase.INITIALIZED, max_ticks=10)
    sim.deploy("0.0.2")
    result = Replay()
    for _ in range(max_ticks):
        feed.weight = sim.routes.canary if sim.routes is not None else 0
        if sim.phase in ANALYSIS and not feed.has_more():
            break
        feed.used = False
        shown = len(sim.notifier.events)
        await sim.tick()
        if not feed.used and callable(feed.source) and len(feed.seen) > feed.index:
            feed.seen.pop()  # made for a weight that changed: make it again for the next one
        if feed.used:
            feed.index += 1
            record = _record(sim, feed.index, shown)
            result.ticks.append(record)
            if on_tick is not None:
                on_tick(record)
        if sim.phase in (Phase.PROMOTING, Phase.SUCCEEDED) and result.tick is None:
            result.verdict, result.tick = "promoted", feed.index
        if sim.phase == Phase.FAILED:
            result.verdict, result.tick = "rolled-back", feed.index
        if sim.phase in (Phase.SUCCEEDED, Phase.FAILED):
            break
    return result


def _record(sim: Simulation, tick: int, shown: int) -> ReplayTick:
    status = sim.canary.status
    events = [event.message for event in sim.notifier.events[shown:]]
    judge = status.judge.checks if status.judge is not None else []
    return ReplayTick(
        tick=tick,
        phase=str(status.phase),
        weight=status.canary_weight,
        decision=_decision(str(status.phase), events),
        events=events,
        judge=[check.model_dump(mode="json", exclude_none=True) for check in judge],
        checks=[check.model_dump(mode="json", exclude_none=True) for check in status.checks],
    )


def _decision(phase: str, events: list[str]) -> str:
    if phase == Phase.FAILED:
        return "rollback"
    if phase in (Phase.PROMOTING, Phase.SUCCEEDED, Phase.FINALISING):
        return "promote"
    if any(e.startswith("Holding") for e in events):
        return "hold"
    if any(e.startswith("Halt") for e in events):
        return "failed-check"
    return "advance"
