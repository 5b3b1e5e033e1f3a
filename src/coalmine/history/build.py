"""Rows, the canary and its events into a History: pure, so every view shares one reading."""

from __future__ import annotations

from collections.abc import Sequence
from itertools import groupby

from coalmine.history.model import (
    CheckPoint,
    History,
    MetricHistory,
    Point,
    RevisionSummary,
    WeightPoint,
)
from coalmine.history.records import Records, SampleRow, TickRow
from coalmine.targets.base import CanaryView, EventView

__all__ = ["TERMINAL", "build_history"]

TERMINAL = ("Succeeded", "Failed", "Initialized")
"""Phases that end a revision's analysis."""
COUNTERS = ("requests", "errors")
"""Sample metrics that are counts served since the previous one (summed per revision)."""


def build_history(canary: CanaryView, records: Records, events: Sequence[EventView]) -> History:
    weights = tuple(
        WeightPoint(t.time, t.weight, t.phase, t.failed_checks, t.revision) for t in records.ticks
    )
    return History(
        canary=canary,
        weights=weights,
        metrics=_metrics(canary, records),
        events=tuple(sorted(events, key=lambda e: e.time)),
        revisions=_revisions(records.ticks, records.samples),
    )


def _metric_names(canary: CanaryView, records: Records) -> list[str]:
    names = [str(m.get("name")) for m in (canary.spec.get("analysis") or {}).get("metrics") or []]
    for check in records.checks:
        if check.metric not in names:
            names.append(check.metric)
    return names


def _metrics(canary: CanaryView, records: Records) -> tuple[MetricHistory, ...]:
    spec = {str(m.get("name")): m for m in (canary.spec.get("analysis") or {}).get("metrics") or []}
    found = []
    for name in _metric_names(canary, records):
        checks = [c for c in records.checks if c.metric == name]
        low, high = _range(spec.get(name) or {})
        if checks:
            low, high = checks[-1].min, checks[-1].max
        primary = tuple(
            Point(s.time, s.value, s.revision)
            for s in records.samples
            if s.role == "primary" and s.metric == name
        )
        points = tuple(CheckPoint(c.time, c.value, c.passed, c.reason, c.revision) for c in checks)
        found.append(MetricHistory(name, low, high, points, primary))
    return tuple(found)


def _range(metric: dict[str, object]) -> tuple[float | None, float | None]:
    limits = metric.get("thresholdRange")
    if isinstance(limits, dict):
        low, high = limits.get("min"), limits.get("max")
        return (
            float(low) if isinstance(low, int | float) else None,
            float(high) if isinstance(high, int | float) else None,
        )
    threshold = metric.get("threshold")
    return (float(threshold) if isinstance(threshold, int | float) else None, None)


def _revisions(
    ticks: Sequence[TickRow], samples: Sequence[SampleRow]
) -> tuple[RevisionSummary, ...]:
    """One summary per run of ticks about the same revision. Ticks before the first
    revision is recorded (Initializing) carry none and are not a revision of their own."""
    found = []
    if any(t.revision for t in ticks):
        ticks = [t for t in ticks if t.revision]
    for revision, run in groupby(ticks, key=lambda t: t.revision):
        rows = list(run)
        done = next((t for t in rows if t.phase in TERMINAL), None)
        end = done or rows[-1]
        mine = [s for s in samples if s.revision == revision and rows[0].time <= s.time]
        requests, errors = _served(mine)
        found.append(
            RevisionSummary(
                revision=revision,
                started=rows[0].time,
                ended=end.time,
                verdict=end.phase if done else rows[-1].phase,
                max_weight=max(t.weight for t in rows),
                requests=requests,
                errors=errors,
            )
        )
    return tuple(found)


def _served(samples: Sequence[SampleRow]) -> tuple[float | None, float | None]:
    """Requests and errors the canary served: the counters' increases where they were
    recorded (Envoy's counters locally, Istio's on a cluster), else each tick's rate
    times its window (an estimate over the ticks that ran checks)."""
    counted = [s for s in samples if s.role == "canary" and s.metric in COUNTERS]
    if counted:
        requests = sum(s.value or 0.0 for s in counted if s.metric == "requests")
        errors = sum(s.value or 0.0 for s in counted if s.metric == "errors")
        return round(requests), round(errors)
    rates = {s.time: s for s in samples if s.role == "canary" and s.metric == "request-rate"}
    if not rates:
        return None, None
    errors_pct = {s.time: s for s in samples if s.role == "canary" and s.metric == "error-rate"}
    requests = errors = 0.0
    for time, rate in rates.items():
        count = (rate.value or 0.0) * rate.seconds
        requests += count
        share = errors_pct.get(time)
        errors += count * ((share.value or 0.0) if share else 0.0) / 100.0
    return round(requests), round(errors)
