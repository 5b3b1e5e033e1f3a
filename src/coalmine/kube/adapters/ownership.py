"""Who owns an object: coalmine's marks on what it creates and on what it takes over.

- An object coalmine creates carries an owner reference to its Canary (so that
  deleting the Canary garbage-collects it) and the label
  `app.kubernetes.io/managed-by: coalmine`.
- An object that existed before (a user's Service or VirtualService that coalmine
  takes over) gets no owner reference, so deleting the Canary never deletes it.
  Instead its spec as it was is kept, once, in the annotation `coalmine.dev/original-spec`,
  and restored from there when the Canary is deleted with `revertOnDeletion`.
- An object a deleted Canary kept serving (deleted without `revertOnDeletion`, see
  `kube.adapters.disown`) loses its owner reference and gets the annotation
  `coalmine.dev/kept-from-canary`. A Canary created later over it adopts it back (the
  owner reference, the label) instead of taking it over: its spec is coalmine's, not
  one the user wrote, so it must not become the "original" a revert gives back.
"""

from __future__ import annotations

import json
from typing import Any

from coalmine.api.canary import Canary

__all__ = [
    "KEPT_FROM",
    "MANAGED_BY",
    "ORIGINAL_SPEC",
    "adoption_patch",
    "is_owned_by",
    "managed_metadata",
    "original_spec",
    "owner_reference",
]

MANAGED_BY = {"app.kubernetes.io/managed-by": "coalmine"}
ORIGINAL_SPEC = "coalmine.dev/original-spec"
KEPT_FROM = "coalmine.dev/kept-from-canary"


def owner_reference(canary: Canary) -> dict[str, Any]:
    """The controller reference to the Canary (Flagger sets the same)."""
    return {
        "apiVersion": canary.api_version,
        "kind": "Canary",
        "name": canary.name,
        "uid": canary.metadata.uid or "",
        "controller": True,
        "blockOwnerDeletion": True,
    }


def managed_metadata(
    canary: Canary, name: str, labels: dict[str, str] | None = None
) -> dict[str, Any]:
    """Metadata of an object coalmine creates for `canary`."""
    return {
        "name": name,
        "namespace": canary.namespace,
        "labels": {**(labels or {}), **MANAGED_BY},
        "ownerReferences": [owner_reference(canary)],
    }


def is_owned_by(obj: dict[str, Any], canary: Canary) -> bool:
    """Does the Canary own it (an owner reference with the Canary's uid)?"""
    references = obj.get("metadata", {}).get("ownerReferences") or []
    return any(ref.get("uid") == canary.metadata.uid for ref in references)


def original_spec(obj: dict[str, Any]) -> dict[str, Any] | None:
    """The spec a taken-over object had before coalmine changed it; None if not taken over."""
    text = (obj.get("metadata", {}).get("annotations") or {}).get(ORIGINAL_SPEC)
    if text is None:
        return None
    spec: dict[str, Any] = json.loads(text)
    return spec


def adoption_patch(obj: dict[str, Any], canary: Canary) -> dict[str, Any] | None:
    """The metadata merge patch that makes `canary` own an object a deleted Canary kept;
    None when `obj` is not such an object (or is `canary`'s already)."""
    metadata = obj.get("metadata") or {}
    if KEPT_FROM not in (metadata.get("annotations") or {}) or is_owned_by(obj, canary):
        return None
    references = [*(metadata.get("ownerReferences") or []), owner_reference(canary)]
    return {
        "ownerReferences": references,
        "labels": dict(MANAGED_BY),
        "annotations": {KEPT_FROM: None},
    }
