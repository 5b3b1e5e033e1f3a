"""The errors check: the canary's 5xx share against the reference's, with a margin in
percentage points, one difference per tick (see `shares`)."""

from __future__ import annotations

from datetime import datetime

from coalmine.api.judge import ErrorsMargin, JudgeCheckStatus, JudgeEvidence, Verdict
from coalmine.judge.observations import Side
from coalmine.judge.sequence import Interval
from coalmine.judge.shares import (
    Judged,
    add,
    binomial_difference,
    boundary_variance,
    bounds_of,
    levels,
    points,
    relation,
    verdict_of,
)

__all__ = ["judge_errors"]


def judge_errors(
    spec: ErrorsMargin,
    evidence: JudgeEvidence | None,
    canary: Side,
    reference: Side,
    *,
    alpha: float,
    reference_name: str,
    now: datetime,
    advance_alpha: float | None = None,
) -> Judged:
    """Errors: rollback when the canary's rate exceeds the reference's by more than the
    margin at the given confidence; advance when it surely does not."""
    evidence = evidence or JudgeEvidence()
    margin = spec.max_increase / 100
    if canary.requests > 0 and reference.requests > 0:
        counts = (canary.errors, canary.requests, reference.errors, reference.requests)
        events = evidence.canary_events + evidence.primary_events + canary.errors + reference.errors
        total = (
            evidence.canary_total + evidence.primary_total + canary.requests + reference.requests
        )
        # The floor: the rate over the whole analysis, or the tick's own when lower (an
        # incident shared by both sides must not inflate every later tick's variance).
        tick_events, tick_total = (
            canary.errors + reference.errors,
            canary.requests + reference.requests,
        )
        floor = min((events + 1) / (total + 2), (tick_events + 1) / (tick_total + 2))
        difference, _ = binomial_difference(*counts, floor=floor)
        at_margin = boundary_variance(*counts, margin, floor=floor)
        evidence = add(
            evidence,
            difference,
            _predicted_variance(evidence, canary.requests, reference.requests, at_margin),
            at_margin,
            canary_total=canary.requests,
            canary_events=canary.errors,
            primary_total=reference.requests,
            primary_events=reference.errors,
        )
    advance_alpha = alpha if advance_alpha is None else advance_alpha
    bounds = bounds_of(evidence, alpha, unit=margin, advance_alpha=advance_alpha)
    verdict = verdict_of(bounds, margin)
    level = levels(alpha, advance_alpha)
    return Judged(
        evidence, _errors_status(evidence, bounds, verdict, spec, level, reference_name, now)
    )


def _predicted_variance(
    evidence: JudgeEvidence, canary_total: int, ref_total: int, at_margin: float
) -> float:
    """The advance test's variance for this tick, from the rates of the ticks before it.

    A variance computed from the tick's own errors is smaller when the canary happened to
    fail less, so that tick would weigh more and the combined estimate would lean low: a
    release exactly at the margin advanced in 7 of 60 simulated runs at 99 %
    (`tests/judge`). Rates known before the tick keep the weights independent of its
    outcome (predictable, as the martingale needs). The first tick has no past: its
    variance is taken at the margin, as the rollback test's."""
    if evidence.canary_total == 0 or evidence.primary_total == 0:
        return at_margin
    events = evidence.canary_events + evidence.primary_events
    pooled = (events + 1) / (evidence.canary_total + evidence.primary_total + 2)
    # each side's own rate so far, never below the pooled rate (no side claims certainty)
    p_canary = min(max(evidence.canary_events / evidence.canary_total, pooled), 0.5)
    p_ref = min(max(evidence.primary_events / evidence.primary_total, pooled), 0.5)
    return p_canary * (1 - p_canary) / canary_total + p_ref * (1 - p_ref) / ref_total


def _errors_status(
    evidence: JudgeEvidence,
    bounds: Interval | None,
    verdict: Verdict,
    spec: ErrorsMargin,
    level: tuple[str, str],
    reference_name: str,
    now: datetime,
) -> JudgeCheckStatus:
    rates = (
        f"canary {_rate(evidence.canary_events, evidence.canary_total)} vs {reference_name} "
        f"{_rate(evidence.primary_events, evidence.primary_total)}"
    )
    margin = f"{spec.max_increase:g} pt"
    if bounds is None:
        message = f"errors: no requests on both sides yet: {verdict}"
        return JudgeCheckStatus(name="errors", verdict=verdict, message=message, time=now)
    interval = f"{points(bounds.lower)}..{points(bounds.upper)}"
    if level[0] == level[1]:
        detail = f"{points(bounds.estimate)} pt, {level[0]} interval {interval}"
    else:
        detail = f"{points(bounds.estimate)} pt, interval {interval} at {level[0]}/{level[1]}"
    message = f"errors: {rates} ({detail}){relation(verdict, margin)}: {verdict}"
    return JudgeCheckStatus(
        name="errors",
        verdict=verdict,
        estimate=bounds.estimate,
        lower=bounds.lower,
        upper=bounds.upper,
        message=message,
        time=now,
    )


def _rate(events: int, total: int) -> str:
    return f"{100 * events / total:.2f} %" if total else "no requests"
