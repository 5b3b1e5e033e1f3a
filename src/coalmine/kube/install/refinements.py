"""What the API server must check beyond what pydantic's JSON schema says.

pydantic turns field types and `Field(...)` constraints into JSON schema by itself. The
checks written as Python validators in `coalmine.api` are invisible to it; each of them
is restated here, next to the name of the validator it mirrors, as a structural-schema
keyword or a CEL rule (`x-kubernetes-validations`). `tests/kube/install/test_refinements.py`
runs every rule against manifests the models accept and reject, so a rule that drifts
from its validator fails a test.

Lists that hold CEL rules carry a `maxItems`: the API server estimates the cost of a
rule times the largest number of times it can run, and refuses a CRD whose estimate is
unbounded.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from coalmine.api.alert_provider import AlertProviderSpec
from coalmine.api.canary import (
    BUILTIN_METRICS,
    GATEWAY_API_PROVIDERS,
    SUPPORTED_PROVIDERS,
    UNSUPPORTED,
    AutoscalerReference,
    CanaryAnalysis,
    CanaryMetric,
    CanaryService,
    CanarySpec,
    CanaryWebhook,
    HookType,
    ThresholdRange,
    unsupported_provider,
)
from coalmine.api.common import Model
from coalmine.api.istio import StringMatch

__all__ = ["FIELD_SCHEMA", "MODEL_RULES", "MODEL_SCHEMA", "Rule"]


@dataclass(frozen=True)
class Rule:
    """One CEL validation rule; `message` is what `kubectl apply` prints when it fails."""

    rule: str
    message: str

    def to_schema(self) -> dict[str, str]:
        return {"rule": self.rule, "message": self.message}


def _quoted(names: tuple[str, ...]) -> str:
    return ", ".join(f"'{name}'" for name in names)


MAX_LIST_ITEMS = 100
"""Bound on lists whose items carry CEL rules (see the module docstring)."""


def _unsupported(model: type[Model]) -> tuple[Rule, ...]:
    """refuse_unsupported, one rule per field of UNSUPPORTED."""
    reasons = UNSUPPORTED.get(model.__name__, {})
    return tuple(
        Rule(f"!has(self.{key})", f"{key} {why}: remove it") for key, why in reasons.items()
    )


MODEL_RULES: Mapping[type[Model], tuple[Rule, ...]] = {
    # ThresholdRange._ordered
    ThresholdRange: (
        Rule("has(self.min) || has(self.max)", "set min, max or both"),
        Rule(
            "!has(self.min) || !has(self.max) || self.min <= self.max",
            "min must not exceed max",
        ),
    ),
    # CanaryMetric._one_source
    CanaryMetric: (
        Rule(
            "!(has(self.query) && size(self.query) > 0 && has(self.templateRef))",
            "set query or templateRef, not both",
        ),
        Rule(
            "(has(self.query) && size(self.query) > 0) || has(self.templateRef)"
            f" || self.name in [{_quoted(BUILTIN_METRICS)}]",
            "a metric needs a query or a templateRef; built-in metrics are "
            + ", ".join(BUILTIN_METRICS),
        ),
        Rule(
            "has(self.thresholdRange) || has(self.threshold)",
            "set thresholdRange (min, max or both)",
        ),
    ),
    # CanaryAnalysis._strategy_is_complete (unique names: see FIELD_SCHEMA)
    CanaryAnalysis: (
        Rule(
            "!(has(self.stepWeight) && has(self.stepWeights))",
            "set stepWeight or stepWeights, not both",
        ),
        Rule(
            "!has(self.match) || size(self.match) == 0"
            " || (has(self.iterations) && self.iterations > 0)",
            "match (A/B testing) needs iterations",
        ),
        Rule(
            "(has(self.iterations) && self.iterations > 0)"
            " || has(self.stepWeight) || has(self.stepWeights)",
            "set stepWeight or stepWeights (canary), or iterations (A/B testing, blue/green)",
        ),
    ),
    # CanarySpec._supported_provider and refuse_unsupported
    CanarySpec: (
        Rule(
            f"!has(self.provider) || self.provider in [{_quoted(SUPPORTED_PROVIDERS)}]",
            unsupported_provider("<provider>"),
        ),
        # CanarySpec._gateway_api_can_route, its first sentence (the others need regexes
        # over lists, beyond what the API server's CEL cost budget allows)
        Rule(
            f"!has(self.provider) || !(self.provider in [{_quoted(GATEWAY_API_PROVIDERS)}])"
            " || (has(self.service.gatewayRefs) && size(self.service.gatewayRefs) > 0)",
            "service.gatewayRefs is required with provider gatewayapi: name the Gateway(s) "
            "the HTTPRoute attaches to",
        ),
        *_unsupported(CanarySpec),
    ),
    # CanaryService.refuse_unsupported and _delegate_has_no_hosts
    CanaryService: (
        *_unsupported(CanaryService),
        Rule(
            "!has(self.delegation) || !self.delegation"
            " || ((!has(self.hosts) || size(self.hosts) == 0)"
            " && (!has(self.gateways) || size(self.gateways) == 0))",
            "a delegate VirtualService (delegation: true) cannot have hosts or gateways",
        ),
    ),
    # AutoscalerReference.refuse_unsupported
    AutoscalerReference: _unsupported(AutoscalerReference),
    # AlertProviderSpec._has_address
    AlertProviderSpec: (
        Rule(
            "(has(self.address) && size(self.address) > 0) || has(self.secretRef)",
            "set address or secretRef",
        ),
    ),
}
"""CEL rules on the object schema of a model, wherever that model appears."""

MODEL_SCHEMA: Mapping[type[Model], Mapping[str, Any]] = {
    # StringMatch._one_kind: a value validation, so it costs no CEL budget in the
    # header maps, which may hold any number of entries.
    StringMatch: {
        "oneOf": [
            {"required": ["exact"]},
            {"required": ["prefix"]},
            {"required": ["suffix"]},
            {"required": ["regex"]},
        ]
    },
}
"""Structural-schema keywords added to the object schema of a model."""

FIELD_SCHEMA: Mapping[tuple[type[Model], str], Mapping[str, Any]] = {
    # The interval floor has no rule here: it is the controller's --min-interval (as in
    # Flagger; api.interval_floor), so the CRD checks only a duration's syntax (its
    # pattern). A CEL `duration(self)` would also fail with a raw type-conversion error
    # beside the pattern's message on a malformed value.
    # CanaryAnalysis._increasing: a set has no repeats, a sorted set increases
    (CanaryAnalysis, "stepWeights"): {
        "minItems": 1,
        "maxItems": MAX_LIST_ITEMS,
        "x-kubernetes-list-type": "set",
        "x-kubernetes-validations": [Rule("self.isSorted()", "must be increasing").to_schema()],
    },
    # CanaryAnalysis._strategy_is_complete: metric and webhook names are unique
    (CanaryAnalysis, "metrics"): {
        "maxItems": MAX_LIST_ITEMS,
        "x-kubernetes-list-type": "map",
        "x-kubernetes-list-map-keys": ["name"],
    },
    (CanaryAnalysis, "webhooks"): {
        "x-kubernetes-list-type": "map",
        "x-kubernetes-list-map-keys": ["name"],
    },
    # CanaryWebhook._empty_is_rollout: an empty type means "rollout", as in Flagger
    (CanaryWebhook, "type"): {"enum": ["", *(hook.value for hook in HookType)]},
    # CanarySpec._deployment_only
    (CanarySpec, "targetRef"): {"properties": {"kind": {"enum": ["Deployment"]}}},
    # AutoscalerReference._hpa_only
    (AutoscalerReference, "kind"): {"enum": ["HorizontalPodAutoscaler"]},
}
"""Keywords merged into the schema of one field (by its YAML name) of one model."""
