"""The Envoy built-ins against a real Prometheus scraping a real Envoy with known traffic.

One Envoy and one Prometheus for the module; traffic runs the whole time, and each test
first waits (with a deadline) until Prometheus holds a full window of the series it
reads, then measures once.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from coalmine.api import Canary, CanaryMetric, parse_resource
from coalmine.metrics import (
    MeasurerSettings,
    MetricMeasurer,
    PrometheusServer,
    ProviderSettings,
    Role,
    ScrapeTarget,
)
from tests.fixtures.envoy_stack import BUCKETS, Backend, EnvoyStack, Route

pytestmark = pytest.mark.slow

WINDOW = "5s"
WINDOW_SAMPLES = 5
DELAY_MS = 120


@pytest.fixture(scope="module")
def envoy_routes() -> list[Route]:
    return [
        Route("errors", "canary", Backend(error_every=5), rate=40),
        Route("errors", "primary", Backend(), rate=20),
        Route("latency", "canary", Backend(delay_ms=DELAY_MS), rate=40, workers=8),
        Route("dead", "canary", Backend(dead=True), rate=20),
    ]


@pytest.fixture(scope="module")
def prometheus_targets(envoy_stack: EnvoyStack) -> list[ScrapeTarget]:
    return [ScrapeTarget("envoy", envoy_stack.admin_address, "/stats/prometheus")]


@pytest.fixture(scope="module")
def warm(prometheus: PrometheusServer, envoy_stack: EnvoyStack) -> PrometheusServer:
    """Wait until every series the tests read covers a whole window."""
    for cluster in ("test_errors-canary", "test_errors-primary", "test_dead-canary"):
        selector = f'envoy_cluster_upstream_rq_xx{{envoy_cluster_name="{cluster}"}}'
        prometheus.wait_for_samples(
            f"min(count_over_time({selector}[{WINDOW}]))", minimum=WINDOW_SAMPLES, timeout=60
        )
    histogram = 'envoy_cluster_upstream_rq_time_count{envoy_cluster_name="test_latency-canary"}'
    prometheus.wait_for_samples(
        f"min(count_over_time({histogram}[{WINDOW}]))", minimum=WINDOW_SAMPLES, timeout=60
    )
    return prometheus


def settings(url: str, mesh: str | None = None) -> MeasurerSettings:
    """No start-up grace: the `warm` fixture has already seen a whole window of samples of
    every series read, which is what the grace stands in for when nobody checks."""
    return MeasurerSettings(ProviderSettings(url), mesh=mesh, startup_grace=timedelta(0))


def canary(target: str) -> Canary:
    document = {
        "apiVersion": "coalmine.dev/v1beta1",
        "kind": "Canary",
        "metadata": {"name": "subject", "namespace": "test"},
        "spec": {
            "targetRef": {"name": target},
            "service": {"port": 80},
            "analysis": {"stepWeight": 20, "metrics": []},
        },
    }
    resource = parse_resource(document)
    assert isinstance(resource, Canary)
    return resource


def metric(name: str, **fields: Any) -> CanaryMetric:
    return CanaryMetric.model_validate(
        {"name": name, "interval": WINDOW, "thresholdRange": {"min": 0}, **fields}
    )


async def measure(server: PrometheusServer, target: str, name: str, **fields: Any) -> float:
    measurer = MetricMeasurer(settings(server.url, mesh="envoy"))
    measurement = await measurer.measure(canary(target), metric(name, **fields))
    assert measurement.value is not None, measurement.reason
    return measurement.value


async def instant(server: PrometheusServer, query: str) -> list[Any]:
    from coalmine.metrics import PrometheusProvider

    result = await PrometheusProvider(ProviderSettings(server.url)).instant(query)
    return [(dict(s.labels), s.points[-1].value) for s in result.series]


async def test_a_fifth_of_errors_is_a_success_rate_of_80(warm: PrometheusServer) -> None:
    assert await measure(warm, "errors", "request-success-rate") == pytest.approx(80, abs=1)
    assert await measure(warm, "errors", "error-rate") == pytest.approx(20, abs=1)


async def test_the_primary_cluster_is_measured_apart(warm: PrometheusServer) -> None:
    measurer = MetricMeasurer(settings(warm.url, mesh="envoy"))
    errors = canary("errors")
    primary = await measurer.measure_builtin(
        errors, "request-success-rate", role=Role.PRIMARY, interval=WINDOW
    )
    assert primary.value == 100
    rate = await measurer.measure_builtin(errors, "request-rate", role=Role.PRIMARY, interval="5s")
    assert rate.value is not None
    assert rate.value > 0


async def test_known_delay_gives_the_average_and_bucketed_percentiles(
    warm: PrometheusServer,
) -> None:
    average = await measure(warm, "latency", "request-duration-avg")
    assert average == pytest.approx(DELAY_MS, rel=0.10)
    p99 = await measure(warm, "latency", "request-duration")
    highest = await measure(warm, "latency", "request-duration-max")
    assert DELAY_MS < p99 <= highest
    assert highest in BUCKETS, "the max is the upper bound of a bucket"
    assert highest >= 150, "every request took at least 120 ms: the (100, 150] bucket or above"


async def test_no_5xx_yet_is_an_error_rate_of_zero_not_no_data(warm: PrometheusServer) -> None:
    five_xx = (
        'envoy_cluster_upstream_rq_xx{envoy_cluster_name="test_latency-canary",'
        'envoy_response_code_class="5"}'
    )
    assert await instant(warm, five_xx) == [], "Envoy has no 5xx series before the first 5xx"
    assert await measure(warm, "latency", "error-rate") == 0
    assert await measure(warm, "latency", "request-success-rate") == 100


async def test_a_dead_backend_counts_as_errors(warm: PrometheusServer) -> None:
    assert await measure(warm, "dead", "error-rate") == 100
    assert await measure(warm, "dead", "request-success-rate") == 0
    total = await instant(
        warm, 'envoy_cluster_upstream_rq_total{envoy_cluster_name="test_dead-canary"}'
    )
    assert [value for _, value in total] == [0], "Envoy's own 503s never reach upstream_rq_total"


async def test_a_cluster_without_series_is_no_data(warm: PrometheusServer) -> None:
    measurer = MetricMeasurer(settings(warm.url, mesh="envoy"))
    measurement = await measurer.measure(canary("ghost"), metric("request-success-rate"))
    assert measurement.value is None
    assert "no data (empty result" in measurement.reason


@pytest.mark.parametrize(
    ("job", "expected"),
    [
        ("envoy", 1.0),
        ('envoy"} or vector(42) or up{job="x', None),
        ("envoy\\", None),
    ],
)
async def test_prometheus_reads_an_escaped_variable_as_one_label_value(
    warm: PrometheusServer, job: str, expected: float | None
) -> None:
    measurer = MetricMeasurer(settings(warm.url))
    query = metric("up", query='sum(up{job="{{ variables.job }}"})', templateVariables={"job": job})
    measurement = await measurer.measure(canary("errors"), query)
    assert measurement.value == expected, measurement.reason
    if expected is None:
        assert "no data (empty result" in measurement.reason


@pytest.mark.parametrize(("target", "expected"), [("envoy", 1.0), (".*", None), ("env.y", None)])
async def test_a_name_in_a_regex_matcher_matches_only_itself(
    warm: PrometheusServer, target: str, expected: float | None
) -> None:
    measurer = MetricMeasurer(settings(warm.url))
    query = metric("up", query='sum(up{job=~"{{ target }}"})')
    measurement = await measurer.measure(canary(target), query)
    assert measurement.value == expected, measurement.reason
