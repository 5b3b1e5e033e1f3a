"""What both judged checks share: differences of binomial shares, their variances, the
evidence they add up to, and the one-sided bounds and verdict drawn from it.

Both reduce a tick to one difference of two binomial shares measured within the tick,
canary minus reference, and feed it to the confidence sequence of `sequence`. Counts
are never pooled across ticks for the decision: the canary's share of traffic changes
from step to step while rates drift for everyone, and pooled counts would mix the
release's effect with time (Simpson's paradox). Pooled rates are shown, not used.
"""

from __future__ import annotations

from dataclasses import dataclass

from coalmine.api.judge import JudgeCheckStatus, JudgeEvidence, Verdict
from coalmine.judge.sequence import Interval, one_sided_width

__all__ = [
    "ADVANCE_SCALE",
    "RELATIVE_TOLERANCE",
    "ROLLBACK_SCALE",
    "Judged",
    "add",
    "binomial_difference",
    "boundary_variance",
    "bounds_of",
    "levels",
    "points",
    "relation",
    "restricted_rate",
    "verdict_of",
]

RELATIVE_TOLERANCE = 1e-9
"""Bucket bounds such as 110.00000000000001 count as 110."""

ROLLBACK_SCALE = 3.0
"""The errors rollback bound's mixture scale, in units of the margin: differences a few
margins wide are the ones to catch quickly (see `sequence`; measured with
benchmarks/judgement.py). Latency has its own, `latency.ROLLBACK_SCALE`."""

ADVANCE_SCALE = 1.0
"""The advance bound's mixture scale in the same units: ruling out the margin needs the
interval narrowed to about the margin, the precision this scale is tightest around.
Measured with benchmarks/judgement.py, one margin and half a margin promote as many good
releases within ten ticks at 5, 10 and 50 req/s; one margin is slightly narrower where
the bound meets the margin (`sequence.one_sided_width`)."""


@dataclass(frozen=True)
class Judged:
    evidence: JudgeEvidence
    check: JudgeCheckStatus


def binomial_difference(
    canary_events: int,
    canary_total: int,
    ref_events: int,
    ref_total: int,
    floor: float | None = None,
) -> tuple[float, float]:
    """canary share - reference share, and a variance that is never too small.

    Each side's rate in the variance is at least `floor`: by default the tick's pooled
    rate with one event and one non-event added, so that a side with no events in a small
    tick does not claim certainty. The latency check passes the tail share at least.
    """
    pooled = floor
    if pooled is None:
        pooled = (canary_events + ref_events + 1) / (canary_total + ref_total + 2)
    canary_rate = canary_events / canary_total
    ref_rate = ref_events / ref_total
    p_canary = min(max(canary_rate, pooled), 0.5)
    p_ref = min(max(ref_rate, pooled), 0.5)
    variance = p_canary * (1 - p_canary) / canary_total + p_ref * (1 - p_ref) / ref_total
    return canary_rate - ref_rate, variance


def boundary_variance(
    canary_events: int,
    canary_total: int,
    ref_events: int,
    ref_total: int,
    margin: float,
    floor: float | None = None,
) -> float:
    """The variance of the difference if the canary were exactly `margin` worse.

    The rollback test asks whether the difference exceeds the margin; its variance is
    taken where that question is hardest, at the margin itself, with the reference's rate
    the maximum-likelihood estimate under that constraint (`restricted_rate`: the score
    test of Farrington and Manning, 1990). A canary far worse than the margin is then
    told apart sooner than with its own, larger variance, and a canary at or below the
    margin is never judged with too small a variance. Each side's rate is at least
    `floor` (by default one event in the tick's requests: a tick without errors does not
    claim certainty)."""
    total = canary_total + ref_total
    floor = 1 / (total + 2) if floor is None else floor
    ref = restricted_rate(canary_events, canary_total, ref_events, ref_total, margin)
    ref = min(max(ref, floor), 0.5 - margin)
    canary = ref + margin
    return canary * (1 - canary) / canary_total + ref * (1 - ref) / ref_total


def restricted_rate(
    canary_events: int, canary_total: int, ref_events: int, ref_total: int, margin: float
) -> float:
    """The reference's rate p that makes the tick's counts most likely when the canary's
    is p + margin (the restricted maximum-likelihood estimate of Farrington and Manning).

    The log-likelihood is concave in p, so its derivative (the score) crosses zero once;
    scipy's brentq finds it. With no margin it is the pooled rate. Pooling with the
    margin taken off the canary's errors instead, (canary + reference errors - margin x
    canary requests) / requests, charges the reference with the canary's excess beyond
    the margin: a canary ten points worse on 24 requests then had a variance three times
    too large, and at 2 req/s took a median of 5 ticks to roll back
    (benchmarks/judgement.py)."""
    total = canary_total + ref_total
    if margin <= 0:
        return (canary_events + ref_events) / total
    from scipy.optimize import brentq

    def score(p: float) -> float:
        canary = canary_events / (p + margin) - (canary_total - canary_events) / (1 - p - margin)
        ref = (ref_events / p if ref_events else 0.0) - (ref_total - ref_events) / (1 - p)
        return canary + ref

    low, high = 1e-12, 1 - margin - 1e-12
    if high <= low or score(low) <= 0:
        return 0.0
    if score(high) >= 0:
        return high
    return float(brentq(score, low, high))


def add(
    evidence: JudgeEvidence,
    difference: float,
    variance: float,
    at_margin: float,
    rollback_difference: float | None = None,
    **counts: int,
) -> JudgeEvidence:
    """Add one tick: `difference` with `variance` to the advance test, the same difference
    (or `rollback_difference`, when the rollback test measures its own) with `at_margin`
    to the rollback test."""
    rollback = difference if rollback_difference is None else rollback_difference
    return evidence.model_copy(
        update={
            "precision": evidence.precision + 1 / variance,
            "weighted": evidence.weighted + difference / variance,
            "boundary_precision": evidence.boundary_precision + 1 / at_margin,
            "boundary_weighted": evidence.boundary_weighted + rollback / at_margin,
            "ticks": evidence.ticks + 1,
            **{key: getattr(evidence, key) + value for key, value in counts.items()},
        }
    )


def bounds_of(
    evidence: JudgeEvidence,
    alpha: float,
    unit: float,
    advance_alpha: float | None = None,
    rollback_scale: float = ROLLBACK_SCALE,
) -> Interval | None:
    """The estimate and upper bound from the tick's own variances (the advance test), the
    lower bound from the variances at the margin (the rollback test). Each is a one-sided
    bound that holds at every tick with probability 1 - alpha (the upper one 1 -
    advance_alpha when given, see `judge.judge_tick`), with its own mixture scale
    (`unit` times ROLLBACK_SCALE or ADVANCE_SCALE)."""
    advance_alpha = alpha if advance_alpha is None else advance_alpha
    if evidence.precision <= 0 or evidence.boundary_precision <= 0:
        return None
    estimate = evidence.weighted / evidence.precision
    at_margin = evidence.boundary_weighted / evidence.boundary_precision
    lower = at_margin - one_sided_width(evidence.boundary_precision, alpha, rollback_scale * unit)
    upper = estimate + one_sided_width(evidence.precision, advance_alpha, ADVANCE_SCALE * unit)
    return Interval(estimate, lower, upper)


def verdict_of(bounds: Interval | None, margin: float) -> Verdict:
    if bounds is None:
        return Verdict.HOLD
    if bounds.lower > margin:
        return Verdict.ROLLBACK
    if bounds.upper < margin:
        return Verdict.ADVANCE
    return Verdict.HOLD


def relation(verdict: Verdict, margin: str) -> str:
    """How the interval stands against the margin, in words."""
    if verdict == Verdict.ROLLBACK:
        return f" > {margin}"
    if verdict == Verdict.ADVANCE:
        return f" < {margin}"
    shown = margin if margin.startswith("+") else f"+{margin}"
    return f", not enough evidence yet to rule out {shown}"


def levels(alpha: float, advance_alpha: float) -> tuple[str, str]:
    """The confidence of the lower (rollback) and upper (advance) bounds, as shown."""
    return f"{100 * (1 - alpha):g} %", f"{100 * (1 - advance_alpha):g} %"


def points(value: float) -> str:
    return f"{100 * value:+.2f}".rstrip("0").rstrip(".")
