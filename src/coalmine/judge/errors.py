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
        difference, variance = binomial_difference(*counts, floor=floor)
        evidence = add(
            evidence,
            difference,
            variance,
            boundary_variance(*counts, margin, floor=floor),
            canary_total=canary.requests,
            canary_events=canary.errors,
            primary_total=reference.requests,
            primary_events=reference.errors,
        )
    bounds = bounds_of(evidence, alpha, unit=margin)
    verdict = verdict_of(bounds, margin)
    return Judged(
        evidence, _errors_status(evidence, bounds, verdict, spec, alpha, reference_name, now)
    )


def _errors_status(
    evidence: JudgeEvidence,
    bounds: Interval | None,
    verdict: Verdict,
    spec: ErrorsMargin,
    alpha: float,
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
    level = f"{100 * (1 - alpha):g} %"
    detail = (
        f"{points(bounds.estimate)} pt, {level} interval "
        f"{points(bounds.lower)}..{points(bounds.upper)}"
    )
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
