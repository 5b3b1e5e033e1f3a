"""JSON merge patches (RFC 7386) that send only what changes, and the manifest a user could apply.

`merge_patch(current, desired, replaced=...)` compares an object as stored with the
fields a command sets and answers the smallest merge patch: maps are merged key by
key, a value that differs is sent, a key the command does not mention is left alone
(coalmine never rewrites a field it does not own). Under a `replaced` path the
desired value is the whole truth: keys missing from it are removed (sent as null),
which is how `manual finish` gives the primary exactly the canary's pod template.
An empty answer means nothing to write.
"""

from __future__ import annotations

from typing import Any

__all__ = ["SERVER_METADATA", "manifest_of", "merge_patch"]

Obj = dict[str, Any]
Path = tuple[str, ...]

SERVER_METADATA = (
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "managedFields",
    "selfLink",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
)
"""Metadata the API server sets; never part of a manifest a person writes."""


def merge_patch(current: Obj, desired: Obj, *, replaced: tuple[Path, ...] = ()) -> Obj:
    """The merge patch that takes `current` to `desired` on the keys `desired` names."""
    return _patch(current, desired, (), replaced)


def _patch(current: Obj, desired: Obj, path: Path, replaced: tuple[Path, ...]) -> Obj:
    if path in replaced:
        return _exact(current, desired)
    patch: Obj = {}
    for key, value in desired.items():
        before = current.get(key)
        if isinstance(value, dict) and isinstance(before, dict):
            inner = _patch(before, value, (*path, key), replaced)
            if inner:
                patch[key] = inner
        elif before != value:
            patch[key] = value
    return patch


def _exact(current: Obj, desired: Obj) -> Obj:
    """Keys of `current` that `desired` lacks become null; the rest as in `_patch`."""
    patch: Obj = {key: None for key in current if key not in desired}
    for key, value in desired.items():
        before = current.get(key)
        if isinstance(value, dict) and isinstance(before, dict):
            inner = _exact(before, value)
            if inner:
                patch[key] = inner
        elif before != value:
            patch[key] = value
    return patch


def manifest_of(obj: Obj) -> Obj:
    """An object as read, as a manifest: no status, no server-set metadata."""
    manifest = {key: value for key, value in obj.items() if key != "status"}
    metadata = {
        key: value
        for key, value in (obj.get("metadata") or {}).items()
        if key not in SERVER_METADATA
    }
    if not metadata.get("labels"):
        metadata.pop("labels", None)
    annotations = {
        k: v
        for k, v in (metadata.get("annotations") or {}).items()
        if k not in ("kubectl.kubernetes.io/last-applied-configuration",)
        and not k.startswith("deployment.kubernetes.io/")
    }
    if annotations:
        metadata["annotations"] = annotations
    else:
        metadata.pop("annotations", None)
    manifest["metadata"] = metadata
    return manifest
