"""Deleting a Canary in local mode without failing a request, at any phase.

Whatever the phase, the first step moves all traffic to the primary (the last
promoted, analysed release) and returns once Envoy serves that, before anything is
removed. What follows depends on `revertOnDeletion`:

- **true** (Flagger's revert): the target Deployment is scaled back up and awaited
  (bounded by the progress deadline, at most `MAX_WAIT_SECONDS`); the objects the canary
  took over from the user get the manifest the user wrote back; a Service the canary
  created now selects the target's pods and a VirtualService (or, with provider
  gatewayapi, an HTTPRoute) it created routes to that Service, both kept as the user's
  (so a host the gateway served stays served); once
  Envoy serves that, the primary Deployment and the `-primary`/`-canary` Services go.
- **false** (the default): nothing that serves is removed. The primary keeps
  serving, and the canary's Deployments, Services and VirtualService stay, no longer
  owned by a canary (`coalmine get` shows no OWNER); the target keeps its replica count
  (zero while the canary held it down). Delete them when you want. The operator does the
  same in Kubernetes (`kube.adapters.disown`), where Flagger lets the garbage collector take them.

When the same delete also removes the Canary's target Deployment, the user is taking the
service down: the objects the Canary made go and the ones it took over come back as they
were (`routing.release_objects`), whatever `revertOnDeletion` says.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

from coalmine.api.canary import Canary
from coalmine.engine.observations import Routes
from coalmine.local.store import Store, StoredObject
from coalmine.local.wiring import DEFAULT_PROVIDER, ROUTERS
from coalmine.local.workload import SCALED_TO_ZERO, ProcessStates
from coalmine.routers.local_store import ORIGINAL, LocalRouting, owner_of
from coalmine.routing.http_route import http_route_spec
from coalmine.routing.virtual_service import apex_name, primary_host, virtual_service_spec

__all__ = ["MAX_WAIT_SECONDS", "release_canary"]

ROUTE_KINDS = ("VirtualService", "HTTPRoute")
"""The objects a local router carries weights in (`routers.envoy`, `routers.local_gatewayapi`)."""

MAX_WAIT_SECONDS = 20.0
"""The longest a deletion waits for the target to be ready (the API call is waiting, and
the CLI gives up after 30 s)."""

Sync = Callable[[], Awaitable[None]]


async def release_canary(
    canary: Canary,
    routing: LocalRouting,
    processes: ProcessStates,
    sync_workloads: Sync,
) -> None:
    """Hand the service back from a Canary about to be deleted; see the module docstring.
    The objects given back are written as rows only (the runtime's `StoredModels` parses
    each once): this is not the path of a weight change."""
    store, sync_dataplane = routing.store, routing.sync
    if _primary_ready(canary, store, processes):
        provider = canary.spec.provider or DEFAULT_PROVIDER
        router = ROUTERS.create(provider, routing)
        await router.set_routes(canary, Routes.all_primary())
    if not canary.spec.revert_on_deletion:
        _disown(store, canary)
        return
    await _target_up(canary, store, processes, sync_workloads)
    _restore(store, canary)
    await sync_dataplane()
    _remove_primary_side(store, canary)
    await sync_dataplane()
    await sync_workloads()


def _primary_ready(canary: Canary, store: Store, processes: ProcessStates) -> bool:
    if store.get("Deployment", canary.namespace, canary.primary_name) is None:
        return False
    state = processes.workload_state(canary.namespace, canary.primary_name)
    return state is not None and state.available > 0


def _owned(store: Store, canary: Canary) -> list[StoredObject]:
    return [o for o in store.objects(namespace=canary.namespace) if o.owner == owner_of(canary)]


def _disown(store: Store, canary: Canary) -> None:
    """Keep everything serving as it is, as the user's objects."""
    with store.transaction():
        for stored in _owned(store, canary):
            manifest = json.loads(json.dumps(stored.manifest))
            (manifest["metadata"].get("annotations") or {}).pop(ORIGINAL, None)
            store.put(stored.kind, stored.namespace, stored.name, manifest, owner=None)


async def _target_up(
    canary: Canary, store: Store, processes: ProcessStates, sync_workloads: Sync
) -> None:
    name = canary.spec.target_ref.name
    stored = store.get("Deployment", canary.namespace, name)
    if stored is None:
        return
    if (stored.status or {}).get(SCALED_TO_ZERO):
        status = {k: v for k, v in (stored.status or {}).items() if k != SCALED_TO_ZERO}
        store.write_status("Deployment", canary.namespace, name, status)
    await sync_workloads()
    wanted = max(1, int(stored.manifest["spec"].get("replicas", 1)))
    wait = min(float(canary.spec.progress_deadline_seconds), MAX_WAIT_SECONDS)
    deadline = asyncio.get_running_loop().time() + wait
    while asyncio.get_running_loop().time() < deadline:
        state = processes.workload_state(canary.namespace, name)
        if state is not None and state.available >= wanted:
            return
        await asyncio.sleep(0.1)


def _restore(store: Store, canary: Canary) -> None:
    """The apex Service and VirtualService back to the user (their original, or repointed)."""
    apex = apex_name(canary)
    target = store.get("Deployment", canary.namespace, canary.spec.target_ref.name)
    labels = target.manifest["spec"]["selector"]["matchLabels"] if target else {}
    with store.transaction():
        for stored in _owned(store, canary):
            if stored.name != apex or stored.kind not in ("Service", *ROUTE_KINDS):
                continue
            original = (stored.manifest["metadata"].get("annotations") or {}).get(ORIGINAL)
            if original is not None:
                manifest = json.loads(original)
            elif stored.kind == "Service":
                manifest = _repointed_service(stored.manifest, labels)
            elif stored.kind == "HTTPRoute":
                manifest = _http_route_to_apex(canary, stored.manifest)
            else:
                manifest = _to_apex(canary, stored.manifest)
            store.put(stored.kind, stored.namespace, stored.name, manifest, owner=None)


def _repointed_service(manifest: dict[str, Any], labels: dict[str, str]) -> dict[str, Any]:
    service: dict[str, Any] = json.loads(json.dumps(manifest))
    service["spec"]["selector"] = dict(labels)
    return service


def _to_apex(canary: Canary, manifest: dict[str, Any]) -> dict[str, Any]:
    """The canary's VirtualService with every route sent to the apex Service."""
    spec = virtual_service_spec(canary, Routes.all_primary())
    for route in spec["http"]:
        route.pop("mirror", None)
        route.pop("mirrorPercentage", None)
        route["route"] = [
            {**d, "destination": {**d["destination"], "host": apex_name(canary)}, "weight": 100}
            for d in route["route"]
            if d["destination"]["host"] == primary_host(canary)
        ]
    metadata = {k: v for k, v in manifest["metadata"].items() if k != "annotations"}
    return {**manifest, "metadata": metadata, "spec": spec}


def _http_route_to_apex(canary: Canary, manifest: dict[str, Any]) -> dict[str, Any]:
    """The canary's HTTPRoute with every rule sent to the apex Service alone (no mirror,
    no per-backend filters such as session affinity's Set-Cookie)."""
    spec = http_route_spec(canary, Routes.all_primary())
    apex = {"group": "", "kind": "Service", "name": apex_name(canary)}
    for rule in spec["rules"]:
        filters = [f for f in rule.get("filters") or [] if f.get("type") != "RequestMirror"]
        rule.pop("filters", None)
        if filters:
            rule["filters"] = filters
        rule["backendRefs"] = [{**apex, "port": canary.spec.service.port}]
    metadata = {k: v for k, v in manifest["metadata"].items() if k != "annotations"}
    return {**manifest, "metadata": metadata, "spec": spec}


def _remove_primary_side(store: Store, canary: Canary) -> None:
    with store.transaction():
        for stored in _owned(store, canary):
            store.delete(*stored.key)
