"""The Router port for Istio: Services, DestinationRules and the VirtualService of a Canary.

The Kubernetes twin of `coalmine.routers.envoy`, with the same VirtualService shape
(`coalmine.routing.virtual_service`). For a Canary whose service is `podinfo`:

- Services `podinfo` (the apex, selecting the primary's pods), `podinfo-primary`
  and `podinfo-canary` (selecting the target's pods), and with judge.baseline
  `podinfo-baseline` (selecting `<target>-baseline`'s pods), with the Canary's port,
  targetPort, portName, appProtocol and trafficDistribution (plus the target's other
  container ports with portDiscovery), the labels and
  annotations of service.apex/.primary/.canary, and headless backends on request;
- DestinationRules `podinfo-primary` and `podinfo-canary` (and `podinfo-baseline`) with
  `service.trafficPolicy`;
- the VirtualService `podinfo`: hosts, gateways (default `mesh`), match, retries,
  timeout, headers, corsPolicy, rewrite, the weighted route (and the A/B routes,
  the mirror and its percentage).

`reconcile` repairs drift in every one of them but keeps the weights the
VirtualService carries; only `set_routes` changes weights. Every write goes
through `ObjectWriter`, which sends only the fields coalmine owns and records the
original spec of objects it takes over (see `kube.objects`).
"""

from __future__ import annotations

import asyncio
from typing import Any

from coalmine.api.canary import Canary
from coalmine.engine.observations import Routes
from coalmine.errors import AdapterError
from coalmine.kube.client import KubeClient, Obj
from coalmine.kube.deployments import baseline_labels, primary_labels, selector_labels
from coalmine.kube.objects import UNCHANGED, Desired, ObjectWriter, merge_patch_between
from coalmine.kube.ownership import MANAGED_BY, is_owned_by, original_spec
from coalmine.kube.resources import DEPLOYMENTS, DESTINATION_RULES, SERVICES, VIRTUAL_SERVICES
from coalmine.routing.virtual_service import (
    apex_name,
    baseline_host,
    canary_host,
    has_baseline,
    primary_host,
    routes_of,
    virtual_service_spec,
)

__all__ = [
    "IstioRouter",
    "destination_rules",
    "discovered_ports",
    "service_port",
    "services",
    "virtual_service",
]


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


def destination_rules(canary: Canary) -> list[Desired]:
    policy = canary.spec.service.traffic_policy
    dumped = dict(policy) if policy is not None else None
    return [
        Desired(DESTINATION_RULES, host, {"host": host, "trafficPolicy": dumped})
        for host in _backends(canary)
    ]


def _backends(canary: Canary) -> list[str]:
    """The Services the VirtualService routes to (each with its DestinationRule)."""
    hosts = [primary_host(canary), canary_host(canary)]
    return [*hosts, baseline_host(canary)] if has_baseline(canary) else hosts


def virtual_service(canary: Canary, routes: Routes) -> Desired:
    """The VirtualService; like Flagger, it carries service.apex's labels and annotations."""
    spec = virtual_service_spec(canary, routes)
    return Desired(VIRTUAL_SERVICES, apex_name(canary), spec, metadata=canary.spec.service.apex)


class IstioRouter:
    def __init__(self, client: KubeClient) -> None:
        self.client = client
        self.objects = ObjectWriter(client)
        self._reconciled: dict[str, Obj] = {}
        """The VirtualService each `reconcile` left, for the `get_routes` right after it."""

    async def reconcile(self, canary: Canary) -> None:
        target = await self._target(canary)
        labels = selector_labels(target, f"deployment {canary.target_key}")
        ports = discovered_ports(canary, target)
        others = [*services(canary, labels, ports), *destination_rules(canary)]
        await asyncio.gather(*(self.objects.ensure(canary, desired) for desired in others))
        current = await self.client.get(VIRTUAL_SERVICES, apex_name(canary), canary.namespace)
        routes = _weights(canary, current) if current is not None else Routes.all_primary()
        written = await self.objects.ensure(
            canary, virtual_service(canary, routes), current=current
        )
        self._reconciled[_key(canary)] = written

    async def get_routes(self, canary: Canary) -> Routes:
        """The weights; right after `reconcile` (the engine's way), without another read."""
        current = self._reconciled.pop(_key(canary), None)
        if current is None:
            current = await self.client.get(VIRTUAL_SERVICES, apex_name(canary), canary.namespace)
        if current is None:
            raise AdapterError(
                f"virtualservice {apex_name(canary)} not found in {canary.namespace}"
            )
        return _weights(canary, current)

    async def set_routes(self, canary: Canary, routes: Routes) -> None:
        self._reconciled.pop(_key(canary), None)
        await self.objects.ensure(canary, virtual_service(canary, routes))

    async def revert(self, canary: Canary, target_labels: dict[str, str]) -> dict[str, str]:
        """Hand traffic back to the target's own pods, without coalmine; what was done, by object.

        The apex Service selects the target's pods again: its original spec when it was
        taken over, else it is kept (no longer owned, so it outlives the Canary). The
        VirtualService gets its original spec back, or is deleted if coalmine created it;
        so are the other Services and the DestinationRules.
        """
        self._reconciled.pop(_key(canary), None)
        done = {f"service {apex_name(canary)}": await self._release_apex(canary, target_labels)}
        done[f"virtualservice {apex_name(canary)}"] = await self.objects.restore(
            canary, VIRTUAL_SERVICES, apex_name(canary)
        )
        backends = [primary_host(canary), canary_host(canary), baseline_host(canary)]
        for kind, name in [(SERVICES, host) for host in backends] + [
            (DESTINATION_RULES, host) for host in backends
        ]:
            done[kind.describe(name, None)] = await self.objects.restore(canary, kind, name)
        return done

    async def _release_apex(self, canary: Canary, target_labels: dict[str, str]) -> str:
        name = apex_name(canary)
        current = await self.client.get(SERVICES, name, canary.namespace)
        if current is None:
            return "absent"
        if original_spec(current) is not None or not is_owned_by(current, canary):
            return await self.objects.restore(canary, SERVICES, name)
        patch = _release(canary, current, target_labels)
        await self.client.merge_patch(SERVICES, name, canary.namespace, patch)
        return "kept, selecting the target's pods"

    async def _target(self, canary: Canary) -> Obj:
        name = canary.spec.target_ref.name
        target = await self.client.get(DEPLOYMENTS, name, canary.namespace)
        if target is None:
            raise AdapterError(f"deployment {canary.target_key} not found")
        return target


def _key(canary: Canary) -> str:
    return canary.metadata.uid or canary.key


def _weights(canary: Canary, virtual_service: Obj) -> Routes:
    return routes_of(canary, virtual_service.get("spec") or {})


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
