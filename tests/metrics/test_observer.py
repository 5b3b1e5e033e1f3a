"""The judge's per-side counts from a real Envoy: through a real Prometheus (the Observer
of Kubernetes and of `coalmine up --prometheus`), and from Envoy's own stats (local mode).

Known traffic: the "errors" canary answers 500 to every fifth request, its primary none;
the "latency" canary sleeps 120 ms, so every duration falls in the (100, 150] bucket.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import pytest
import yaml
from typer.testing import CliRunner

from coalmine.api import Canary, parse_resource
from coalmine.cli.main import app
from coalmine.local.envoy.admin import EnvoyAdmin
from coalmine.local.envoy.collector import StatsCollector
from coalmine.local.observe import EnvoyObserver
from coalmine.metrics import PrometheusServer, ProviderSettings, Role, ScrapeTarget
from coalmine.metrics.backtest import backtest
from coalmine.metrics.observer import BASELINE, PrometheusObserver
from coalmine.metrics.providers.prometheus import PrometheusProvider
from tests.fixtures.envoy_stack import Backend, EnvoyStack, Route

pytestmark = pytest.mark.slow

WINDOW_S = 10.0


@pytest.fixture(scope="module")
def envoy_routes() -> list[Route]:
    return [
        Route("errors", "canary", Backend(error_every=5), rate=40),
        Route("errors", "primary", Backend(), rate=20),
        Route("errors", "baseline", Backend(), rate=40),
        Route("latency", "canary", Backend(delay_ms=120), rate=40, workers=8),
        Route("latency", "primary", Backend(), rate=20),
    ]


@pytest.fixture(scope="module")
def prometheus_targets(envoy_stack: EnvoyStack) -> list[ScrapeTarget]:
    return [ScrapeTarget("envoy", envoy_stack.admin_address, "/stats/prometheus")]


@pytest.fixture(scope="module")
def warm(prometheus: PrometheusServer) -> PrometheusServer:
    clusters = ("test_errors-canary", "test_errors-primary", "test_errors-baseline")
    for cluster in (*clusters, "test_latency-canary"):
        selector = f'envoy_cluster_upstream_rq_time_count{{envoy_cluster_name="{cluster}"}}'
        prometheus.wait_for_samples(
            f"min(count_over_time({selector}[{WINDOW_S:g}s]))", minimum=10, timeout=60
        )
    return prometheus


def canary(target: str, *, baseline: bool = False) -> Canary:
    analysis: dict[str, object] = {"stepWeight": 20}
    if baseline:
        analysis["judge"] = {"errors": {"maxIncrease": 1}, "baseline": True}
    document = {
        "apiVersion": "coalmine.dev/v1beta1",
        "kind": "Canary",
        "metadata": {"name": "subject", "namespace": "test"},
        "spec": {
            "targetRef": {"name": target},
            "service": {"port": 80},
            "analysis": analysis,
        },
    }
    resource = parse_resource(document)
    assert isinstance(resource, Canary)
    return resource


async def test_prometheus_counts_each_side_over_the_window(warm: PrometheusServer) -> None:
    """What holds whatever the machine's load: every fifth canary answer is a 5xx, none of
    the primary's; every answered request has a duration in the histogram."""
    observer = PrometheusObserver(PrometheusProvider(ProviderSettings(warm.url)), mesh="envoy")
    observed = await observer.observe(canary("errors"), WINDOW_S)
    canary_side, primary = observed.canary, observed.primary
    assert canary_side.requests > 0 and primary.requests > 0
    assert canary_side.errors / canary_side.requests == pytest.approx(0.20, abs=0.04)
    assert primary.errors == 0
    assert primary.latency is not None
    assert primary.latency.total == pytest.approx(primary.requests, rel=0.1)


async def test_prometheus_counts_the_baseline_side_with_judge_baseline(
    warm: PrometheusServer,
) -> None:
    observer = PrometheusObserver(PrometheusProvider(ProviderSettings(warm.url)), mesh="envoy")
    assert (await observer.observe(canary("errors"), WINDOW_S)).baseline is None
    observed = await observer.observe(canary("errors", baseline=True), WINDOW_S)
    assert observed.baseline is not None and observed.baseline.requests > 0
    assert observed.baseline.errors == 0  # the baseline's backend never fails
    assert observed.reference is observed.baseline  # what the judge compares with
    assert observed.canary.errors > 0


async def test_prometheus_buckets_are_counts_per_bucket(warm: PrometheusServer) -> None:
    """Every canary request sleeps 120 ms: no count at or below 100 ms, and the median's
    bound is 150 ms or above (more under load, never less)."""
    observer = PrometheusObserver(PrometheusProvider(ProviderSettings(warm.url)), mesh="envoy")
    latency = (await observer.observe(canary("latency"), WINDOW_S)).canary.latency
    assert latency is not None and latency.total > 0
    fast = latency.counts[: latency.bounds.index(150.0)]
    assert sum(fast) == 0, latency
    median = latency.quantile_index(0.5)
    assert median is not None and median >= latency.bounds.index(150.0)


def test_the_istio_queries_select_each_workload() -> None:
    observer = PrometheusObserver(PrometheusProvider(ProviderSettings("http://x")), mesh="istio")
    queries = observer.queries(canary("podinfo"), Role.PRIMARY, 60)
    assert queries["errors"] == (
        'sum(increase(istio_requests_total{reporter="destination",'
        'destination_workload_namespace="test",destination_workload=~"podinfo-primary",'
        'response_code=~"5.*"}[60s]))'
    )
    assert queries["buckets"].startswith(
        "sum by (le) (increase(istio_request_duration_milliseconds_bucket{"
    )
    baseline = observer.queries(canary("podinfo", baseline=True), BASELINE, 60)
    assert 'destination_workload=~"podinfo-baseline"' in baseline["requests"]


@pytest.mark.parametrize("mesh", ["gatewayapi", "gatewayapi:v1", "gatewayapi:v1beta1"])
def test_the_judge_counts_istios_series_for_the_gateway_api(mesh: str) -> None:
    """As its built-in checks (Flagger's IstioObserver is its default)."""
    settings = ProviderSettings("http://x")
    gateway = PrometheusObserver(PrometheusProvider(settings), mesh=mesh)
    istio = PrometheusObserver(PrometheusProvider(settings), mesh="istio")
    for role in (Role.PRIMARY, Role.CANARY, BASELINE):
        c = canary("podinfo", baseline=True)
        assert gateway.queries(c, role, 60) == istio.queries(c, role, 60)


@pytest.fixture
async def collector(envoy_stack: EnvoyStack) -> AsyncIterator[StatsCollector]:
    async with aiohttp.ClientSession() as session:
        admin = EnvoyAdmin(session, f"http://{envoy_stack.admin_address}", 5.0)
        stats = StatsCollector(lambda: admin, interval_s=1.0)
        stats.start()
        try:
            yield stats
        finally:
            await stats.stop()


async def test_envoy_stats_count_each_side_without_prometheus(
    collector: StatsCollector,
) -> None:
    import asyncio

    observer = EnvoyObserver(lambda: collector)
    for _ in range(100):  # the collector needs two scrapes inside the window
        await asyncio.sleep(0.1)
        if collector.window("test_errors-canary", 3).requests.value:
            break
    await asyncio.sleep(3)
    observed = await observer.observe(canary("errors"), 3)
    assert observed.canary.requests > 0 and observed.primary.requests > 0
    assert observed.canary.errors / observed.canary.requests == pytest.approx(0.2, abs=0.08)
    assert observed.primary.errors == 0
    latency = (await observer.observe(canary("latency"), 3)).canary.latency
    assert latency is not None and latency.total > 0
    assert sum(latency.counts[: latency.bounds.index(150.0)]) == 0, latency
    with_baseline = await observer.observe(canary("errors", baseline=True), 3)
    assert with_baseline.baseline is not None and with_baseline.baseline.requests > 0
    assert with_baseline.baseline.errors == 0


async def test_envoy_stats_are_not_counted_while_an_earlier_revision_may_still_answer(
    envoy_stack: EnvoyStack,
) -> None:
    """The canary cluster keeps its name across revisions: while the replicas of the one
    rolled back still run (drained: infinity), the judge gets no counts, so it holds."""
    import asyncio
    import math

    from coalmine.errors import AdapterError

    async with aiohttp.ClientSession() as session:
        admin = EnvoyAdmin(session, f"http://{envoy_stack.admin_address}", 5.0)
        draining = {"test_errors-canary": math.inf}
        stats = StatsCollector(lambda: admin, interval_s=1.0, drained=draining.get)
        stats.start()
        try:
            observer = EnvoyObserver(lambda: stats)
            for _ in range(100):  # two scrapes, so that the primary's window has requests
                await asyncio.sleep(0.1)
                if stats.window("test_errors-primary", 3).requests.value:
                    break
            with pytest.raises(AdapterError, match=r"earlier revision .* still serving"):
                await observer.observe(canary("errors"), 3)
            del draining["test_errors-canary"]
            observed = await observer.observe(canary("errors"), 3)
            assert observed.canary.requests > 0
        finally:
            await stats.stop()


# coalmine backtest: the analysis replayed over the history Prometheus holds ----------------


def judged(target: str) -> Canary:
    document = {
        "apiVersion": "coalmine.dev/v1beta1",
        "kind": "Canary",
        "metadata": {"name": target, "namespace": "test"},
        "spec": {
            "provider": "envoy",
            "targetRef": {"name": target},
            "service": {"port": 80},
            "analysis": {
                "interval": "2s",
                "stepWeight": 20,
                "maxWeight": 60,
                "metrics": [
                    {"name": "request-success-rate", "thresholdRange": {"min": 50}},
                    {"name": "custom", "query": "vector(1)", "thresholdRange": {"min": 0}},
                ],
                "judge": {"errors": {"maxIncrease": 1}},
            },
        },
    }
    resource = parse_resource(document)
    assert isinstance(resource, Canary)
    return resource


@pytest.fixture(scope="module")
def history(warm: PrometheusServer) -> PrometheusServer:
    selector = 'envoy_cluster_upstream_rq_xx{envoy_cluster_name="test_errors-canary"}'
    warm.wait_for_samples(f"min(count_over_time({selector}[30s]))", minimum=25, timeout=90)
    return warm


async def test_backtest_finds_the_release_and_when_the_judge_rolled_it_back(
    history: PrometheusServer,
) -> None:
    observer = PrometheusObserver(PrometheusProvider(ProviderSettings(history.url)), mesh="envoy")
    now = datetime.now(UTC)
    [release] = await backtest(judged("errors"), observer, now - timedelta(seconds=24), now)
    assert release.verdict == "rolled-back", release
    assert release.decided_at is not None
    assert now - timedelta(seconds=24) < release.decided_at <= now
    assert "errors: canary 2" in release.reason or "errors: canary 1" in release.reason
    assert "> 1 pt: rollback" in release.reason


async def test_backtest_without_canary_traffic_finds_no_release(
    history: PrometheusServer,
) -> None:
    observer = PrometheusObserver(PrometheusProvider(ProviderSettings(history.url)), mesh="envoy")
    now = datetime.now(UTC)
    assert await backtest(judged("idle"), observer, now - timedelta(seconds=20), now) == []


def test_backtest_command_prints_each_release_and_what_was_left_out(
    history: PrometheusServer, tmp_path: Path
) -> None:
    manifest = tmp_path / "canary.yaml"
    manifest.write_text(yaml.safe_dump(judged("errors").to_manifest()))
    result = CliRunner().invoke(
        app,
        ["backtest", "-f", str(manifest), "--from", "24s", "--metrics-server", history.url],
    )
    assert result.exit_code == 0, result.output
    assert "-- metrics left out of the replay (not computable from counts): custom" in result.output
    assert ": rolled-back at " in result.output


def test_the_canarys_own_metrics_server_is_used() -> None:
    observer = PrometheusObserver(
        PrometheusProvider(ProviderSettings("http://a:9090")), mesh="istio"
    )
    plain = canary("podinfo")
    assert observer.provider_of(plain) is observer.provider
    other = plain.model_copy(
        update={"spec": plain.spec.model_copy(update={"metrics_server": "http://b:9090"})}
    )
    assert observer.provider_of(other).settings.address == "http://b:9090"
