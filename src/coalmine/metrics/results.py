"""What a query answers, and when that answer is one number a check can judge.

The rules (Prometheus's result types, https://prometheus.io/docs/prometheus/latest/querying/api/):

- an instant vector with exactly one sample: that sample's value;
- a scalar (`scalar(...)`, `1 + 1`): its value. Accepted because it is one number by
  construction; `scalar()` of anything but a single series is NaN, caught below;
- NaN, +Inf, -Inf: no data (a 0/0 is NaN: usually no requests in the interval);
- an empty vector: no data (no matching series, or the 5xx series not existing yet);
- more than one series: no data, with the series named: aggregate with sum() or by();
- a range vector (matrix) or a string: no data, it is not a single current value.

Every "no data" carries a reason that says which of these it was.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from coalmine.engine.observations import Measurement

__all__ = ["Point", "QueryResult", "ResultType", "Series", "format_labels", "to_measurement"]

ResultType = Literal["vector", "scalar", "matrix", "string"]
MAX_SERIES_NAMED = 3


@dataclass(frozen=True)
class Point:
    time: float
    """Unix time in seconds."""
    value: float


@dataclass(frozen=True)
class Series:
    labels: Mapping[str, str]
    points: tuple[Point, ...]


@dataclass(frozen=True)
class QueryResult:
    """A query's answer: for a vector one point per series, for a matrix many."""

    type: ResultType
    series: tuple[Series, ...] = ()
    text: str | None = None
    """The value of a string result."""


def format_labels(labels: Mapping[str, str]) -> str:
    """`{a="1", b="2"}` as PromQL writes a series; `{}` for none."""
    inner = ", ".join(f'{key}="{value}"' for key, value in sorted(labels.items()))
    return "{" + inner + "}"


def to_measurement(result: QueryResult, query: str) -> Measurement:
    """One finite number, or no data with the reason."""
    if result.type in ("matrix", "string"):
        return Measurement.no_data(_not_instant(result.type), query)
    if not result.series or not result.series[0].points:
        return Measurement.no_data(
            "the query returned no data (empty result: no matching series)", query
        )
    if len(result.series) > 1:
        return Measurement.no_data(_too_many(result.series), query)
    return _number(result.series[0].points[-1].value, query)


def _number(value: float, query: str) -> Measurement:
    if math.isnan(value):
        return Measurement.no_data(
            "the query returned NaN (a 0/0 division: usually no requests in the interval)", query
        )
    if math.isinf(value):
        sign = "+" if value > 0 else "-"
        return Measurement.no_data(
            f"the query returned {sign}Inf (a division by zero, or no finite bucket)", query
        )
    return Measurement(value, "", query)


def _not_instant(kind: str) -> str:
    if kind == "matrix":
        return (
            "the query returned a range vector (matrix), not one value: wrap the range "
            "selector in a function such as rate() or avg_over_time()"
        )
    return "the query returned a string, not a number"


def _too_many(series: tuple[Series, ...]) -> str:
    named = ", ".join(format_labels(s.labels) for s in series[:MAX_SERIES_NAMED])
    more = f" and {len(series) - MAX_SERIES_NAMED} more" if len(series) > MAX_SERIES_NAMED else ""
    return (
        f"the query returned {len(series)} series, expected one: aggregate them, for "
        f"example with sum(...) (series: {named}{more})"
    )
