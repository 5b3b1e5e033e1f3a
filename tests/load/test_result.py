"""Exact latency percentiles and the result's summaries."""

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from coalmine.load import LatencySummary, LoadResult, percentile


def test_percentiles_are_observed_values_by_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    summary = LatencySummary.of(values)
    assert (summary.p50, summary.p90, summary.p99, summary.max) == (50.0, 90.0, 99.0, 100.0)
    assert summary.mean == 50.5
    assert LatencySummary.of([0.25]) == LatencySummary(0.25, 0.25, 0.25, 0.25, 0.25)


@given(
    st.lists(st.floats(0, 100, allow_nan=False), min_size=1, max_size=300),
    st.floats(0.001, 1.0),
)
def test_a_percentile_has_its_share_of_values_at_or_below_it(
    values: list[float], share: float
) -> None:
    ordered = sorted(values)
    found = percentile(ordered, share)
    rank = math.ceil(share * len(ordered))
    assert found in ordered
    assert sum(v <= found for v in ordered) >= rank
    assert sum(v < found for v in ordered) < rank


@pytest.mark.parametrize(("values", "share"), [([], 0.5), ([1.0], 0.0), ([1.0], 1.5)])
def test_a_percentile_of_nothing_or_out_of_range_is_refused(
    values: list[float], share: float
) -> None:
    with pytest.raises(ValueError, match=r"percentile of no values|share must be in"):
        percentile(values, share)


def result(**fields: object) -> LoadResult:
    defaults: dict[str, object] = {
        "target_rate": 100.0,
        "sending_seconds": 2.0,
        "elapsed_seconds": 2.1,
        "sent": 190,
        "dropped": 10,
        "abandoned": 0,
        "in_flight": 0,
        "statuses": {200: 150, 503: 10, 500: 20},
        "errors": {"timeout": 10},
        "latencies": (0.001, 0.002, 0.004),
        "stopped_early": False,
    }
    return LoadResult(**{**defaults, **fields})  # type: ignore[arg-type]


def test_counts_rates_and_classes() -> None:
    summary = result()
    assert (summary.answered, summary.failed, summary.rate) == (180, 10, 95.0)
    assert summary.status_classes() == {"2xx": 150, "5xx": 30}
    assert result(latencies=()).latency is None


def test_the_json_form_has_counts_and_milliseconds() -> None:
    data = result().to_dict()
    assert data["statuses"] == {"200": 150, "500": 20, "503": 10}
    assert data["errors"] == {"timeout": 10}
    assert data["latency_ms"] == {"p50": 2.0, "p90": 4.0, "p99": 4.0, "max": 4.0, "mean": 2.333}
    assert (data["sent"], data["answered"], data["dropped"], data["rate"]) == (190, 180, 10, 95.0)
    assert result(latencies=()).to_dict()["latency_ms"] is None
