"""Every panel of the Grafana dashboards, run against the real Prometheus of
`coalmine up --prometheus` while a canary runs.

The local dashboards (Envoy's series) must each return data; the Istio ones must be
valid PromQL for that Prometheus (their `istio_*` series exist only in a mesh). The same
Prometheus holds coalmine's own series, from which a cluster's history is rebuilt.
"""

from __future__ import annotations

import asyncio
import time

import pytest

from coalmine.api.canary import Phase
from coalmine.history import build_history
from coalmine.history.kube import prometheus_records
from coalmine.local.runtime import LocalRuntime
from coalmine.metrics.providers.base import ProviderSettings
from coalmine.metrics.providers.prometheus import PrometheusProvider
from coalmine.targets.base import CanaryView
from coalmine.telemetry.grafana import dashboards, expressions
from tests.e2e.test_local_mode import initialized, ship
from tests.e2e.test_local_prometheus import with_prometheus  # noqa: F401 - the fixture
from tests.fixtures.local import (
    NAMESPACE,
    steady_load,
    wait_for_phase,
    wait_until,
    weight,
)

pytestmark = pytest.mark.slow

VARIABLES = {"namespace": NAMESPACE, "canary": "go-demo-7", "__rate_interval": "10s"}

LONG_ANALYSIS = """    interval: 2s
    threshold: 5
    stepWeight: 10
    maxWeight: 50
    metrics:
      - {name: request-success-rate, interval: 4s, thresholdRange: {min: 99}}
      - {name: request-duration, interval: 4s, thresholdRange: {max: 1000}}"""


async def test_every_panel_returns_data_while_a_canary_runs(
    with_prometheus: LocalRuntime,  # noqa: F811
) -> None:
    runtime = with_prometheus
    assert runtime.prometheus is not None
    prometheus = PrometheusProvider(ProviderSettings(runtime.prometheus.url))
    await initialized(runtime, analysis=LONG_ANALYSIS)
    async with steady_load(runtime, rate=40):
        await ship(runtime, "0.0.2", analysis=LONG_ANALYSIS)
        await wait_until(lambda: weight(runtime) >= 20, "canary weight 20", within=60)
        local = [
            (path, title, expr)
            for path, dashboard in dashboards().items()
            if path.startswith("local/")
            for title, expr in expressions(dashboard, VARIABLES)
        ]
        missing = await _until_all_answer(prometheus, local, within=40)
        assert missing == [], missing
        assert runtime.store.get("Canary", NAMESPACE, "go-demo-7") is not None
        await wait_for_phase(runtime, Phase.SUCCEEDED, within=120)

    await _history_from_prometheus(runtime, runtime.prometheus.url)
    for path, dashboard in dashboards().items():
        if not path.startswith("local/"):
            for title, expr in expressions(dashboard, VARIABLES):
                answer = await prometheus.instant(expr)  # raises on a query Prometheus refuses
                assert answer.type == "vector", (path, title)


async def _until_all_answer(
    prometheus: PrometheusProvider, queries: list[tuple[str, str, str]], within: float
) -> list[tuple[str, str, str]]:
    """The queries that still returned no series after `within` seconds."""
    deadline = time.monotonic() + within
    waiting = list(queries)
    while waiting and time.monotonic() < deadline:
        answers = [await prometheus.instant(expr) for _, _, expr in waiting]
        waiting = [q for q, a in zip(waiting, answers, strict=True) if not a.series]
        if waiting:
            await asyncio.sleep(1)
    return waiting


async def _history_from_prometheus(runtime: LocalRuntime, url: str) -> None:
    """A cluster's history is rebuilt from Prometheus: here the same coalmine_* series,
    scraped from `coalmine up` instead of the operator."""
    stored = runtime.store.get("Canary", NAMESPACE, "go-demo-7")
    assert stored is not None and stored.status is not None
    view = CanaryView(NAMESPACE, "go-demo-7", stored.manifest["spec"], stored.status)
    await asyncio.sleep(2)  # a scrape after the verdict
    records = await prometheus_records(view, url)
    history = build_history(view, records, [])
    weights = {w.weight for w in history.weights if w.revision == view.last_applied}
    assert {10, 20, 30, 40, 50} <= weights, weights
    checked = {c.metric for c in records.checks if c.passed and c.revision == view.last_applied}
    assert checked == {"request-success-rate", "request-duration"}
    assert history.current is not None
    assert history.current.revision == view.last_applied
    assert history.current.verdict == "Succeeded" and history.current.max_weight == 50
