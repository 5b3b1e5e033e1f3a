"""What the engine sees of the world in one tick: plain values gathered through the ports."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum

from coalmine.judge.observations import TickObservation

__all__ = [
    "HookResult",
    "Measurement",
    "MeasurementKind",
    "Observations",
    "Routes",
    "WorkloadState",
]


@dataclass(frozen=True)
class WorkloadState:
    """One Deployment (the target or the primary) as its platform reports it.

    The counts mean what they mean in a Kubernetes Deployment status; the local
    runtime reports its processes in the same terms.
    """

    revision: str
    """Hash of the pod template: a new one is a new revision."""
    replicas: int
    """Desired replicas (spec.replicas)."""
    updated: int
    """Replicas running the current template."""
    available: int
    """Updated replicas that are ready."""
    total: int | None = None
    """All replicas, old ones pending termination included; None means equal to `updated`."""
    settled: bool = True
    """The platform has seen the latest spec (observedGeneration caught up)."""
    unavailable_since: datetime | None = None
    """When it last stopped having its minimum of available replicas, if it has not now."""
    deadline_exceeded: bool = False
    """The platform itself declared the rollout stuck (Kubernetes ProgressDeadlineExceeded)."""
    configs: Mapping[str, str] = field(default_factory=dict, hash=False)
    """The target's tracked ConfigMaps and Secrets (`configmap/<name>`, `secret/<name>`) and
    their checksums, whose content `revision` covers: the status's `trackedConfigs`,
    written with `lastAppliedSpec` (Flagger's SyncStatus)."""


@dataclass(frozen=True)
class Routes:
    """How traffic is split between primary, canary (and baseline), in percent."""

    primary: int
    canary: int
    mirrored: bool = False
    """A copy of the primary's traffic also goes to the canary (its answers are dropped)."""
    baseline: int = 0
    """With judge.baseline: the share of `<target>-baseline`, equal to the canary's."""

    @classmethod
    def all_primary(cls) -> Routes:
        return cls(primary=100, canary=0)

    @classmethod
    def weighted(cls, canary: int, *, baseline: bool) -> Routes:
        """The canary at `canary`, the baseline (when there is one) as much, the rest to
        the primary."""
        other = canary if baseline else 0
        return cls(primary=100 - canary - other, canary=canary, baseline=other)


@dataclass(frozen=True)
class HookResult:
    ok: bool
    message: str = ""


class MeasurementKind(StrEnum):
    """What a measurement says about the release. Only VALUE and NO_DATA judge it."""

    VALUE = "value"
    """A number, judged against the metric's range."""
    NO_DATA = "no data"
    """The source answered and has nothing usable (no requests, NaN, a PromQL error, an
    unknown cluster): a failed check, as in Flagger."""
    WAITING = "waiting"
    """Not enough data yet: the window reaches back before the source (Envoy's counters,
    a Prometheus) started. Neither pass nor fail: the analysis holds until it has it."""
    OUTAGE = "outage"
    """The source itself is down (unreachable, 5xx, timeout, an answer that is not its
    API's). Neither pass nor fail: the analysis holds, up to the progress deadline."""


@dataclass(frozen=True)
class Measurement:
    """One metric's value for the canary, or why there is none.

    "No data" is never a pass: an empty result, NaN, infinity or an error all
    leave `value` as None and say why in `reason`. A source that is down (`outage`) or
    too young for the window (`waiting`) is not evidence about the release either way.
    """

    value: float | None
    reason: str = ""
    query: str = ""
    kind: MeasurementKind | None = None
    """VALUE or NO_DATA when left out, from `value`."""
    source: str = ""
    """The source that is down or too young ("Prometheus at http://..."), for messages."""
    since: datetime | None = None
    """WAITING: the time from which the source has data."""

    def __post_init__(self) -> None:
        if self.kind is None:
            kind = MeasurementKind.NO_DATA if self.value is None else MeasurementKind.VALUE
            object.__setattr__(self, "kind", kind)

    @property
    def judged(self) -> bool:
        """Evidence about the release: a value, or "no data" from a working source."""
        return self.kind in (MeasurementKind.VALUE, MeasurementKind.NO_DATA)

    @classmethod
    def of(cls, value: float, query: str = "") -> Measurement:
        if math.isnan(value):
            return cls(None, "the query returned NaN", query)
        if math.isinf(value):
            return cls(None, "the query returned infinity", query)
        return cls(value, "", query)

    @classmethod
    def no_data(cls, reason: str, query: str = "") -> Measurement:
        return cls(None, reason, query)

    @classmethod
    def outage(cls, source: str, reason: str, query: str = "") -> Measurement:
        return cls(None, reason, query, MeasurementKind.OUTAGE, source)

    @classmethod
    def waiting(cls, source: str, since: datetime, reason: str, query: str = "") -> Measurement:
        return cls(None, reason, query, MeasurementKind.WAITING, source, since)


@dataclass(frozen=True)
class Observations:
    """Everything a decision may look at. Filled in as the decision asks (see `Need`)."""

    target: WorkloadState | None
    """None when the target Deployment does not exist."""
    primary: WorkloadState | None
    """None when the primary has not been created (or was deleted)."""
    routes: Routes | None = None
    hooks: Mapping[str, HookResult] = field(default_factory=dict)
    """Answers of the webhooks called in this tick, by webhook name."""
    measurements: Mapping[str, Measurement] | None = None
    """Metric values for this tick, by metric name; None until asked for."""
    counts: TickObservation | str | None = None
    """Per-side requests, errors and latency histograms over this tick's window, for the
    judge; a string says why there are none; None until asked for."""
    baseline: WorkloadState | None = None
    """With judge.baseline: `<target>-baseline`; None when it does not exist (or no baseline)."""

    def with_routes(self, routes: Routes) -> Observations:
        return replace(self, routes=routes)

    def with_hook(self, name: str, result: HookResult) -> Observations:
        return replace(self, hooks={**self.hooks, name: result})

    def with_counts(self, counts: TickObservation | str) -> Observations:
        return replace(self, counts=counts)

    def with_measurements(self, measurements: Mapping[str, Measurement]) -> Observations:
        return replace(self, measurements=dict(measurements))
