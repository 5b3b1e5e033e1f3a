"""What coalmine's own telemetry costs: rendering /metrics, and a run with real ports.

Prints the time to render /metrics for 10 and 200 canaries (as served: the per-canary
series kept as text, `telemetry.grouped_series`; `benchmarks/exposition.py` compares),
and the ratio of ten simulated promotions with the real AlertingNotifier (posting to a
local receiver) and PrometheusRecorder to the same run with the in-memory fakes. Compare
as ratios within one run (shared, noisy machine).

Run: .venv/bin/python benchmarks/telemetry_overhead.py
"""

from __future__ import annotations

import asyncio
import dataclasses
import time

from alert_delivery import make_canary, notifier_for, receiver
from prometheus_client import CollectorRegistry

from coalmine.api.canary import CanaryStatus, Phase
from coalmine.engine.decision import Decision
from coalmine.telemetry import PrometheusRecorder
from coalmine.telemetry.server import exposition
from coalmine.testing import Simulation


def render_ms(canaries: int) -> float:
    registry = CollectorRegistry()
    recorder = PrometheusRecorder(registry)
    for i in range(canaries):
        canary = make_canary(name=f"app{i}").with_status(CanaryStatus(phase=Phase.PROGRESSING))
        recorder.record_tick(canary, Decision(canary.status), 0.01)
    started = time.perf_counter()
    for _ in range(50):
        exposition(registry, "text/plain")  # (what /metrics serves)
    return (time.perf_counter() - started) / 50 * 1000


async def simulated_run_seconds(base: str | None) -> float:
    canary = make_canary(alerts=("p0",) if base else ())
    sim = Simulation(canary)
    if base:
        notifier = notifier_for(base, ["slack"], clock=sim.clock.now)
        recorder = PrometheusRecorder(CollectorRegistry())
        sim.ports = dataclasses.replace(sim.ports, notifier=notifier, recorder=recorder)
    sim.measurer.set("request-success-rate", 99.9)
    sim.measurer.set("request-duration", 100)
    started = time.perf_counter()
    await sim.run_until_phase(Phase.INITIALIZED)
    for version in range(2, 12):
        sim.deploy(f"0.0.{version}")
        await sim.run_until_phase(Phase.SUCCEEDED)
    elapsed = time.perf_counter() - started
    if base:
        await notifier.sender.close()
    return elapsed


async def main() -> None:
    small, large = render_ms(10), render_ms(200)
    print(f"/metrics render: 10 canaries {small:.2f} ms, 200 canaries {large:.2f} ms")
    runner, base = await receiver()
    fakes = await simulated_run_seconds(None)
    real = await simulated_run_seconds(base)
    print(
        f"10 promotions: fakes {fakes * 1000:.0f} ms, real notifier+recorder {real * 1000:.0f} ms"
    )
    print(f"  ratio real/fakes: {real / fakes:.2f}")
    await runner.cleanup()


if __name__ == "__main__":
    asyncio.run(main())
