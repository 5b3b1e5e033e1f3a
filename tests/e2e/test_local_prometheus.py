"""`coalmine up --prometheus`, `coalmine metrics` and coalmine's own /metrics, for real."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from coalmine.api.canary import Phase
from coalmine.local.runtime import LocalRuntime, RuntimeSettings
from tests.e2e.test_local_mode import initialized, ship
from tests.fixtures.local import (
    NAMESPACE,
    runtime_settings,
    steady_load,
    wait_for_phase,
    wait_until,
    weight,
)

pytestmark = pytest.mark.slow

TEMPLATE = """
---
apiVersion: coalmine.dev/v1beta1
kind: MetricTemplate
metadata: {name: error-share, namespace: go-demo-7}
spec:
  query: |
    100 * (sum(rate(envoy_cluster_upstream_rq_xx{
        envoy_cluster_name="{{ namespace }}_{{ service }}-canary",
        envoy_response_code_class="5"}[{{ interval }}])) or vector(0))
    / sum(rate(envoy_cluster_upstream_rq_xx{
        envoy_cluster_name="{{ namespace }}_{{ service }}-canary"}[{{ interval }}]))
"""

ANALYSIS = """    interval: 3s
    threshold: 3
    stepWeight: 30
    maxWeight: 60
    metrics:
      - {name: request-success-rate, interval: 6s, thresholdRange: {min: 99}}
      - name: error-share
        interval: 6s
        templateRef: {name: error-share}
        thresholdRange: {max: 1}"""


@pytest.fixture
async def with_prometheus(tmp_path: Path) -> AsyncIterator[LocalRuntime]:
    base = runtime_settings(tmp_path / "state")
    settings = RuntimeSettings(
        state_dir=base.state_dir,
        gateway_port=0,
        min_interval=base.min_interval,
        process_settings=base.process_settings,
        prometheus=True,
    )
    runtime = LocalRuntime(settings)
    await runtime.start()
    try:
        yield runtime
    finally:
        await runtime.stop()


async def test_prometheus_measures_builtins_and_templates(with_prometheus: LocalRuntime) -> None:
    runtime = with_prometheus
    await runtime.apply(TEMPLATE.removeprefix("\n---\n"), "template")
    await initialized(runtime, analysis=ANALYSIS)
    async with steady_load(runtime, rate=40):
        await ship(runtime, "0.0.2", analysis=ANALYSIS)
        await wait_for_phase(runtime, Phase.SUCCEEDED, within=120)
        shown = await runtime.canary_metrics(NAMESPACE, "go-demo-7", "10s")
    checks = runtime.store.checks(NAMESPACE, "go-demo-7")
    passed = [c for c in checks if c.passed]
    assert {c.metric for c in passed} == {"request-success-rate", "error-share"}
    assert all("envoy_cluster_upstream_rq" in c.query for c in passed)
    assert shown["source"] == runtime.prometheus.url if runtime.prometheus else False
    success = shown["metrics"]["request-success-rate"]
    assert success["primary"]["value"] == pytest.approx(100.0)
    assert 'envoy_cluster_name="go-demo-7_go-demo-7-primary"' in success["primary"]["query"]


async def _primary_measured(runtime: LocalRuntime) -> dict[str, Any]:
    """The last 3 s once they hold two scrapes of the primary. Prometheus scrapes every
    second, but under the test suite's load a scrape can be late, and rate() over a
    window with one sample is empty: the primary then read "no data" (seen once in a
    full run). Up to ten tries, a second apart."""
    for _ in range(10):
        metrics: dict[str, Any] = (await runtime.canary_metrics(NAMESPACE, "go-demo-7", "3s"))[
            "metrics"
        ]
        if metrics["request-rate"]["primary"]["value"] is not None:
            break
        await asyncio.sleep(1)
    return metrics


async def test_coalmine_metrics_from_envoy_and_its_own_telemetry(
    local_runtime: LocalRuntime,
) -> None:
    await initialized(local_runtime)
    async with steady_load(local_runtime, rate=40):
        await ship(local_runtime, "0.0.2")
        await wait_until(lambda: weight(local_runtime) >= 40, "weight 40")
        during = (await local_runtime.canary_metrics(NAMESPACE, "go-demo-7", "3s"))["metrics"]
        await wait_for_phase(local_runtime, Phase.SUCCEEDED, within=90)
        await asyncio.sleep(4)  # a window with no traffic to the scaled-down canary
        after = await _primary_measured(local_runtime)
    assert during["request-success-rate"]["primary"]["value"] == pytest.approx(100.0)
    assert during["request-success-rate"]["canary"]["value"] == pytest.approx(100.0)
    assert during["request-rate"]["canary"]["value"] > 0
    assert after["request-rate"]["primary"]["value"] > 20, after["request-rate"]["primary"]
    assert after["request-rate"]["canary"]["value"] == 0
    assert after["request-success-rate"]["canary"]["value"] is None  # no request: no rate
    assert after["request-success-rate"]["canary"]["reason"]

    assert local_runtime.api is not None
    async with aiohttp.ClientSession() as http, http.get(local_runtime.api.url + "/metrics") as r:
        text = await r.text()
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }
    labels = (("name", "go-demo-7"), ("namespace", NAMESPACE))
    assert samples[("coalmine_canary_status", labels)] == 1  # succeeded
    weights = {
        w: samples[("coalmine_canary_weight", (("namespace", NAMESPACE), ("workload", w)))]
        for w in ("go-demo-7-primary", "go-demo-7")
    }
    assert weights == {"go-demo-7-primary": 100, "go-demo-7": 0}
    successes = [v for (n, _), v in samples.items() if n == "coalmine_canary_successes_total"]
    assert successes == [1]
    ticks = len(local_runtime.store.ticks(NAMESPACE, "go-demo-7"))
    assert samples[("coalmine_canary_duration_seconds_count", labels)] == ticks
