"""Create-or-repair the objects a Canary needs, touching only the fields coalmine sets.

`ensure` is the one way the router writes a Service, VirtualService or DestinationRule:
- missing: created with an owner reference to the Canary and the managed-by label;
- present: the spec fields coalmine owns are compared with what they should be, and
  only the differences are sent, as one JSON merge patch (fields coalmine does not
  set, such as a Service's clusterIP or a VirtualService's exportTo, are never sent);
- present but not coalmine's (no owner reference): taken over, its spec kept in the
  `coalmine.dev/original-spec` annotation first (see `ownership`).

`restore` undoes it on deletion with revertOnDeletion: a taken-over object gets its
original spec back, one coalmine created is deleted.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from coalmine.api.canary import Canary, CustomMetadata
from coalmine.errors import Conflict
from coalmine.kube.adapters.client import KubeClient, Obj
from coalmine.kube.adapters.ownership import (
    ORIGINAL_SPEC,
    adoption_patch,
    is_owned_by,
    managed_metadata,
    original_spec,
)
from coalmine.kube.adapters.resources import Kind

__all__ = [
    "MISSING",
    "UNCHANGED",
    "Desired",
    "Missing",
    "ObjectWriter",
    "merge_patch_between",
    "owned_fields_patch",
]


@dataclass(frozen=True)
class Desired:
    """What one object should look like, as far as coalmine is concerned."""

    kind: Kind
    name: str
    owned: dict[str, Any]
    """Spec fields coalmine owns, with their values (None: the field must be absent)."""
    created_only: dict[str, Any] | None = None
    """Spec fields set when coalmine creates the object, then left alone."""
    labels: dict[str, str] | None = None
    """Labels of an object coalmine creates."""
    metadata: CustomMetadata | None = None
    """Labels and annotations coalmine keeps on an object it created (service.apex,
    .primary, .canary): set at creation and repaired at every reconcile, key by key, so
    keys written by others stay (Flagger's unmanagedMetadata needs nothing more). As in
    Flagger, an object coalmine took over keeps its own metadata."""


class Missing:
    """Not given (as opposed to None, "known not to exist")."""


MISSING = Missing()
UNCHANGED: Any = object()
"""What `merge_patch_between` answers when there is nothing to change."""


def merge_patch_between(current: Any, desired: Any) -> Any:
    """The RFC 7386 merge patch that turns `current` into exactly `desired`, or UNCHANGED.

    Maps are compared key by key (a key that must go becomes None); anything else,
    lists included, is replaced whole when it differs.
    """
    if not isinstance(current, dict) or not isinstance(desired, dict):
        return UNCHANGED if current == desired else desired
    patch: dict[str, Any] = {key: None for key in current if key not in desired}
    for key, value in desired.items():
        change = merge_patch_between(current[key], value) if key in current else value
        if change is not UNCHANGED:
            patch[key] = change
    return patch or UNCHANGED


def owned_fields_patch(current: dict[str, Any], owned: dict[str, Any]) -> dict[str, Any]:
    """A merge patch for the `owned` keys of `current` only (None: the key must be absent)."""
    patch: dict[str, Any] = {}
    for key, value in owned.items():
        if value is None:
            if key in current:
                patch[key] = None
            continue
        change = merge_patch_between(current[key], value) if key in current else value
        if change is not UNCHANGED:
            patch[key] = change
    return patch


class ObjectWriter:
    def __init__(self, client: KubeClient) -> None:
        self.client = client

    async def ensure(
        self, canary: Canary, desired: Desired, *, current: Obj | Missing | None = MISSING
    ) -> Obj:
        """The object as stored after making coalmine's fields right.

        `current` is the object as just read (None: it does not exist), to save a read.
        """
        kind, name, namespace = desired.kind, desired.name, canary.namespace
        if isinstance(current, Missing):
            current = await self.client.get(kind, name, namespace)
        if current is None:
            try:
                return await self.client.create(kind, namespace, _new_object(canary, desired))
            except Conflict:  # created meanwhile by someone else: repair it below
                current = await self.client.get(kind, name, namespace)
                if current is None:
                    raise
        patch = _repair_patch(canary, current, desired)
        if not patch:
            return current
        return await self.client.merge_patch(kind, name, namespace, patch)

    async def restore(self, canary: Canary, kind: Kind, name: str) -> str:
        """Give a taken-over object its original spec back; delete one coalmine created.

        Returns what was done, for the event ("restored", "deleted", "absent", "kept").
        """
        current = await self.client.get(kind, name, canary.namespace)
        if current is None:
            return "absent"
        original = original_spec(current)
        if original is not None:
            patch: dict[str, Any] = {"metadata": {"annotations": _without_original(current)}}
            spec = merge_patch_between(current.get("spec") or {}, original)
            if spec is not UNCHANGED:
                patch["spec"] = spec
            await self.client.merge_patch(kind, name, canary.namespace, patch)
            return "restored"
        if is_owned_by(current, canary):
            await self.client.delete(kind, name, canary.namespace)
            return "deleted"
        return "kept"


def _new_object(canary: Canary, desired: Desired) -> Obj:
    spec = {**(desired.created_only or {}), **desired.owned}
    custom = desired.metadata or CustomMetadata()
    metadata = managed_metadata(
        canary, desired.name, {**(desired.labels or {}), **(custom.labels or {})}
    )
    if custom.annotations:
        metadata["annotations"] = dict(custom.annotations)
    return {
        "apiVersion": desired.kind.api_version,
        "kind": desired.kind.kind,
        "metadata": metadata,
        "spec": {key: value for key, value in spec.items() if value is not None},
    }


def _repair_patch(canary: Canary, current: Obj, desired: Desired) -> dict[str, Any]:
    patch: dict[str, Any] = {}
    spec_patch = owned_fields_patch(current.get("spec") or {}, desired.owned)
    if spec_patch:
        patch["spec"] = spec_patch
    adoption = adoption_patch(current, canary)
    if adoption is not None:  # kept by a deleted Canary: coalmine's again, not taken over
        patch["metadata"] = adoption
    owned = adoption is not None or is_owned_by(current, canary)
    taken_over = not owned and original_spec(current) is None
    if patch and taken_over:
        original = json.dumps(current.get("spec") or {}, sort_keys=True, separators=(",", ":"))
        patch["metadata"] = {"annotations": {ORIGINAL_SPEC: original}}
    custom = desired.metadata if owned else None
    if custom is not None and (metadata_patch := _custom_metadata_patch(current, custom)):
        patch["metadata"] = _merged(patch.get("metadata") or {}, metadata_patch)
    return patch


def _merged(first: dict[str, Any], second: dict[str, Any]) -> dict[str, Any]:
    """Two metadata merge patches as one (second wins, maps merged one level down)."""
    merged = dict(first)
    for key, value in second.items():
        before = merged.get(key)
        merged[key] = {**before, **value} if isinstance(before, dict) else value
    return merged


def _custom_metadata_patch(current: Obj, custom: CustomMetadata) -> dict[str, Any]:
    """The keys of `custom` whose values differ on `current` (others' keys untouched)."""
    stored = current.get("metadata") or {}
    patch: dict[str, Any] = {}
    for field, wanted in (("labels", custom.labels), ("annotations", custom.annotations)):
        have = stored.get(field) or {}
        changes = {k: v for k, v in (wanted or {}).items() if have.get(k) != v}
        if changes:
            patch[field] = changes
    return patch


def _without_original(obj: Obj) -> dict[str, Any] | None:
    """A merge patch of the annotations that drops coalmine's; None drops an emptied map."""
    annotations = obj.get("metadata", {}).get("annotations") or {}
    return {ORIGINAL_SPEC: None} if set(annotations) - {ORIGINAL_SPEC} else None
