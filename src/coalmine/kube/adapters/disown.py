"""Deleting a Canary without `revertOnDeletion`: nothing that serves goes.

Flagger puts a finalizer only on Canaries with `revertOnDeletion`; deleting any other
lets the garbage collector remove what the Canary owns (the primary Deployment, the
Services, the VirtualService), so a Service that selects the primary's pods, or a
VirtualService that routes to `-primary`, suddenly serves nothing. coalmine's finalizer
is on every Canary (see `kube.runtime.handlers`), and without `revertOnDeletion` its deletion,
like local mode's (`local.release`):

1. status Terminating, and all traffic to the primary (the last analysed release) when
   the primary runs and the VirtualService (or the gatewayapi router's HTTPRoute)
   exists, so that an analysis in progress stops sending users to the new release;
   nothing is removed, so requests still in flight to the canary's pods finish;
2. every object that names the Canary as its owner (the primary Deployment and its
   autoscaler, the apex, `-primary` and `-canary` Services, the DestinationRules,
   the VirtualService or HTTPRoute, and the `-primary` copies of tracked ConfigMaps and Secrets that
   the primary's pods read) loses that owner reference and coalmine's `managed-by` label,
   and is marked `coalmine.dev/kept-from-canary`: they are the user's objects now, the
   garbage collector keeps them once the Canary goes, and a Canary created later over
   them adopts them back (`kube.adapters.ownership`). Objects the Canary took over (the user's
   own Service) were never owned and keep their saved original spec;
3. status Terminated, and an event naming what was kept.

The target stays as it is (scaled to zero while the canary held it down). What is kept
is found by owner reference, not by name, so a Canary whose spec has become invalid
still leaves everything serving (`disown` alone).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from coalmine.api.canary import Canary, Phase
from coalmine.engine.decision import Event
from coalmine.engine.observations import Routes
from coalmine.engine.ports import Notifier
from coalmine.errors import NotFound
from coalmine.kube.adapters.client import KubeClient, Obj
from coalmine.kube.adapters.ownership import KEPT_FROM, MANAGED_BY
from coalmine.kube.adapters.resources import (
    CONFIG_MAPS,
    DEPLOYMENTS,
    DESTINATION_RULES,
    HPAS,
    HTTP_ROUTES,
    SECRETS,
    SERVICES,
    VIRTUAL_SERVICES,
    Kind,
)
from coalmine.kube.adapters.revert import write_phase
from coalmine.kube.adapters.store import KubeCanaryStore
from coalmine.kube.adapters.workload import KubeWorkload
from coalmine.routers.services import KubeRouter
from coalmine.routing.virtual_service import apex_name

__all__ = ["OWNED_KINDS", "Disowner", "disown"]

OWNED_KINDS: tuple[Kind, ...] = (
    DEPLOYMENTS,
    HPAS,
    SERVICES,
    DESTINATION_RULES,
    VIRTUAL_SERVICES,
    HTTP_ROUTES,
    CONFIG_MAPS,
    SECRETS,
)
"""Every kind of object coalmine creates with an owner reference to a Canary."""

LABELLED_KINDS = (CONFIG_MAPS, SECRETS)
"""Listed by coalmine's `managed-by` label only (the `-primary` config copies carry it):
the namespace's other Secrets are never read."""


def _utc_now() -> datetime:
    return datetime.now(UTC)


async def disown(client: KubeClient, namespace: str, name: str, uid: str) -> list[str]:
    """Drop the Canary `name` (`uid`) as owner of everything in `namespace`; what was kept.

    A kind the cluster does not serve (Istio not installed) has nothing to keep.
    """
    kept = []
    for kind in OWNED_KINDS:
        selector = _MANAGED_BY_SELECTOR if kind in LABELLED_KINDS else None
        try:
            objects = await client.list(kind, namespace, label_selector=selector)
        except NotFound:
            continue
        for obj in objects:
            patch = _disown_patch(obj, name, uid)
            if patch is None:
                continue
            found = obj["metadata"]["name"]
            try:
                await client.merge_patch(kind, found, namespace, patch)
            except NotFound:  # deleted meanwhile: nothing to keep
                continue
            kept.append(kind.describe(found, None))
    return kept


_MANAGED_BY_SELECTOR = ",".join(f"{key}={value}" for key, value in MANAGED_BY.items())


def _disown_patch(obj: Obj, name: str, uid: str) -> dict[str, Any] | None:
    """The merge patch that makes `obj` no longer the Canary's; None if it is not."""
    metadata = obj.get("metadata") or {}
    references = metadata.get("ownerReferences") or []
    others = [ref for ref in references if ref.get("uid") != uid]
    if len(others) == len(references):
        return None
    changes: dict[str, Any] = {
        "ownerReferences": others or None,
        "annotations": {KEPT_FROM: name},
    }
    labels = metadata.get("labels") or {}
    if any(labels.get(key) == value for key, value in MANAGED_BY.items()):
        changes["labels"] = dict.fromkeys(MANAGED_BY)
    return {"metadata": changes}


@dataclass(frozen=True)
class Disowner:
    client: KubeClient
    workload: KubeWorkload
    router: KubeRouter
    store: KubeCanaryStore
    notifier: Notifier
    clock: Callable[[], datetime] = _utc_now

    async def keep_serving(self, canary: Canary) -> None:
        """Steps 1 to 3 of the module docstring."""
        canary = await write_phase(self.store, canary, Phase.TERMINATING, self.clock())
        routed = await self._all_to_primary(canary)
        kept = await disown(self.client, canary.namespace, canary.name, canary.metadata.uid or "")
        canary = await write_phase(self.store, canary, Phase.TERMINATED, self.clock())
        where = f"all traffic on {canary.primary_name}" if routed else "routes left as they were"
        what = ", ".join(kept) if kept else "nothing"
        await self.notifier.event(
            canary,
            Event(f"Canary {canary.key} deleted, {where}; kept as the user's: {what}"),
        )

    async def _all_to_primary(self, canary: Canary) -> bool:
        primary = await self.workload.observe_primary(canary)
        if primary is None or primary.available == 0:
            return False
        routes = [
            await self.client.get(kind, apex_name(canary), canary.namespace)
            for kind in (VIRTUAL_SERVICES, HTTP_ROUTES)
        ]
        if all(route is None for route in routes):
            return False
        await self.router.set_routes(canary, Routes.all_primary())
        return True
