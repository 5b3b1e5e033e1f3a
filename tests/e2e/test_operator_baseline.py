"""The real operator with judge.baseline: `podinfo-baseline` made from the primary for the
analysis, given the canary's weight through the Istio objects, and removed at the end.

Against the API emulator (and a real cluster with COALMINE_TEST_KUBECONFIG). The
Prometheus stand-in answers the judge's count queries per workload: the canary's and
the baseline's requests and 5xx, as Istio's `istio_requests_total` would.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from coalmine.kube.adapters.resources import CANARIES, DEPLOYMENTS, SERVICES, VIRTUAL_SERVICES
from tests.fixtures.operator import MetricsStandIn, canary
from tests.fixtures.world import NEW_IMAGE, Operator, World, eventually_async


@dataclass
class Counts:
    """Requests and 5xx per tick window, by workload."""

    canary_errors: int = 0

    def answer(self, query: str) -> float | None:
        if "istio_requests_total" not in query:
            return None
        errors = 'response_code=~"5.*"' in query
        if 'destination_workload=~"podinfo-baseline"' in query:
            return 10.0 if errors else 10000.0
        if 'destination_workload=~"podinfo-primary"' in query:
            return 20.0 if errors else 20000.0
        if 'destination_workload=~"podinfo"' in query:
            return float(self.canary_errors) if errors else 10000.0
        return None


def judged_with_baseline() -> dict[str, Any]:
    analysis = canary()["spec"]["analysis"]
    analysis["metrics"] = []
    analysis["judge"] = {"errors": {"maxIncrease": 1}, "baseline": True}
    return analysis


async def test_the_baseline_shares_the_canary_weight_and_goes_after_promotion(
    world: World, operator: Operator, metrics_stand_in: MetricsStandIn
) -> None:
    counts = Counts(canary_errors=10)  # as good as the baseline
    metrics_stand_in.value_for = counts.answer  # type: ignore[method-assign]
    await world.initialized(analysis=judged_with_baseline())
    weights: list[tuple[int, int, int]] = []

    async def record() -> tuple[int, int, int] | None:
        vs = await world.get(VIRTUAL_SERVICES, "podinfo")
        if vs is None:
            return None
        route = {d["destination"]["host"]: d["weight"] for d in vs["spec"]["http"][0]["route"]}
        seen = (route["podinfo-primary"], route["podinfo-canary"], route["podinfo-baseline"])
        if not weights or weights[-1] != seen:
            weights.append(seen)
        return seen

    async def at_first_step() -> bool:
        return await record() == (60, 20, 20)

    await world.ship("podinfo", NEW_IMAGE)
    await eventually_async(at_first_step, deadline=60, step=0.02)
    baseline = await world.must_get(DEPLOYMENTS, "podinfo-baseline")
    primary = await world.must_get(DEPLOYMENTS, "podinfo-primary")
    assert baseline["spec"]["template"]["spec"] == primary["spec"]["template"]["spec"]
    assert baseline["spec"]["selector"] == {"matchLabels": {"app": "podinfo-baseline"}}
    service = await world.must_get(SERVICES, "podinfo-baseline")
    assert service["spec"]["selector"] == {"app": "podinfo-baseline"}

    async def promoted() -> bool:
        await record()
        found = await world.get(DEPLOYMENTS, "podinfo-baseline")
        phase = ((await world.must_get(CANARIES, "podinfo")).get("status") or {}).get("phase")
        return phase == "Succeeded" and found is None

    await eventually_async(promoted, deadline=60, step=0.02)

    assert weights[:4] == [(100, 0, 0), (60, 20, 20), (20, 40, 40), (0, 50, 50)]
    assert weights[-1] == (100, 0, 0)
    asked = metrics_stand_in.queries
    assert any('destination_workload=~"podinfo-baseline"' in q for q in asked)


async def test_a_canary_failing_more_than_the_baseline_is_rolled_back_and_the_baseline_removed(
    world: World, operator: Operator, metrics_stand_in: MetricsStandIn
) -> None:
    counts = Counts(canary_errors=600)  # 6 % against the baseline's 0.1 %
    metrics_stand_in.value_for = counts.answer  # type: ignore[method-assign]
    await world.initialized(analysis=judged_with_baseline())
    await world.ship("podinfo", NEW_IMAGE)
    failed = await world.wait_phase("Failed")
    [errors] = failed["status"]["judge"]["checks"]
    assert errors["verdict"] == "rollback"
    assert "vs baseline 0.10 %" in errors["message"]

    async def removed() -> bool:
        return await world.get(DEPLOYMENTS, "podinfo-baseline") is None

    await eventually_async(removed, deadline=30)
    vs = await world.must_get(VIRTUAL_SERVICES, "podinfo")
    route = {d["destination"]["host"]: d["weight"] for d in vs["spec"]["http"][0]["route"]}
    assert route == {"podinfo-primary": 100, "podinfo-canary": 0, "podinfo-baseline": 0}
