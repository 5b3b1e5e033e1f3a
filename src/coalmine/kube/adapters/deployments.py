"""Deployments as the engine sees them, and the `-primary` copy, as pure functions on dicts.

- `workload_state`: a Deployment's spec and status mapped to the engine's
  `WorkloadState` (what Flagger's isDeploymentReady reads).
- `primary_deployment`: `<target>-primary`, built from the target the way Flagger
  builds it: the same pod template, with every selector label's value suffixed with
  `-primary` (in the selector, the pod labels and the Deployment's own labels), so
  that the two Deployments' pods never match each other's selectors.
- `promotion_operations`: the JSON patch that copies the target's template, strategy
  and minReadySeconds to the primary, and nothing else.
"""

from __future__ import annotations

import copy
from datetime import datetime
from typing import Any

from coalmine.api.canary import Canary
from coalmine.engine.observations import WorkloadState
from coalmine.errors import AdapterError
from coalmine.kube.adapters.ownership import managed_metadata
from coalmine.kube.adapters.revision import pod_template_revision

__all__ = [
    "COPIED_SPEC_FIELDS",
    "SCALED_DOWN_FROM",
    "baseline_deployment",
    "baseline_labels",
    "primary_deployment",
    "primary_labels",
    "promotion_operations",
    "selector_labels",
    "workload_state",
]

SCALED_DOWN_FROM = "coalmine.dev/scaled-down-from"
"""Annotation on the target: its replicas before coalmine scaled it to zero."""

COPIED_SPEC_FIELDS = ("strategy", "minReadySeconds")
"""Spec fields the primary takes from the target at every promotion (with the template)."""

CREATED_SPEC_FIELDS = ("revisionHistoryLimit", "progressDeadlineSeconds", *COPIED_SPEC_FIELDS)
"""Spec fields the primary takes from the target when it is created."""


def workload_state(deployment: dict[str, Any]) -> WorkloadState:
    spec, status = deployment.get("spec") or {}, deployment.get("status") or {}
    generation = deployment.get("metadata", {}).get("generation") or 0
    conditions = {c.get("type"): c for c in status.get("conditions") or []}
    progressing = conditions.get("Progressing") or {}
    available = conditions.get("Available") or {}
    return WorkloadState(
        revision=pod_template_revision(spec.get("template") or {}),
        replicas=int(spec.get("replicas", 1)),
        updated=int(status.get("updatedReplicas") or 0),
        available=int(status.get("availableReplicas") or 0),
        total=int(status.get("replicas") or 0),
        settled=int(status.get("observedGeneration") or 0) >= generation,
        unavailable_since=_since(available) if available.get("status") == "False" else None,
        deadline_exceeded=progressing.get("status") == "False"
        and progressing.get("reason") == "ProgressDeadlineExceeded",
    )


def _since(condition: dict[str, Any]) -> datetime | None:
    moment = condition.get("lastTransitionTime")
    return datetime.fromisoformat(moment.replace("Z", "+00:00")) if moment else None


def selector_labels(deployment: dict[str, Any], what: str) -> dict[str, str]:
    """spec.selector.matchLabels; coalmine (as Flagger) needs them to tell pods apart."""
    selector = (deployment.get("spec") or {}).get("selector") or {}
    labels = selector.get("matchLabels") or {}
    if selector.get("matchExpressions") or not labels:
        raise AdapterError(
            f"{what}: spec.selector must use matchLabels only (coalmine suffixes their "
            "values with -primary to select the primary's pods)"
        )
    return {str(k): str(v) for k, v in labels.items()}


def primary_labels(labels: dict[str, str]) -> dict[str, str]:
    return {key: f"{value}-primary" for key, value in labels.items()}


def primary_deployment(canary: Canary, target: dict[str, Any], replicas: int) -> dict[str, Any]:
    """The primary Deployment to create for `target` (owned by the Canary)."""
    selector = selector_labels(target, f"deployment {canary.target_key}")
    renamed = primary_labels(selector)
    labels = {**(target.get("metadata", {}).get("labels") or {})}
    labels.update({k: v for k, v in renamed.items() if k in labels})
    spec = target.get("spec") or {}
    primary_spec: dict[str, Any] = {
        "replicas": replicas,
        "selector": {"matchLabels": renamed},
        "template": primary_template(spec.get("template") or {}, renamed),
    }
    primary_spec.update({k: copy.deepcopy(spec[k]) for k in CREATED_SPEC_FIELDS if k in spec})
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": managed_metadata(canary, canary.primary_name, labels),
        "spec": primary_spec,
    }


def baseline_labels(labels: dict[str, str]) -> dict[str, str]:
    return {key: f"{value}-baseline" for key, value in labels.items()}


def baseline_deployment(
    canary: Canary, target: dict[str, Any], primary: dict[str, Any], replicas: int
) -> dict[str, Any]:
    """judge.baseline's `<target>-baseline`: the primary's pod template (the revision in
    production), with the selector labels' values suffixed `-baseline` so that neither the
    primary's nor the target's selector matches its pods (owned by the Canary)."""
    renamed = baseline_labels(selector_labels(target, f"deployment {canary.target_key}"))
    labels = {**(primary.get("metadata", {}).get("labels") or {})}
    labels.update({k: v for k, v in renamed.items() if k in labels})
    spec = primary.get("spec") or {}
    baseline_spec: dict[str, Any] = {
        "replicas": replicas,
        "selector": {"matchLabels": renamed},
        "template": primary_template(spec.get("template") or {}, renamed),
    }
    baseline_spec.update({k: copy.deepcopy(spec[k]) for k in CREATED_SPEC_FIELDS if k in spec})
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": managed_metadata(canary, canary.baseline_name, labels),
        "spec": baseline_spec,
    }


def primary_template(template: dict[str, Any], renamed: dict[str, str]) -> dict[str, Any]:
    """The target's pod template with the selector labels renamed."""
    result = copy.deepcopy(template)
    metadata = result.setdefault("metadata", {})
    metadata.pop("creationTimestamp", None)
    metadata["labels"] = {**(metadata.get("labels") or {}), **renamed}
    return result


def promotion_operations(
    canary: Canary, target: dict[str, Any], primary: dict[str, Any]
) -> list[dict[str, Any]]:
    """JSON patch operations that make the primary run the target's template."""
    renamed = primary_labels(selector_labels(target, f"deployment {canary.target_key}"))
    target_spec, primary_spec = target.get("spec") or {}, primary.get("spec") or {}
    template = primary_template(target_spec.get("template") or {}, renamed)
    operations: list[dict[str, Any]] = [{"op": "add", "path": "/spec/template", "value": template}]
    for key in COPIED_SPEC_FIELDS:
        if key in target_spec:
            operations.append({"op": "add", "path": f"/spec/{key}", "value": target_spec[key]})
        elif key in primary_spec:
            operations.append({"op": "remove", "path": f"/spec/{key}"})
    return operations
