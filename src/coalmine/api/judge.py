"""`spec.analysis.judge` (coalmine addition) and what it carries in the status.

The judge compares the canary with the primary (or a baseline) at every tick with a
sequential test; see docs/judge.md. Only coalmine.dev Canaries may set it: a
flagger.app manifest keeps Flagger's fixed ranges.
"""

from __future__ import annotations

import re
from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import Field, field_validator, model_validator

from coalmine.api.common import Duration, Model, parse_duration

__all__ = [
    "ErrorsMargin",
    "JudgeCheckStatus",
    "JudgeEvidence",
    "JudgeSpec",
    "JudgeStatus",
    "LatencyMargin",
    "Verdict",
    "parse_relative",
]

_PERCENT = re.compile(r"^\s*(?P<value>\d+(?:\.\d+)?)\s*%\s*$")


def parse_relative(text: str) -> float:
    """ "10%" -> 0.10. A relative margin is always written with its percent sign."""
    match = _PERCENT.match(text)
    if match is None:
        raise ValueError(f'must be a percentage such as "10%", got {text!r}')
    return float(match["value"]) / 100


class ErrorsMargin(Model):
    max_increase: Annotated[float, Field(gt=0, le=100)]
    """Percentage points the canary's error rate may exceed the primary's (0.5 = +0.5 pt)."""


class LatencyMargin(Model):
    quantile: Annotated[float, Field(gt=0, lt=1)] = 0.99
    """The latency quantile compared (0.99 = p99)."""
    max_increase: str = "10%"
    """How much slower the canary's quantile may be than the primary's, as "10%"."""

    @field_validator("max_increase")
    @classmethod
    def _percentage(cls, value: str) -> str:
        if parse_relative(value) <= 0:
            raise ValueError(f"must be above 0%, got {value!r}")
        return value

    @property
    def margin(self) -> float:
        return parse_relative(self.max_increase)


class JudgeSpec(Model):
    """Compare the canary with the primary at every tick (coalmine.dev only).

    At least one of errors and latency must be set.
    """

    errors: ErrorsMargin | None = None
    latency: LatencyMargin | None = None
    confidence: Annotated[float, Field(ge=0.5, lt=1)] = 0.99
    """At most 1 - confidence of good releases rolled back, however many ticks are looked at."""
    max_analysis_time: Duration = "30m"
    """Without a verdict after this long from the start of the analysis, roll back and say why."""
    baseline: bool = False
    """Compare with `<target>-baseline`, a fresh copy of the primary's revision made for the
    analysis and given the canary's share of traffic (Kayenta's practice): two equally new,
    equally loaded deployments. The canary's weight is then capped at 50 (docs/judge.md)."""

    @model_validator(mode="after")
    def _something_to_judge(self) -> JudgeSpec:
        if self.errors is None and self.latency is None:
            raise ValueError(
                "set errors: {maxIncrease: 0.5}, latency: {quantile: 0.99, "
                'maxIncrease: "10%"}, or both'
            )
        return self

    @field_validator("max_analysis_time")
    @classmethod
    def _positive(cls, value: str) -> str:
        if parse_duration(value).total_seconds() <= 0:
            raise ValueError(f"must be above zero, got {value!r}")
        return value

    @property
    def alpha(self) -> float:
        return 1 - self.confidence

    @property
    def check_count(self) -> int:
        return (self.errors is not None) + (self.latency is not None)

    @property
    def max_analysis_seconds(self) -> float:
        return parse_duration(self.max_analysis_time).total_seconds()


class Verdict(StrEnum):
    """What one judged check says at a tick."""

    ROLLBACK = "rollback"
    """Worse than the primary beyond the margin, at the given confidence."""
    ADVANCE = "advance"
    """Not worse than the primary beyond the margin, at the given confidence."""
    HOLD = "hold"
    """Not enough evidence either way yet."""


class JudgeEvidence(Model):
    """Sufficient statistics of one check, carried from tick to tick."""

    precision: float = 0.0
    """Sum over ticks of 1 / variance of the tick's difference."""
    weighted: float = 0.0
    """Sum over ticks of difference / variance."""
    boundary_precision: float = 0.0
    """As `precision`, with each tick's variance taken at the margin (the rollback test)."""
    boundary_weighted: float = 0.0
    """As `weighted`, with each tick's variance taken at the margin (the rollback test)."""
    ticks: int = 0
    """Ticks that brought evidence."""
    canary_total: int = 0
    canary_events: int = 0
    primary_total: int = 0
    primary_events: int = 0
    recent_canary_total: float = 0.0
    """Errors: the counts of the last ticks, each tick's weight shrinking by `RECENT_DECAY`
    per tick, for the advance test's predicted variance (an incident is forgotten)."""
    recent_canary_events: float = 0.0
    recent_primary_total: float = 0.0
    recent_primary_events: float = 0.0
    unusual_ticks: int = 0
    """Errors: unusual ticks in a row (both sides' rate clearly above the recent rates),
    left out of the recent rates until a lasting change makes them the new normal."""
    bounds: list[float] | None = None
    """Latency: the histogram's bucket bounds (ms)."""
    primary_counts: list[int] | None = None
    """Latency: the primary's bucket counts over the analysis, to place the next threshold."""
    canary_counts: list[int] | None = None
    last_primary_counts: list[int] | None = None
    """Latency: the primary's bucket counts in the last tick, where the next tick's
    threshold is placed (recent enough to follow drift and to forget an incident)."""


class JudgeCheckStatus(Model):
    """One judged check at the last tick: estimate, interval, verdict, and why."""

    name: str
    verdict: Verdict
    estimate: float | None = None
    lower: float | None = None
    upper: float | None = None
    message: str
    time: datetime | None = None


class JudgeStatus(Model):
    """coalmine addition: the judge's evidence for the current analysis."""

    errors: JudgeEvidence | None = None
    latency: JudgeEvidence | None = None
    checks: list[JudgeCheckStatus] = Field(default_factory=list)
