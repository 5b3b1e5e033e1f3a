"""Applying and deleting objects in the local store: validated as a whole, written as a whole.

An apply parses every document, checks each on its own (the models) and all of them
together with what is already stored (a route to an unknown Service, an unknown
subset or Gateway), and writes nothing unless everything is right.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Container, Iterable
from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from typing import Any, Literal, TypeVar

from coalmine.api import gatewayapi
from coalmine.api.canary import GATEWAY_API_PROVIDERS, Canary
from coalmine.api.common import Model
from coalmine.api.configs import Secret, secret_data
from coalmine.api.interval_floor import MIN_INTERVAL, interval_problems
from coalmine.api.loading import LOCAL_RESOURCES, load_text, parse_resource, stored_kind
from coalmine.api.networking import DestinationRule, Gateway, HTTPRoute, VirtualService
from coalmine.api.workloads import Service
from coalmine.errors import ManifestError, NotFound, Problem
from coalmine.local.gateway_api_checks import check_gateway, check_http_route, parent_problems
from coalmine.local.store import Store, StoredObject
from coalmine.local.stored_models import StoredModels, StoredObjectInvalid
from coalmine.routers.envoy import ORIGINAL
from coalmine.routing.virtual_service import is_tcp

__all__ = ["Applied", "ObjectBook", "host_service_name", "label_of"]

Action = Literal["created", "configured", "unchanged", "deleted"]


@dataclass(frozen=True)
class Applied:
    kind: str
    namespace: str
    name: str
    action: Action

    def __str__(self) -> str:
        return f"{self.kind.lower()}/{self.name} {self.action} (namespace {self.namespace})"


def label_of(resource: Model) -> tuple[str, str, str]:
    """(kind as stored, namespace, name): the kind is qualified by its group where two
    groups share it (`Gateway.gateway.networking.k8s.io`, see `api.loading.Kind`)."""
    metadata = getattr(resource, "metadata")  # noqa: B009 - every stored kind has metadata
    return (stored_kind(resource, LOCAL_RESOURCES), metadata.namespace, metadata.name)


def host_service_name(host: str, namespace: str) -> tuple[str, str]:
    """(namespace, name) of the Service a route host names: "svc", "svc.ns" or the FQDN."""
    parts = host.split(".")
    if len(parts) == 1:
        return namespace, parts[0]
    return parts[1], parts[0]


class ObjectBook:
    """The user's view of the store: apply, delete, read, with the runtime's validation rules."""

    def __init__(
        self,
        store: Store,
        *,
        min_interval: timedelta = MIN_INTERVAL,
        models: StoredModels | None = None,
    ) -> None:
        self.store = store
        self.min_interval = min_interval
        self.models = models or StoredModels(store)
        """The routing rows as models: an applied routing object is handed over with its
        row, and the cross-checks read the stored ones from it."""

    def parse(self, text: str, source: str) -> list[Model]:
        floor_check = partial(interval_problems, floor=self.min_interval)
        loaded = load_text(text, source=source, kinds=LOCAL_RESOURCES, checks=[floor_check])
        if loaded.problems:
            raise ManifestError(loaded.problems)
        if not loaded.resources:
            raise ManifestError([Problem(source, "", "no objects to apply")])
        return loaded.resources

    def apply(self, text: str, source: str = "<input>") -> list[Applied]:
        """parse, check and write in one go (the runtime also asks Envoy in between)."""
        resources = self.parse(text, source)
        self.check(resources)
        return self.write(resources)

    def check(self, resources: list[Model]) -> None:
        """Raise ManifestError when the resources do not fit with each other and the store."""
        problems = _cross_check(resources, self.models)
        if problems:
            raise ManifestError(problems)

    def write(self, resources: list[Model]) -> list[Applied]:
        """Store the resources in one transaction; a quarantined one they replace is released."""
        applied = []
        with self.store.transaction():
            for resource in resources:
                self.store.release(*label_of(resource))
                applied.append(self._put(resource))
        return applied

    def parse_deletion(self, text: str, source: str = "<input>") -> list[Model]:
        """The objects a delete names; NotFound (nothing deleted) when one is not stored."""
        loaded = load_text(text, source=source, kinds=LOCAL_RESOURCES)
        if loaded.problems:
            raise ManifestError(loaded.problems)
        quarantined = {q.kind_key for q in self.store.quarantined()}
        missing = [
            label_of(r)
            for r in loaded.resources
            if self.store.get(*label_of(r)) is None and label_of(r) not in quarantined
        ]
        if missing:
            names = ", ".join(f"{k.lower()}/{n} (namespace {ns})" for k, ns, n in missing)
            raise NotFound(f"not found, nothing deleted: {names}")
        return loaded.resources

    def remove(self, resources: list[Model]) -> list[Applied]:
        with self.store.transaction():
            for resource in resources:
                self.store.delete(*label_of(resource))
                self.store.release(*label_of(resource))
        return [Applied(*label_of(r), "deleted") for r in resources]

    def delete(self, text: str, source: str = "<input>") -> list[Applied]:
        return self.remove(self.parse_deletion(text, source))

    def quarantine_invalid(self) -> list[tuple[str, str, str]]:
        """Quarantine every stored object that no longer validates (stored by an older
        coalmine, or edited by hand), so that the runtime serves everything else."""
        moved = []
        for stored in self.store.objects():
            try:
                if stored.kind == "Canary":
                    self.model(stored)  # a canary's status is read back too
                elif stored.kind in self.models.kinds:
                    self.models.get(stored.key)  # parsed once, kept for the data plane
                else:
                    parse_resource(stored.manifest, kinds=LOCAL_RESOURCES)
            except StoredObjectInvalid as error:
                self.store.quarantine(*stored.key, reason=str(error.cause))
                moved.append(stored.key)
            except ManifestError as error:
                self.store.quarantine(*stored.key, reason=str(error))
                moved.append(stored.key)
        return moved

    def get(self, kind: str, namespace: str, name: str) -> StoredObject:
        stored = self.store.get(kind, namespace, name)
        if stored is None:
            raise NotFound(f"{kind.lower()} {name} not found in namespace {namespace}")
        return stored

    def model(self, stored: StoredObject) -> Model:
        """The stored manifest (with its status) as a model."""
        document = dict(stored.manifest)
        if stored.status is not None:
            document["status"] = stored.status
        return parse_resource(document, kinds=LOCAL_RESOURCES)

    def canaries(self) -> list[Canary]:
        found = [self.model(stored) for stored in self.store.objects("Canary")]
        return [c for c in found if isinstance(c, Canary)]

    def _put(self, resource: Model) -> Applied:
        kind, namespace, name = label_of(resource)
        manifest = _user_manifest(resource)
        before = self.store.get(kind, namespace, name)
        _check_immutable(before, manifest)
        if before is not None and before.owner is not None and kind in TAKEN_OVER_KINDS:
            return self._merge(before, manifest)
        after = self.models.put((kind, namespace, name), manifest, resource, owner=None)
        if before is None:
            return Applied(kind, namespace, name, "created")
        changed = after.generation != before.generation
        return Applied(kind, namespace, name, "configured" if changed else "unchanged")

    def _merge(self, current: StoredObject, manifest: dict[str, Any]) -> Applied:
        """A user's object that a canary has taken over keeps serving the canary's spec;
        the user's manifest becomes the one the canary gives back when it is deleted (the
        `coalmine.dev/original` annotation). Re-applying the same manifest changes nothing,
        and a changed one changes nothing that serves until the canary lets go."""
        metadata = current.manifest["metadata"]
        annotations = {
            **(metadata.get("annotations") or {}),
            ORIGINAL: json.dumps(manifest, sort_keys=True),
        }
        merged = {**current.manifest, "metadata": {**metadata, "annotations": annotations}}
        after = self.store.put(*current.key, merged, owner=current.owner)
        action: Action = "configured" if after.generation != current.generation else "unchanged"
        return Applied(*current.key, action)


TAKEN_OVER_KINDS = ("Service", "VirtualService", "HTTPRoute")
"""Kinds a canary takes over from the user (and gives back when deleted)."""


def _check_immutable(before: StoredObject | None, manifest: dict[str, Any]) -> None:
    """A ConfigMap or Secret stored with `immutable: true` keeps its content, as the API
    server's `ValidateConfigMapUpdate`/`ValidateSecretUpdate` enforce."""
    if before is None or not before.manifest.get("immutable"):
        return
    content = ("data", "binaryData")
    changed = [k for k in content if before.manifest.get(k) != manifest.get(k)]
    if not manifest.get("immutable"):
        changed.append("immutable")
    if changed:
        kind, _, name = before.key
        raise ManifestError(
            [
                Problem(
                    f"{kind.lower()} {name}",
                    changed[0],
                    "field is immutable when `immutable` is set; delete the object and"
                    " apply it again",
                )
            ]
        )


def _user_manifest(resource: Model) -> dict[str, Any]:
    """What the user wrote, without status or server-set metadata; a Secret's
    `stringData` merged into `data`, as the API server stores it."""
    manifest = resource.to_manifest()
    if isinstance(resource, Secret):
        merged = secret_data(resource)
        manifest.pop("stringData", None)
        if merged:
            manifest["data"] = {k: base64.b64encode(v).decode() for k, v in merged.items()}
    manifest.pop("status", None)
    metadata = manifest.get("metadata", {})
    for key in ("uid", "resourceVersion", "generation", "creationTimestamp", "managedFields"):
        metadata.pop(key, None)
    return manifest


_NO_DELEGATION = (
    "the local runtime has no Istio delegation (a root VirtualService that names this one "
    "in `delegate`); remove delegation to run this Canary locally"
)


_GATEWAY_REFS = "spec.service.gatewayRefs"

_NO_TCP = (
    "the local runtime routes HTTP only (Envoy's HTTP listener); remove appProtocol tcp to"
    " run this Canary locally"
)


def _cross_check(resources: list[Model], store: StoredModels) -> list[Problem]:
    """Problems that only show with all objects together: what routes point at must exist."""
    services = {(s.metadata.namespace, s.metadata.name): s for s in _all(resources, store, Service)}
    gateways = _known(resources, store, Gateway)
    http_gateways = {
        (g.metadata.namespace, g.metadata.name): g
        for g in _all(resources, store, gatewayapi.Gateway)
    }
    subsets: dict[tuple[str, str], set[str]] = {}
    for rule in _all(resources, store, DestinationRule):
        host = host_service_name(rule.spec.host, rule.metadata.namespace)
        subsets.setdefault(host, set()).update(s.name for s in rule.spec.subsets)
    problems = []
    for resource in resources:
        if isinstance(resource, Canary) and resource.spec.service.delegation:
            problems.append(_problem(resource, "spec.service.delegation", _NO_DELEGATION))
        if isinstance(resource, Canary) and is_tcp(resource):
            problems.append(_problem(resource, "spec.service.appProtocol", _NO_TCP))
        if isinstance(resource, Canary) and resource.spec.provider in GATEWAY_API_PROVIDERS:
            refs = resource.spec.service.gateway_refs or []
            found = parent_problems(refs, resource.namespace, http_gateways, _GATEWAY_REFS)
            problems += [_problem(resource, path, why) for path, why in found]
        if isinstance(resource, VirtualService):
            problems += _check_virtual_service(resource, services, gateways, subsets)
        if isinstance(resource, gatewayapi.HTTPRoute):
            grants = _all(resources, store, gatewayapi.ReferenceGrant)
            problems += check_http_route(resource, services, http_gateways, grants)
        if isinstance(resource, gatewayapi.Gateway):
            problems += check_gateway(resource)
        if isinstance(resource, DestinationRule):
            host = host_service_name(resource.spec.host, resource.metadata.namespace)
            if host not in services:
                problems.append(_problem(resource, "spec.host", _unknown_service(host)))
    return problems


def _check_virtual_service(
    vs: VirtualService,
    services: Container[tuple[str, str]],
    gateways: set[tuple[str, str]],
    subsets: dict[tuple[str, str], set[str]],
) -> list[Problem]:
    namespace = vs.metadata.namespace
    problems = []
    for index, gateway in enumerate(vs.spec.gateways or []):
        if gateway == "mesh":
            continue
        ns, _, name = gateway.rpartition("/")
        if (ns or namespace, name) not in gateways:
            message = f"gateway {gateway!r} not found; apply the Gateway first or use mesh"
            problems.append(_problem(vs, f"spec.gateways[{index}]", message))
    for r, route in enumerate(vs.spec.http):
        problems += [_problem(vs, path, LOCAL_ONLY) for path in _unsupported_in(route, r)]
        for d, target in enumerate(route.route):
            destination = target.destination
            path = f"spec.http[{r}].route[{d}].destination"
            host = host_service_name(destination.host, namespace)
            if host not in services:
                problems.append(_problem(vs, f"{path}.host", _unknown_service(host)))
            elif destination.subset and destination.subset not in subsets.get(host, set()):
                known = sorted(subsets.get(host, set())) or "none"
                message = (
                    f"subset {destination.subset!r} is not defined by a DestinationRule for "
                    f"{host[1]}; defined subsets: {known}"
                )
                problems.append(_problem(vs, f"{path}.subset", message))
    return problems


LOCAL_ONLY = "not supported by the local runtime (coalmine up); remove it, or use Kubernetes"
MATCHES_SUPPORTED = {"name", "uri", "headers"}


def _unsupported_in(route: HTTPRoute, index: int) -> list[str]:
    """Paths of route fields the Istio model accepts but the local Envoy cannot honour."""
    paths = [
        f"spec.http[{index}].{alias}"
        for field, alias in (("rewrite", "rewrite"), ("cors_policy", "corsPolicy"))
        if getattr(route, field) is not None
    ]
    for m, match in enumerate(route.match or []):
        given = match.model_dump(by_alias=True, exclude_none=True)
        paths += [
            f"spec.http[{index}].match[{m}].{key}" for key in given if key not in MATCHES_SUPPORTED
        ]
    return paths


def _unknown_service(host: tuple[str, str]) -> str:
    return f"service {host[1]} not found in namespace {host[0]}; apply the Service first"


def _problem(resource: Model, path: str, message: str) -> Problem:
    kind, _, name = label_of(resource)
    return Problem(f"{kind.lower()} {name}", path, message)


Named = TypeVar(
    "Named",
    Service,
    Gateway,
    DestinationRule,
    VirtualService,
    gatewayapi.Gateway,
    gatewayapi.ReferenceGrant,
)


_STORED: dict[type[Any], str] = {kind.model: name for name, kind in LOCAL_RESOURCES.items()}
"""The name each routing model is stored under."""


def _known(
    resources: Iterable[Model], store: StoredModels, kind: type[Named]
) -> set[tuple[str, str]]:
    return {(r.metadata.namespace, r.metadata.name) for r in _all(resources, store, kind)}


def _all(resources: Iterable[Model], store: StoredModels, kind: type[Named]) -> list[Named]:
    given = [r for r in resources if isinstance(r, kind)]
    keys = {label_of(r) for r in given}
    stored = [r for r in store.of_kind(_STORED[kind]) if label_of(r) not in keys]
    return given + [r for r in stored if isinstance(r, kind)]
