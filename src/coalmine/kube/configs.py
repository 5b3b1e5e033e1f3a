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
import hashlib
import json
import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from coalmine.api.canary import Canary
from coalmine.errors import AdapterError
from coalmine.kube.client import KubeClient, Obj
from coalmine.kube.ownership import adoption_patch, is_owned_by, managed_metadata
from coalmine.kube.resources import CONFIG_MAPS, SECRETS, Kind

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

CONFIG_TRACKING = "flagger.app/config-tracking"
"""Annotation on a ConfigMap or Secret: a value starting with "disable" opts it out."""

TRACKED_SECRET_TYPES = frozenset(
    {"Opaque", "kubernetes.io/basic-auth", "kubernetes.io/ssh-auth", "kubernetes.io/tls"}
)
"""Flagger's: other Secret types (docker registry credentials, tokens) are not tracked."""

PRIMARY_SUFFIX = "-primary"


@dataclass(frozen=True, order=True)
class ConfigRef:
    """A ConfigMap or Secret named by a pod template."""

    kind: str
    """"configmap" or "secret" (Flagger's names in `status.trackedConfigs`)."""
    name: str

    @property
    def key(self) -> str:
        """`configmap/<name>` or `secret/<name>`, as Flagger keys `trackedConfigs`."""
        return f"{self.kind}/{self.name}"

    @property
    def resource(self) -> Kind:
        return CONFIG_MAPS if self.kind == "configmap" else SECRETS

    @property
    def primary_name(self) -> str:
        return self.name + PRIMARY_SUFFIX


# Finding and rewriting references --------------------------------------------------------


def referenced_configs(template: Mapping[str, Any]) -> set[ConfigRef]:
    """Every ConfigMap and Secret `template` (a pod template) names, in any form."""
    return {ref for ref, _, _ in _references(copy.deepcopy(dict(template)))}


def primary_template(template: Mapping[str, Any], tracked: set[ConfigRef]) -> dict[str, Any]:
    """A copy of `template` whose references to `tracked` objects name their `-primary`
    copies. Untracked references (opted out, a registry Secret, missing) are left alone,
    as in Flagger. Init containers are rewritten too (Flagger tracks their references
    but rewrites only `containers`, so its primary's init containers read the canary's
    config)."""
    result = copy.deepcopy(dict(template))
    for ref, holder, field in _references(result):
        if ref in tracked:
            holder[field] = ref.primary_name
    return result


def _references(template: dict[str, Any]) -> Iterator[tuple[ConfigRef, dict[str, Any], str]]:
    """Each reference as (what it names, the dict holding the name, the name's key)."""
    spec = template.get("spec") or {}
    for volume in spec.get("volumes") or []:
        yield from _named(volume.get("configMap"), "configmap", "name")
        yield from _named(volume.get("secret"), "secret", "secretName")
        for source in (volume.get("projected") or {}).get("sources") or []:
            yield from _named(source.get("configMap"), "configmap", "name")
            yield from _named(source.get("secret"), "secret", "name")
    for key in ("containers", "initContainers"):
        for container in spec.get(key) or []:
            for env in container.get("env") or []:
                value_from = env.get("valueFrom") or {}
                yield from _named(value_from.get("configMapKeyRef"), "configmap", "name")
                yield from _named(value_from.get("secretKeyRef"), "secret", "name")
            for env_from in container.get("envFrom") or []:
                yield from _named(env_from.get("configMapRef"), "configmap", "name")
                yield from _named(env_from.get("secretRef"), "secret", "name")


def _named(
    holder: dict[str, Any] | None, kind: str, field: str
) -> Iterator[tuple[ConfigRef, dict[str, Any], str]]:
    if holder and holder.get(field):
        yield ConfigRef(kind, str(holder[field])), holder, field


# Checksums and the revision -----------------------------------------------------------


def checksum(obj: Mapping[str, Any]) -> str:
    """16 hex digits of SHA-256 over the object's content (Flagger's length): `data`, and
    for a ConfigMap `binaryData` too (Flagger's checksum leaves it out, so a change there
    went unnoticed)."""
    content = {"data": obj.get("data") or {}}
    if obj.get("binaryData"):
        content["binaryData"] = obj["binaryData"]
    text = json.dumps(content, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def revision_with_configs(template_revision: str, configs: Mapping[ConfigRef, Obj]) -> str:
    """The template's revision alone when nothing is tracked (so a Deployment without
    config has the revision it always had), else a hash of it and each config's checksum."""
    if not configs:
        return template_revision
    sums = {ref.key: checksum(obj) for ref, obj in sorted(configs.items())}
    text = json.dumps({"template": template_revision, "configs": sums}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _is_tracked(ref: ConfigRef, obj: Obj) -> bool:
    """Not opted out, and for a Secret, of a tracked type."""
    annotations = (obj.get("metadata") or {}).get("annotations") or {}
    if str(annotations.get(CONFIG_TRACKING, "")).startswith("disable"):
        return False
    return ref.kind != "secret" or obj.get("type", "Opaque") in TRACKED_SECRET_TYPES


# Reading and copying ------------------------------------------------------------------


class ConfigTracker:
    """Reads the tracked configs of a namespace and writes their `-primary` copies."""

    def __init__(self, client: KubeClient) -> None:
        self.client = client

    async def tracked(self, template: Mapping[str, Any], namespace: str) -> dict[ConfigRef, Obj]:
        """The tracked objects `template` references, by reference (read now)."""
        found: dict[ConfigRef, Obj] = {}
        for ref in sorted(referenced_configs(template)):
            obj = await self.client.get(ref.resource, ref.name, namespace)
            if obj is None:
                log.debug("%s %s.%s not found: not tracked", ref.kind, ref.name, namespace)
            elif _is_tracked(ref, obj):
                found[ref] = obj
        return found

    async def copy_for_primary(self, canary: Canary, configs: Mapping[ConfigRef, Obj]) -> None:
        """Create or update `<name>-primary` for each config, with the content read."""
        for ref, obj in sorted(configs.items()):
            await self._write_copy(canary, ref, obj)

    async def _write_copy(self, canary: Canary, ref: ConfigRef, source: Obj) -> None:
        body = primary_copy(canary, ref, source)
        current = await self.client.get(ref.resource, ref.primary_name, canary.namespace)
        if current is None:
            await self.client.create(ref.resource, canary.namespace, body)
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
        await self.client.replace(ref.resource, ref.primary_name, canary.namespace, body)
        log.info("%s %s.%s updated", ref.kind, ref.primary_name, canary.namespace)


def primary_copy(canary: Canary, ref: ConfigRef, source: Obj) -> Obj:
    """The `-primary` copy of `source`: its content and labels (Flagger copies the labels,
    not the annotations), owned by the Canary. `immutable` is not copied, so that the next
    promotion can update the copy."""
    labels = dict((source.get("metadata") or {}).get("labels") or {})
    body: Obj = {
        "apiVersion": "v1",
        "kind": source.get("kind") or ref.resource.kind,
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
