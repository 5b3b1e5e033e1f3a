"""Would Envoy serve the store after this change? Asked before an apply or delete is stored,
and at start-up, where an object Envoy refuses is quarantined so the rest can serve.

`coalmine apply` validates the models and how objects fit together (`local.objects`),
but only Envoy knows everything Envoy refuses. So the runtime translates the store as it
would be after the change and has Envoy validate that (`EnvoyDataPlane.check`, about
30 ms, cached by content) before anything is written: an apply Envoy refuses leaves
the store as it was, and a restart never meets a configuration Envoy will not load.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path
from typing import Any

from coalmine.api.common import Model
from coalmine.api.loading import GATEWAY_API_GATEWAY
from coalmine.errors import InvalidDataPlane, ManifestError, Problem
from coalmine.local.envoy import EnvoyDataPlane, EnvoySettings
from coalmine.local.objects import label_of
from coalmine.local.stored_models import ROUTING_KINDS, Key, StoredModels
from coalmine.local.translate import Objects, translate

__all__ = [
    "ROUTING_KINDS",
    "Key",
    "Validate",
    "envoy_problems",
    "objects_after",
    "quarantine_unservable",
    "routing_objects",
]

Validate = Callable[[Objects], Awaitable[None]]
"""Translate objects and have Envoy validate them; raises InvalidDataPlane when refused."""


def objects_after(
    models: StoredModels, put: Iterable[Model] = (), removed: Iterable[Key] = ()
) -> Objects:
    """The routing objects of the store once `put` is written and `removed` is deleted."""
    given = {label_of(r): r for r in put if label_of(r)[0] in ROUTING_KINDS}
    gone = set(removed) | set(given)
    found: dict[str, list[Any]] = {kind: [] for kind in ROUTING_KINDS}
    for key, model in models.all().items():
        if key not in gone:
            found[key[0]].append(model)
    for (kind, _, _), resource in given.items():
        found[kind].append(resource)
    return _objects(found)


def routing_objects(models: StoredModels) -> Objects:
    """The routing objects of the store as it is."""
    return objects_after(models)


async def quarantine_unservable(models: StoredModels, validate: Validate) -> list[Key]:
    """Quarantine the routing objects Envoy refuses; answer their keys.

    When the whole store is accepted (the usual case) this costs one validation. Else
    objects are added one at a time, in dependency order, and each one that makes Envoy
    refuse the set is quarantined with Envoy's reason.
    """
    try:
        await validate(objects_after(models))
        return []
    except InvalidDataPlane:
        pass
    everything = models.all()
    kept: dict[str, list[Any]] = {kind: [] for kind in ROUTING_KINDS}
    refused: list[Key] = []
    for kind in ROUTING_KINDS:
        for key in [k for k in everything if k[0] == kind]:
            kept[kind].append(everything[key])
            try:
                await validate(_objects(kept))
            except InvalidDataPlane as error:
                kept[kind].pop()
                models.store.quarantine(*key, reason=str(error))
                refused.append(key)
    return refused


def _objects(found: dict[str, list[Any]]) -> Objects:
    return Objects(
        services=list(found["Service"]),
        gateways=list(found["Gateway"]),
        virtual_services=list(found["VirtualService"]),
        destination_rules=list(found["DestinationRule"]),
        gateway_api_gateways=list(found[GATEWAY_API_GATEWAY]),
        http_routes=list(found["HTTPRoute"]),
        reference_grants=list(found["ReferenceGrant"]),
    )


async def envoy_problems(resources: Iterable[Model], scratch: Path) -> list[Problem]:
    """What Envoy itself would refuse in the routing objects among `resources`, on their
    own (`coalmine validate --local`): translated as `coalmine up` would, with no replicas,
    and validated by `envoy --mode validate` (files go under `scratch`)."""
    found: dict[str, list[Any]] = {kind: [] for kind in ROUTING_KINDS}
    for resource in resources:
        if label_of(resource)[0] in found:
            found[label_of(resource)[0]].append(resource)
    if not any(found.values()):
        return []
    plane = EnvoyDataPlane(EnvoySettings(state_dir=scratch))
    try:
        await plane.check(translate(_objects(found), _no_endpoints, "127.0.0.1", 0).plane)
    except ManifestError as error:
        return list(error.problems)
    return []


def _no_endpoints(namespace: str, selector: dict[str, str], port: int | str) -> list[Any]:
    return []
