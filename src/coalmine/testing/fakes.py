"""In-memory implementations of every port, for tests and simulations.

They behave like the real things where the engine relies on it: a Deployment whose
template changes gets a new revision, scaling to zero leaves no available replicas,
a promotion refuses a revision that moved on, a router that was never reconciled
has no routes to read.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from coalmine.api.canary import Canary, CanaryMetric, CanaryStatus, CanaryWebhook, Phase
from coalmine.engine.decision import Alert, Decision, Event
from coalmine.engine.observations import HookResult, Measurement, Routes, WorkloadState
from coalmine.errors import AdapterError
from coalmine.judge.observations import TickObservation
from coalmine.testing.clock import FakeClock

__all__ = [
    "FakeDeployment",
    "FakeHooks",
    "FakeMeasurer",
    "FakeObserver",
    "FakeRouter",
    "FakeWorkload",
    "HookCall",
    "InMemoryStore",
    "RecordingNotifier",
    "RecordingRecorder",
    "revision_of",
]


def revision_of(template: dict[str, Any]) -> str:
    """A stable hash of a pod template, as the Kubernetes adapter computes it."""
    encoded = json.dumps(template, sort_keys=True, separators=(",", ":")).encode()
    return hashlib.sha256(encoded).hexdigest()[:16]


@dataclass
class FakeDeployment:
    template: dict[str, Any]
    desired: int = 1
    """Replicas it runs when scaled up."""
    replicas: int = 1
    healthy: bool = True
    """Whether its pods become available; False models a release that never starts."""
    unavailable_since: datetime | None = None

    @property
    def revision(self) -> str:
        return revision_of(self.template)

    def state(self) -> WorkloadState:
        available = self.replicas if self.healthy else 0
        return WorkloadState(
            revision=self.revision,
            replicas=self.replicas,
            updated=self.replicas,
            available=available,
            unavailable_since=self.unavailable_since if available < self.replicas else None,
        )


class FakeWorkload:
    """Deployments by name, with pods that are ready at once unless marked unhealthy."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.deployments: dict[str, FakeDeployment] = {}

    # What a test does to the world

    def deploy(self, name: str, version: str, *, replicas: int = 1, healthy: bool = True) -> None:
        """Create or change a Deployment's template, as `kubectl apply` would."""
        template = {"containers": [{"name": "app", "image": f"demo:{version}"}]}
        existing = self.deployments.get(name)
        if existing is None:
            existing = FakeDeployment(template, desired=replicas, replicas=replicas)
            self.deployments[name] = existing
        existing.template = template
        existing.healthy = healthy
        self._mark_rollout(existing)

    def set_healthy(self, name: str, healthy: bool) -> None:
        deployment = self.deployments[name]
        deployment.healthy = healthy
        self._mark_rollout(deployment)

    def version(self, name: str) -> str:
        image: str = self.deployments[name].template["containers"][0]["image"]
        return image.split(":", 1)[1]

    def replicas(self, name: str) -> int:
        return self.deployments[name].replicas

    # The port

    async def observe_target(self, canary: Canary) -> WorkloadState | None:
        deployment = self.deployments.get(canary.spec.target_ref.name)
        return deployment.state() if deployment else None

    async def observe_primary(self, canary: Canary) -> WorkloadState | None:
        deployment = self.deployments.get(canary.primary_name)
        return deployment.state() if deployment else None

    async def create_primary(self, canary: Canary) -> None:
        if canary.primary_name in self.deployments:
            return
        target = self._target(canary)
        primary = FakeDeployment(
            dict(target.template), desired=target.desired, replicas=target.desired
        )
        self.deployments[canary.primary_name] = primary
        self._mark_rollout(primary)

    async def scale_canary(self, canary: Canary, *, up: bool) -> None:
        target = self._target(canary)
        target.replicas = target.desired if up else 0
        self._mark_rollout(target)

    async def observe_baseline(self, canary: Canary) -> WorkloadState | None:
        deployment = self.deployments.get(canary.baseline_name)
        return deployment.state() if deployment else None

    async def scale_baseline(self, canary: Canary, *, up: bool) -> None:
        """Up: the primary's template with the target's replicas; down: removed."""
        if not up:
            self.deployments.pop(canary.baseline_name, None)
            return
        primary = self.deployments.get(canary.primary_name)
        if primary is None:
            raise AdapterError(f"deployment {canary.primary_name} not found")
        target = self._target(canary)
        baseline = FakeDeployment(
            dict(primary.template), desired=target.desired, replicas=target.desired
        )
        self.deployments[canary.baseline_name] = baseline
        self._mark_rollout(baseline)

    async def promote(self, canary: Canary, revision: str) -> None:
        target = self._target(canary)
        if target.revision != revision:
            raise AdapterError(
                f"{canary.target_key} moved from revision {revision} to {target.revision}"
            )
        primary = self.deployments[canary.primary_name]
        primary.template = dict(target.template)
        self._mark_rollout(primary)

    def _target(self, canary: Canary) -> FakeDeployment:
        try:
            return self.deployments[canary.spec.target_ref.name]
        except KeyError:
            raise AdapterError(f"deployment {canary.target_key} not found") from None

    def _mark_rollout(self, deployment: FakeDeployment) -> None:
        """A rollout starts: an unhealthy one is unavailable from now on."""
        unavailable = not deployment.healthy and deployment.replicas > 0
        deployment.unavailable_since = self.clock.now() if unavailable else None


class FakeRouter:
    """Weights per canary, with the history of every change."""

    def __init__(self) -> None:
        self.routes: dict[str, Routes] = {}
        self.history: dict[str, list[Routes]] = {}
        self.reconciled: dict[str, int] = {}

    async def reconcile(self, canary: Canary) -> None:
        self.reconciled[canary.key] = self.reconciled.get(canary.key, 0) + 1
        self.routes.setdefault(canary.key, Routes.all_primary())

    async def get_routes(self, canary: Canary) -> Routes:
        try:
            return self.routes[canary.key]
        except KeyError:
            raise AdapterError(f"no routing objects for {canary.key}") from None

    async def set_routes(self, canary: Canary, routes: Routes) -> None:
        if canary.key not in self.routes:
            raise AdapterError(f"no routing objects for {canary.key}")
        self.routes[canary.key] = routes
        self.history.setdefault(canary.key, []).append(routes)


MeasureFunction = Callable[[Canary, CanaryMetric], Measurement | float | None]


class FakeMeasurer:
    """Metric values scripted by name; a metric with no script has no data."""

    def __init__(self, values: dict[str, float | Measurement | None] | None = None) -> None:
        self.values: dict[str, float | Measurement | None] = dict(values or {})
        self.function: MeasureFunction | None = None
        self.calls: list[str] = []

    def set(self, name: str, value: float | Measurement | None) -> None:
        self.values[name] = value

    async def measure(self, canary: Canary, metric: CanaryMetric) -> Measurement:
        self.calls.append(metric.name)
        value = self.function(canary, metric) if self.function else self.values.get(metric.name)
        if isinstance(value, Measurement):
            return value
        if value is None:
            return Measurement.no_data(f"no value for {metric.name}", query=f"fake:{metric.name}")
        return Measurement.of(float(value), query=f"fake:{metric.name}")


class FakeObserver:
    """Per-side counts for the judge, one scripted TickObservation per call; the last one
    repeats. With none scripted, reading fails as a runtime without counts would."""

    def __init__(self, ticks: list[TickObservation] | None = None) -> None:
        self.ticks: list[TickObservation] = list(ticks or [])
        self.used = 0
        self.windows: list[float] = []

    @property
    def exhausted(self) -> bool:
        return self.used >= len(self.ticks)

    async def observe(self, canary: Canary, window_seconds: float) -> TickObservation:
        self.windows.append(window_seconds)
        if not self.ticks:
            raise AdapterError("no counts scripted")
        tick = self.ticks[min(self.used, len(self.ticks) - 1)]
        self.used += 1
        return tick


@dataclass(frozen=True)
class HookCall:
    name: str
    type: str
    phase: Phase


class FakeHooks:
    """Webhook answers by name (default: success), with every call recorded."""

    def __init__(self) -> None:
        self.answers: dict[str, HookResult] = {}
        self.calls: list[HookCall] = []

    def answer(self, name: str, ok: bool, message: str = "") -> None:
        self.answers[name] = HookResult(ok, message or ("ok" if ok else "refused"))

    async def call(self, canary: Canary, webhook: CanaryWebhook, phase: Phase) -> HookResult:
        self.calls.append(HookCall(webhook.name, webhook.type.value, phase))
        return self.answers.get(webhook.name, HookResult(True, "ok"))


@dataclass
class RecordingNotifier:
    events: list[Event] = field(default_factory=list)
    alerts: list[Alert] = field(default_factory=list)

    async def event(self, canary: Canary, event: Event) -> None:
        self.events.append(event)

    async def alert(self, canary: Canary, alert: Alert) -> None:
        self.alerts.append(alert)

    @property
    def messages(self) -> list[str]:
        return [event.message for event in self.events]


@dataclass
class RecordingRecorder:
    ticks: list[tuple[str, Decision, float]] = field(default_factory=list)

    def record_tick(self, canary: Canary, decision: Decision, seconds: float) -> None:
        self.ticks.append((canary.key, decision, seconds))


class InMemoryStore:
    def __init__(self) -> None:
        self.canaries: dict[str, Canary] = {}
        self.writes = 0

    async def write_status(self, canary: Canary, status: CanaryStatus) -> Canary:
        self.writes += 1
        stored = canary.with_status(status)
        self.canaries[canary.key] = stored
        return stored
