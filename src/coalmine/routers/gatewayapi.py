"""The Router port for the Gateway API: Services and the HTTPRoute of a Canary.

Flagger's `gatewayapi` provider (pkg/router/gateway_api.go). For a Canary whose service
is `podinfo`:

- Services `podinfo`, `podinfo-primary`, `podinfo-canary` (and `podinfo-baseline` with
  judge.baseline), as every Kubernetes router writes them (`routers.services`);
- the HTTPRoute `podinfo` (`gateway.networking.k8s.io/v1`, `routing.http_route`) on the
  parents of `service.gatewayRefs`, with service.apex's labels and annotations, as
  Flagger writes it.

`reconcile` repairs drift in all of them but keeps the weights the HTTPRoute carries;
only `set_routes` changes weights. `get_routes` fails, as Flagger's GetRoutes does, while
a parent Gateway's status says it has not accepted the route's current generation, so
the engine does not advance on a route no Gateway serves. A Canary that reaches this
router by --mesh-provider with something an HTTPRoute cannot carry (no gatewayRefs, a
`*` host, a suffix match) is refused by the router with the same sentences `coalmine
validate` gives.
"""

from __future__ import annotations

import asyncio

from coalmine.api.canary import Canary, gateway_api_problems
from coalmine.engine.observations import Routes
from coalmine.errors import AdapterError
from coalmine.kube.adapters.client import KubeClient, Obj
from coalmine.kube.adapters.deployments import selector_labels
from coalmine.kube.adapters.objects import Desired, ObjectWriter
from coalmine.kube.adapters.resources import HTTP_ROUTES, SERVICES
from coalmine.routers.services import discovered_ports, release_apex, services, target_of
from coalmine.routing.http_route import http_route_spec, routes_of, unready_parents
from coalmine.routing.virtual_service import apex_name, baseline_host, canary_host, primary_host

__all__ = ["GatewayAPIRouter", "http_route"]


def http_route(canary: Canary, routes: Routes) -> Desired:
    """The HTTPRoute; like Flagger's, it carries service.apex's labels and annotations."""
    spec = http_route_spec(canary, routes)
    return Desired(HTTP_ROUTES, apex_name(canary), spec, metadata=canary.spec.service.apex)


class GatewayAPIRouter:
    def __init__(self, client: KubeClient) -> None:
        self.client = client
        self.objects = ObjectWriter(client)
        self._reconciled: dict[str, Obj] = {}
        """The HTTPRoute each `reconcile` left, for the `get_routes` right after it."""

    async def reconcile(self, canary: Canary) -> None:
        _refuse_what_a_route_cannot_carry(canary)
        target = await target_of(self.client, canary)
        labels = selector_labels(target, f"deployment {canary.target_key}")
        desired = services(canary, labels, discovered_ports(canary, target))
        await asyncio.gather(*(self.objects.ensure(canary, service) for service in desired))
        current = await self.client.get(HTTP_ROUTES, apex_name(canary), canary.namespace)
        routes = _weights(canary, current) if current is not None else Routes.all_primary()
        written = await self.objects.ensure(canary, http_route(canary, routes), current=current)
        self._reconciled[_key(canary)] = written

    async def get_routes(self, canary: Canary) -> Routes:
        """The weights; right after `reconcile` (the engine's way), without another read."""
        current = self._reconciled.pop(_key(canary), None)
        if current is None:
            current = await self.client.get(HTTP_ROUTES, apex_name(canary), canary.namespace)
        if current is None:
            raise AdapterError(f"httproute {apex_name(canary)} not found in {canary.namespace}")
        if problems := unready_parents(current):
            raise AdapterError(
                f"httproute {apex_name(canary)} in {canary.namespace} is not ready: "
                f"{'; '.join(problems)}; the weights are not read until its Gateways accept it"
            )
        return _weights(canary, current)

    async def set_routes(self, canary: Canary, routes: Routes) -> None:
        self._reconciled.pop(_key(canary), None)
        _refuse_what_a_route_cannot_carry(canary)
        await self.objects.ensure(canary, http_route(canary, routes))

    async def revert(self, canary: Canary, target_labels: dict[str, str]) -> dict[str, str]:
        """Hand traffic back to the target's own pods, without coalmine; what was done, by
        object: the apex Service as `routers.services.release_apex` does; the HTTPRoute
        gets its original spec back, or is deleted if coalmine created it; so are the
        other Services."""
        self._reconciled.pop(_key(canary), None)
        done = {
            f"service {apex_name(canary)}": await release_apex(
                self.client, self.objects, canary, target_labels
            )
        }
        done[f"httproute {apex_name(canary)}"] = await self.objects.restore(
            canary, HTTP_ROUTES, apex_name(canary)
        )
        for name in (primary_host(canary), canary_host(canary), baseline_host(canary)):
            done[SERVICES.describe(name, None)] = await self.objects.restore(canary, SERVICES, name)
        return done


def _refuse_what_a_route_cannot_carry(canary: Canary) -> None:
    """A Canary that came here by --mesh-provider (one with spec.provider gatewayapi is
    refused when it is read)."""
    problems = gateway_api_problems(canary.spec)
    if problems:
        raise AdapterError(f"canary {canary.key}: {'; '.join(problems)}")


def _key(canary: Canary) -> str:
    return canary.metadata.uid or canary.key


def _weights(canary: Canary, route: Obj) -> Routes:
    return routes_of(canary, route.get("spec") or {})
