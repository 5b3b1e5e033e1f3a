"""Properties of the judge that hold for any counts (hypothesis)."""

from __future__ import annotations

import math
from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from coalmine.api.judge import LatencyMargin, Verdict
from coalmine.judge import Histogram, binomial_difference, judge_latency
from coalmine.judge.shares import boundary_variance, restricted_rate

NOW = datetime(2026, 1, 1, tzinfo=UTC)
BOUNDS = (1.0, 2.0, 5.0, 10.0, 25.0, 50.0, 75.0, 100.0, 150.0, 250.0, 500.0, 1000.0)

counts = st.lists(st.integers(0, 500), min_size=len(BOUNDS) + 1, max_size=len(BOUNDS) + 1)


@settings(max_examples=200, deadline=None)
@given(
    ticks=st.lists(counts, min_size=1, max_size=20),
    quantile=st.sampled_from([0.5, 0.9, 0.95, 0.99]),
    margin=st.sampled_from(["5%", "10%", "25%", "100%"]),
)
def test_a_canary_identical_to_the_primary_is_never_rolled_back_on_latency(
    ticks: list[list[int]], quantile: float, margin: str
) -> None:
    """Same counts on both sides in every tick: every rollback difference is at most zero,
    so the lower bound never exceeds zero, whatever the shape, quantile or margin."""
    spec = LatencyMargin(quantile=quantile, max_increase=margin)
    evidence = None
    for tick in ticks:
        histogram = Histogram(BOUNDS, tuple(tick))
        judged = judge_latency(
            spec, evidence, histogram, histogram, alpha=0.01, reference_name="primary", now=NOW
        )
        evidence = judged.evidence
        assert judged.check.verdict != Verdict.ROLLBACK
        assert evidence.boundary_weighted <= 1e-9


@settings(max_examples=300, deadline=None)
@given(
    canary_events=st.integers(0, 1000),
    canary_extra=st.integers(1, 5000),
    ref_events=st.integers(0, 1000),
    ref_extra=st.integers(1, 5000),
    margin=st.floats(0.0, 0.2),
)
def test_variances_are_positive_and_the_difference_is_of_the_shares(
    canary_events: int, canary_extra: int, ref_events: int, ref_extra: int, margin: float
) -> None:
    canary_total, ref_total = canary_events + canary_extra, ref_events + ref_extra
    difference, variance = binomial_difference(canary_events, canary_total, ref_events, ref_total)
    assert difference == canary_events / canary_total - ref_events / ref_total
    assert variance > 0
    at_margin = boundary_variance(canary_events, canary_total, ref_events, ref_total, margin)
    assert at_margin > 0


def _log_likelihood(p: float, counts: tuple[int, int, int, int], margin: float) -> float:
    canary_events, canary_total, ref_events, ref_total = counts
    q = p + margin
    return (
        (canary_events * math.log(q) if canary_events else 0.0)
        + (canary_total - canary_events) * math.log1p(-q)
        + (ref_events * math.log(p) if ref_events else 0.0)
        + (ref_total - ref_events) * math.log1p(-p)
    )


@settings(max_examples=300, deadline=None)
@given(
    canary_events=st.integers(0, 200),
    canary_extra=st.integers(1, 3000),
    ref_events=st.integers(0, 200),
    ref_extra=st.integers(1, 6000),
    margin=st.sampled_from([0.0, 0.001, 0.005, 0.01, 0.05]),
)
def test_the_restricted_rate_is_the_most_likely_reference_rate_at_the_margin(
    canary_events: int, canary_extra: int, ref_events: int, ref_extra: int, margin: float
) -> None:
    """The rollback test's reference rate: no other rate (with the canary's at it plus
    the margin) makes the tick's counts more likely; with no margin it is the pooled rate."""
    counts = (canary_events, canary_events + canary_extra, ref_events, ref_events + ref_extra)
    p = restricted_rate(*counts, margin)
    assert 0.0 <= p < 1 - margin
    if margin == 0:
        assert p == (canary_events + ref_events) / (counts[1] + counts[3])
        return
    best = _log_likelihood(max(p, 1e-12), counts, margin)
    for other in (p * 0.9, p * 1.1 + 1e-6, 1e-4, 0.01, 0.1, 0.3):
        if 0 < other < 1 - margin:
            assert _log_likelihood(other, counts, margin) <= best + 1e-6


def test_the_restricted_rate_does_not_charge_the_reference_with_the_canarys_excess() -> None:
    """A canary 2 points worse at 50 req/s (13 errors in 600) against a reference at 0.2 %
    (5 in 2,400), margin 1 pt: the reference's rate at the margin stays near its own
    0.2 %; taking the margin off the pooled errors charged it with 0.4 %."""
    assert restricted_rate(13, 600, 5, 2400, 0.01) < 0.0035
    assert (13 + 5 - 0.01 * 600) / 3000 == 0.004
