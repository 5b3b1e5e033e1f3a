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
original spec of objects it takes over (see `kube.adapters.objects`).
"""

from __future__ import annotations

import asyncio

from coalmine.api.canary import Canary
from coalmine.engine.observations import Routes
from coalmine.errors import AdapterError
from coalmine.kube.adapters.client import KubeClient, Obj
from coalmine.kube.adapters.deployments import selector_labels
from coalmine.kube.adapters.objects import Desired, ObjectWriter
from coalmine.kube.adapters.resources import DESTINATION_RULES, SERVICES, VIRTUAL_SERVICES
from coalmine.routers.services import discovered_ports, release_apex, services, target_of
from coalmine.routing.virtual_service import (
    apex_name,
    baseline_host,
    canary_host,
    has_baseline,
    primary_host,
    routes_of,
    virtual_service_spec,
)

__all__ = ["IstioRouter", "destination_rules", "virtual_service"]


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
        target = await target_of(self.client, canary)
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
        done = {
            f"service {apex_name(canary)}": await release_apex(
                self.client, self.objects, canary, target_labels
            )
        }
        done[f"virtualservice {apex_name(canary)}"] = await self.objects.restore(
            canary, VIRTUAL_SERVICES, apex_name(canary)
        )
        backends = [primary_host(canary), canary_host(canary), baseline_host(canary)]
        for kind, name in [(SERVICES, host) for host in backends] + [
            (DESTINATION_RULES, host) for host in backends
        ]:
            done[kind.describe(name, None)] = await self.objects.restore(canary, kind, name)
        return done


def _key(canary: Canary) -> str:
    return canary.metadata.uid or canary.key


def _weights(canary: Canary, virtual_service: Obj) -> Routes:
    return routes_of(canary, virtual_service.get("spec") or {})
