"""The built-in resource types served from the start, as a real 1.32 server lists them.

Only the types coalmine and its tools touch are here. `has_generation` follows the real
strategies: workloads and other spec-carrying types count spec changes; config-like
types (ConfigMap, Secret, Lease) have no generation.
"""

from __future__ import annotations

from typing import Any

from .catalog import DEFAULT_FIELD_LABELS, ResourceType

_STATUS = frozenset({"status"})
_EVENT_FIELDS = DEFAULT_FIELD_LABELS | {
    "involvedObject.kind",
    "involvedObject.namespace",
    "involvedObject.name",
    "involvedObject.uid",
    "involvedObject.apiVersion",
    "involvedObject.resourceVersion",
    "involvedObject.fieldPath",
    "reason",
    "reportingComponent",
    "source",
    "type",
}


def _core(plural: str, kind: str, namespaced: bool = True, **extra: Any) -> ResourceType:
    return ResourceType(
        group="",
        version="v1",
        plural=plural,
        singular=kind.lower(),
        kind=kind,
        namespaced=namespaced,
        **extra,
    )


def _grouped(
    group: str, version: str, plural: str, kind: str, namespaced: bool = True, **extra: Any
) -> ResourceType:
    return ResourceType(
        group=group,
        version=version,
        plural=plural,
        singular=kind.lower(),
        kind=kind,
        namespaced=namespaced,
        **extra,
    )


BUILTIN_TYPES: tuple[ResourceType, ...] = (
    _core("namespaces", "Namespace", namespaced=False, short_names=("ns",), subresources=_STATUS),
    _core(
        "pods",
        "Pod",
        short_names=("po",),
        categories=("all",),
        subresources=_STATUS,
        field_labels=DEFAULT_FIELD_LABELS | {"status.phase", "spec.nodeName"},
    ),
    _core("services", "Service", short_names=("svc",), categories=("all",), subresources=_STATUS),
    _core("secrets", "Secret", field_labels=DEFAULT_FIELD_LABELS | {"type"}),
    _core("configmaps", "ConfigMap", short_names=("cm",)),
    _core("events", "Event", short_names=("ev",), field_labels=_EVENT_FIELDS),
    _core("serviceaccounts", "ServiceAccount", short_names=("sa",)),
    _grouped(
        "apps",
        "v1",
        "deployments",
        "Deployment",
        short_names=("deploy",),
        categories=("all",),
        subresources=frozenset({"status", "scale"}),
        has_generation=True,
    ),
    _grouped("events.k8s.io", "v1", "events", "Event", short_names=("ev",)),
    _grouped(
        "autoscaling",
        "v2",
        "horizontalpodautoscalers",
        "HorizontalPodAutoscaler",
        short_names=("hpa",),
        categories=("all",),
        subresources=_STATUS,
        has_generation=True,
    ),
    _grouped("coordination.k8s.io", "v1", "leases", "Lease"),
    _grouped(
        "apiextensions.k8s.io",
        "v1",
        "customresourcedefinitions",
        "CustomResourceDefinition",
        namespaced=False,
        short_names=("crd", "crds"),
        subresources=_STATUS,
        has_generation=True,
        unconditional_update=False,
    ),
    _grouped("rbac.authorization.k8s.io", "v1", "roles", "Role"),
    _grouped("rbac.authorization.k8s.io", "v1", "rolebindings", "RoleBinding"),
    _grouped("rbac.authorization.k8s.io", "v1", "clusterroles", "ClusterRole", namespaced=False),
    _grouped(
        "rbac.authorization.k8s.io",
        "v1",
        "clusterrolebindings",
        "ClusterRoleBinding",
        namespaced=False,
    ),
    _grouped(
        "networking.k8s.io",
        "v1",
        "ingresses",
        "Ingress",
        short_names=("ing",),
        subresources=_STATUS,
        has_generation=True,
    ),
)
