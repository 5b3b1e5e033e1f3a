"""The deprecated `threshold:` of a metric reads as Flagger reads it (scheduler_metrics.go).

A minimum for the built-in request-success-rate only; a maximum for request-duration
(milliseconds), inline queries, templateRefs and coalmine's own lower-is-better built-ins.
"""

from __future__ import annotations

import pytest

from coalmine.api.canary import CanaryMetric, ThresholdRange


def metric(**fields: object) -> CanaryMetric:
    return CanaryMetric.model_validate(fields)


def test_success_rate_threshold_is_a_minimum() -> None:
    assert metric(name="request-success-rate", threshold=99).range == ThresholdRange(min=99)


def test_duration_threshold_is_a_maximum_in_milliseconds() -> None:
    assert metric(name="request-duration", threshold=500).range == ThresholdRange(max=500)


@pytest.mark.parametrize("name", ["error-rate", "request-duration-avg", "request-duration-max"])
def test_coalmine_builtins_are_lower_is_better(name: str) -> None:
    assert metric(name=name, threshold=5).range == ThresholdRange(max=5)


def test_template_threshold_is_a_maximum() -> None:
    got = metric(name="latency", templateRef={"name": "latency"}, threshold=500).range
    assert got == ThresholdRange(max=500)


def test_inline_query_threshold_is_a_maximum() -> None:
    assert metric(name="errors", query="sum(x)", threshold=2).range == ThresholdRange(max=2)


def test_a_query_named_like_the_success_rate_is_still_a_query() -> None:
    # Flagger compares an inline query with the legacy threshold as a maximum whatever
    # the metric is called; coalmine measures only the query (see docs/flagger-compat.md).
    named = metric(name="request-success-rate", query="sum(x)", threshold=99)
    assert named.range == ThresholdRange(max=99)


def test_threshold_range_wins_over_threshold() -> None:
    both = metric(name="request-duration", threshold=500, thresholdRange={"min": 1})
    assert both.range == ThresholdRange(min=1)


def test_zero_threshold_is_kept_as_flagger_compares_it() -> None:
    assert metric(name="request-success-rate", threshold=0).range == ThresholdRange(min=0)
    assert metric(name="request-duration", threshold=0).range == ThresholdRange(max=0)
