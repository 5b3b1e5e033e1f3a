"""The Services every Kubernetes router writes, and how the apex is handed back.

For a Canary whose service is `podinfo`: `podinfo` (the apex, selecting the primary's
pods), `podinfo-primary` and `podinfo-canary` (selecting the target's pods), and with
judge.baseline `podinfo-baseline`; with the Canary's port, targetPort, portName,
appProtocol and trafficDistribution (plus the target's other container ports with
portDiscovery) and the labels and annotations of service.apex/.primary/.canary. Flagger
writes the same three Services whatever its provider (pkg/router/kubernetes_default.go);
so do the istio and kubernetes routers, from here.
"""

from __future__ import annotations

from typing import Any, Protocol

from coalmine.api.canary import Canary
from coalmine.engine.ports import Router
from coalmine.errors import AdapterError
from coalmine.kube.adapters.client import KubeClient, Obj
from coalmine.kube.adapters.deployments import baseline_labels, primary_labels
from coalmine.kube.adapters.objects import UNCHANGED, Desired, ObjectWriter, merge_patch_between
from coalmine.kube.adapters.ownership import MANAGED_BY, is_owned_by, original_spec
from coalmine.kube.adapters.resources import DEPLOYMENTS, SERVICES
from coalmine.routing.virtual_service import (
    apex_name,
    baseline_host,
    canary_host,
    has_baseline,
    primary_host,
)

__all__ = [
    "SIDECARS",
    "KubeRouter",
    "discovered_ports",
    "release_apex",
    "service_port",
    "services",
    "target_of",
]


class KubeRouter(Router, Protocol):
    """A router of the operator: the Router port, and `revert` for `kube.adapters.revert` and
    `kube.adapters.disown` (hand the traffic back to the target's own pods, without coalmine)."""

    async def revert(self, canary: Canary, target_labels: dict[str, str]) -> dict[str, str]:
        """What was done, by object."""
        ...


def service_port(canary: Canary) -> dict[str, Any]:
    """The one port of the three Services (defaults written out, as the API server would)."""
    service = canary.spec.service
    port: dict[str, Any] = {
        "name": service.port_name or "http",
        "port": service.port,
        "targetPort": service.target_port or service.port,
        "protocol": "TCP",
    }
    if service.app_protocol:
        port["appProtocol"] = service.app_protocol
    return port


SIDECARS = frozenset({"istio-proxy", "envoy"})
"""Containers whose ports portDiscovery skips (Flagger's pkg/canary/util.go getPorts)."""


def discovered_ports(canary: Canary, target: Obj) -> list[dict[str, Any]]:
    """With service.portDiscovery, every container port of the target but the service's
    own (its targetPort, else its port) and the mesh proxies', as Flagger's getPorts:
    named by the container port's name, else `tcp-<container>-<index>`; sorted by name."""
    service = canary.spec.service
    if not service.port_discovery:
        return []
    template = ((target.get("spec") or {}).get("template") or {}).get("spec") or {}
    found: dict[str, int] = {}
    for container in template.get("containers") or []:
        if container.get("name") in SIDECARS:
            continue
        for index, port in enumerate(container.get("ports") or []):
            number, name = port.get("containerPort"), port.get("name")
            own = service.target_port if service.target_port is not None else service.port
            if own in (number, name):
                continue
            found[name or f"tcp-{container.get('name')}-{index}"] = number
    return [
        {"name": name, "port": number, "targetPort": number, "protocol": "TCP"}
        for name, number in sorted(found.items())
    ]


def services(
    canary: Canary, target_labels: dict[str, str], extra_ports: list[dict[str, Any]] | None = None
) -> list[Desired]:
    """The apex, primary and canary Services, with service.apex/.primary/.canary metadata.

    `extra_ports` are the target's other ports, for portDiscovery (`discovered_ports`).
    `headless` makes the -primary and -canary Services headless (the apex keeps its
    address: the VirtualService's host resolves to it); clusterIP is set only when a
    Service is created, since the API server refuses to change it.
    """
    service = canary.spec.service
    primary = primary_labels(target_labels)
    owned: dict[str, Any] = {"ports": [service_port(canary), *(extra_ports or [])]}
    if service.traffic_distribution is not None:
        owned["trafficDistribution"] = service.traffic_distribution
    created: dict[str, Any] = {"type": "ClusterIP"}
    backend = {**created, "clusterIP": "None"} if service.headless else created
    sides = [
        (apex_name(canary), primary, created, service.apex),
        (primary_host(canary), primary, backend, service.primary),
        (canary_host(canary), target_labels, backend, service.canary),
    ]
    if has_baseline(canary):  # judge.baseline: as the canary's, for `<target>-baseline`
        sides.append((baseline_host(canary), baseline_labels(target_labels), backend, None))
    return [
        Desired(SERVICES, name, {**owned, "selector": selector}, made, metadata=metadata)
        for name, selector, made, metadata in sides
    ]


async def target_of(client: KubeClient, canary: Canary) -> Obj:
    """The Canary's target Deployment; AdapterError when it is missing."""
    name = canary.spec.target_ref.name
    target = await client.get(DEPLOYMENTS, name, canary.namespace)
    if target is None:
        raise AdapterError(f"deployment {canary.target_key} not found")
    return target


async def release_apex(
    client: KubeClient, objects: ObjectWriter, canary: Canary, target_labels: dict[str, str]
) -> str:
    """The apex Service selects the target's pods again, without coalmine: its original
    spec when it was taken over, else it is kept (no longer owned, so it outlives the
    Canary). What was done, in words."""
    name = apex_name(canary)
    current = await client.get(SERVICES, name, canary.namespace)
    if current is None:
        return "absent"
    if original_spec(current) is not None or not is_owned_by(current, canary):
        return await objects.restore(canary, SERVICES, name)
    patch = _release(canary, current, target_labels)
    await client.merge_patch(SERVICES, name, canary.namespace, patch)
    return "kept, selecting the target's pods"


def _release(canary: Canary, service: Obj, target_labels: dict[str, str]) -> dict[str, Any]:
    """Point a Service coalmine created at the target's pods and stop owning it."""
    metadata = service.get("metadata") or {}
    references = [
        ref
        for ref in metadata.get("ownerReferences") or []
        if ref.get("uid") != canary.metadata.uid
    ]
    current_selector = (service.get("spec") or {}).get("selector") or {}
    selector = merge_patch_between(current_selector, target_labels)
    patch: dict[str, Any] = {
        "metadata": {
            "ownerReferences": references or None,
            "labels": dict.fromkeys(MANAGED_BY),
        }
    }
    if selector is not UNCHANGED:
        patch["spec"] = {"selector": selector}
    return patch
