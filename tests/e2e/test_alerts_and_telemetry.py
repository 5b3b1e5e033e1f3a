"""A canary promoted, then rolled back, by the real engine: what the chat tools and /metrics see.

The world is `coalmine.testing.Simulation` (fake workload, router and metrics on a
fake clock); the alerts go through a real AlertingNotifier to real HTTP receivers, and
the metrics are scraped over HTTP from the real aiohttp app and parsed by
prometheus-client's parser.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator

import pytest
from prometheus_client import CollectorRegistry

from coalmine import __version__
from coalmine.api.canary import Phase
from coalmine.engine.tick import TickOutcome
from coalmine.notify import AlertingNotifier, AlertSender, InMemoryAlertProviders, LocalSecrets
from coalmine.telemetry import PrometheusRecorder, metrics_app
from coalmine.testing import RecordingNotifier, Simulation
from tests.fixtures.notify import Receiver, make_canary, make_provider, subscription
from tests.fixtures.telemetry import Samples, labels, parse, scrape, served

CANARY = labels(name="podinfo", namespace="test")
VERDICT = labels(
    name="podinfo", namespace="test", deployment_strategy="canary", analysis_status="completed"
)


@dataclasses.dataclass
class Rollouts:
    sim: Simulation
    notifier: AlertingNotifier
    registry: CollectorRegistry
    ticks: int = 0

    async def tick(self) -> None:
        outcome = await self.sim.tick()
        assert outcome.error == ""
        self.ticks += 1

    async def run_until(self, phase: Phase) -> None:
        outcomes: list[TickOutcome] = await self.sim.run_until_phase(phase, max_ticks=30)
        assert [o.error for o in outcomes if o.error] == []
        self.ticks += len(outcomes)


@pytest.fixture
async def rollouts(receiver: Receiver, secrets: LocalSecrets) -> AsyncIterator[Rollouts]:
    """podinfo with a team chat at `info` (webhook) and an on-call Teams channel at `error`."""
    canary = make_canary(
        alerts=[subscription("team", "info"), subscription("on-call", "error")], threshold=2
    )
    providers = InMemoryAlertProviders(
        [
            make_provider("team", "webhook", receiver.url("/team")),
            make_provider("on-call", "msteams", receiver.url("/on-call")),
        ]
    )
    sim = Simulation(canary)
    notifier = AlertingNotifier(
        inner=sim.notifier,
        providers=providers,
        secrets=secrets,
        sender=AlertSender(timeout=5, trust_env=False),
        clock=sim.clock.now,
    )
    registry = CollectorRegistry()
    recorder = PrometheusRecorder(registry, mesh_provider="istio")
    sim.ports = dataclasses.replace(sim.ports, notifier=notifier, recorder=recorder)
    yield Rollouts(sim, notifier, registry)
    await notifier.sender.close()


async def promote_then_roll_back(rollouts: Rollouts) -> tuple[Samples, Samples]:
    """0.0.2 with good metrics is promoted; 0.0.3 at 80 % success is rolled back."""
    sim = rollouts.sim
    await rollouts.run_until(Phase.INITIALIZED)
    sim.measurer.set("request-success-rate", 99.9)
    sim.measurer.set("request-duration", 120)
    sim.deploy("0.0.2")
    await rollouts.run_until(Phase.SUCCEEDED)
    async with served(metrics_app(rollouts.registry)) as base:
        after_promotion = parse((await scrape(base))[0])
    sim.measurer.set("request-success-rate", 80.0)
    sim.deploy("0.0.3")
    await rollouts.run_until(Phase.FAILED)
    async with served(metrics_app(rollouts.registry)) as base:
        after_rollback = parse((await scrape(base))[0])
    return after_promotion, after_rollback


async def test_chat_tools_hear_about_the_promotion_and_the_rollback(
    rollouts: Rollouts, receiver: Receiver
) -> None:
    await promote_then_roll_back(rollouts)

    team = receiver.bodies("/team")
    assert [(body["phase"], body["message"]) for body in team] == [
        ("Initialized", "New Deployment detected, initialization completed."),
        ("Progressing", "New revision detected, progressing canary analysis."),
        ("Succeeded", "Canary analysis completed successfully, promotion finished."),
        ("Progressing", "New revision detected, progressing canary analysis."),
        ("Failed", "Failed checks threshold reached 2"),
    ]
    assert all((b["name"], b["namespace"]) == ("podinfo", "test") for b in team)
    init, _, success, _, rollback = team
    assert init["analysisSeconds"] is None
    # detect, 20 %, 40 %, 60 %, promote, route to primary, finalise: six intervals of 1m
    assert success["analysisSeconds"] == 360.0
    assert success["check"] is None
    # detect, 20 % (no check before the first step), two failed checks: three intervals
    assert rollback["analysisSeconds"] == 180.0
    assert rollback["severity"] == "error"
    assert rollback["check"]["metric"] == "request-success-rate"
    assert rollback["check"]["value"] == 80.0
    assert rollback["check"]["range"] == ">= 99"


async def test_on_call_gets_only_the_rollback_with_check_and_duration(
    rollouts: Rollouts, receiver: Receiver
) -> None:
    await promote_then_roll_back(rollouts)

    [card] = receiver.bodies("/on-call")
    assert card["@type"] == "MessageCard"
    assert card["themeColor"] == "A30200"
    [section] = card["sections"]
    assert section["activityTitle"] == "Failed checks threshold reached 2"
    facts = {fact["name"]: fact["value"] for fact in section["facts"]}
    assert facts["Phase"] == "Failed"
    assert facts["Failed check"] == "request-success-rate 80.00, allowed >= 99"
    assert facts["Analysis duration"] == "3m0s"
    assert rollouts.notifier.stats.failed == {}
    assert rollouts.notifier.stats.sent == {"team.test": 5, "on-call.test": 1}
    assert isinstance(rollouts.notifier.inner, RecordingNotifier)
    assert "Canary failed! Scaling down podinfo.test" in rollouts.notifier.inner.messages


async def test_metrics_follow_the_promotion_and_the_rollback(rollouts: Rollouts) -> None:
    promoted, rolled_back = await promote_then_roll_back(rollouts)

    assert promoted[("coalmine_canary_status", CANARY)] == 1
    assert promoted[("coalmine_canary_successes_total", VERDICT)] == 1
    assert ("coalmine_canary_failures_total", VERDICT) not in promoted
    assert (
        promoted[
            ("coalmine_canary_metric_analysis", CANARY | labels(metric="request-success-rate"))
        ]
        == 99.9
    )

    samples = rolled_back
    assert samples[("coalmine_info", labels(version=__version__, mesh_provider="istio"))] == 1
    assert samples[("coalmine_canary_total", labels(namespace="test"))] == 1
    assert samples[("coalmine_canary_status", CANARY)] == 2
    primary = labels(workload="podinfo-primary", namespace="test")
    assert samples[("coalmine_canary_weight", primary)] == 100
    assert samples[("coalmine_canary_weight", labels(workload="podinfo", namespace="test"))] == 0
    rate = CANARY | labels(metric="request-success-rate")
    duration = CANARY | labels(metric="request-duration")
    assert samples[("coalmine_canary_metric_analysis", rate)] == 80.0
    assert samples[("coalmine_canary_metric_analysis", duration)] == 120.0
    assert samples[("coalmine_canary_successes_total", VERDICT)] == 1
    assert samples[("coalmine_canary_failures_total", VERDICT)] == 1
    assert samples[("coalmine_canary_duration_seconds_count", CANARY)] == rollouts.ticks


async def test_the_weight_gauge_saw_every_step_of_the_promotion(rollouts: Rollouts) -> None:
    sim = rollouts.sim
    await rollouts.run_until(Phase.INITIALIZED)
    sim.measurer.set("request-success-rate", 99.9)
    sim.measurer.set("request-duration", 120)
    sim.deploy("0.0.2")
    canary_weight = ("coalmine_canary_weight", labels(workload="podinfo", namespace="test"))
    primary_weight = (
        "coalmine_canary_weight",
        labels(workload="podinfo-primary", namespace="test"),
    )
    seen = []
    async with served(metrics_app(rollouts.registry)) as base:
        while sim.phase != Phase.SUCCEEDED:
            await rollouts.tick()
            samples = parse((await scrape(base))[0])
            seen.append((samples[primary_weight], samples[canary_weight]))
    # detect, three steps, promote (weights held), all to primary, finalise
    assert seen == [(100, 0), (80, 20), (60, 40), (40, 60), (40, 60), (100, 0), (100, 0)]
