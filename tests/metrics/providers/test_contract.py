"""The two providers of the built-in checks agree: Envoy's own stats and Prometheus.

One real Envoy serves a canary (every tenth request answers 500 after 70 ms) and a
primary (35 ms, no errors): delays well inside one bucket, (50, 100] and (25, 50], with
room for a loaded machine; a real Prometheus scrapes Envoy's `/stats/prometheus` every
second while coalmine's stats collector scrapes the same endpoint. The test sends the
traffic itself, so that both sources hold exactly the same requests in the window:

    warm-up (100 requests each: every series exists, including the canary's 5xx)
    quiet   (6 s: the window starts here, in both sources, away from any request)
    burst   (200 requests each)
    both sources have scraped the burst, then every built-in check is measured through
    each provider over the same window, for the canary and for the primary.

Stated tolerance: the ratios, the average and the quantiles (request-success-rate,
error-rate, request-duration-avg, request-duration, request-duration-max) agree to 1e-6
relative: the same requests and the same buckets go through the same formulas (Prometheus
extrapolates `rate()` by one factor for every series of one scrape, which cancels in a
ratio and in histogram_quantile; the warm-up is half the burst so that no series is
extrapolated "to zero" alone, as Prometheus does for a counter that started near zero).
`request-rate` (not a check: `coalmine metrics` shows it) agrees within 4 / (W + 1) for a
window of W seconds. Both divide the same increase by a duration: Prometheus by the time
its samples inside the range span (it extrapolates the increase to the range, then divides
by the range), at least W - 2 with one scrape a second; the collector by the time its
samples span, from the last one before the range to the last one, at most W + 1. So the
collector's rate is at least (W - 2) / (W + 1) of Prometheus's, 3 / (W + 1) apart, and one
more second is slack for a late scrape on a loaded machine. Measured over 9 s: 21.0 and
25.0 requests per second; every other check equal (canary: 90 %, 10 %, p99 99.5 ms,
max 100 ms, average 72.19 ms in both).
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import AsyncIterator
from datetime import timedelta

import aiohttp
import pytest

from coalmine.api import Canary, parse_resource
from coalmine.local.envoy.admin import EnvoyAdmin
from coalmine.local.envoy.collector import StatsCollector
from coalmine.metrics.builtins import MESHES, REQUEST_RATE, Role
from coalmine.metrics.measurer import MeasurerSettings, MetricMeasurer
from coalmine.metrics.prometheus_server import PrometheusServer, ScrapeTarget
from coalmine.metrics.providers.base import BuiltinChecks, ProviderSettings
from coalmine.metrics.providers.envoy.measurer import EnvoyMeasurer
from coalmine.metrics.providers.prometheus import PrometheusProvider
from tests.fixtures.envoy_stack import Backend, EnvoyStack, Route

pytestmark = pytest.mark.slow

SERVICE = "contract"
ROUTES = {
    Role.CANARY: Route(SERVICE, "canary", Backend(error_every=10, delay_ms=70), workers=0),
    Role.PRIMARY: Route(SERVICE, "primary", Backend(delay_ms=35), workers=0),
}
"""`workers=0`: the stack sends no traffic of its own to these; the test does."""
WARM_UP, BURST, CONCURRENCY = 100, 200, 4
QUIET_S = 6.0
DEADLINE_S = 60.0
EXACT = 1e-6


@pytest.fixture(scope="module")
def envoy_routes() -> list[Route]:
    return list(ROUTES.values())


@pytest.fixture(scope="module")
def prometheus_targets(envoy_stack: EnvoyStack) -> list[ScrapeTarget]:
    return [ScrapeTarget("envoy", envoy_stack.admin_address, "/stats/prometheus")]


@pytest.fixture
async def collector(envoy_stack: EnvoyStack) -> AsyncIterator[StatsCollector]:
    async with aiohttp.ClientSession() as session:
        admin = EnvoyAdmin(session, f"http://{envoy_stack.admin_address}", 2.0)
        stats = StatsCollector(lambda: admin, interval_s=1.0)
        stats.start()
        try:
            yield stats
        finally:
            await stats.stop()


def canary() -> Canary:
    document = {
        "apiVersion": "coalmine.dev/v1beta1",
        "kind": "Canary",
        "metadata": {"name": SERVICE, "namespace": "test"},
        "spec": {
            "targetRef": {"name": SERVICE},
            "service": {"port": 80},
            "analysis": {"stepWeight": 20, "metrics": []},
        },
    }
    resource = parse_resource(document)
    assert isinstance(resource, Canary)
    return resource


async def send(stack: EnvoyStack, count: int) -> None:
    """`count` requests to each workload, CONCURRENCY at a time per workload."""
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:

        async def worker(route: Route, share: int) -> None:
            for _ in range(share):
                async with session.get(stack.url(route)) as answer:
                    await answer.read()

        shares = [count // CONCURRENCY + (i < count % CONCURRENCY) for i in range(CONCURRENCY)]
        await asyncio.gather(
            *(worker(route, share) for route in ROUTES.values() for share in shares)
        )


async def both_hold(server: PrometheusServer, stats: StatsCollector, requests: int) -> float:
    """Wait until Prometheus and the collector have scraped `requests` answers and as
    many durations (Envoy adds durations at its next stats flush) of both workloads;
    return when they both had."""
    prometheus = PrometheusProvider(ProviderSettings(server.url))
    deadline = time.monotonic() + DEADLINE_S
    while True:
        sample = await stats.scrape()
        seen = []
        for route in ROUTES.values():
            selector = f'{{envoy_cluster_name="{route.cluster}"}}'
            answers = await prometheus.query(f"sum(envoy_cluster_upstream_rq_xx{selector})")
            timed = await prometheus.query(f"sum(envoy_cluster_upstream_rq_time_count{selector})")
            counters = sample.clusters.get(route.cluster) if sample else None
            seen += [answers.value, timed.value]
            seen += [sum(counters.responses), counters.durations.count] if counters else [None]
        if all(value == requests for value in seen):
            return time.monotonic()
        assert time.monotonic() < deadline, f"never saw {requests} requests everywhere: {seen}"
        await asyncio.sleep(0.2)


async def test_envoy_stats_and_prometheus_agree_on_every_builtin_check(
    prometheus: PrometheusServer, envoy_stack: EnvoyStack, collector: StatsCollector
) -> None:
    await send(envoy_stack, WARM_UP)
    warm = await both_hold(prometheus, collector, WARM_UP)
    await asyncio.sleep(max(0.0, warm + QUIET_S - time.monotonic()))
    window_start = warm + QUIET_S / 2
    await send(envoy_stack, BURST)
    await both_hold(prometheus, collector, WARM_UP + BURST)
    window_s = math.ceil(time.monotonic() - window_start)
    interval = f"{window_s}s"

    settings = MeasurerSettings(
        ProviderSettings(prometheus.url), mesh="envoy", startup_grace=timedelta(0)
    )
    providers: dict[str, BuiltinChecks] = {
        "envoy": EnvoyMeasurer(lambda: collector),
        "prometheus": MetricMeasurer(settings),
    }
    subject = canary()
    for role in ROUTES:
        for check in MESHES["envoy"][role]:
            measured = {
                name: await provider.measure_builtin(subject, check, role=role, interval=interval)
                for name, provider in providers.items()
            }
            values = {name: m.value for name, m in measured.items()}
            where = f"{check} of the {role} over {interval}: {values}"
            assert None not in values.values(), {n: m.reason for n, m in measured.items()}
            tolerance = 4 / (window_s + 1) if check == REQUEST_RATE else EXACT
            assert values["envoy"] == pytest.approx(values["prometheus"], rel=tolerance), where

            if check == "error-rate":  # the window holds the burst and nothing else
                expected = 100 * (BURST // 10) / BURST if role == Role.CANARY else 0.0
                assert values["envoy"] == pytest.approx(expected, abs=EXACT), where
