"""The real operator with the kubernetes router (no mesh): blue/green by the apex
Service's selector, against the API emulator (and a real cluster with
COALMINE_TEST_KUBECONFIG, see tests/fixtures/world.py).

Every wait is on observable state with a deadline. The timeline samples the apex
Service's selector: `podinfo-primary` (the primary's pods) or `podinfo` (the canary's).
"""

from __future__ import annotations

from typing import Any

from coalmine.kube.adapters.resources import DEPLOYMENTS, SERVICES, VIRTUAL_SERVICES
from tests.fixtures.operator import MetricsStandIn, canary, deployment
from tests.fixtures.timeline import following, released
from tests.fixtures.world import (
    NEW_IMAGE,
    OLD_IMAGE,
    Operator,
    StartOperator,
    World,
    mesh,
)

BLUE_GREEN: dict[str, Any] = {
    "interval": "1s",
    "threshold": 2,
    "iterations": 3,
    "metrics": [
        {"name": "request-success-rate", "interval": "1m", "thresholdRange": {"min": 99}},
        {"name": "request-duration", "interval": "1m", "thresholdRange": {"max": 500}},
    ],
}


async def apex_of(world: World) -> dict[str, Any]:
    """The timeline's reading: which pods the apex Service selects."""
    service = await world.get(SERVICES, "podinfo")
    return {} if service is None else {"apex": service["spec"]["selector"]["app"]}


async def test_a_blue_green_release_switches_the_apex_to_the_canary_then_ends_on_the_primary(
    world: World, operator: Operator, metrics_stand_in: MetricsStandIn
) -> None:
    timeline, succeeded = await released(world, apex_of, provider="kubernetes", analysis=BLUE_GREEN)

    assert timeline["apex"] == ["podinfo-primary", "podinfo", "podinfo-primary"]
    assert timeline["phases"] == ["Initialized", "Progressing", "Promoting", "Finalising",
                               "Succeeded"]  # fmt: skip
    assert await world.image_of("podinfo-primary") == NEW_IMAGE
    assert (await world.must_get(DEPLOYMENTS, "podinfo"))["spec"]["replicas"] == 0
    assert await world.get(VIRTUAL_SERVICES, "podinfo") is None  # no mesh object
    assert succeeded["status"]["canaryWeight"] == 0
    canary_service = await world.must_get(SERVICES, "podinfo-canary")
    assert canary_service["spec"]["selector"] == {"app": "podinfo"}
    asked = [q for q in metrics_stand_in.queries if "http_request_duration_seconds" in q]
    assert any(f'kubernetes_namespace="{world.namespace}"' in q for q in asked)
    assert all('kubernetes_pod_name=~"podinfo-[0-9a-zA-Z]+(-[0-9a-zA-Z]+)"' in q for q in asked)
    said = [e["message"] for e in await world.events()]
    key = f"podinfo.{world.namespace}"
    assert f"Starting canary analysis for {key}, canary iteration 1/3" in said
    assert [f"Advance {key} canary iteration {n}/3" in said for n in (2, 3)] == [True] * 2
    assert "Routing all traffic to canary" in said


async def test_failing_checks_roll_back_with_the_apex_never_leaving_the_primary(
    world: World, start_operator: StartOperator, metrics_stand_in: MetricsStandIn
) -> None:
    """spec.provider unset: --mesh-provider kubernetes picks the router and the checks."""
    await start_operator(analysis=mesh(metrics_stand_in, "kubernetes"))
    await world.initialized(analysis=BLUE_GREEN)

    async with following(world, apex_of) as timeline:
        metrics_stand_in.success_rate = 80.0
        await world.ship("podinfo", NEW_IMAGE)
        failed = await world.wait_phase("Failed")

    assert timeline["apex"] == ["podinfo-primary"]
    assert timeline["phases"] == ["Initialized", "Progressing", "Failed"]
    assert failed["status"]["failedChecks"] == 2
    assert await world.image_of("podinfo-primary") == OLD_IMAGE
    assert (await world.must_get(DEPLOYMENTS, "podinfo"))["spec"]["replicas"] == 0
    # the Event follows the status: the Failed phase may be read before it is written
    await world.event_starting(f"Rolling back podinfo.{world.namespace} failed checks threshold")


async def test_a_weighted_canary_on_the_kubernetes_default_is_not_advanced_and_told_why(
    world: World, start_operator: StartOperator, metrics_stand_in: MetricsStandIn
) -> None:
    await start_operator(analysis=mesh(metrics_stand_in, "kubernetes"))
    await world.create(deployment())
    await world.create(canary())  # stepWeight 20 up to maxWeight 60

    event = await world.event_containing("analysis.stepWeight splits traffic by weight")
    assert event["type"] == "Warning"
    assert "use analysis.iterations (blue/green)" in event["message"]
    assert await world.phase() in (None, "Initializing")
    assert await world.get(SERVICES, "podinfo") is None
