"""The Canary resource: what to ship, how to route it, how to judge it; and its status.

Field names, meaning and defaults are Flagger's (flagger.app/v1beta1), so a Flagger
manifest loads unchanged. Where coalmine adds a field it says so in its docstring.
"""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator

from coalmine.api.common import (
    Duration,
    LocalObjectReference,
    Model,
    NamespacedReference,
    ObjectMeta,
    parse_duration,
)
from coalmine.api.istio import (
    CorsPolicy,
    Headers,
    HTTPMatchRequest,
    HTTPRetry,
    HTTPRewrite,
    TrafficPolicy,
)

__all__ = [
    "BUILTIN_METRICS",
    "MIN_INTERVAL",
    "AlertSeverity",
    "Canary",
    "CanaryAlert",
    "CanaryAnalysis",
    "CanaryCondition",
    "CanaryMetric",
    "CanaryService",
    "CanarySpec",
    "CanaryStatus",
    "CanaryWebhook",
    "CheckStatus",
    "HookType",
    "MetricsHold",
    "Phase",
    "SessionAffinity",
    "ThresholdRange",
]

MIN_INTERVAL = timedelta(seconds=10)
"""Flagger's floor for analysis.interval. The local runtime may lower it (see `coalmine up`)."""

BUILTIN_METRICS = (
    "request-success-rate",
    "request-duration",
    "error-rate",
    "request-duration-avg",
    "request-duration-max",
)
"""Metric names that need no query: the mesh's built-in checks (see metrics/builtins)."""


class Phase(StrEnum):
    """Where a canary is in its life. Stored in status.phase; names are Flagger's."""

    INITIALIZING = "Initializing"
    """Seen for the first time: the primary is being created and routing set up."""
    INITIALIZED = "Initialized"
    """The primary serves all traffic; the target is scaled to zero; waiting for a revision."""
    WAITING = "Waiting"
    """A new revision waits for its confirm-rollout gate to open."""
    PROGRESSING = "Progressing"
    """The analysis of a new revision is running and traffic is shifting."""
    WAITING_PROMOTION = "WaitingPromotion"
    """The analysis passed; the confirm-promotion gate is closed. Checks go on."""
    PROMOTING = "Promoting"
    """The canary's template was copied to the primary; traffic moves back to it."""
    FINALISING = "Finalising"
    """All traffic is on the primary; the canary is being scaled to zero."""
    SUCCEEDED = "Succeeded"
    """The revision was promoted."""
    FAILED = "Failed"
    """The revision was rolled back: all traffic on the primary, the canary at zero."""
    TERMINATING = "Terminating"
    """The Canary is being deleted and its objects restored."""
    TERMINATED = "Terminated"
    """The Canary's objects were restored; the resource can go."""

    @property
    def is_final(self) -> bool:
        """True where an analysis has ended (a verdict or none to give)."""
        return self in (Phase.INITIALIZED, Phase.SUCCEEDED, Phase.FAILED)


class HookType(StrEnum):
    """When a webhook is called and what its answer does (see engine/decide)."""

    CONFIRM_ROLLOUT = "confirm-rollout"
    """Before a new revision is scaled up; a failure holds it in Waiting."""
    PRE_ROLLOUT = "pre-rollout"
    """Before traffic reaches the canary; a failure counts as a failed check."""
    ROLLOUT = "rollout"
    """At every analysis step, before the metrics; a failure counts as a failed check."""
    CONFIRM_TRAFFIC_INCREASE = "confirm-traffic-increase"
    """Before each weight increase; a failure holds the weight."""
    CONFIRM_PROMOTION = "confirm-promotion"
    """Before promotion; a failure holds in WaitingPromotion while checks continue."""
    POST_ROLLOUT = "post-rollout"
    """After Succeeded or Failed; its answer changes nothing."""
    ROLLBACK = "rollback"
    """During the analysis; a success (2xx) rolls the canary back."""
    EVENT = "event"
    """Receives every event; its answer changes nothing."""


class AlertSeverity(StrEnum):
    INFO = "info"
    WARN = "warn"
    ERROR = "error"


class ThresholdRange(Model):
    min: float | None = None
    max: float | None = None

    @model_validator(mode="after")
    def _ordered(self) -> ThresholdRange:
        if self.min is None and self.max is None:
            raise ValueError("set min, max or both")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min must not exceed max, got min {self.min} > max {self.max}")
        return self

    def describe(self) -> str:
        """The range as people read it: ">= 99", "<= 500", "[1, 5]"."""
        if self.max is None:
            return f">= {self.min:g}"
        if self.min is None:
            return f"<= {self.max:g}"
        return f"[{self.min:g}, {self.max:g}]"


class CanaryMetric(Model):
    name: Annotated[str, Field(min_length=1)]
    interval: Duration | None = None
    """PromQL range of the query; defaults to "1m"."""
    threshold: float | None = None
    """Deprecated in Flagger: a minimum, used when thresholdRange is not set."""
    threshold_range: ThresholdRange | None = None
    query: str | None = None
    template_ref: NamespacedReference | None = None
    template_variables: dict[str, str] | None = None

    @model_validator(mode="after")
    def _one_source(self) -> CanaryMetric:
        if self.query and self.template_ref:
            raise ValueError("set query or templateRef, not both")
        if not self.query and not self.template_ref and self.name not in BUILTIN_METRICS:
            raise ValueError(
                f"metric {self.name!r} needs a query or a templateRef; "
                f"built-in metrics are {', '.join(BUILTIN_METRICS)}"
            )
        if self.threshold_range is None and self.threshold is None:
            raise ValueError("set thresholdRange (min, max or both)")
        return self

    @property
    def range(self) -> ThresholdRange:
        """The accepted range; the deprecated `threshold` is a minimum."""
        if self.threshold_range is not None:
            return self.threshold_range
        return ThresholdRange(min=self.threshold)

    @property
    def interval_or_default(self) -> str:
        return self.interval or "1m"


class CanaryWebhook(Model):
    name: Annotated[str, Field(min_length=1)]
    type: HookType = HookType.ROLLOUT
    url: Annotated[str, Field(pattern=r"^https?://\S+$")]
    timeout: Duration | None = None
    """How long one call may take; default 10s."""
    mute_alert: bool = False
    metadata: dict[str, str] | None = None
    retries: Annotated[int, Field(ge=0)] = 0

    @field_validator("type", mode="before")
    @classmethod
    def _empty_is_rollout(cls, value: object) -> object:
        return HookType.ROLLOUT if value in ("", None) else value

    @property
    def timeout_seconds(self) -> float:
        return parse_duration(self.timeout).total_seconds() if self.timeout else 10.0


class CanaryAlert(Model):
    name: Annotated[str, Field(min_length=1)]
    severity: AlertSeverity = AlertSeverity.INFO
    provider_ref: NamespacedReference


class SessionAffinity(Model):
    cookie_name: str = "flagger-cookie"
    max_age: Annotated[int, Field(ge=1)] = 86400


Percent = Annotated[int, Field(ge=0, le=100)]
PositivePercent = Annotated[int, Field(ge=1, le=100)]


class CanaryAnalysis(Model):
    interval: Duration = "1m"
    threshold: Annotated[int, Field(ge=0)] = 0
    """Failed checks tolerated before rollback; 0 means Flagger's default of 1."""
    max_weight: PositivePercent | None = None
    step_weight: PositivePercent | None = None
    step_weights: list[PositivePercent] | None = None
    step_weight_promotion: PositivePercent | None = None
    iterations: Annotated[int, Field(ge=0)] = 0
    match: list[HTTPMatchRequest] | None = None
    mirror: bool = False
    mirror_weight: Percent | None = None
    primary_ready_threshold: Percent = 100
    canary_ready_threshold: Percent = 100
    metrics: list[CanaryMetric] = Field(default_factory=list)
    webhooks: list[CanaryWebhook] = Field(default_factory=list)
    alerts: list[CanaryAlert] = Field(default_factory=list)
    session_affinity: SessionAffinity | None = None

    @field_validator("interval")
    @classmethod
    def _not_below_floor(cls, value: str, info: ValidationInfo) -> str:
        # Flagger's floor is 10 s. A runtime that measures faster (local mode reads
        # Envoy's stats every second) may pass a lower floor in the validation context.
        floor: timedelta = (info.context or {}).get("min_interval", MIN_INTERVAL)
        if parse_duration(value) < floor:
            raise ValueError(f"must be at least {floor.total_seconds():g}s, got {value!r}")
        return value

    @field_validator("step_weights")
    @classmethod
    def _increasing(cls, value: list[int] | None) -> list[int] | None:
        if value is not None and (not value or any(b <= a for a, b in itertools.pairwise(value))):
            raise ValueError(f"must be increasing and at most 100, got {value}")
        return value

    @model_validator(mode="after")
    def _strategy_is_complete(self) -> CanaryAnalysis:
        if self.step_weight is not None and self.step_weights is not None:
            raise ValueError("set stepWeight or stepWeights, not both")
        if self.match and self.iterations == 0:
            raise ValueError("match (A/B testing) needs iterations")
        if self.iterations == 0 and self.step_weight is None and self.step_weights is None:
            raise ValueError(
                "set stepWeight or stepWeights (canary), or iterations (A/B testing, blue/green)"
            )
        names = [hook.name for hook in self.webhooks]
        if duplicates := sorted({n for n in names if names.count(n) > 1}):
            raise ValueError(f"webhook names must be unique, repeated: {', '.join(duplicates)}")
        metric_names = [metric.name for metric in self.metrics]
        if duplicates := sorted({n for n in metric_names if metric_names.count(n) > 1}):
            raise ValueError(f"metric names must be unique, repeated: {', '.join(duplicates)}")
        return self

    @property
    def interval_seconds(self) -> float:
        return parse_duration(self.interval).total_seconds()

    @property
    def failure_threshold(self) -> int:
        """Failed checks that trigger a rollback (Flagger's GetAnalysisThreshold)."""
        return self.threshold if self.threshold > 0 else 1

    @property
    def effective_max_weight(self) -> int:
        """maxWeight, else the last of stepWeights, else 100 (Flagger's maxWeight())."""
        if self.max_weight is not None:
            return self.max_weight
        if self.step_weights:
            return self.step_weights[-1]
        return 100

    @property
    def strategy(self) -> Literal["canary", "ab", "bluegreen"]:
        if self.iterations > 0:
            return "ab" if self.match else "bluegreen"
        return "canary"


class CanaryService(Model):
    name: str | None = None
    port: Annotated[int, Field(ge=1, le=65535)]
    port_name: str | None = None
    target_port: int | str | None = None
    app_protocol: str | None = None
    port_discovery: bool = False
    timeout: Duration | None = None
    gateways: list[str] | None = None
    hosts: list[str] | None = None
    traffic_policy: TrafficPolicy | None = None
    match: list[HTTPMatchRequest] | None = None
    rewrite: HTTPRewrite | None = None
    retries: HTTPRetry | None = None
    headers: Headers | None = None
    cors_policy: CorsPolicy | None = None


class CanarySpec(Model):
    provider: Literal["istio", "envoy"] | None = None
    """The mesh whose built-in checks apply: istio (the only one in Kubernetes), or envoy
    (the local runtime's data plane). Local mode measures any Canary on its Envoy."""
    metrics_server: str | None = None
    target_ref: LocalObjectReference
    autoscaler_ref: LocalObjectReference | None = None
    service: CanaryService
    analysis: CanaryAnalysis
    progress_deadline_seconds: Annotated[int, Field(ge=1)] = 600
    skip_analysis: bool = False
    revert_on_deletion: bool = False
    suspend: bool = False

    @field_validator("target_ref")
    @classmethod
    def _deployment_only(cls, value: LocalObjectReference) -> LocalObjectReference:
        if value.kind not in (None, "Deployment"):
            raise ValueError(f"kind must be Deployment, got {value.kind!r}")
        return value


class CanaryCondition(Model):
    type: Literal["Promoted"] = "Promoted"
    status: Literal["True", "False", "Unknown"]
    last_update_time: datetime | None = None
    last_transition_time: datetime | None = None
    reason: str = ""
    message: str = ""


class CheckStatus(Model):
    """coalmine addition: the last value one metric had against its range."""

    name: str
    value: float | None = None
    min: float | None = None
    max: float | None = None
    passed: bool
    reason: str = ""
    time: datetime | None = None


class MetricsHold(Model):
    """coalmine addition: why the analysis holds, neither passing nor failing a check."""

    kind: Literal["outage", "waiting"]
    """outage: the metrics source is down; waiting: not enough data yet."""
    source: str
    """The source: "Prometheus at http://...", "Envoy stats of cluster ...", "analysis"."""
    reason: str = ""
    since: datetime
    """When this hold began; an outage longer than progressDeadlineSeconds rolls back."""


class CanaryStatus(Model):
    """Everything the engine carries from one tick to the next."""

    phase: Phase | None = None
    failed_checks: int = 0
    canary_weight: int = 0
    iterations: int = 0
    last_applied_spec: str | None = None
    """Revision (pod template hash) of the target that the current analysis is about."""
    last_promoted_spec: str | None = None
    """Revision that the primary runs."""
    last_transition_time: datetime | None = None
    conditions: list[CanaryCondition] = Field(default_factory=list)
    tracked_configs: dict[str, str] | None = None
    session_affinity_cookie: str | None = None
    previous_session_affinity_cookie: str | None = None
    analysis_start_time: datetime | None = None
    """coalmine addition: when the analysis of lastAppliedSpec began."""
    checks: list[CheckStatus] = Field(default_factory=list)
    """coalmine addition: the latest value of each metric, from the last analysis tick."""
    handled_request: str | None = None
    """coalmine addition: id of the last manual request (promote, abort) acted upon."""
    metrics_hold: MetricsHold | None = None
    """coalmine addition: the analysis holds for its metrics source (down, or too young)."""

    @property
    def promoted(self) -> CanaryCondition | None:
        return next((c for c in self.conditions if c.type == "Promoted"), None)


class Canary(Model):
    api_version: str
    kind: Literal["Canary"] = "Canary"
    metadata: ObjectMeta
    spec: CanarySpec
    status: CanaryStatus = Field(default_factory=CanaryStatus)

    @property
    def name(self) -> str:
        return self.metadata.name

    @property
    def namespace(self) -> str:
        return self.metadata.namespace

    @property
    def key(self) -> str:
        """name.namespace, as Flagger names a canary in its events."""
        return f"{self.metadata.name}.{self.metadata.namespace}"

    @property
    def target_key(self) -> str:
        return f"{self.spec.target_ref.name}.{self.metadata.namespace}"

    @property
    def primary_name(self) -> str:
        return f"{self.spec.target_ref.name}-primary"

    def with_status(self, status: CanaryStatus) -> Canary:
        return self.model_copy(update={"status": status})
