"""One tick: observe what the decision needs, decide, carry the decision out.

This is the only part of the engine that does I/O, and it does it through the ports.
If an action fails, the status is not written: the next tick observes the world
again and decides afresh, so every action is safe to repeat.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from datetime import datetime

from coalmine.api.canary import Canary, CanaryWebhook, Phase
from coalmine.engine.decide import decide
from coalmine.engine.decision import (
    Action,
    CreatePrimary,
    Decision,
    Event,
    EventType,
    Need,
    NeedCounts,
    NeedHook,
    NeedRoutes,
    Promote,
    ReconcileRouting,
    RunHooks,
    ScaleBaseline,
    ScaleCanary,
    SetRoutes,
)
from coalmine.engine.observations import Observations
from coalmine.engine.ports import Ports
from coalmine.errors import CoalmineError
from coalmine.judge.observations import TickObservation

__all__ = ["ALL_PROVIDERS_AVAILABLE", "TickOutcome", "advance"]

log = logging.getLogger(__name__)

ALL_PROVIDERS_AVAILABLE = "all the metrics providers are available!"
"""Flagger's event text when every metrics server answered at initialization."""

MAX_NEEDS = 100
"""A decision asks for at most a few dozen observations; more means a bug, not a slow world."""


@dataclass(frozen=True)
class TickOutcome:
    canary: Canary
    """The canary as stored after the tick (unchanged when the tick failed)."""
    decision: Decision | None
    """None when the tick could not observe or act; the error is in `error`."""
    error: str = ""


async def advance(canary: Canary, ports: Ports, now: datetime) -> TickOutcome:
    """Advance one canary by one step."""
    started = time.perf_counter()
    try:
        decision, observed = await _decide(canary, ports, now)
    except CoalmineError as error:
        return await _failed(canary, ports, f"cannot observe {canary.key}: {error}")
    if _initializing(canary) and observed.target is not None:
        await ports.notifier.event(canary, await _providers_event(canary, ports))
    for action in decision.actions:
        try:
            await _carry_out(action, canary, ports)
        except CoalmineError as error:
            return await _failed(canary, ports, f"{_describe(action)} failed: {error}")
    stored = canary
    if decision.status != canary.status:
        stored = await ports.store.write_status(canary, decision.status)
    for event in decision.events:
        await ports.notifier.event(stored, event)
    for alert in decision.alerts:
        await ports.notifier.alert(stored, alert)
    for followup in decision.followups:
        await _run_hooks(followup, stored, ports)
    ports.recorder.record_tick(stored, decision, time.perf_counter() - started)
    return TickOutcome(stored, decision)


def _initializing(canary: Canary) -> bool:
    """Flagger checks the metrics servers at every tick of the initialization (once the
    target is found: a missing target ends its tick before)."""
    spec = canary.spec
    initializing = canary.status.phase in (None, Phase.INITIALIZING)
    return initializing and not spec.skip_analysis and not spec.suspend


async def _providers_event(canary: Canary, ports: Ports) -> Event:
    """Flagger's event on the metrics servers (checkMetricProviderAvailability): a
    warning, not a stop; the analysis fails the checks it cannot measure."""
    problem = await ports.measurer.unavailable(canary)
    if problem is None:
        return Event(ALL_PROVIDERS_AVAILABLE)
    return Event(f"Error checking metric providers: {problem}", EventType.WARNING)


async def _decide(canary: Canary, ports: Ports, now: datetime) -> tuple[Decision, Observations]:
    judge = canary.spec.analysis.judge
    observed = Observations(
        target=await ports.workload.observe_target(canary),
        primary=await ports.workload.observe_primary(canary),
        baseline=await ports.workload.observe_baseline(canary)
        if judge is not None and judge.baseline
        else None,
    )
    for _ in range(MAX_NEEDS):
        answer = decide(canary, observed, now)
        if isinstance(answer, Decision):
            return answer, observed
        observed = await _observe(answer, canary, observed, ports)
    raise AssertionError(f"the decision for {canary.key} kept asking for observations")


async def _observe(
    need: Need, canary: Canary, observed: Observations, ports: Ports
) -> Observations:
    if isinstance(need, NeedRoutes):
        await ports.router.reconcile(canary)
        return observed.with_routes(await ports.router.get_routes(canary))
    if isinstance(need, NeedHook):
        result = await ports.hooks.call(canary, need.webhook, need.phase)
        return observed.with_hook(need.webhook.name, result)
    if isinstance(need, NeedCounts):
        return observed.with_counts(await _count(canary, ports))
    measurements = await asyncio.gather(
        *(ports.measurer.measure(canary, metric) for metric in need.metrics)
    )
    return observed.with_measurements(
        {metric.name: m for metric, m in zip(need.metrics, measurements, strict=True)}
    )


async def _count(canary: Canary, ports: Ports) -> TickObservation | str:
    if ports.observer is None:
        return "this runtime cannot count requests per side yet"
    try:
        return await ports.observer.observe(canary, canary.spec.analysis.interval_seconds)
    except CoalmineError as error:
        return f"cannot count requests per side: {error}"


async def _carry_out(action: Action, canary: Canary, ports: Ports) -> None:
    match action:
        case CreatePrimary():
            await ports.workload.create_primary(canary)
        case ReconcileRouting():
            await ports.router.reconcile(canary)
        case SetRoutes(routes):
            await ports.router.set_routes(canary, routes)
        case ScaleCanary(up):
            await ports.workload.scale_canary(canary, up=up)
        case ScaleBaseline(up):
            await ports.workload.scale_baseline(canary, up=up)
        case Promote(revision):
            await ports.workload.promote(canary, revision)


def _describe(action: Action) -> str:
    match action:
        case CreatePrimary():
            return "creating the primary"
        case ReconcileRouting():
            return "reconciling routing"
        case SetRoutes(routes):
            return f"setting weights primary {routes.primary} canary {routes.canary}"
        case ScaleCanary(up):
            return "scaling the canary up" if up else "scaling the canary to zero"
        case ScaleBaseline(up):
            return "creating the baseline" if up else "removing the baseline"
        case Promote():
            return "promoting the canary to the primary"


async def _run_hooks(followup: RunHooks, canary: Canary, ports: Ports) -> None:
    for webhook in followup.webhooks:
        await _post_rollout(webhook, followup.phase, canary, ports)


async def _post_rollout(webhook: CanaryWebhook, phase: Phase, canary: Canary, ports: Ports) -> None:
    result = await ports.hooks.call(canary, webhook, phase)
    if result.ok:
        event = Event(f"Post-rollout check {webhook.name} passed")
    else:
        event = Event(
            f"Post-rollout hook {webhook.name} failed {result.message}", EventType.WARNING
        )
    await ports.notifier.event(canary, event)


async def _failed(canary: Canary, ports: Ports, message: str) -> TickOutcome:
    log.warning("%s", message, extra={"canary": canary.name, "namespace": canary.namespace})
    await ports.notifier.event(canary, Event(message, EventType.WARNING))
    return TickOutcome(canary, None, message)
