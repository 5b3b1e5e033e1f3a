"""Old traffic and metric outages never decide a release: the engine side of issue 10.

Run:  .venv/bin/python -m benchmarks.faults_engine [trials]

Three scenarios, each with real parts, printing what happened:

1. A good release right after a rolled-back one (local runtime: real Envoy, real demo
   processes, threshold 1, 10 s metric windows): failed checks of the good release.
2. Prometheus killed for 30 s during a good release (real Prometheus scraping a real
   Envoy with steady traffic; the engine on a clock that follows real time, 10 s ticks,
   progress deadline 600 s): ticks while down, weight moves and promotions while down,
   failed checks, verdict.
3. Prometheus down past the progress deadline (30 s, down 60 s): verdict, rollback reason.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from tests.e2e.test_local_mode import initialized, ship, steady_load
from tests.fixtures.envoy_stack import EnvoyStack, Route
from tests.fixtures.local import NAMESPACE, runtime_settings, wait_for_phase

from coalmine.api import Canary, Phase, parse_resource
from coalmine.engine.decision import EventType
from coalmine.local.runtime import LocalRuntime
from coalmine.metrics import (
    MeasurerSettings,
    MetricMeasurer,
    PrometheusServer,
    ProviderSettings,
    ScrapeTarget,
)
from coalmine.testing import Simulation

GOOD, BAD = {"DEMO_ERROR_RATE": "0"}, {"DEMO_ERROR_RATE": "1"}
ANALYSIS = """    interval: 2s
    threshold: 1
    stepWeight: 20
    maxWeight: 40
    metrics:
      - {name: request-success-rate, interval: 10s, thresholdRange: {min: 99}}"""
TICK_S = 10.0


async def good_after_rolled_back(trials: int) -> None:
    failed = []
    for trial in range(trials):
        with tempfile.TemporaryDirectory() as state:
            runtime = LocalRuntime(runtime_settings(Path(state)))
            await runtime.start()
            try:
                await initialized(runtime, env=GOOD, analysis=ANALYSIS)
                async with steady_load(runtime, "/demo/random-error", rate=50):
                    await ship(runtime, f"0.{trial}.3", env=BAD, analysis=ANALYSIS)
                    await wait_for_phase(runtime, Phase.FAILED, within=60)
                    await ship(runtime, f"0.{trial}.4", env=GOOD, analysis=ANALYSIS)
                    await wait_for_phase(runtime, Phase.SUCCEEDED, within=90)
                stored = runtime.store.get("Canary", NAMESPACE, "go-demo-7")
                assert stored is not None
                failed.append(int((stored.status or {}).get("failedChecks", 0)))
            finally:
                await runtime.stop()
    print("1. good release right after a rolled-back one (local, real Envoy)")
    print(f"   trials {trials}, promoted {len(failed)}, failed checks of the good release {failed}")


def canary(name: str, deadline: int) -> Canary:
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
                "interval": f"{TICK_S:g}s",
                "threshold": 1,
                "stepWeight": 20,
                "maxWeight": 60,
                "metrics": [
                    {
                        "name": "request-success-rate",
                        "interval": "10s",
                        "thresholdRange": {"min": 99},
                    }
                ],
            },
        },
    }
    resource = parse_resource(document)
    assert isinstance(resource, Canary)
    return resource


async def real_time_tick(sim: Simulation) -> None:
    """A tick every TICK_S seconds of real time (the fake clock moves as much)."""
    started = time.monotonic()
    await sim.tick()
    await asyncio.sleep(max(0.0, TICK_S - (time.monotonic() - started)))


async def prometheus_outage(prometheus: PrometheusServer, deadline: int, down_s: float) -> None:
    measurer = MetricMeasurer(MeasurerSettings(ProviderSettings(prometheus.url, timeout=2)))
    sim = Simulation(canary(f"outage-{deadline}", deadline))
    sim.ports = replace(sim.ports, measurer=measurer)
    await sim.run_until_phase(Phase.INITIALIZED)
    sim.deploy("0.0.2")
    await sim.run_until(lambda s: s.routes is not None and s.routes.canary == 20, max_ticks=10)
    while not sim.canary.status.checks:  # until the first check on real data
        await real_time_tick(sim)
    prometheus.stop()
    down_since, ticks_down, moves, promotions = time.monotonic(), 0, 0, 0
    while time.monotonic() - down_since < down_s and sim.phase == Phase.PROGRESSING:
        before = (sim.routes, sim.workload.version(sim.canary.primary_name))
        await real_time_tick(sim)
        ticks_down += 1
        moves += sim.routes != before[0] and sim.phase == Phase.PROGRESSING
        promotions += sim.workload.version(sim.canary.primary_name) != before[1]
    down_for = time.monotonic() - down_since
    verdict_while_down = sim.phase
    await asyncio.to_thread(prometheus.start)
    for _ in range(60):
        if sim.phase in (Phase.SUCCEEDED, Phase.FAILED):
            break
        await real_time_tick(sim)
    warnings = [e.message for e in sim.notifier.events if e.type == EventType.WARNING]
    rollback = next((m for m in warnings if m.startswith("Rolling back")), "")
    announced = sum("metrics source outage:" in m for m in warnings)
    print(
        f"   down {down_for:.0f} s (until it came back or the verdict), ticks while down"
        f" {ticks_down}, weight moves while down"
        f" {moves}, promotions while down {promotions}, phase when it came back"
        f" {verdict_while_down}, outage announced {announced}x, failed checks"
        f" {sim.canary.status.failed_checks}, verdict {sim.phase}"
    )
    if rollback:
        print(f"   rollback reason: {rollback}")


async def main(trials: int) -> None:
    if trials:
        await good_after_rolled_back(trials)
    stack = EnvoyStack([Route("steady", "canary", rate=20)])
    stack.start()
    prometheus = PrometheusServer(
        [ScrapeTarget("envoy", stack.admin_address, "/stats/prometheus")], scrape_interval=1.0
    )
    prometheus.start()
    try:
        prometheus.wait_for_samples('count_over_time(up{job="envoy"}[10m])', minimum=5, timeout=40)
        print("2. Prometheus killed for 30 s during a good release (deadline 600 s)")
        await prometheus_outage(prometheus, deadline=600, down_s=30)
        print("3. Prometheus down past the progress deadline (deadline 30 s, down 60 s)")
        await prometheus_outage(prometheus, deadline=30, down_s=60)
    finally:
        prometheus.close()
        stack.close()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 3))
