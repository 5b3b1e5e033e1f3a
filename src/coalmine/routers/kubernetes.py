"""The Router port with Kubernetes Services only (Flagger's `kubernetes` provider): blue/green.

No mesh splits the traffic, so there are two routes only: the apex Service `<svc>`
selects the primary's pods (all traffic to the primary) or the target's (all to the
canary). It writes the same Services as the other routers (`routers.services`):
`<svc>`, `<svc>-primary`, `<svc>-canary`; the load tester reaches the canary through
`<svc>-canary` during the analysis.

A blue/green release, as the engine runs it with this router:

    analysis (iterations)   apex -> primary pods (old version); tests hit <svc>-canary
    iterations done         apex -> canary pods: the new version takes all traffic
    Promoting               the primary gets the canary's template and rolls out
    Finalising              apex -> primary pods again (now the new version); the
                            canary scales to zero

so the apex ends on the primary, running the new template, as in Flagger. Flagger's
KubernetesDefaultRouter.SetRoutes switches the apex the same way for weights 0/100 and
100/0 and ignores any other; Flagger's scheduler, though, pairs the kubernetes provider
with a no-op mesh router and leaves the apex on the primary while the primary rolls out
(pkg/router/factory.go, pkg/controller/scheduler.go). coalmine moves the traffic to the
analysed canary pods for that roll-out, and refuses any other split instead of ignoring
it: the strategies that need one are refused when the Canary is read
(`api.canary.blue_green_only_problems`), and again here for a Canary that gets this
router from --mesh-provider.

`reconcile` repairs the Services but keeps the side the apex selects; only
`set_routes` moves it.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace

from coalmine.api.canary import Canary, blue_green_only_problems
from coalmine.engine.observations import Routes
from coalmine.errors import AdapterError
from coalmine.kube.adapters.client import KubeClient, Obj
from coalmine.kube.adapters.deployments import primary_labels, selector_labels
from coalmine.kube.adapters.objects import ObjectWriter
from coalmine.kube.adapters.resources import SERVICES
from coalmine.routers.services import discovered_ports, release_apex, services, target_of
from coalmine.routing.virtual_service import apex_name, baseline_host, canary_host, primary_host

__all__ = ["KubernetesRouter", "routes_of_selector"]

ALL_CANARY = Routes(primary=0, canary=100)


def routes_of_selector(selector: dict[str, str], target_labels: dict[str, str]) -> Routes:
    """The routes an apex selector makes: the target's own labels select the canary's
    pods; anything else (the primary's labels, or a selector edited by hand, which
    `reconcile` points back at the primary) counts as all to the primary."""
    return ALL_CANARY if selector == target_labels else Routes.all_primary()


class KubernetesRouter:
    def __init__(self, client: KubeClient) -> None:
        self.client = client
        self.objects = ObjectWriter(client)
        self._reconciled: dict[str, Routes] = {}
        """The routes each `reconcile` left, for the `get_routes` right after it."""

    async def reconcile(self, canary: Canary) -> None:
        _refuse_weights(canary)
        target = await target_of(self.client, canary)
        labels = selector_labels(target, f"deployment {canary.target_key}")
        apex = await self.client.get(SERVICES, apex_name(canary), canary.namespace)
        routes = _routes(apex, labels)
        desired = services(canary, labels, discovered_ports(canary, target))
        if routes == ALL_CANARY:  # keep the side the apex selects: only set_routes moves it
            desired[0] = replace(desired[0], owned={**desired[0].owned, "selector": labels})
        await asyncio.gather(*(self.objects.ensure(canary, service) for service in desired))
        self._reconciled[_key(canary)] = routes

    async def get_routes(self, canary: Canary) -> Routes:
        """The side the apex selects; right after `reconcile`, without another read."""
        routes = self._reconciled.pop(_key(canary), None)
        if routes is not None:
            return routes
        apex = await self.client.get(SERVICES, apex_name(canary), canary.namespace)
        if apex is None:
            raise AdapterError(f"service {apex_name(canary)} not found in {canary.namespace}")
        return _routes(apex, await self._labels(canary))

    async def set_routes(self, canary: Canary, routes: Routes) -> None:
        """Point the apex at the primary's pods (100/0) or the canary's (0/100)."""
        self._reconciled.pop(_key(canary), None)
        if routes.mirrored or routes not in (Routes.all_primary(), ALL_CANARY):
            raise AdapterError(
                f"the kubernetes provider switches all traffic at once and cannot route "
                f"{routes.primary}/{routes.canary}{' mirrored' if routes.mirrored else ''} "
                f"(primary/canary) for {canary.key}: use analysis.iterations (blue/green)"
            )
        labels = await self._labels(canary)
        selector = labels if routes == ALL_CANARY else primary_labels(labels)
        apex = services(canary, labels)[0]
        await self.objects.ensure(canary, replace(apex, owned={**apex.owned, "selector": selector}))

    async def revert(self, canary: Canary, target_labels: dict[str, str]) -> dict[str, str]:
        """Hand traffic back to the target's own pods, without coalmine: the apex as
        `routers.services.release_apex` does; the other Services are deleted if coalmine
        created them, or get their original spec back."""
        self._reconciled.pop(_key(canary), None)
        apex = await release_apex(self.client, self.objects, canary, target_labels)
        done = {f"service {apex_name(canary)}": apex}
        for name in (primary_host(canary), canary_host(canary), baseline_host(canary)):
            done[SERVICES.describe(name, None)] = await self.objects.restore(canary, SERVICES, name)
        return done

    async def _labels(self, canary: Canary) -> dict[str, str]:
        target = await target_of(self.client, canary)
        return selector_labels(target, f"deployment {canary.target_key}")


def _refuse_weights(canary: Canary) -> None:
    """A Canary that came to this router by --mesh-provider, with a strategy it cannot run
    (one with spec.provider: kubernetes is refused when it is read)."""
    problems = blue_green_only_problems(canary.spec.analysis)
    if problems:
        raise AdapterError(f"canary {canary.key}: {'; '.join(problems)}")


def _routes(apex: Obj | None, target_labels: dict[str, str]) -> Routes:
    if apex is None:
        return Routes.all_primary()
    return routes_of_selector((apex.get("spec") or {}).get("selector") or {}, target_labels)


def _key(canary: Canary) -> str:
    return canary.metadata.uid or canary.key
