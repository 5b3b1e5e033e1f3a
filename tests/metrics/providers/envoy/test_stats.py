"""Window arithmetic over stats samples: deltas, restarts, quantiles, no data. Pure."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from coalmine.engine import MeasurementKind
from coalmine.metrics.providers.envoy.stats import (
    ClusterCounters,
    Histogram,
    Sample,
    Since,
    parse_prometheus,
    parse_uptime,
    summarize,
)

BOUNDS = (0.5, 1.0, 2.0, 5.0, 10.0, 25.0, 50.0, 75.0, 100.0, 150.0)

# The shape of Envoy 1.40's /stats/prometheus, as captured on this machine (trimmed buckets).
ENVOY_TEXT = """\
# TYPE envoy_cluster_upstream_rq_total counter
envoy_cluster_upstream_rq_total{envoy_cluster_name="shop_web-canary"} 40
envoy_cluster_upstream_rq_total{envoy_cluster_name="shop_idle"} 0
envoy_cluster_upstream_rq_total{envoy_cluster_name="shop_dead"} 0
# TYPE envoy_cluster_upstream_rq_xx counter
envoy_cluster_upstream_rq_xx{envoy_response_code_class="2",envoy_cluster_name="shop_web-canary"} 38
envoy_cluster_upstream_rq_xx{envoy_response_code_class="5",envoy_cluster_name="shop_web-canary"} 2
envoy_cluster_upstream_rq_xx{envoy_response_code_class="5",envoy_cluster_name="shop_dead"} 7
# TYPE envoy_cluster_upstream_rq_time histogram
envoy_cluster_upstream_rq_time_bucket{envoy_cluster_name="shop_web-canary",le="0.5"} 29
envoy_cluster_upstream_rq_time_bucket{envoy_cluster_name="shop_web-canary",le="1"} 29
envoy_cluster_upstream_rq_time_bucket{envoy_cluster_name="shop_web-canary",le="100"} 40
envoy_cluster_upstream_rq_time_bucket{envoy_cluster_name="shop_web-canary",le="+Inf"} 40
envoy_cluster_upstream_rq_time_sum{envoy_cluster_name="shop_web-canary"} 1152.38095238095229433
envoy_cluster_upstream_rq_time_count{envoy_cluster_name="shop_web-canary"} 40
"""


def _counters(ok: int, errors: int, buckets: tuple[int, ...], total_ms: float) -> ClusterCounters:
    cumulative = (*buckets, buckets[-1])
    return ClusterCounters((0, ok, 0, 0, errors), Histogram(BOUNDS, cumulative, total_ms))


def _sample(time: float, **clusters: ClusterCounters) -> Sample:
    return Sample(time, clusters)


NONE = (0,) * 10


def test_parses_classes_histogram_and_idle_clusters() -> None:
    parsed = parse_prometheus(ENVOY_TEXT)

    canary = parsed["shop_web-canary"]
    assert canary.responses == (0, 38, 0, 0, 2)
    assert canary.durations.bounds == (0.5, 1.0, 100.0)
    assert canary.durations.cumulative == (29, 29, 40, 40)
    assert canary.durations.total_ms == pytest.approx(1152.38, abs=0.01)
    assert canary.attempts == 40
    assert parsed["shop_idle"].responses == (0, 0, 0, 0, 0)
    assert parsed["shop_dead"].responses == (0, 0, 0, 0, 7)
    assert parsed["shop_dead"].attempts == 0


def test_window_uses_deltas_from_its_first_sample_on() -> None:
    samples = [
        _sample(0.0, c=_counters(1000, 0, (0, 0, 0, 0, 0, 0, 0, 0, 1000, 1000), 100_000.0)),
        _sample(10.0, c=_counters(1080, 0, (0, 0, 0, 0, 0, 0, 0, 0, 1080, 1080), 108_000.0)),
        _sample(20.0, c=_counters(1160, 20, (0, 0, 0, 0, 0, 0, 0, 0, 1180, 1180), 117_000.0)),
    ]

    window = summarize(samples, "c", window_s=10.0, now=20.0)

    assert window.covered_s == 10.0
    assert window.requests.value == 100
    assert window.errors_5xx.value == 20
    assert window.success_rate.value == 80.0
    assert window.request_rate.value == 10.0
    assert window.average_ms.value == 90.0


def test_counters_that_restart_count_from_zero() -> None:
    """Envoy restarted between the samples: its counters began again at zero."""
    samples = [
        _sample(0.0, c=_counters(500, 0, (500,) * 10, 100.0)),
        _sample(1.0, c=_counters(30, 10, (40,) * 10, 10.0)),
    ]

    window = summarize(samples, "c", window_s=60.0, now=1.0)

    assert window.requests.value == 40
    assert window.errors_5xx.value == 10
    assert window.durations.count == 40


def test_p99_interpolates_and_max_is_the_highest_bucket_bound() -> None:
    # 90 requests under 0.5 ms, 10 between 100 and 150 ms
    later = _counters(100, 0, (90, 90, 90, 90, 90, 90, 90, 90, 90, 100), 1300.0)
    window = summarize(
        [_sample(0.0, c=_counters(0, 0, NONE, 0.0)), _sample(1.0, c=later)], "c", 60, 1
    )

    assert window.p99_ms.value == pytest.approx(145.0)
    assert window.max_ms.value == 150.0
    assert window.quantile_ms(0.5).value == pytest.approx(0.5 * 50 / 90)


def test_observations_above_every_bound_read_as_the_last_bound() -> None:
    histogram = Histogram((1.0, 10.0), (0, 0, 5), 100_000.0)
    assert histogram.highest_bound() == 10.0
    assert histogram.quantile(0.99) == 10.0


def test_a_bucket_that_went_down_is_a_reset_even_when_the_count_did_not() -> None:
    """Envoy replaced the cluster: its histogram began again at zero and already holds
    more requests than before, so only a bucket that went down tells the reset."""
    before = Histogram((1.0, 10.0), (5, 10, 10), 50.0)
    after = Histogram((1.0, 10.0), (2, 12, 12), 60.0)
    assert after.minus(before) == after
    grown = Histogram((1.0, 10.0), (6, 12, 12), 60.0)
    assert grown.minus(before) == Histogram((1.0, 10.0), (1, 2, 2), 10.0)


@pytest.mark.parametrize("q", [0.5, 0.9, 0.99, 1.0])
def test_quantiles_are_the_judges_interpolation_of_the_same_buckets(q: float) -> None:
    from coalmine.judge.observations import Histogram as Judged

    histogram = Histogram((1.0, 10.0, 100.0), (3, 3, 9, 10), 900.0)
    per_bucket = Judged((1.0, 10.0, 100.0), (3, 0, 6, 1))
    assert histogram.per_bucket() == per_bucket
    assert histogram.quantile(q) == per_bucket.interpolated_quantile(q)


def test_escaped_label_values_and_comments_are_read_as_prometheus_reads_them() -> None:
    text = (
        "# HELP envoy_cluster_upstream_rq_total Total requests, with a \\\\ in its help\n"
        "# TYPE envoy_cluster_upstream_rq_total counter\n"
        'envoy_cluster_upstream_rq_total{envoy_cluster_name="a\\"b",x="}"} 3\n'
        'envoy_cluster_upstream_rq_total{envoy_cluster_name="plain"} 4 1700000000000\n'
    )
    parsed = parse_prometheus(text)
    assert {name: counters.attempts for name, counters in parsed.items()} == {'a"b': 3, "plain": 4}


def test_no_requests_is_no_data_with_the_reason() -> None:
    idle = _counters(0, 0, NONE, 0.0)
    window = summarize([_sample(0.0, c=idle), _sample(1.0, c=idle)], "c", 60.0, 1.0)

    assert window.requests.value == 0
    assert window.success_rate.value is None
    assert window.success_rate.reason == "no requests for cluster 'c' in the last 60s"
    assert (
        window.average_ms.reason == "no request durations recorded for cluster 'c' in the last 60s"
    )
    assert window.p99_ms.value is None
    assert window.max_ms.value is None


def test_requests_without_durations_yet_are_no_data_for_durations_only() -> None:
    """Counters are live; histograms wait for Envoy's next stats flush."""
    before, after = _counters(0, 0, NONE, 0.0), _counters(10, 0, NONE, 0.0)
    window = summarize([_sample(0.0, c=before), _sample(1.0, c=after)], "c", 60.0, 1.0)

    assert window.success_rate.value == 100.0
    assert window.average_ms.value is None


def test_one_sample_is_not_enough() -> None:
    window = summarize([_sample(0.0, c=_counters(10, 0, NONE, 0.0))], "c", 60.0, 1.0)
    assert window.requests.value is None
    assert "not enough stats samples in the last 60s" in window.requests.reason


def test_samples_older_than_the_window_while_envoy_does_not_answer_are_an_outage() -> None:
    """The collector stopped getting samples (Envoy down): old numbers are not reused, and
    the source being down is not a failed check."""
    samples = [_sample(0.0, c=_counters(0, 0, NONE, 0.0)), _sample(1.0, c=_counters(9, 0, NONE, 0))]
    window = summarize(samples, "c", 60.0, now=120.0, scrape_error="Envoy is not running")
    assert window.success_rate.value is None
    assert window.success_rate.kind == MeasurementKind.OUTAGE
    assert window.success_rate.source == "Envoy stats"
    assert window.success_rate.reason.endswith("; the last scrape failed: Envoy is not running")


def test_samples_older_than_the_window_without_a_scrape_error_are_no_data() -> None:
    samples = [_sample(0.0, c=_counters(0, 0, NONE, 0.0)), _sample(1.0, c=_counters(9, 0, NONE, 0))]
    window = summarize(samples, "c", 60.0, now=120.0)
    assert window.success_rate.kind == MeasurementKind.NO_DATA


def test_a_restart_is_a_reset_even_when_a_counter_climbed_back_above_its_old_value() -> None:
    """Envoy's uptime went down: every counter began again at zero. 600 after 500 is 600
    new requests, not 100."""
    samples = [
        Sample(0.0, {"c": _counters(500, 0, (500,) * 10, 100.0)}, uptime=1000.0),
        Sample(5.0, {"c": _counters(600, 6, (606,) * 10, 60.0)}, uptime=3.0),
    ]
    window = summarize(samples, "c", window_s=60.0, now=5.0)
    assert window.requests.value == 606
    assert window.errors_5xx.value == 6
    assert window.durations.count == 606


def test_uptime_is_parsed() -> None:
    assert parse_uptime("envoy_server_uptime{} 42\nenvoy_server_uptime_x 1\n") == 42.0
    assert parse_uptime("envoy_server_uptime 7\n") == 7.0
    assert parse_uptime(ENVOY_TEXT) is None


WALL = datetime(2026, 3, 1, 12, 0, 30, tzinfo=UTC)


def test_a_window_before_the_collectors_first_sample_waits_for_data() -> None:
    """coalmine up restarted 10 s ago: a 30 s window cannot be judged yet."""
    samples = [_sample(t, c=_counters(int(t) * 10, 0, NONE, 0.0)) for t in (20.0, 25.0, 30.0)]
    since = Since(started=20.0, wall_now=WALL)
    window = summarize(samples, "c", window_s=30.0, now=30.0, since=since)
    assert window.success_rate.kind == MeasurementKind.WAITING
    assert window.success_rate.since == datetime(2026, 3, 1, 12, 0, 20, tzinfo=UTC)
    assert window.success_rate.reason == (
        "waiting for 30s of data since 12:00:20 UTC (the Envoy stats collector started then:"
        " coalmine up (re)started)"
    )
    later = summarize(samples, "c", window_s=10.0, now=30.0, since=since)
    assert later.success_rate.value == 100.0
    one_scrape_late = summarize(samples, "c", window_s=10.9, now=30.0, since=since)
    assert one_scrape_late.success_rate.value == 100.0


def test_an_unknown_cluster_says_so() -> None:
    idle = _counters(0, 0, NONE, 0.0)
    window = summarize([_sample(0.0, c=idle), _sample(1.0, c=idle)], "other", 60.0, 1.0)
    assert window.success_rate.reason == "Envoy has no cluster named 'other'"


def test_a_window_starts_at_the_last_sample_before_it() -> None:
    """Samples come once per interval: the window reaches back to the one before its start,
    so it never covers less than asked (and at most one interval more)."""
    samples = [
        _sample(0.0, c=_counters(0, 0, NONE, 0.0)),
        _sample(10.0, c=_counters(50, 0, NONE, 0.0)),
        _sample(20.0, c=_counters(100, 0, NONE, 0.0)),
    ]
    window = summarize(samples, "c", window_s=15.0, now=20.0)
    assert window.covered_s == 20.0
    assert window.requests.value == 100
