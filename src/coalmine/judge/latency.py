"""The latency check: a quantile compared from bucket counts only (see `judge_latency`)."""

from __future__ import annotations

from datetime import datetime

from coalmine.api.judge import JudgeCheckStatus, JudgeEvidence, LatencyMargin, Verdict
from coalmine.judge.observations import Histogram
from coalmine.judge.sequence import Interval
from coalmine.judge.shares import (
    RELATIVE_TOLERANCE,
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

__all__ = ["ROLLBACK_SCALE", "judge_latency", "resolved_threshold"]

ROLLBACK_SCALE = 1.0
"""The latency rollback bound's mixture scale, in units of the tail share 1 - quantile.
A release slower than the margin moves a few points of the tail share across the
threshold (1.5x slower at p90 with buckets 10 % apart: +2 to +8 points), not a few tail
shares, so the scale is one tail share where the errors check uses three margins
(`shares.ROLLBACK_SCALE`). Measured with benchmarks/judgement.py: 1.5x slower releases
at 10 req/s all rolled back (one held for 30 ticks with three tail shares), 3x ones
still in the first tick."""


def resolved_threshold(bounds: tuple[float, ...], index: int, margin: float) -> int | None:
    """The smallest bucket bound at or above (1 + margin) times bounds[index].

    The comparison is made at bucket bounds only (no interpolation inside a bucket), so
    the margin actually tested is bounds[result] / bounds[index] - 1, at least `margin`.
    """
    wanted = bounds[index] * (1 + margin) * (1 - RELATIVE_TOLERANCE)
    for candidate in range(index + 1, len(bounds)):
        if bounds[candidate] >= wanted:
            return candidate
    return None


def judge_latency(
    spec: LatencyMargin,
    evidence: JudgeEvidence | None,
    canary: Histogram | None,
    reference: Histogram | None,
    *,
    alpha: float,
    reference_name: str,
    now: datetime,
    advance_alpha: float | None = None,
) -> Judged:
    """Latency at a quantile, from bucket counts, never interpolated inside a bucket.

    Thresholds are placed from the reference's counts in the tick before (so that this
    tick's counts are not used twice): x_hi, the bucket bound at or above the reference's
    quantile, and x_lo, the bound below it. For each, u is the smallest bound at or above
    (1 + margin) * x. A tick gives two differences of shares, canary above u minus
    reference above x:
    - at x_hi for the rollback test: the reference has at most 1 - quantile above x_hi, a
      canary slower than u / x_hi has more above u;
    - at x_lo for the advance test: the reference has more than 1 - quantile above x_lo, a
      canary no slower has less above u.
    Identical distributions give a rollback difference of at most zero whatever their
    shape. The margin actually resolved is u / x - 1: at least `margin`, and said so.
    """
    evidence = evidence or JudgeEvidence()
    usable = canary is not None and reference is not None and canary.total and reference.total
    if usable and canary is not None and reference is not None:
        if canary.bounds != reference.bounds:
            return _latency_hold(evidence, "the two sides have different buckets", now)
        evidence = _reset_if_new_buckets(evidence, reference.bounds)
        placed = _reference_for_threshold(evidence, reference)
        high = placed.quantile_index(spec.quantile)
        if high is not None:
            low = max(high - 1, 0)
            rollback = _tick_difference(spec, canary, reference, high)
            advance = _tick_difference(spec, canary, reference, low)
            if rollback is not None and advance is not None:
                evidence = add(evidence, advance[0], advance[1], rollback[2], rollback[0])
        evidence = _accumulate(evidence, canary, reference)
    advance_alpha = alpha if advance_alpha is None else advance_alpha
    bounds = bounds_of(
        evidence,
        alpha,
        unit=1 - spec.quantile,
        advance_alpha=advance_alpha,
        rollback_scale=ROLLBACK_SCALE,
    )
    verdict = verdict_of(bounds, 0.0)
    level = levels(alpha, advance_alpha)
    message = _latency_message(evidence, bounds, verdict, spec, level, reference_name)
    return Judged(
        evidence,
        JudgeCheckStatus(
            name="latency",
            verdict=verdict,
            estimate=None if bounds is None else bounds.estimate,
            lower=None if bounds is None else bounds.lower,
            upper=None if bounds is None else bounds.upper,
            message=message,
            time=now,
        ),
    )


def _tick_difference(
    spec: LatencyMargin, canary: Histogram, reference: Histogram, index: int
) -> tuple[float, float, float] | None:
    """Canary's share above u minus the reference's above bounds[index], its variance, and
    its variance at the margin; None when no bound is high enough for u."""
    upper = resolved_threshold(reference.bounds, index, spec.margin)
    if upper is None:
        return None
    counts = (canary.above(upper), canary.total, reference.above(index), reference.total)
    # A tick whose threshold landed far in the tail (after an incident, say) says little
    # about the quantile: its variance is taken at the tail share at least.
    pooled = (counts[0] + counts[2] + 1) / (counts[1] + counts[3] + 2)
    floor = max(1 - spec.quantile, pooled)
    difference, variance = binomial_difference(*counts, floor=floor)
    return difference, variance, boundary_variance(*counts, 0.0, floor=floor)


def _latency_hold(evidence: JudgeEvidence, reason: str, now: datetime) -> Judged:
    message = f"latency: {reason}: hold"
    return Judged(
        evidence, JudgeCheckStatus(name="latency", verdict=Verdict.HOLD, message=message, time=now)
    )


def _reset_if_new_buckets(evidence: JudgeEvidence, bounds: tuple[float, ...]) -> JudgeEvidence:
    if evidence.bounds is None or tuple(evidence.bounds) == bounds:
        return evidence
    return evidence.model_copy(
        update={
            "bounds": None,
            "primary_counts": None,
            "canary_counts": None,
            "last_primary_counts": None,
        }
    )


def _reference_for_threshold(evidence: JudgeEvidence, reference: Histogram) -> Histogram:
    """The reference's counts in the tick before; this tick's own for the first tick.

    A threshold placed before the tick's counts are seen keeps each tick's difference
    honest; placed from the last tick only, it follows drift and forgets an incident."""
    last = evidence.last_primary_counts
    if last is None or sum(last) == 0:
        return reference
    return Histogram(reference.bounds, tuple(last))


def _accumulate(evidence: JudgeEvidence, canary: Histogram, reference: Histogram) -> JudgeEvidence:
    zero = [0] * len(reference.counts)
    primary = evidence.primary_counts or zero
    mine = evidence.canary_counts or zero
    return evidence.model_copy(
        update={
            "bounds": list(reference.bounds),
            "primary_counts": [a + b for a, b in zip(primary, reference.counts, strict=True)],
            "canary_counts": [a + b for a, b in zip(mine, canary.counts, strict=True)],
            "last_primary_counts": list(reference.counts),
        }
    )


def _at_most(histogram: Histogram | None, quantile: float) -> str:
    if histogram is None:
        return "no requests"
    index = histogram.quantile_index(quantile)
    if index is None:
        return f"> {histogram.bounds[-1]:g} ms" if histogram.total else "no requests"
    return f"≤ {histogram.bounds[index]:g} ms"


def _latency_message(
    evidence: JudgeEvidence,
    bounds: Interval | None,
    verdict: Verdict,
    spec: LatencyMargin,
    level: tuple[str, str],
    reference_name: str,
) -> str:
    name = f"latency p{100 * spec.quantile:g}"
    if evidence.bounds is None:
        return f"{name}: no latency histograms on both sides yet: {verdict}"
    edges = tuple(evidence.bounds)
    canary = Histogram(edges, tuple(evidence.canary_counts or ()))
    reference = Histogram(edges, tuple(evidence.primary_counts or ()))
    values = (
        f"canary {_at_most(canary, spec.quantile)} vs {reference_name} "
        f"{_at_most(reference, spec.quantile)}"
    )
    index = reference.quantile_index(spec.quantile)
    upper = None if index is None else resolved_threshold(edges, index, spec.margin)
    if bounds is None or index is None or upper is None:
        return f"{name}: {values}; the buckets cannot resolve +{spec.max_increase} here: {verdict}"
    tested = edges[upper] / edges[index] - 1
    resolution = (
        "" if tested <= spec.margin + 1e-9 else f", buckets resolve only +{100 * tested:.0f} %"
    )
    # Two statistics (see judge_latency), each with its own one-sided bound.
    at_quantile = evidence.boundary_weighted / evidence.boundary_precision
    below = evidence.weighted / evidence.precision
    detail = (
        f"share beyond the margin {points(at_quantile)} pt at the quantile's bound, "
        f"{level[0]} at least {points(bounds.lower)}; {points(below)} pt at the bound below, "
        f"{'' if level[1] == level[0] else level[1] + ' '}at most {points(bounds.upper)}"
        f"{resolution}"
    )
    return f"{name}: {values} ({detail}){relation(verdict, '+' + spec.max_increase)}: {verdict}"
