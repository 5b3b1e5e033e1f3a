"""Judging one tick's measurements against each metric's range."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime

from coalmine.api.canary import CanaryMetric, CheckStatus
from coalmine.engine.decision import CheckResult
from coalmine.engine.observations import Measurement

__all__ = ["judge", "judge_all", "to_check_status"]


def judge(metric: CanaryMetric, measurement: Measurement) -> CheckResult:
    """A check passes only with a value inside the range: no data is a failure."""
    value_range = metric.range
    value = measurement.value
    if value is None:
        return CheckResult(
            metric.name,
            None,
            value_range,
            False,
            measurement.reason or "no data",
            measurement.query,
        )
    too_low = value_range.min is not None and value < value_range.min
    too_high = value_range.max is not None and value > value_range.max
    return CheckResult(
        metric.name, value, value_range, not (too_low or too_high), "", measurement.query
    )


def judge_all(
    metrics: Iterable[CanaryMetric], measurements: Mapping[str, Measurement]
) -> tuple[CheckResult, ...]:
    missing = Measurement.no_data("the metric was not measured")
    return tuple(judge(metric, measurements.get(metric.name, missing)) for metric in metrics)


def to_check_status(check: CheckResult, now: datetime) -> CheckStatus:
    return CheckStatus(
        name=check.metric,
        value=check.value,
        min=check.range.min,
        max=check.range.max,
        passed=check.passed,
        reason=check.reason,
        time=now,
    )
