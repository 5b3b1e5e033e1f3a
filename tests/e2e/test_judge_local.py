"""The judge end to end in local mode: real Envoy, real replicas, counts from Envoy's stats.

The primary answers /demo/hello in 10..30 ms and never fails /demo/random-error. Against
it: a release three times slower and one failing 5 % more are rolled back by the judge
(no fixed-range metric is configured), and an identical release is promoted.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest

from coalmine.api.canary import Phase
from coalmine.load import LoadGenerator, LoadPlan
from coalmine.local.runtime import LocalRuntime
from tests.fixtures.local import NAMESPACE, demo_manifests, wait_for_phase

pytestmark = pytest.mark.slow

HOST = {"Host": "go-demo-7.example"}
RATE = 200
"""Requests per second: the judge decides once it has counted enough of them, so the
rate sets how long each test waits (at 100/s, 27 s at 20 % of traffic with a baseline)."""
BASE = {"DEMO_ERROR_RATE": "0", "DEMO_DELAY_MS": "10", "DEMO_RANDOM_DELAY_MAX_MS": "20"}
JUDGED = """    interval: 2s
    stepWeight: 20
    maxWeight: 60
    judge:
      errors: {maxIncrease: 1}
      latency: {quantile: 0.9, maxIncrease: 25%}
      confidence: 0.99
      maxAnalysisTime: 2m"""


@asynccontextmanager
async def load(runtime: LocalRuntime, path: str) -> AsyncIterator[None]:
    plan = LoadPlan(
        urls=(runtime.gateway_url + path,), rate=RATE, duration=600, headers=HOST, timeout=5
    )
    generator = LoadGenerator(plan)
    running = asyncio.create_task(generator.run())
    try:
        yield
    finally:
        generator.stop()
        await running


async def release(runtime: LocalRuntime, version: str, env: dict[str, str]) -> None:
    manifests = demo_manifests(version, env={**BASE, **env}, analysis=JUDGED)
    await runtime.apply(manifests, "test")


def judge_checks(runtime: LocalRuntime) -> list[dict[str, object]]:
    stored = runtime.store.get("Canary", NAMESPACE, "go-demo-7")
    assert stored is not None and stored.status
    return list((stored.status.get("judge") or {}).get("checks") or [])


def messages(runtime: LocalRuntime) -> list[str]:
    return [e.message for e in runtime.store.events(NAMESPACE, "go-demo-7")]


async def test_a_three_times_slower_release_is_rolled_back_by_the_judge(
    local_runtime: LocalRuntime,
) -> None:
    await release(local_runtime, "0.0.1", {})
    await wait_for_phase(local_runtime, Phase.INITIALIZED)
    async with load(local_runtime, "/demo/hello"):
        await release(
            local_runtime, "0.0.2", {"DEMO_DELAY_MS": "30", "DEMO_RANDOM_DELAY_MAX_MS": "60"}
        )
        await wait_for_phase(local_runtime, Phase.FAILED, within=90)
    latency = next(c for c in judge_checks(local_runtime) if c["name"] == "latency")
    assert latency["verdict"] == "rollback", latency
    rollback = next(m for m in messages(local_runtime) if m.startswith("Rolling back"))
    assert "latency p90: canary" in rollback and ": rollback" in rollback


async def test_a_release_failing_five_points_more_is_rolled_back_by_the_judge(
    local_runtime: LocalRuntime,
) -> None:
    await release(local_runtime, "0.0.1", {})
    await wait_for_phase(local_runtime, Phase.INITIALIZED)
    async with load(local_runtime, "/demo/random-error"):
        await release(local_runtime, "0.0.2", {"DEMO_ERROR_RATE": "0.05"})
        await wait_for_phase(local_runtime, Phase.FAILED, within=90)
    errors = next(c for c in judge_checks(local_runtime) if c["name"] == "errors")
    assert errors["verdict"] == "rollback", errors
    assert isinstance(errors["lower"], float) and errors["lower"] > 0.01
    assert "> 1 pt: rollback" in str(errors["message"])


async def test_an_identical_release_is_promoted_by_the_judge(local_runtime: LocalRuntime) -> None:
    await release(local_runtime, "0.0.1", {})
    await wait_for_phase(local_runtime, Phase.INITIALIZED)
    async with load(local_runtime, "/demo/hello"):
        await release(local_runtime, "0.0.2", {})
        await wait_for_phase(local_runtime, Phase.SUCCEEDED, within=120)
    assert all(c["verdict"] == "advance" for c in judge_checks(local_runtime))
    assert "Advance go-demo-7.go-demo-7 canary weight 60" in messages(local_runtime)
    assert any(m.startswith("Judge: errors: canary") for m in messages(local_runtime))


# judge.baseline: `go-demo-7-baseline` runs the primary's revision beside the canary -----------

WITH_BASELINE = JUDGED.replace(
    "      maxAnalysisTime: 2m", "      maxAnalysisTime: 2m\n      baseline: true"
)


async def release_with_baseline(runtime: LocalRuntime, version: str, env: dict[str, str]) -> None:
    manifests = demo_manifests(version, env={**BASE, **env}, analysis=WITH_BASELINE)
    await runtime.apply(manifests, "test")


async def served(runtime: LocalRuntime, host: str) -> int:
    """Requests Envoy sent to one of the canary's clusters since it started."""
    name = f"cluster.{NAMESPACE}_{host}.upstream_rq_total"
    stats = await runtime.envoy.supervisor.admin.stats(f"^{name.replace('.', '[.]')}$")
    return int(stats.get(name, 0))


async def test_the_baseline_receives_the_canarys_share_and_goes_away_after_promotion(
    local_runtime: LocalRuntime,
) -> None:
    await release_with_baseline(local_runtime, "0.0.1", {})
    await wait_for_phase(local_runtime, Phase.INITIALIZED)
    async with load(local_runtime, "/demo/hello"):
        await release_with_baseline(local_runtime, "0.0.2", {})
        await wait_for_phase(local_runtime, Phase.SUCCEEDED, within=120)
    canary = await served(local_runtime, "go-demo-7-canary")
    baseline = await served(local_runtime, "go-demo-7-baseline")
    primary = await served(local_runtime, "go-demo-7-primary")
    # the same weights at every step (20/20, 40/40, 50/50): the same share, up to chance
    assert canary > 200 and baseline > 200, (canary, baseline)
    assert abs(canary - baseline) < 0.25 * max(canary, baseline), (canary, baseline)
    assert primary > 0
    assert "Advance go-demo-7.go-demo-7 canary weight 50, baseline weight 50" in messages(
        local_runtime
    )
    assert all("vs baseline" in str(c["message"]) for c in judge_checks(local_runtime))
    assert local_runtime.store.get("Deployment", NAMESPACE, "go-demo-7-baseline") is None


async def test_a_release_failing_five_points_more_than_the_baseline_is_rolled_back(
    local_runtime: LocalRuntime,
) -> None:
    await release_with_baseline(local_runtime, "0.0.1", {})
    await wait_for_phase(local_runtime, Phase.INITIALIZED)
    async with load(local_runtime, "/demo/random-error"):
        await release_with_baseline(local_runtime, "0.0.2", {"DEMO_ERROR_RATE": "0.05"})
        await wait_for_phase(local_runtime, Phase.FAILED, within=90)
    errors = next(c for c in judge_checks(local_runtime) if c["name"] == "errors")
    assert errors["verdict"] == "rollback", errors
    assert "vs baseline" in str(errors["message"]) and "> 1 pt: rollback" in str(errors["message"])
    assert await served(local_runtime, "go-demo-7-baseline") > 0
    assert local_runtime.store.get("Deployment", NAMESPACE, "go-demo-7-baseline") is None
