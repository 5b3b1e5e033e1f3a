"""What happened to a canary, as data: the shapes every view draws from."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from coalmine.targets.base import CanaryView, EventView

__all__ = [
    "CheckPoint",
    "History",
    "JudgeCheck",
    "JudgeTick",
    "MetricHistory",
    "Point",
    "RevisionSummary",
    "WeightPoint",
]


@dataclass(frozen=True)
class WeightPoint:
    """The canary's state after one tick."""

    time: datetime
    weight: int
    phase: str
    failed_checks: int
    revision: str


@dataclass(frozen=True)
class Point:
    time: datetime
    value: float | None
    revision: str = ""
    """The revision under analysis when measured ("" when not known)."""


@dataclass(frozen=True)
class CheckPoint:
    """One check of the canary: its value, and whether it was within the range."""

    time: datetime
    value: float | None
    passed: bool
    reason: str
    revision: str


@dataclass(frozen=True)
class MetricHistory:
    """One metric: the canary's checked values, the primary's beside them, the range."""

    name: str
    min: float | None
    max: float | None
    canary: tuple[CheckPoint, ...]
    primary: tuple[Point, ...]

    @property
    def failed(self) -> int:
        return sum(1 for c in self.canary if not c.passed)

    def range_text(self) -> str:
        if self.min is not None and self.max is not None:
            return f"{self.min:g}..{self.max:g}"
        if self.min is not None:
            return f">= {self.min:g}"
        return f"<= {self.max:g}" if self.max is not None else "any"


@dataclass(frozen=True)
class RevisionSummary:
    """One revision's analysis: when, the verdict, and what the canary served."""

    revision: str
    started: datetime
    ended: datetime
    verdict: str
    """The phase it ended in (Succeeded, Failed), or where it is now."""
    max_weight: int
    requests: float | None
    """Requests the canary served: counted (Envoy's or Istio's counters), else estimated
    from its measured request rate (None: unknown)."""
    errors: float | None

    @property
    def seconds(self) -> float:
        return (self.ended - self.started).total_seconds()

    def short(self, length: int = 12) -> str:
        """A hash cut to `length`; a name (a cluster's earlier revision, by its time) whole."""
        hashed = all(c in "0123456789abcdef" for c in self.revision)
        return self.revision[:length] if hashed else self.revision

    @property
    def finished(self) -> bool:
        return self.verdict in ("Succeeded", "Failed", "Initialized")


@dataclass(frozen=True)
class JudgeTick:
    """One tick's decision by the judge (spec.analysis.judge), with each check's line:
    estimate, interval, margin and verdict, as the events carry it."""

    time: datetime
    verdict: str
    """advance, hold or rollback."""
    line: str


@dataclass(frozen=True)
class JudgeCheck:
    """One judged check at the last tick (status.judge.checks)."""

    name: str
    verdict: str
    estimate: float | None
    lower: float | None
    upper: float | None
    message: str


@dataclass(frozen=True)
class History:
    """Everything known about one canary's analyses, oldest first."""

    canary: CanaryView
    weights: tuple[WeightPoint, ...]
    metrics: tuple[MetricHistory, ...]
    events: tuple[EventView, ...]
    revisions: tuple[RevisionSummary, ...]

    @property
    def judge_ticks(self) -> tuple[JudgeTick, ...]:
        """Each tick's decision by the judge, from the events."""
        from coalmine.engine.judging import judge_line

        ticks = []
        for event in self.events:
            found = judge_line(event.message, self.canary.key)
            if found is not None:
                ticks.append(JudgeTick(event.time, found[0].value, found[1]))
        return tuple(ticks)

    @property
    def judge_checks(self) -> tuple[JudgeCheck, ...]:
        """The judge's checks at its last tick, from the status."""
        checks = (self.canary.status.get("judge") or {}).get("checks") or []
        return tuple(
            JudgeCheck(
                str(c.get("name", "")),
                str(c.get("verdict", "")),
                _number(c.get("estimate")),
                _number(c.get("lower")),
                _number(c.get("upper")),
                str(c.get("message", "")),
            )
            for c in checks
            if isinstance(c, dict)
        )

    @property
    def current(self) -> RevisionSummary | None:
        return self.revisions[-1] if self.revisions else None

    def revision(self, prefix: str | None) -> RevisionSummary | None:
        """The revision whose hash starts with `prefix`; the latest for None."""
        if prefix is None:
            return self.current
        found = [r for r in self.revisions if r.revision.startswith(prefix)]
        return found[-1] if found else None

    def only(self, summary: RevisionSummary) -> History:
        """The part of the history about one revision."""

        def during(time: datetime) -> bool:
            return summary.started <= time <= summary.ended

        metrics = tuple(
            replace(
                m,
                canary=tuple(c for c in m.canary if c.revision == summary.revision),
                primary=tuple(
                    p
                    for p in m.primary
                    if p.revision == summary.revision or (not p.revision and during(p.time))
                ),
            )
            for m in self.metrics
        )
        return replace(
            self,
            weights=tuple(w for w in self.weights if w.revision == summary.revision),
            metrics=metrics,
            events=tuple(e for e in self.events if during(e.time)),
            revisions=(summary,),
        )

    def why(self, summary: RevisionSummary) -> str:
        """The verdict in one sentence, from the checks and the events."""
        part = self.only(summary)
        failed = [m for m in part.metrics if m.failed]
        steps = sorted({w.weight for w in part.weights if w.weight > 0})
        stepped = ", ".join(f"{s}%" for s in steps) or "no traffic shift"
        if summary.verdict == "Failed":
            warnings = [e.message for e in part.events if e.type == "Warning"]
            misses = "; ".join(f"{m.name} failed {m.failed} check(s)" for m in failed)
            reasons = "; ".join(warnings[-3:])
            return f"rolled back after {stepped}: " + (misses or reasons or "see events")
        if summary.verdict == "Succeeded":
            if failed:
                misses = ", ".join(f"{m.name} ({m.failed})" for m in failed)
                return f"promoted after {stepped}; failed checks within the threshold: {misses}"
            return f"promoted after {stepped}; every check within its range"
        if summary.verdict == "Initialized":
            return "the first revision: initialized without analysis"
        return f"in progress ({summary.verdict}) at {stepped}"


def _number(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None
