"""The real operator with the kubernetes router (no mesh): blue/green by the apex
Service's selector, against the API emulator (and a real cluster with
COALMINE_TEST_KUBECONFIG, see tests/fixtures/world.py).

Every wait is on observable state with a deadline. The timeline samples the apex
Service's selector: `podinfo-primary` (the primary's pods) or `podinfo` (the canary's).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from coalmine.kube.adapters.client import Obj
from coalmine.kube.adapters.resources import DEPLOYMENTS, SERVICES, VIRTUAL_SERVICES
from coalmine.kube.runtime.settings import AnalysisSettings
from tests.fixtures.operator import MetricsStandIn, canary, deployment
from tests.fixtures.world import (
    NEW_IMAGE,
    OLD_IMAGE,
    Operator,
    StartOperator,
    World,
    eventually_async,
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


@dataclass
class Timeline:
    """Which pods the apex selects, and the phase, each time either changed."""

    world: World
    apex: list[str] = field(default_factory=list)
    phases: list[str] = field(default_factory=list)

    async def sample(self) -> None:
        service = await self.world.get(SERVICES, "podinfo")
        if service is not None:
            app = service["spec"]["selector"]["app"]
            if not self.apex or self.apex[-1] != app:
                self.apex.append(app)
        phase = await self.world.phase()
        if phase and (not self.phases or self.phases[-1] != phase):
            self.phases.append(phase)

    async def follow(self) -> None:
        while True:
            await self.sample()
            await asyncio.sleep(0.02)


@contextlib.asynccontextmanager
async def following(world: World) -> AsyncIterator[Timeline]:
    timeline = Timeline(world)
    task = asyncio.create_task(timeline.follow())
    try:
        yield timeline
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await timeline.sample()


async def image_of(world: World, name: str) -> str:
    found = await world.must_get(DEPLOYMENTS, name)
    image: str = found["spec"]["template"]["spec"]["containers"][0]["image"]
    return image


async def test_a_blue_green_release_switches_the_apex_to_the_canary_then_ends_on_the_primary(
    world: World, operator: Operator, metrics_stand_in: MetricsStandIn
) -> None:
    await world.initialized(provider="kubernetes", analysis=BLUE_GREEN)
    assert await world.get(VIRTUAL_SERVICES, "podinfo") is None  # no mesh object

    async with following(world) as timeline:
        await world.ship("podinfo", NEW_IMAGE)
        succeeded = await world.wait_phase("Succeeded")

    assert timeline.apex == ["podinfo-primary", "podinfo", "podinfo-primary"]
    assert timeline.phases == ["Initialized", "Progressing", "Promoting", "Finalising",
                               "Succeeded"]  # fmt: skip
    assert await image_of(world, "podinfo-primary") == NEW_IMAGE
    assert (await world.must_get(DEPLOYMENTS, "podinfo"))["spec"]["replicas"] == 0
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
    analysis = AnalysisSettings(
        metrics_server=metrics_stand_in.url,
        min_interval=timedelta(seconds=1),
        mesh_provider="kubernetes",
    )
    await start_operator(analysis=analysis)
    await world.initialized(analysis=BLUE_GREEN)

    async with following(world) as timeline:
        metrics_stand_in.success_rate = 80.0
        await world.ship("podinfo", NEW_IMAGE)
        failed = await world.wait_phase("Failed")

    assert timeline.apex == ["podinfo-primary"]
    assert timeline.phases == ["Initialized", "Progressing", "Failed"]
    assert failed["status"]["failedChecks"] == 2
    assert await image_of(world, "podinfo-primary") == OLD_IMAGE
    assert (await world.must_get(DEPLOYMENTS, "podinfo"))["spec"]["replicas"] == 0
    # the Event follows the status: the Failed phase may be read before it is written
    await world.event_starting(f"Rolling back podinfo.{world.namespace} failed checks threshold")


async def test_a_weighted_canary_on_the_kubernetes_default_is_not_advanced_and_told_why(
    world: World, start_operator: StartOperator, metrics_stand_in: MetricsStandIn
) -> None:
    settings_analysis = AnalysisSettings(
        metrics_server=metrics_stand_in.url,
        min_interval=timedelta(seconds=1),
        mesh_provider="kubernetes",
    )
    await start_operator(analysis=settings_analysis)
    await world.create(deployment())
    await world.create(canary())  # stepWeight 20 up to maxWeight 60

    async def refused() -> Obj | None:
        return next(
            (e for e in await world.events()
             if "analysis.stepWeight splits traffic by weight" in e["message"]),
            None,
        )  # fmt: skip

    event = await eventually_async(refused, deadline=20)
    assert event["type"] == "Warning"
    assert "use analysis.iterations (blue/green)" in event["message"]
    assert await world.phase() in (None, "Initializing")
    assert await world.get(SERVICES, "podinfo") is None
