"""What the decision function answers: a Decision to carry out, or a Need to observe more.

A Decision lists actions in the order they must happen (traffic back to the primary
always comes before anything else in a rollback), the status to write once they all
succeeded, and the events and alerts that explain it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from coalmine.api.canary import (
    AlertSeverity,
    CanaryMetric,
    CanaryStatus,
    CanaryWebhook,
    Phase,
    ThresholdRange,
)
from coalmine.engine.observations import Routes

__all__ = [
    "Action",
    "Alert",
    "CheckResult",
    "CreatePrimary",
    "Decision",
    "Event",
    "EventType",
    "Need",
    "NeedCounts",
    "NeedHook",
    "NeedMeasurements",
    "NeedRoutes",
    "Promote",
    "ReconcileRouting",
    "RunHooks",
    "ScaleBaseline",
    "ScaleCanary",
    "SetRoutes",
]


# Actions ---------------------------------------------------------------------------


@dataclass(frozen=True)
class CreatePrimary:
    """Create `<target>-primary` from the target's pod template."""


@dataclass(frozen=True)
class ReconcileRouting:
    """Create or repair the routing objects; never changes the current weights."""


@dataclass(frozen=True)
class SetRoutes:
    routes: Routes


@dataclass(frozen=True)
class ScaleCanary:
    """Scale the target (the canary) to zero, or back up to its desired replicas."""

    up: bool


@dataclass(frozen=True)
class ScaleBaseline:
    """judge.baseline: create `<target>-baseline` from the primary's pod template with the
    canary's replicas (up), or remove it (down)."""

    up: bool


@dataclass(frozen=True)
class Promote:
    """Copy the target's pod template to the primary, if it is still `revision`."""

    revision: str


@dataclass(frozen=True)
class RunHooks:
    """Call every webhook of a type whose answer changes nothing (post-rollout)."""

    webhooks: tuple[CanaryWebhook, ...]
    phase: Phase


Action = CreatePrimary | ReconcileRouting | SetRoutes | ScaleCanary | ScaleBaseline | Promote


# Explanations ----------------------------------------------------------------------


class EventType(StrEnum):
    NORMAL = "Normal"
    WARNING = "Warning"


@dataclass(frozen=True)
class Event:
    """A Kubernetes-style event: what happened and why, in one line."""

    message: str
    type: EventType = EventType.NORMAL
    reason: str = "Synced"


@dataclass(frozen=True)
class Alert:
    """A message for the canary's alert providers."""

    severity: AlertSeverity
    message: str
    check: CheckResult | None = None
    """The failed check behind a rollback, when there is one."""


@dataclass(frozen=True)
class CheckResult:
    """One metric judged against its range."""

    metric: str
    value: float | None
    range: ThresholdRange
    passed: bool
    reason: str = ""
    """Why there is no value, when there is none."""
    query: str = ""

    def describe(self) -> str:
        if self.value is None:
            return f"{self.metric}: no data ({self.reason})"
        if self.range.min is not None and self.value < self.range.min:
            return f"{self.metric} {self.value:.2f} < {self.range.min:g}"
        if self.range.max is not None and self.value > self.range.max:
            return f"{self.metric} {self.value:.2f} > {self.range.max:g}"
        return f"{self.metric} {self.value:.2f} within {self.range.describe()}"


@dataclass(frozen=True)
class Decision:
    status: CanaryStatus
    actions: tuple[Action, ...] = ()
    events: tuple[Event, ...] = ()
    alerts: tuple[Alert, ...] = ()
    checks: tuple[CheckResult, ...] = ()
    """Every metric judged in this tick, passed or not."""
    followups: tuple[RunHooks, ...] = ()
    """Carried out after the status is written (post-rollout webhooks)."""


# Needs -----------------------------------------------------------------------------


@dataclass(frozen=True)
class NeedRoutes:
    """Reconcile the routing objects and read the current weights."""


@dataclass(frozen=True)
class NeedHook:
    """Call one webhook and report its answer."""

    webhook: CanaryWebhook
    phase: Phase


@dataclass(frozen=True)
class NeedMeasurements:
    """Measure these metrics for the canary."""

    metrics: tuple[CanaryMetric, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class NeedCounts:
    """Count requests, errors and latency per side (primary, canary, baseline) over the
    tick's window, for the judge."""


Need = NeedRoutes | NeedHook | NeedMeasurements | NeedCounts
