"""The Canary resource: what to ship, how to route it, how to judge it; and its status.

Field names, meaning and defaults are Flagger's (flagger.app/v1beta1), so a Flagger
manifest loads unchanged. Where coalmine adds a field it says so in its docstring.
"""

from __future__ import annotations

import itertools
import re
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Literal, TypeVar

from pydantic import Field, field_validator, model_validator

from coalmine.api.common import (
    Duration,
    LocalObjectReference,
    Model,
    NamespacedReference,
    ObjectMeta,
    parse_duration,
)
from coalmine.api.gatewayapi import HTTPRequestMirrorFilter, ParentReference
from coalmine.api.istio import (
    CorsPolicy,
    Headers,
    HTTPMatchRequest,
    HTTPRetry,
    HTTPRewrite,
    TrafficPolicy,
)
from coalmine.api.judge import JudgeSpec, JudgeStatus

__all__ = [
    "BLUE_GREEN_ONLY",
    "BUILTIN_METRICS",
    "GATEWAY_API_PROVIDERS",
    "SUPPORTED_PROVIDERS",
    "UNSUPPORTED",
    "AlertSeverity",
    "AutoscalerReference",
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
    "CustomMetadata",
    "HookType",
    "MetricsHold",
    "Phase",
    "ScalerReplicas",
    "SessionAffinity",
    "ThresholdRange",
    "UnmanagedMetadata",
    "blue_green_only_problems",
    "gateway_api_problems",
    "unsupported_provider",
]

_M = TypeVar("_M", bound=Model)

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
    """Deprecated in Flagger, used when thresholdRange is not set: a minimum for the
    built-in request-success-rate, a maximum for everything else (request-duration in
    milliseconds, a `query`, a `templateRef`), as Flagger's scheduler_metrics.go reads it."""
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
        """The accepted range: thresholdRange, else the legacy `threshold` as Flagger reads it.

        Flagger compares the legacy threshold as a minimum only for the built-in success
        rate (higher is better); the built-in duration, inline queries and templates are
        compared against it as a maximum (lower is better). coalmine's own built-ins
        (error-rate, request-duration-avg, request-duration-max) are lower-is-better too.
        """
        if self.threshold_range is not None:
            return self.threshold_range
        if self.is_builtin and self.name == "request-success-rate":
            return ThresholdRange(min=self.threshold)
        return ThresholdRange(max=self.threshold)

    @property
    def is_builtin(self) -> bool:
        """Measured by the mesh's built-in query (no query, no templateRef)."""
        return not self.query and self.template_ref is None

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
    disable_tls: bool = Field(default=False, alias="disableTLS")
    """Do not verify the webhook server's TLS certificate (Flagger's disableTLS)."""

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
    """Flagger's cookie-based session affinity during a canary analysis (see
    routing.session_affinity); the attributes go into the Set-Cookie header."""

    cookie_name: str = "flagger-cookie"
    primary_cookie_name: str | None = None
    max_age: Annotated[int, Field(ge=0)] = 86400
    """Seconds the cookie lives; 0 means the default, a day (Flagger's GetMaxAge)."""
    domain: str | None = None
    path: str | None = None
    same_site: Literal["Strict", "Lax", "None"] | None = None
    http_only: bool | None = None
    partitioned: bool | None = None
    secure: bool | None = None

    @property
    def max_age_seconds(self) -> int:
        return self.max_age or 86400


GATEWAY_API_PROVIDERS = ("gatewayapi", "gatewayapi:v1", "gatewayapi:v1beta1")
"""The names of the Gateway API router: Flagger's `gatewayapi:v1` and `gatewayapi:v1beta1`
(its CRD's enum) and plain `gatewayapi`; each writes a gateway.networking.k8s.io/v1
HTTPRoute, which a cluster with Gateway API 1.0 or later serves."""

SUPPORTED_PROVIDERS = ("istio", "kubernetes", *GATEWAY_API_PROVIDERS, "envoy")
"""spec.provider values coalmine runs: istio, kubernetes and gatewayapi (Kubernetes),
envoy (the local runtime)."""


def unsupported_provider(value: str) -> str:
    """The one message for every provider coalmine does not run."""
    return (
        f"provider {value!r} is not supported; supported providers: "
        f"{', '.join(SUPPORTED_PROVIDERS)}"
    )


BLUE_GREEN_ONLY: dict[str, str] = {
    "stepWeight": "splits traffic by weight",
    "stepWeights": "splits traffic by weight",
    "maxWeight": "splits traffic by weight",
    "stepWeightPromotion": "splits traffic by weight",
    "match": "routes by header or cookie (A/B testing)",
    "mirror": "copies traffic to the canary",
    "mirrorWeight": "copies traffic to the canary",
    "sessionAffinity": "pins users to the canary by cookie",
}
"""analysis fields the kubernetes provider cannot honour, and what they need that a
Service selector cannot do."""


def blue_green_only_problems(analysis: CanaryAnalysis) -> list[str]:
    """Why the kubernetes provider (a Service selector, no mesh) cannot run `analysis`:
    one sentence per field, each naming it and the fix. Empty when it can (the model
    already asks for iterations when there is no stepWeight)."""
    fields = {info.alias or name: name for name, info in type(analysis).model_fields.items()}
    given = [key for key in BLUE_GREEN_ONLY if getattr(analysis, fields[key]) not in (None, False)]
    return [
        f"analysis.{key} {BLUE_GREEN_ONLY[key]}, which the kubernetes provider cannot do "
        "(it only switches the apex Service's selector): remove it and use "
        "analysis.iterations (blue/green), or another provider"
        for key in given
    ]


_GATEWAY_HOSTNAME = re.compile(
    r"^(\*\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
)
_GATEWAY_DURATION = re.compile(r"^([0-9]{1,5}(h|m|s|ms)){1,4}$")
_GATEWAY_MATCH_FIELDS = {"uri", "method", "headers", "query_params"}


def gateway_api_problems(spec: CanarySpec) -> list[str]:
    """Why the gatewayapi provider (an HTTPRoute) cannot carry `spec`: one sentence per
    field, each naming it and the fix. Empty when it can. Flagger fails the same Canaries
    at its router's first reconcile (pkg/router/gateway_api.go)."""
    service = spec.service
    problems = []
    if not service.gateway_refs:
        problems.append(
            "service.gatewayRefs is required with provider gatewayapi: name the Gateway(s) "
            "the HTTPRoute attaches to"
        )
    for host in service.hosts or []:
        if len(host) > 253 or not _GATEWAY_HOSTNAME.match(host):
            problems.append(
                f"service.hosts {host!r} is not a Gateway API hostname (lowercase DNS name, "
                "optionally starting with '*.'): fix it, or remove it to match every host"
            )
    for field, value in (("timeout", service.timeout), ("backendTimeout", service.backend_timeout)):
        if value is not None and not _GATEWAY_DURATION.match(value):
            problems.append(
                f"service.{field} {value!r} is not a Gateway API duration: write it as "
                '"10s", "500ms" or "1m30s"'
            )
    for where, matches in (
        ("service.match", service.match),
        ("analysis.match", spec.analysis.match),
    ):
        for index, match in enumerate(matches or []):
            problems += _gateway_match_problems(f"{where}[{index}]", match)
    problems += _prefix_rewrite_problems(spec)
    return problems


def _prefix_rewrite_problems(spec: CanarySpec) -> list[str]:
    """The Gateway API's rule (a CEL rule of its CRD): a URLRewrite of type
    ReplacePrefixMatch needs its rule to have exactly one match, a PathPrefix one."""
    rewrite, service = spec.service.rewrite, spec.service
    if rewrite is None or not rewrite.uri or rewrite.type == "ReplaceFullPath":
        return []
    matches = service.match or []
    if len(matches) > 1 or any(m.uri is None or m.uri.prefix is None for m in matches):
        return [
            "service.rewrite.uri replaces the path prefix, which the Gateway API allows only "
            "on a rule with one match, a uri prefix: give service.match one uri prefix (or "
            "none), or set rewrite.type: ReplaceFullPath"
        ]
    if len(spec.analysis.match or []) > 1:
        return [
            "service.rewrite.uri replaces the path prefix, which the Gateway API allows only "
            "on a rule with one match, and analysis.match makes one per condition: keep one "
            "A/B condition, or set rewrite.type: ReplaceFullPath"
        ]
    return []


def _gateway_match_problems(where: str, match: HTTPMatchRequest) -> list[str]:
    """What an HTTPRouteMatch cannot say of an Istio match (Flagger's mapRouteMatches)."""
    fields = {info.alias or name: name for name, info in HTTPMatchRequest.model_fields.items()}
    problems = [
        f"{where}.{alias} cannot be expressed in an HTTPRoute match: remove it (the Gateway "
        "API matches uri, method, headers and queryParams)"
        for alias, name in fields.items()
        if name not in _GATEWAY_MATCH_FIELDS and getattr(match, name) is not None
    ]
    if match.uri is not None and match.uri.suffix is not None:
        problems.append(f"{where}.uri: use exact, prefix or regex (no suffix in the Gateway API)")
    if match.method is not None and match.method.exact is None:
        problems.append(f"{where}.method: use exact (the Gateway API matches one method)")
    for kind, named in (("headers", match.headers), ("queryParams", match.query_params)):
        for name, value in (named or {}).items():
            if value.exact is None and value.regex is None:
                problems.append(
                    f"{where}.{kind}.{name}: use exact or regex (the Gateway API has no "
                    "prefix or suffix match)"
                )
    return problems


UNSUPPORTED: dict[str, dict[str, str]] = {
    "CanarySpec": {
        "ingressRef": "is for Flagger's nginx provider, which coalmine does not support",
        "routeRef": "is for Flagger's apisix provider, which coalmine does not support",
        "upstreamRef": "is for Flagger's gloo provider, which coalmine does not support",
    },
    "CanaryService": {
        "meshName": "is for Flagger's appmesh provider, which coalmine does not support",
        "backends": "is for Flagger's appmesh provider, which coalmine does not support",
    },
    "AutoscalerReference": {
        "primaryScalerQueries": ("is for KEDA ScaledObjects, which coalmine does not support yet"),
    },
}
"""Fields of Flagger's Canary CRD that coalmine knows but refuses, by model and YAML name,
with why; `kube.install.refinements` turns each into a CEL rule, so the API server refuses them
with the same message."""


def refuse_unsupported(model: _M) -> _M:
    """Raise naming every field of `model` that is set but listed in UNSUPPORTED."""
    reasons = UNSUPPORTED.get(type(model).__name__, {})
    fields = {info.alias or name: name for name, info in type(model).model_fields.items()}
    given = [key for key in reasons if getattr(model, fields[key]) is not None]
    if given:
        raise ValueError("; ".join(f"{key} {reasons[key]}: remove it" for key in given))
    return model


Percent = Annotated[int, Field(ge=0, le=100)]
PositivePercent = Annotated[int, Field(ge=1, le=100)]


class CanaryAnalysis(Model):
    # Any duration: the runtime's floor (--min-interval) is checked where a Canary is
    # admitted, with that runtime's own floor (api.interval_floor), not by the model.
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
    judge: JudgeSpec | None = None
    """coalmine addition (coalmine.dev only): compare the canary with the primary at every
    tick with a sequential test (see docs/judge.md)."""

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

    @model_validator(mode="after")
    def _judge_sees_canary_traffic(self) -> CanaryAnalysis:
        if self.judge is not None and self.strategy == "bluegreen" and not self.mirror:
            raise ValueError(
                "judge compares the canary's traffic with the primary's, and blue/green "
                "without mirror sends the canary none during the analysis: set mirror: true, "
                "or remove judge"
            )
        if self.judge is not None and self.judge.baseline and self.strategy != "canary":
            raise ValueError(
                "judge.baseline gives the baseline the canary's weight, and A/B testing and "
                "blue/green have no weights to share: use stepWeight/stepWeights, or remove "
                "judge.baseline"
            )
        if self.judge is not None and self.judge.baseline and self.mirror:
            raise ValueError(
                "judge.baseline needs the canary's own traffic, not a mirror of the primary's: "
                "remove mirror, or remove judge.baseline"
            )
        if self.judge is not None and self.judge.baseline and self.session_affinity:
            raise ValueError(
                "judge.baseline needs the canary and the baseline equally loaded, and session "
                "affinity keeps sending its users to the canary: remove sessionAffinity, or "
                "remove judge.baseline"
            )
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
        """maxWeight, else the last of stepWeights, else 100 (Flagger's maxWeight()); with
        judge.baseline at most 50, since the baseline gets as much as the canary."""
        ceiling = BASELINE_MAX_WEIGHT if self.judge is not None and self.judge.baseline else 100
        if self.max_weight is not None:
            return min(self.max_weight, ceiling)
        if self.step_weights:
            return min(self.step_weights[-1], ceiling)
        return ceiling

    @property
    def strategy(self) -> Literal["canary", "ab", "bluegreen"]:
        if self.iterations > 0:
            return "ab" if self.match else "bluegreen"
        return "canary"


BASELINE_MAX_WEIGHT = 50
"""With judge.baseline the baseline takes as much traffic as the canary: 2 w <= 100."""


class ScalerReplicas(Model):
    min_replicas: Annotated[int, Field(ge=1)] | None = None
    max_replicas: Annotated[int, Field(ge=1)] | None = None


class AutoscalerReference(Model):
    """The target's HorizontalPodAutoscaler, copied for the primary as `<name>-primary`."""

    api_version: str | None = None
    kind: str | None = None
    name: Annotated[str, Field(min_length=1)]
    primary_scaler_replicas: ScalerReplicas | None = None
    """minReplicas/maxReplicas of the primary's copy instead of the original's."""
    primary_scaler_queries: dict[str, str] | None = None
    """KEDA ScaledObject only; refused (see UNSUPPORTED)."""

    @field_validator("kind")
    @classmethod
    def _hpa_only(cls, value: str | None) -> str | None:
        if value not in (None, "HorizontalPodAutoscaler"):
            raise ValueError(
                f"kind {value!r} is not supported yet: coalmine copies "
                "HorizontalPodAutoscalers only (KEDA ScaledObjects are not implemented); "
                "use kind: HorizontalPodAutoscaler"
            )
        return value

    @model_validator(mode="after")
    def _refuse_unsupported(self) -> AutoscalerReference:
        return refuse_unsupported(self)


class CustomMetadata(Model):
    """Labels and annotations for one of the Services coalmine generates."""

    labels: dict[str, str] | None = None
    annotations: dict[str, str] | None = None


class UnmanagedMetadata(Model):
    """Label and annotation keys of the generated Services that coalmine leaves alone."""

    labels: list[str] | None = None
    annotations: list[str] | None = None


class CanaryService(Model):
    name: str | None = None
    port: Annotated[int, Field(ge=1, le=65535)]
    port_name: str | None = None
    target_port: int | str | None = None
    app_protocol: str | None = None
    traffic_distribution: Literal["PreferClose", "PreferSameZone", "PreferSameNode"] | None = None
    """spec.trafficDistribution of the three generated Services."""
    port_discovery: bool = False
    headless: bool = False
    """The -primary and -canary Services are headless (clusterIP: None, set when created)."""
    timeout: Duration | None = None
    backend_timeout: str | None = None
    """Gateway API only: the HTTPRoute rule's timeouts.backendRequest."""
    mesh_name: str | None = None
    """App Mesh only; refused (see UNSUPPORTED)."""
    backends: list[str] | None = None
    """App Mesh only; refused (see UNSUPPORTED)."""
    gateways: list[str] | None = None
    gateway_refs: list[ParentReference] | None = None
    """Gateway API only: the parentRefs of the HTTPRoute (required with gatewayapi)."""
    hosts: list[str] | None = None
    delegation: bool = False
    """The VirtualService is an Istio delegate: no hosts, no gateways."""
    traffic_policy: TrafficPolicy | None = None
    match: list[HTTPMatchRequest] | None = None
    rewrite: HTTPRewrite | None = None
    retries: HTTPRetry | None = None
    headers: Headers | None = None
    mirror: list[HTTPRequestMirrorFilter] | None = None
    """Gateway API only: RequestMirror filters of the HTTPRoute's rules."""
    cors_policy: CorsPolicy | None = None
    apex: CustomMetadata | None = None
    """Labels and annotations of the apex Service (`<service>`)."""
    primary: CustomMetadata | None = None
    """Labels and annotations of the `<service>-primary` Service."""
    canary: CustomMetadata | None = None
    """Labels and annotations of the `<service>-canary` Service."""
    unmanaged_metadata: UnmanagedMetadata | None = None
    """Keys coalmine never writes; it only ever writes the keys of apex/primary/canary."""

    @model_validator(mode="after")
    def _refuse_unsupported(self) -> CanaryService:
        return refuse_unsupported(self)

    @model_validator(mode="after")
    def _delegate_has_no_hosts(self) -> CanaryService:
        if self.delegation and (self.hosts or self.gateways):
            raise ValueError(
                "a delegate VirtualService (delegation: true) cannot have hosts or gateways;"
                " remove them, the root VirtualService carries them"
            )
        return self


class CanarySpec(Model):
    provider: str | None = None
    """The router, and whose telemetry the built-in checks read: istio, kubernetes
    (blue/green by the apex Service's selector; the checks read the application's own
    http_request_duration_seconds, as Flagger's) or gatewayapi (also gatewayapi:v1 and
    gatewayapi:v1beta1: an HTTPRoute on service.gatewayRefs; Istio's checks, as
    Flagger's) in Kubernetes, or envoy (the local runtime's data plane). Local mode
    measures any Canary on its Envoy. Flagger's other providers are refused with the
    list of supported ones."""
    metrics_server: str | None = None
    target_ref: LocalObjectReference
    autoscaler_ref: AutoscalerReference | None = None
    ingress_ref: LocalObjectReference | None = None
    """Flagger's NGINX ingress; refused (see UNSUPPORTED)."""
    route_ref: LocalObjectReference | None = None
    """Flagger's APISIX route; refused (see UNSUPPORTED)."""
    upstream_ref: NamespacedReference | None = None
    """Flagger's Gloo upstream; refused (see UNSUPPORTED)."""
    service: CanaryService
    analysis: CanaryAnalysis
    progress_deadline_seconds: Annotated[int, Field(ge=1)] = 600
    skip_analysis: bool = False
    revert_on_deletion: bool = False
    suspend: bool = False

    @field_validator("provider")
    @classmethod
    def _supported_provider(cls, value: str | None) -> str | None:
        if value is not None and value not in SUPPORTED_PROVIDERS:
            raise ValueError(unsupported_provider(value))
        return value

    @field_validator("target_ref")
    @classmethod
    def _deployment_only(cls, value: LocalObjectReference) -> LocalObjectReference:
        if value.kind not in (None, "Deployment"):
            raise ValueError(
                f"kind {value.kind!r} is not supported yet: coalmine ships Deployments only "
                "(DaemonSet and Service targets are not implemented); use kind: Deployment"
            )
        return value

    @model_validator(mode="after")
    def _refuse_unsupported(self) -> CanarySpec:
        return refuse_unsupported(self)

    @model_validator(mode="after")
    def _gateway_api_can_route(self) -> CanarySpec:
        if self.provider in GATEWAY_API_PROVIDERS:
            problems = gateway_api_problems(self)
            if problems:
                raise ValueError("; ".join(problems))
        return self

    @model_validator(mode="after")
    def _kubernetes_is_blue_green(self) -> CanarySpec:
        if self.provider == "kubernetes":
            problems = blue_green_only_problems(self.analysis)
            if problems:
                raise ValueError("; ".join(problems))
        return self


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
    last_tracked_revision: str | None = None
    """Flagger's; read and kept, not used."""
    session_affinity_cookie: str | None = None
    """Session affinity cookie (`name=value`) of the current canary run, set while the
    canary weight is above 0 (Flagger's meaning; see routing.session_affinity)."""
    primary_session_affinity_cookie: str | None = None
    """Primary session affinity cookie of the current canary run (with primaryCookieName)."""
    previous_session_affinity_cookie: str | None = None
    """Session affinity cookie of the previous canary run, expired for its holders."""
    analysis_start_time: datetime | None = None
    """coalmine addition: when the analysis of lastAppliedSpec began."""
    checks: list[CheckStatus] = Field(default_factory=list)
    """coalmine addition: the latest value of each metric, from the last analysis tick."""
    handled_request: str | None = None
    """coalmine addition: id of the last manual request (promote, abort) acted upon."""
    judge: JudgeStatus | None = None
    """coalmine addition: the judge's evidence and last verdict per check."""
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

    @model_validator(mode="after")
    def _judge_is_coalmine_only(self) -> Canary:
        if self.spec.analysis.judge is not None and self.api_version.startswith("flagger.app/"):
            raise ValueError(
                "spec.analysis.judge is a coalmine addition: use apiVersion "
                "coalmine.dev/v1beta1, or remove the judge and keep thresholds"
            )
        return self

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

    @property
    def baseline_name(self) -> str:
        """judge.baseline's Deployment: the primary's revision, given the canary's share."""
        return f"{self.spec.target_ref.name}-baseline"

    def with_status(self, status: CanaryStatus) -> Canary:
        return self.model_copy(update={"status": status})
