"""Properties that hold for every valid Canary and every world it may meet.

Random specs (canary, A/B, blue/green, mirroring, gates, thresholds), random metric
values (good, bad, no data), random webhook answers, new releases and unhealthy pods
at random ticks. After every tick:
- the weights on the router sum to 100, and the status says the same canary weight;
- a canary strategy never sends more than maxWeight to the canary;
- failedChecks never passes the threshold;
- a Failed canary has 100 % on the primary and its canary scaled to zero;
- a Succeeded canary has 100 % on the primary, the canary at zero, and the primary runs
  the revision recorded as promoted;
- the engine never raises.
"""

from __future__ import annotations

import asyncio
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.engine.builders import canary, hook

from coalmine.api import BUILTIN_METRICS, Canary, HookType, Phase
from coalmine.engine import Routes
from coalmine.testing import Simulation

GATE_TYPES = [t.value for t in HookType if t not in (HookType.EVENT,)]


@st.composite
def analyses(draw: st.DrawFn) -> dict[str, Any]:
    strategy = draw(st.sampled_from(["stepWeight", "stepWeights", "ab", "bluegreen"]))
    analysis: dict[str, Any] = {"stepWeight": None, "maxWeight": None}
    if strategy == "stepWeight":
        analysis["stepWeight"] = draw(st.integers(1, 100))
        analysis["maxWeight"] = draw(st.none() | st.integers(1, 100))
        analysis["mirror"] = draw(st.booleans())
    elif strategy == "stepWeights":
        steps = draw(st.lists(st.integers(1, 100), min_size=1, max_size=5, unique=True))
        analysis["stepWeights"] = sorted(steps)
        analysis["maxWeight"] = draw(st.none() | st.integers(1, 100))
    else:
        analysis["iterations"] = draw(st.integers(1, 4))
        analysis["mirror"] = strategy == "bluegreen" and draw(st.booleans())
        if strategy == "ab":
            analysis["match"] = [{"headers": {"x-canary": {"exact": "yes"}}}]
    analysis["threshold"] = draw(st.integers(0, 4))
    analysis["stepWeightPromotion"] = draw(st.none() | st.integers(1, 100))
    names = draw(st.lists(st.sampled_from(BUILTIN_METRICS), max_size=3, unique=True))
    analysis["metrics"] = [{"name": n, "thresholdRange": {"min": 50}} for n in names]
    types = draw(st.lists(st.sampled_from(GATE_TYPES), max_size=4, unique=True))
    analysis["webhooks"] = [hook(t, t) for t in types]
    analysis["interval"] = draw(st.sampled_from(["10s", "30s", "1m"]))
    return analysis


@st.composite
def canaries(draw: st.DrawFn) -> Canary:
    return canary(
        draw(analyses()),
        skipAnalysis=draw(st.booleans()) and draw(st.booleans()),
        progressDeadlineSeconds=draw(st.sampled_from([30, 120, 600])),
    )


def check_invariants(sim: Simulation) -> None:
    status = sim.canary.status
    routes = sim.routes
    analysis = sim.canary.spec.analysis
    if routes is None:
        assert status.phase in (Phase.INITIALIZING, None)
        return
    assert routes.primary + routes.canary == 100
    assert 0 <= routes.canary <= 100
    assert status.canary_weight == routes.canary
    if analysis.strategy == "canary" and status.phase != Phase.FAILED:
        assert routes.canary <= analysis.effective_max_weight
    assert status.failed_checks <= analysis.failure_threshold
    if status.phase in (Phase.FAILED, Phase.SUCCEEDED):
        assert routes == Routes(100, 0)
        assert sim.workload.replicas(sim.target) == 0
    if status.phase == Phase.SUCCEEDED:
        primary = sim.workload.deployments[sim.canary.primary_name]
        assert primary.revision == status.last_promoted_spec


async def live(sim: Simulation, data: st.DataObject, ticks: int) -> None:
    version = 1
    for _ in range(ticks):
        if data.draw(st.integers(0, 5)) == 0:
            version += 1
            sim.deploy(f"0.0.{version}", healthy=data.draw(st.integers(0, 6)) > 0)
        for metric in sim.canary.spec.analysis.metrics:
            sim.measurer.set(metric.name, data.draw(st.sampled_from([None, 10.0, 99.0])))
        for webhook in sim.canary.spec.analysis.webhooks:
            sim.hooks.answer(webhook.name, data.draw(st.booleans()))
        if (
            sim.canary.primary_name in sim.workload.deployments
            and data.draw(st.integers(0, 10)) == 0
        ):
            sim.workload.set_healthy(sim.canary.primary_name, data.draw(st.booleans()))
        outcome = await sim.tick()
        assert outcome.error == ""
        check_invariants(sim)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(c=canaries(), data=st.data())
def test_invariants_hold_for_any_canary_in_any_world(c: Canary, data: st.DataObject) -> None:
    sim = Simulation(c, replicas=2)
    asyncio.run(live(sim, data, ticks=40))


@settings(max_examples=60, deadline=None)
@given(c=canaries(), data=st.data())
def test_a_release_with_good_metrics_and_open_gates_is_always_promoted(
    c: Canary, data: st.DataObject
) -> None:
    async def scenario() -> None:
        sim = Simulation(c, replicas=2)
        for metric in c.spec.analysis.metrics:
            sim.measurer.set(metric.name, 99.0)
        for webhook in c.spec.analysis.webhooks:
            sim.hooks.answer(webhook.name, webhook.type != HookType.ROLLBACK)
        await sim.run_until_phase(Phase.INITIALIZED, max_ticks=5)
        sim.deploy("0.0.2")
        await sim.run_until_phase(Phase.SUCCEEDED, Phase.FAILED, max_ticks=300)
        assert sim.phase == Phase.SUCCEEDED
        assert sim.workload.version(c.primary_name) == "0.0.2"

    asyncio.run(scenario())
