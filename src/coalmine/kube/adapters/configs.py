"""Config tracking: the ConfigMaps and Secrets a target's pod template reads, as Flagger's
`pkg/canary/config_tracker.go` tracks them.

- `referenced_configs`: every ConfigMap and Secret the template names (volumes
  `configMap`/`secret`, projected volume sources, and in containers and init containers
  `env[].valueFrom.configMapKeyRef`/`secretKeyRef` and `envFrom[]`).
- `ConfigTracker.tracked`: those that exist and are tracked. Not tracked, as in
  Flagger: objects annotated `flagger.app/config-tracking: disabled` (any value
  starting with "disable"), and Secrets of a type other than Opaque, basic-auth,
  ssh-auth or tls (registry credentials belong to the service account). A missing one
  is not tracked either (its pods cannot start, and readiness says so).
- `revision_with_configs`: the pod template's revision combined with a checksum of each
  tracked object's data, so that a change of a ConfigMap's or Secret's content alone is
  a new revision, and starts an analysis.
- `ConfigTracker.copy_for_primary`: `<name>-primary` copies (owned by the Canary, the
  source's labels copied) written at initialization and promotion, and
  `primary_template` points the primary's pod template at them: the primary never reads
  the canary's config.

A Secret's data is read to checksum and copy it, and is never logged, nor put in an
event or the status (only names, and a hash within the revision).
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Mapping
from typing import Any

from coalmine.api.canary import Canary
from coalmine.api.config_tracking import (
    CONFIG_TRACKING,
    TRACKED_SECRET_TYPES,
    ConfigRef,
    checksum,
    is_tracked,
    primary_template,
    referenced_configs,
    revision_with_configs,
)
from coalmine.errors import AdapterError
from coalmine.kube.adapters.client import KubeClient, Obj
from coalmine.kube.adapters.ownership import adoption_patch, is_owned_by, managed_metadata
from coalmine.kube.adapters.resources import CONFIG_MAPS, SECRETS, Kind

__all__ = [
    "CONFIG_TRACKING",
    "TRACKED_SECRET_TYPES",
    "ConfigRef",
    "ConfigTracker",
    "checksum",
    "primary_template",
    "referenced_configs",
    "revision_with_configs",
]

log = logging.getLogger(__name__)

# Reading and copying ------------------------------------------------------------------


def _resource(ref: ConfigRef) -> Kind:
    return CONFIG_MAPS if ref.kind == "configmap" else SECRETS


class ConfigTracker:
    """Reads the tracked configs of a namespace and writes their `-primary` copies."""

    def __init__(self, client: KubeClient) -> None:
        self.client = client

    async def tracked(self, template: Mapping[str, Any], namespace: str) -> dict[ConfigRef, Obj]:
        """The tracked objects `template` references, by reference (read now)."""
        found: dict[ConfigRef, Obj] = {}
        for ref in sorted(referenced_configs(template)):
            obj = await self.client.get(_resource(ref), ref.name, namespace)
            if obj is None:
                log.debug("%s %s.%s not found: not tracked", ref.kind, ref.name, namespace)
            elif is_tracked(ref, obj):
                found[ref] = obj
        return found

    async def copy_for_primary(self, canary: Canary, configs: Mapping[ConfigRef, Obj]) -> None:
        """Create or update `<name>-primary` for each config, with the content read."""
        for ref, obj in sorted(configs.items()):
            await self._write_copy(canary, ref, obj)

    async def _write_copy(self, canary: Canary, ref: ConfigRef, source: Obj) -> None:
        body = primary_copy(canary, ref, source)
        current = await self.client.get(_resource(ref), ref.primary_name, canary.namespace)
        if current is None:
            await self.client.create(_resource(ref), canary.namespace, body)
            log.info("%s %s.%s created", ref.kind, ref.primary_name, canary.namespace)
            return
        if not is_owned_by(current, canary) and adoption_patch(current, canary) is None:
            raise AdapterError(
                f"{ref.kind} {ref.primary_name}.{canary.namespace} exists and is not owned by "
                f"canary {canary.key}; coalmine copies {ref.kind} {ref.name} there for the "
                f"primary: rename or delete it, or annotate {ref.kind} {ref.name} with "
                f"{CONFIG_TRACKING}: disabled"
            )
        if _same_copy(current, body):
            return
        body["metadata"]["resourceVersion"] = current["metadata"].get("resourceVersion")
        await self.client.replace(_resource(ref), ref.primary_name, canary.namespace, body)
        log.info("%s %s.%s updated", ref.kind, ref.primary_name, canary.namespace)


def primary_copy(canary: Canary, ref: ConfigRef, source: Obj) -> Obj:
    """The `-primary` copy of `source`: its content and labels (Flagger copies the labels,
    not the annotations), owned by the Canary. `immutable` is not copied, so that the next
    promotion can update the copy."""
    labels = dict((source.get("metadata") or {}).get("labels") or {})
    body: Obj = {
        "apiVersion": "v1",
        "kind": source.get("kind") or _resource(ref).kind,
        "metadata": managed_metadata(canary, ref.primary_name, labels),
    }
    for key in ("data", "binaryData", "type"):
        if key in source:
            body[key] = copy.deepcopy(source[key])
    return body


def _same_copy(current: Obj, body: Obj) -> bool:
    keys = ("data", "binaryData", "type")
    same_content = all(current.get(k) == body.get(k) for k in keys)
    current_meta, wanted_meta = current.get("metadata") or {}, body["metadata"]
    return (
        same_content
        and (current_meta.get("labels") or {}) == wanted_meta["labels"]
        and (current_meta.get("ownerReferences") or []) == wanted_meta["ownerReferences"]
    )
