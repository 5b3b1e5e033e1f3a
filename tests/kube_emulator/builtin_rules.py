"""What the built-in types' server strategies do that coalmine can notice.

- Namespace: `spec.finalizers: [kubernetes]`, `status.phase: Active`, the
  `kubernetes.io/metadata.name` label; names are RFC 1123 labels.
- Deployment: defaults (replicas 1, RollingUpdate 25%/25%, revisionHistoryLimit 10,
  progressDeadlineSeconds 600); a selector is required, must match the template's
  labels, and is immutable.
- Service: type ClusterIP, a cluster IP from 10.96.0.0/16 kept across updates,
  port protocol TCP and targetPort = port; names are DNS-1035 labels.
- Pod: `status.phase: Pending` on create.
- HorizontalPodAutoscaler (autoscaling/v2): `status: {currentMetrics: null,
  desiredReplicas: 0}` on create, the zero status as the server serializes it (in
  k8s.io/api/autoscaling/v2 `desiredReplicas` and `currentMetrics` have no `omitempty`).
- Secret: `stringData` is merged into base64 `data` and not stored.

No other schema of built-in types is checked: unknown fields are stored as sent.
"""

from __future__ import annotations

import base64
import itertools
from typing import Any

from .catalog import StorageKey
from .errors import FieldError
from .rules import TypeRules
from .selectors import selector_from_match_labels
from .storage import clone

Obj = dict[str, Any]

_DEPLOYMENT_DEFAULTS = {
    "replicas": 1,
    "revisionHistoryLimit": 10,
    "progressDeadlineSeconds": 600,
    "strategy": {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"},
    },
}


def _prepare_namespace(obj: Obj, old: Obj | None) -> None:
    name = obj["metadata"]["name"]
    obj["metadata"].setdefault("labels", {})["kubernetes.io/metadata.name"] = name
    if old is None:
        obj["spec"] = {"finalizers": ["kubernetes"]}
        obj["status"] = {"phase": "Active"}
    else:
        obj["spec"] = clone(old.get("spec", {}))  # only the namespace controller writes it


def _prepare_deployment(obj: Obj, old: Obj | None) -> None:
    spec = obj.setdefault("spec", {})
    for key, value in _DEPLOYMENT_DEFAULTS.items():
        spec.setdefault(key, clone(value))


def _validate_deployment(obj: Obj, old: Obj | None) -> list[FieldError]:
    spec = obj.get("spec", {})
    selector = spec.get("selector")
    if not selector:
        return [FieldError("spec.selector", "required")]
    errors = []
    labels = spec.get("template", {}).get("metadata", {}).get("labels", {})
    if not selector_from_match_labels(selector)(labels):
        detail = "`selector` does not match template `labels`"
        errors.append(FieldError("spec.template.metadata.labels", "invalid", detail, labels))
    if old is not None and old.get("spec", {}).get("selector") != selector:
        errors.append(FieldError("spec.selector", "invalid", "field is immutable", selector))
    replicas = spec.get("replicas", 0)
    if not isinstance(replicas, int) or replicas < 0:
        detail = "must be greater than or equal to 0"
        errors.append(FieldError("spec.replicas", "invalid", detail, replicas))
    return errors


def _service_rules() -> TypeRules:
    addresses = (f"10.96.{n // 250}.{n % 250 + 1}" for n in itertools.count(1))

    def prepare(obj: Obj, old: Obj | None) -> None:
        spec = obj.setdefault("spec", {})
        spec.setdefault("type", "ClusterIP")
        spec.setdefault("sessionAffinity", "None")
        for port in spec.get("ports", []):
            port.setdefault("protocol", "TCP")
            port.setdefault("targetPort", port.get("port"))
        previous = (old or {}).get("spec", {}).get("clusterIP")
        if previous and not spec.get("clusterIP"):
            spec["clusterIP"] = previous
        if not spec.get("clusterIP"):
            spec["clusterIP"] = next(addresses)
        spec["clusterIPs"] = [spec["clusterIP"]]

    def validate(obj: Obj, old: Obj | None) -> list[FieldError]:
        previous = (old or {}).get("spec", {}).get("clusterIP")
        current = obj["spec"]["clusterIP"]
        if previous and current != previous:
            return [FieldError("spec.clusterIP", "invalid", "field is immutable", current)]
        return []

    return TypeRules(prepare=prepare, validate=validate, name_rule="label1035")


def _prepare_pod(obj: Obj, old: Obj | None) -> None:
    if old is None:
        obj["status"] = {"phase": "Pending"}


def _prepare_autoscaler(obj: Obj, old: Obj | None) -> None:
    if old is None:
        obj["status"] = {"currentMetrics": None, "desiredReplicas": 0}


def _prepare_secret(obj: Obj, old: Obj | None) -> None:
    string_data = obj.pop("stringData", None) or {}
    data = obj.setdefault("data", {})
    for key, value in string_data.items():
        data[key] = base64.b64encode(str(value).encode()).decode()
    obj.setdefault("type", "Opaque")


def _validate_secret(obj: Obj, old: Obj | None) -> list[FieldError]:
    errors = []
    for key, value in obj.get("data", {}).items():
        try:
            base64.b64decode(str(value), validate=True)
        except ValueError:
            detail = "illegal base64 data"
            errors.append(FieldError(f"data[{key}]", "invalid", detail, "<value omitted>"))
    return errors


def builtin_rules() -> dict[StorageKey, TypeRules]:
    """Fresh hooks per emulator (the Service IP allocator has state)."""
    return {
        ("", "namespaces"): TypeRules(prepare=_prepare_namespace, name_rule="label"),
        ("apps", "deployments"): TypeRules(
            prepare=_prepare_deployment, validate=_validate_deployment
        ),
        ("", "services"): _service_rules(),
        ("", "pods"): TypeRules(prepare=_prepare_pod),
        ("", "secrets"): TypeRules(prepare=_prepare_secret, validate=_validate_secret),
        ("autoscaling", "horizontalpodautoscalers"): TypeRules(prepare=_prepare_autoscaler),
    }
