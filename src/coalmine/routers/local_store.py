"""What the local runtime's routers share: they write the canary's objects into the local
store, and the runtime turns the store into Envoy configuration.

Every local router writes the same three Services (`<service>`, `-primary`, `-canary`,
and `-baseline` when asked); they differ in the object that carries the weights: a
VirtualService (`routers.envoy`) or a Gateway API HTTPRoute (`routers.local_gatewayapi`).
`set_routes` returns only once Envoy serves the new weights, so that a rollback has moved
all traffic to the primary before the canary is scaled down.

Each object is validated into its model once, here, and handed to the runtime's
`StoredModels` together with the row it writes: the data plane is translated from that
model, and the row keeps the manifest a user would write (`coalmine get -o yaml`).
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, ClassVar, Self

from coalmine.api.canary import Canary, CustomMetadata
from coalmine.api.loading import LOCAL_RESOURCES, parse_resource
from coalmine.engine.observations import Routes
from coalmine.errors import AdapterError
from coalmine.local.store import Store
from coalmine.local.stored_models import StoredModels
from coalmine.local.workload import baseline_labels, primary_labels, target_labels
from coalmine.routing.virtual_service import (
    apex_name,
    baseline_host,
    canary_host,
    has_baseline,
    primary_host,
)

__all__ = ["ORIGINAL", "LocalRouting", "StoreRouter", "owner_of", "release_objects"]

ORIGINAL = "coalmine.dev/original"
"""Annotation keeping the manifest of an object the canary took over from the user."""


def owner_of(canary: Canary) -> str:
    return f"Canary/{canary.name}"


@dataclass(frozen=True)
class LocalRouting:
    """What the local runtime gives its router to act through."""

    store: Store
    sync: Callable[[], Awaitable[None]]
    """Pushes the stored routing objects to Envoy and returns once they are served."""
    models: StoredModels | None = None
    """The runtime's models of the routing rows, which the router's writes go through
    (None: the router keeps its own, and the runtime parses what it wrote)."""


class StoreRouter(ABC):
    """A Router port over the local store: the Services, and one routing object named
    after the apex Service whose kind and spec the subclass gives (`route_spec` and
    `routes_in` are abstract: a subclass that leaves one out cannot be made)."""

    route_kind: ClassVar[str]
    """The store kind of the object carrying the weights."""
    api_version: ClassVar[str]

    def __init__(
        self,
        store: Store,
        sync: Callable[[], Awaitable[None]],
        models: StoredModels | None = None,
    ) -> None:
        self.store = store
        self.sync = sync
        """Pushes the stored routing objects to Envoy and returns once they are served."""
        self.models = models or StoredModels(store)

    @classmethod
    def of(cls, routing: LocalRouting) -> Self:
        """The factory the local runtime's registry calls."""
        return cls(routing.store, routing.sync, routing.models)

    @abstractmethod
    def route_spec(self, canary: Canary, routes: Routes) -> dict[str, Any]:
        """The routing object's spec sending `routes` (the subclass's rendering)."""

    @abstractmethod
    def routes_in(self, canary: Canary, spec: dict[str, Any]) -> Routes:
        """The weights a stored spec sends (the subclass's reading)."""

    async def reconcile(self, canary: Canary) -> None:
        labels = target_labels(self.store, canary)
        if labels is None:
            raise AdapterError(f"deployment {canary.target_key} not found")
        primary = primary_labels(labels)
        service = canary.spec.service
        self._service(canary, apex_name(canary), primary, service.apex)
        self._service(canary, primary_host(canary), primary, service.primary)
        self._service(canary, canary_host(canary), labels, service.canary)
        if has_baseline(canary):
            self._service(canary, baseline_host(canary), baseline_labels(labels), None)
        current = self.store.get(self.route_kind, canary.namespace, apex_name(canary))
        routes = Routes.all_primary()
        if current is not None and current.owner == owner_of(canary):
            routes = self.routes_in(canary, current.manifest["spec"])
        self._route_object(canary, routes)
        await self.sync()

    async def get_routes(self, canary: Canary) -> Routes:
        stored = self.store.get(self.route_kind, canary.namespace, apex_name(canary))
        if stored is None:
            raise AdapterError(
                f"{self.route_kind.lower()} {apex_name(canary)} not found in {canary.namespace}"
            )
        return self.routes_in(canary, stored.manifest["spec"])

    async def set_routes(self, canary: Canary, routes: Routes) -> None:
        self._route_object(canary, routes)
        await self.sync()

    def _service(
        self,
        canary: Canary,
        name: str,
        selector: dict[str, str],
        custom: CustomMetadata | None,
    ) -> None:
        """One generated Service, with the labels and annotations of service.apex/.primary/
        .canary (trafficDistribution and headless mean nothing to the one local Envoy)."""
        port = canary.spec.service
        metadata: dict[str, Any] = {"name": name, "namespace": canary.namespace}
        if custom is not None and custom.labels:
            metadata["labels"] = dict(custom.labels)
        if custom is not None and custom.annotations:
            metadata["annotations"] = dict(custom.annotations)
        manifest = {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": metadata,
            "spec": {
                "selector": selector,
                "ports": [
                    {"name": "http", "port": port.port, "targetPort": port.target_port or port.port}
                ],
            },
        }
        self._take(canary, "Service", name, manifest)

    def _route_object(self, canary: Canary, routes: Routes) -> None:
        manifest: dict[str, Any] = {
            "apiVersion": self.api_version,
            "kind": self.route_kind.partition(".")[0],
            "metadata": {"name": apex_name(canary), "namespace": canary.namespace},
            "spec": self.route_spec(canary, routes),
        }
        self._take(canary, self.route_kind, apex_name(canary), manifest)

    def _take(self, canary: Canary, kind: str, name: str, manifest: dict[str, Any]) -> None:
        """Write a generated object, validated into its model once (handed to the runtime
        beside the row). One the user made first keeps its original manifest in an
        annotation, so that deleting the Canary gives it back (see `release_objects`)."""
        key = (kind, canary.namespace, name)
        original = None
        if (current := self.models.get(key)) is not None:
            stored_model, owner = current
            if owner is None:  # the user's: keep the row as they wrote it
                users = self.store.get(*key)
                assert users is not None
                original = json.dumps(users.manifest, sort_keys=True)
            else:
                metadata = getattr(stored_model, "metadata")  # noqa: B009 - all routing kinds
                original = metadata.annotations.get(ORIGINAL)
        if original is not None:
            annotations = manifest["metadata"].get("annotations") or {}
            manifest["metadata"]["annotations"] = {**annotations, ORIGINAL: original}
        model = parse_resource(manifest, kinds=LOCAL_RESOURCES)
        self.models.put(key, manifest, model, owner_of(canary))


def release_objects(store: Store, namespace: str, canary_name: str) -> None:
    """A deleted Canary's objects: the ones it took over come back as they were, the
    ones it made go."""
    owner = f"Canary/{canary_name}"
    with store.transaction():
        for stored in store.objects(namespace=namespace):
            if stored.owner != owner:
                continue
            original = stored.manifest["metadata"].get("annotations", {}).get(ORIGINAL)
            if original is None:
                store.delete(*stored.key)
            else:
                store.put(stored.kind, namespace, stored.name, json.loads(original), owner=None)
