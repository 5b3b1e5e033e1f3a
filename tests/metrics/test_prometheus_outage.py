"""Prometheus goes away in the middle of two canaries, then comes back.

The engine runs on a fake clock (coalmine.testing.Simulation) with the real Measurer
against a real Prometheus scraping a real Envoy with healthy traffic. While Prometheus
is down the analysis holds: no canary advances, none counts a failed check, the outage
is announced once, and the canary whose progress deadline (60 s) the outage outlasts
rolls back with a reason that names it. Prometheus restarts on the same port and data
directory; the other canary waits for a window of data from after the restart, then
carries on and is promoted.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace
from typing import Any

import pytest

from coalmine.api import Canary, Phase, parse_resource
from coalmine.engine.decision import EventType
from coalmine.metrics import (
    MeasurerSettings,
    MetricMeasurer,
    PrometheusProvider,
    PrometheusServer,
    ProviderSettings,
    ScrapeTarget,
)
from coalmine.testing import Simulation
from tests.fixtures.envoy_stack import EnvoyStack, Route

pytestmark = pytest.mark.slow

WINDOW = "5s"
SCRAPES = 'count_over_time(up{job="envoy"}[10m])'


@pytest.fixture(scope="module")
def envoy_routes() -> list[Route]:
    return [Route("steady", "canary", rate=20)]


@pytest.fixture(scope="module")
def prometheus_targets(envoy_stack: EnvoyStack) -> list[ScrapeTarget]:
    return [ScrapeTarget("envoy", envoy_stack.admin_address, "/stats/prometheus")]


def canary(name: str, threshold: int, deadline: int) -> Canary:
    document: dict[str, Any] = {
        "apiVersion": "coalmine.dev/v1beta1",
        "kind": "Canary",
        "metadata": {"name": name, "namespace": "test"},
        "spec": {
            "provider": "envoy",
            "targetRef": {"name": "steady"},
            "progressDeadlineSeconds": deadline,
            "service": {"port": 80},
            "analysis": {
                "interval": "30s",
                "threshold": threshold,
                "stepWeight": 20,
                "maxWeight": 40,
                "metrics": [
                    {
                        "name": "request-success-rate",
                        "interval": WINDOW,
                        "thresholdRange": {"min": 99},
                    }
                ],
            },
        },
    }
    resource = parse_resource(document)
    assert isinstance(resource, Canary)
    return resource


def simulation(resource: Canary, measurer: MetricMeasurer) -> Simulation:
    sim = Simulation(resource)
    sim.ports = replace(sim.ports, measurer=measurer)
    return sim


async def at_weight(sim: Simulation, weight: int) -> None:
    await sim.run_until(lambda s: s.routes is not None and s.routes.canary == weight, max_ticks=10)


async def test_an_outage_holds_the_analysis_and_rolls_back_only_past_the_deadline(
    prometheus: PrometheusServer,
) -> None:
    measurer = MetricMeasurer(MeasurerSettings(ProviderSettings(prometheus.url, timeout=2)))
    short = simulation(canary("short", threshold=1, deadline=60), measurer)
    patient = simulation(canary("patient", threshold=1, deadline=600), measurer)
    assert await wait_for_value(measurer, short, seconds=40) == 100

    for sim in (short, patient):
        await sim.run_until_phase(Phase.INITIALIZED)
        sim.deploy("0.0.2")
        await at_weight(sim, 20)
        await sim.tick()  # the first judged check passes on real data
        assert sim.routes is not None
        assert sim.routes.canary == 40
        assert sim.canary.status.checks[0].passed

    port, before = prometheus.port, await samples(prometheus)
    source = f"Prometheus at {prometheus.url}"
    prometheus.stop()
    for tick in range(4):  # 30 s of fake time each: 90 s of outage at the last
        for sim in (short, patient):
            await sim.tick()
            assert sim.canary.status.failed_checks == 0, "an outage is not a failed check"
            assert sim.workload.version(sim.canary.primary_name) == "0.0.1", "never promoted blind"
            if sim.phase == Phase.FAILED:
                assert (sim.canary.name, tick) == ("short", 3), "rolled back past 60 s, not before"
                continue
            hold = sim.canary.status.metrics_hold
            assert hold is not None
            assert (hold.kind, hold.source) == ("outage", source)
            assert sim.routes is not None
            assert sim.routes.canary == 40
    assert short.phase == Phase.FAILED
    assert short.routes is not None
    assert short.routes.canary == 0
    reasons = [e.message for e in short.notifier.events if e.type == EventType.WARNING]
    assert any(
        f"longer than the progress deadline of 60s: {source}: cannot reach" in r for r in reasons
    )
    assert sum("metrics source outage: " in r for r in reasons) == 1, "announced once"
    assert patient.phase == Phase.PROGRESSING
    assert patient.routes is not None
    assert patient.routes.canary == 40

    await asyncio.to_thread(prometheus.start)
    assert prometheus.port == port
    assert await samples(prometheus) >= before, "the data from before the stop is kept"
    await patient.tick()  # Prometheus is back, but younger than the window: it waits
    hold = patient.canary.status.metrics_hold
    assert hold is not None
    assert hold.kind == "waiting"
    assert "waiting for 15s of data since" in hold.reason
    assert patient.canary.status.failed_checks == 0
    assert await wait_for_value(measurer, patient, seconds=60) == 100
    await patient.run_until_phase(Phase.SUCCEEDED, max_ticks=5)
    assert patient.workload.version(patient.canary.primary_name) == "0.0.2"
    assert patient.canary.status.failed_checks == 0


async def wait_for_value(measurer: MetricMeasurer, sim: Simulation, seconds: float) -> float:
    """Measure until there is a value; fail after `seconds`."""
    metric = sim.canary.spec.analysis.metrics[0]
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        measurement = await measurer.measure(sim.canary, metric)
        if measurement.value is not None:
            return measurement.value
        await asyncio.sleep(0.25)
    raise AssertionError(f"no value within {seconds}s: {measurement.reason}")


async def samples(prometheus: PrometheusServer) -> float:
    """How many scrapes of Envoy Prometheus holds from the last ten minutes."""
    provider = PrometheusProvider(ProviderSettings(prometheus.url))
    measurement = await provider.query(SCRAPES)
    assert measurement.value is not None, measurement.reason
    return measurement.value
