"""Config tracking in local mode: the ConfigMaps and Secrets a canary's Deployments read
are part of their revision, and the primary reads `-primary` copies.

The pure parts (which objects a template names, which are tracked, the `-primary`
rewrite, the checksums) are `coalmine.api.config_tracking`, shared with the cluster.
What is local:

- `with_config_revision`: the Deployment the processes run carries, in its pod
  template's annotations, `coalmine.dev/config-revision`, a checksum of the tracked
  objects' content. A change of content alone is then a new pod template hash: the
  target's revision changes (so the engine starts an analysis), and the replicas roll
  out reading the new content (a process reads its environment when it starts). Only a
  canary's target and the Deployments a canary owns (primary, baseline) get it: any
  other Deployment keeps Kubernetes' behaviour (a config change reaches a pod when it
  restarts).
- `copy_for_primary`: `<name>-primary` copies in the store, owned by the Canary, written
  at initialization and promotion. The primary's template names the copies
  (`primary_template`), so it never reads the target's config, and its annotation is the
  copies' checksum: a promotion that changes only config rolls the primary out.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from coalmine.api.canary import Canary
from coalmine.api.config_tracking import (
    CONFIG_TRACKING,
    ConfigRef,
    is_tracked,
    referenced_configs,
    revision_with_configs,
)
from coalmine.errors import AdapterError
from coalmine.local.store import Store

__all__ = [
    "CONFIG_REVISION",
    "copy_for_primary",
    "kind_of",
    "tracked_configs",
    "with_config_revision",
]

CONFIG_REVISION = "coalmine.dev/config-revision"
"""Pod template annotation: the checksum of the tracked configs' content."""

Manifest = dict[str, Any]


def kind_of(ref: ConfigRef) -> str:
    """The store's kind for a reference: "ConfigMap" or "Secret"."""
    return "ConfigMap" if ref.kind == "configmap" else "Secret"


def tracked_configs(
    store: Store, namespace: str, template: Mapping[str, Any]
) -> dict[ConfigRef, Manifest]:
    """The stored, tracked objects `template` names (a missing one is not tracked: the
    replica cannot start, and says so)."""
    found: dict[ConfigRef, Manifest] = {}
    for ref in sorted(referenced_configs(template)):
        stored = store.get(kind_of(ref), namespace, ref.name)
        if stored is not None and is_tracked(ref, stored.manifest):
            found[ref] = stored.manifest
    return found


def with_config_revision(store: Store, manifest: Manifest) -> Manifest:
    """The Deployment manifest with the tracked configs' checksum in its pod template's
    annotations; the manifest itself when it tracks nothing."""
    namespace = manifest["metadata"].get("namespace", "default")
    configs = tracked_configs(store, namespace, manifest["spec"]["template"])
    if not configs:
        return manifest
    result = copy.deepcopy(manifest)
    template_meta = result["spec"]["template"].setdefault("metadata", {})
    annotations = template_meta.setdefault("annotations", {})
    annotations[CONFIG_REVISION] = revision_with_configs("configs", configs)
    return result


def copy_for_primary(
    store: Store, canary: Canary, configs: Mapping[ConfigRef, Manifest], *, owner: str
) -> None:
    """Write `<name>-primary` for each config: its content, type and labels (not its
    annotations, as Flagger; not `immutable`, so that the next promotion can update it),
    owned by the Canary (`owner`, as the store names it) so that it goes with it."""
    with store.transaction():
        for ref, source in sorted(configs.items()):
            metadata = source.get("metadata") or {}
            body: Manifest = {
                "apiVersion": "v1",
                "kind": kind_of(ref),
                "metadata": {
                    "name": ref.primary_name,
                    "namespace": canary.namespace,
                    "labels": dict(metadata.get("labels") or {}),
                },
            }
            for key in ("data", "binaryData", "type"):
                if key in source:
                    body[key] = copy.deepcopy(source[key])
            current = store.get(kind_of(ref), canary.namespace, ref.primary_name)
            if current is not None and current.owner != owner:
                raise AdapterError(
                    f"{ref.kind} {ref.primary_name}.{canary.namespace} exists and is not "
                    f"owned by canary {canary.key}; coalmine copies {ref.kind} {ref.name} "
                    f"there for the primary: rename or delete it, or annotate {ref.kind} "
                    f"{ref.name} with {CONFIG_TRACKING}: disabled"
                )
            if current is None or current.manifest != body or current.owner != owner:
                store.put(kind_of(ref), canary.namespace, ref.primary_name, body, owner=owner)
