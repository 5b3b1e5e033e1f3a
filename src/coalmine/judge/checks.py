"""The two judged checks: error rate (a margin in points) and latency at a quantile.

Both reduce a tick to one difference of two binomial shares measured within the tick,
canary minus reference, and feed it to the confidence sequence of `sequence`. Counts
are never pooled across ticks for the decision: the canary's share of traffic changes
from step to step while rates drift for everyone, and pooled counts would mix the
release's effect with time (Simpson's paradox). Pooled rates are shown, not used.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from coalmine.api.judge import (
    ErrorsMargin,
    JudgeCheckStatus,
    JudgeEvidence,
    LatencyMargin,
    Verdict,
)
from coalmine.judge.observations import Histogram, Side
from coalmine.judge.sequence import Interval, one_sided_width

__all__ = [
    "Judged",
    "binomial_difference",
    "boundary_variance",
    "judge_errors",
    "judge_latency",
]

RELATIVE_TOLERANCE = 1e-9
"""Bucket bounds such as 110.00000000000001 count as 110."""

ROLLBACK_SCALE = 3.0
"""The rollback bound's mixture scale, in units of the margin (errors) or of the tail share
1 - quantile (latency): differences a few margins wide are the ones to catch quickly (see
`sequence`; measured with benchmarks/judgement.py)."""

ADVANCE_SCALE = 0.5
"""The advance bound's mixture scale in the same units: ruling out the margin needs the
interval narrowed to about the margin, the precision this scale is tightest around."""


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
    tick does not claim certainty. The errors check passes the same pooled rate over the
    whole analysis, which stops charging one invented error per tick.
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
    estimated under that constraint (as in the score test of Farrington and Manning,
    1990). A canary far worse than the margin is then told apart sooner than with its
    own, larger variance, and a canary at or below the margin is never judged with too
    small a variance."""
    total = canary_total + ref_total
    floor = 1 / (total + 2) if floor is None else floor
    ref = (canary_events + ref_events - margin * canary_total) / total
    ref = min(max(ref, floor), 0.5 - margin)
    canary = ref + margin
    return canary * (1 - canary) / canary_total + ref * (1 - ref) / ref_total


def _add(
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


def _bounds(evidence: JudgeEvidence, alpha: float, unit: float) -> Interval | None:
    """The estimate and upper bound from the tick's own variances (the advance test), the
    lower bound from the variances at the margin (the rollback test). Each is a one-sided
    bound that holds at every tick with probability 1 - alpha, with its own mixture scale
    (`unit` times ROLLBACK_SCALE or ADVANCE_SCALE)."""
    if evidence.precision <= 0 or evidence.boundary_precision <= 0:
        return None
    estimate = evidence.weighted / evidence.precision
    at_margin = evidence.boundary_weighted / evidence.boundary_precision
    lower = at_margin - one_sided_width(evidence.boundary_precision, alpha, ROLLBACK_SCALE * unit)
    upper = estimate + one_sided_width(evidence.precision, alpha, ADVANCE_SCALE * unit)
    return Interval(estimate, lower, upper)


def _verdict(bounds: Interval | None, margin: float) -> Verdict:
    if bounds is None:
        return Verdict.HOLD
    if bounds.lower > margin:
        return Verdict.ROLLBACK
    if bounds.upper < margin:
        return Verdict.ADVANCE
    return Verdict.HOLD


def _relation(verdict: Verdict, margin: str) -> str:
    """How the interval stands against the margin, in words."""
    if verdict == Verdict.ROLLBACK:
        return f" > {margin}"
    if verdict == Verdict.ADVANCE:
        return f" < {margin}"
    shown = margin if margin.startswith("+") else f"+{margin}"
    return f", not enough evidence yet to rule out {shown}"


def _rate(events: int, total: int) -> str:
    return f"{100 * events / total:.2f} %" if total else "no requests"


def _points(value: float) -> str:
    return f"{100 * value:+.2f}".rstrip("0").rstrip(".")


# Errors -------------------------------------------------------------------------------


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
        evidence = _add(
            evidence,
            difference,
            variance,
            boundary_variance(*counts, margin, floor=floor),
            canary_total=canary.requests,
            canary_events=canary.errors,
            primary_total=reference.requests,
            primary_events=reference.errors,
        )
    bounds = _bounds(evidence, alpha, unit=margin)
    verdict = _verdict(bounds, margin)
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
        f"{_points(bounds.estimate)} pt, {level} interval "
        f"{_points(bounds.lower)}..{_points(bounds.upper)}"
    )
    message = f"errors: {rates} ({detail}){_relation(verdict, margin)}: {verdict}"
    return JudgeCheckStatus(
        name="errors",
        verdict=verdict,
        estimate=bounds.estimate,
        lower=bounds.lower,
        upper=bounds.upper,
        message=message,
        time=now,
    )


# Latency ------------------------------------------------------------------------------


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
                evidence = _add(evidence, advance[0], advance[1], rollback[2], rollback[0])
        evidence = _accumulate(evidence, canary, reference)
    bounds = _bounds(evidence, alpha, unit=1 - spec.quantile)
    verdict = _verdict(bounds, 0.0)
    message = _latency_message(evidence, bounds, verdict, spec, alpha, reference_name)
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
    alpha: float,
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
    level = f"{100 * (1 - alpha):g} %"
    # Two statistics (see judge_latency), each with its own one-sided bound.
    at_quantile = evidence.boundary_weighted / evidence.boundary_precision
    below = evidence.weighted / evidence.precision
    detail = (
        f"share beyond the margin {_points(at_quantile)} pt at the quantile's bound, "
        f"{level} at least {_points(bounds.lower)}; {_points(below)} pt at the bound below, "
        f"at most {_points(bounds.upper)}{resolution}"
    )
    return f"{name}: {values} ({detail}){_relation(verdict, '+' + spec.max_increase)}: {verdict}"
