"""The ports: what the engine needs from the world, as small async Protocols.

Adapters implement them for Kubernetes, for the local runtime and, in
`coalmine.testing`, in memory. The engine knows nothing else about the world.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from coalmine.api.canary import Canary, CanaryMetric, CanaryStatus, CanaryWebhook, Phase
from coalmine.engine.decision import Alert, Decision, Event
from coalmine.engine.observations import HookResult, Measurement, Routes, WorkloadState
from coalmine.judge.observations import TickObservation

__all__ = [
    "CanaryStore",
    "Hooks",
    "Measurer",
    "Notifier",
    "Observer",
    "Ports",
    "Recorder",
    "Router",
    "Workload",
]


class Workload(Protocol):
    """The target Deployment (the canary), its `-primary` copy, and with judge.baseline a
    `-baseline` copy of the primary."""

    async def observe_target(self, canary: Canary) -> WorkloadState | None:
        """The target's state; None when it does not exist."""
        ...

    async def observe_primary(self, canary: Canary) -> WorkloadState | None:
        """The primary's state; None when it does not exist yet."""
        ...

    async def create_primary(self, canary: Canary) -> None:
        """Create the primary from the target's pod template (no-op if it exists)."""
        ...

    async def scale_canary(self, canary: Canary, *, up: bool) -> None:
        """Scale the target to zero, or back to its desired replicas."""
        ...

    async def observe_baseline(self, canary: Canary) -> WorkloadState | None:
        """judge.baseline: `<target>-baseline`'s state; None when it does not exist."""
        ...

    async def scale_baseline(self, canary: Canary, *, up: bool) -> None:
        """judge.baseline: up makes `<target>-baseline` run the primary's pod template with
        the target's replicas (creating it, or bringing it to that template); down removes it.
        Both are safe to repeat."""
        ...

    async def promote(self, canary: Canary, revision: str) -> None:
        """Copy the target's pod template to the primary. Raises AdapterError when the
        target is no longer at `revision`, so that an unanalysed revision is never promoted."""
        ...


class Router(Protocol):
    """The objects that split traffic between primary and canary."""

    async def reconcile(self, canary: Canary) -> None:
        """Create or repair the routing objects, keeping the current weights."""
        ...

    async def get_routes(self, canary: Canary) -> Routes: ...

    async def set_routes(self, canary: Canary, routes: Routes) -> None:
        """Apply weights; with analysis.match, the match routes get them (A/B testing)."""
        ...


class Measurer(Protocol):
    """Turns a canary's metric (built-in, templated or inline) into a measurement."""

    async def measure(self, canary: Canary, metric: CanaryMetric) -> Measurement:
        """Never raises for a failed query: the failure is a Measurement with a reason."""
        ...

    async def unavailable(self, canary: Canary) -> str | None:
        """Flagger's check at initialization: None when every metric's server answers,
        else which one does not and why. Never raises."""
        ...


class Observer(Protocol):
    """Counts per side for the judge: the primary's, the canary's (and a baseline's)
    requests, errors and latency histogram over the last `window_seconds`."""

    async def observe(self, canary: Canary, window_seconds: float) -> TickObservation:
        """Raises CoalmineError when the counts cannot be read; the judge then holds."""
        ...


class Hooks(Protocol):
    async def call(self, canary: Canary, webhook: CanaryWebhook, phase: Phase) -> HookResult:
        """Never raises for a failed call: the failure is a HookResult with the reason."""
        ...


class Notifier(Protocol):
    """Where events and alerts go: Kubernetes Events, the local store, alert providers."""

    async def event(self, canary: Canary, event: Event) -> None: ...

    async def alert(self, canary: Canary, alert: Alert) -> None: ...


class Recorder(Protocol):
    """coalmine's own telemetry about each tick."""

    def record_tick(self, canary: Canary, decision: Decision, seconds: float) -> None: ...


class CanaryStore(Protocol):
    async def write_status(self, canary: Canary, status: CanaryStatus) -> Canary:
        """Persist a new status and return the canary as stored."""
        ...


@dataclass(frozen=True)
class Ports:
    """Everything one tick talks to, passed explicitly."""

    workload: Workload
    router: Router
    measurer: Measurer
    hooks: Hooks
    notifier: Notifier
    recorder: Recorder
    store: CanaryStore
    observer: Observer | None = None
    """Per-side counts for `spec.analysis.judge`; None where the runtime has none yet."""
