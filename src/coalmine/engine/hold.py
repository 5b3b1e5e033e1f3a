"""Holding the analysis for its metrics source: neither pass nor fail. Pure.

A measurement that is not evidence about the release (the source is down, or has not
had the data for the window yet) holds the analysis: no step, no failed check. The
status remembers the hold (`status.metricsHold`), so that an outage is announced once,
with one Warning event and one alert naming the source, and so that it is bounded: an
outage longer than `progressDeadlineSeconds` rolls the canary back with a reason that
names it (coalmine never promotes blind and never waits forever). A wait for data is
bounded the same way, counted from the progress deadline plus the longest metric
interval, since waiting for a young window is normal and ends by itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from coalmine.api.canary import AlertSeverity, MetricsHold
from coalmine.api.common import parse_duration
from coalmine.engine.decision import Decision
from coalmine.engine.observations import Measurement, MeasurementKind
from coalmine.engine.plan import Plan
from coalmine.engine.rollback import rollback

__all__ = ["hold", "release_hold"]


def hold(plan: Plan, held: Sequence[tuple[str, Measurement]]) -> Decision:
    """Hold for the first outage among `held` (metric name, measurement), else the first wait."""
    name, measurement = next(((n, m) for n, m in held if m.kind == MeasurementKind.OUTAGE), held[0])
    kind = "outage" if measurement.kind == MeasurementKind.OUTAGE else "waiting"
    previous = plan.canary.status.metrics_hold
    same = previous is not None and previous.kind == kind and previous.source == measurement.source
    since = previous.since if same and previous is not None else plan.now
    current = MetricsHold(
        kind=kind, source=measurement.source, reason=measurement.reason, since=since
    )
    plan.update(metrics_hold=current)
    if kind == "outage":
        return _outage(plan, current, announce=not same)
    return _waiting(plan, current, name)


def release_hold(plan: Plan) -> None:
    """Every measurement is evidence again: say so when an outage ends."""
    previous = plan.canary.status.metrics_hold
    if previous is None:
        return
    plan.update(metrics_hold=None)
    if previous.kind == "outage":
        lasted = int((plan.now - previous.since).total_seconds())
        plan.info(
            f"Metrics source {previous.source} is back after {lasted}s; resuming the analysis"
            f" of {plan.canary.key}"
        )


def _outage(plan: Plan, current: MetricsHold, *, announce: bool) -> Decision:
    canary = plan.canary
    deadline = canary.spec.progress_deadline_seconds
    if announce:
        plan.warn(
            f"Halt advancement {canary.key} metrics source outage: {current.source}:"
            f" {current.reason}; holding the analysis (rollback if it lasts past the"
            f" progress deadline of {deadline}s)"
        )
        plan.alert(
            AlertSeverity.WARN,
            f"Metrics source outage: {current.source} ({current.reason}). The analysis holds;"
            f" it rolls back if the outage lasts past the progress deadline of {deadline}s.",
        )
    lasted = plan.now - current.since
    if lasted > timedelta(seconds=deadline):
        reason = (
            f"metrics source outage for {int(lasted.total_seconds())}s, longer than the"
            f" progress deadline of {deadline}s: {current.source}: {current.reason}"
        )
        plan.warn(f"Rolling back {canary.key} {reason}")
        plan.alert(AlertSeverity.ERROR, f"Rolling back: {reason}")
        return rollback(plan)
    return plan.done()


def _waiting(plan: Plan, current: MetricsHold, metric: str) -> Decision:
    canary = plan.canary
    plan.info(f"Halt advancement {canary.key} {metric} {current.reason}")
    bound = timedelta(seconds=canary.spec.progress_deadline_seconds) + _longest_interval(plan)
    lasted = plan.now - current.since
    if lasted > bound:
        reason = (
            f"not enough data for {int(lasted.total_seconds())}s, longer than the progress"
            f" deadline plus the longest metric interval ({int(bound.total_seconds())}s):"
            f" {current.source}: {current.reason}"
        )
        plan.warn(f"Rolling back {canary.key} {reason}")
        plan.alert(AlertSeverity.ERROR, f"Rolling back: {reason}")
        return rollback(plan)
    return plan.done()


def _longest_interval(plan: Plan) -> timedelta:
    intervals = [parse_duration(m.interval_or_default) for m in plan.analysis.metrics]
    return max(intervals, default=timedelta(0))
