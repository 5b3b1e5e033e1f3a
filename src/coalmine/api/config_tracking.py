"""Config tracking's pure parts, shared by the cluster (`kube.adapters.configs`) and local mode
(`local.configs`): which ConfigMaps and Secrets a pod template names, how its references
are pointed at the `-primary` copies, and the revision that includes their content.

Flagger's `pkg/canary/config_tracker.go` is the model; see `kube/adapters/configs.py` for where
coalmine differs from it. Objects are plain manifests (dicts), as both stores hold them.
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = [
    "CONFIG_TRACKING",
    "PRIMARY_SUFFIX",
    "TRACKED_SECRET_TYPES",
    "ConfigRef",
    "checksum",
    "flagger_checksum",
    "go_json",
    "is_tracked",
    "primary_template",
    "referenced_configs",
    "revision_with_configs",
    "tracked_checksums",
]

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


def tracked_checksums(configs: Mapping[ConfigRef, Mapping[str, Any]]) -> dict[str, str]:
    """`status.trackedConfigs` as Flagger writes it: `configmap/<name>` or
    `secret/<name>` to the checksum Flagger's `checksum()` gives the object's `data`
    (the first 8 bytes of SHA-256 over Go's `json.Marshal` of it, in hex), so that a
    Flagger reading the status after coalmine (`HasConfigChanged`: same keys, same
    checksums) sees no change. A ConfigMap with `binaryData` is checksummed over
    `{"binaryData": ..., "data": ...}` instead (Flagger leaves binaryData out)."""
    return {ref.key: flagger_checksum(obj) for ref, obj in sorted(configs.items())}


def flagger_checksum(obj: Mapping[str, Any]) -> str:
    """Flagger's checksum of one ConfigMap or Secret (see `tracked_checksums`). A Secret's
    `data` is base64 text in the manifest, which is what Go marshals its bytes to; empty
    `data` is Go's nil map, `null`."""
    data = obj.get("data") or None
    content: Any = data
    if obj.get("binaryData"):
        content = {"binaryData": obj["binaryData"], "data": data or {}}
    return hashlib.sha256(go_json(content).encode()).hexdigest()[:16]


_GO_ESCAPES = {
    '"': '\\"',
    "\\": "\\\\",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "<": "\\u003c",
    ">": "\\u003e",
    "&": "\\u0026",
    "\u2028": "\\u2028",
    "\u2029": "\\u2029",
}
"""How Go's encoding/json escapes within a string (HTML-safe, its default); other control
characters become `\\u00XX`, everything else is written as it is (UTF-8)."""


def go_json(value: Any) -> str:
    """`json.Marshal` of Go for what a manifest's `data` holds: null, strings, and maps of
    them (keys sorted, no spaces), byte for byte."""
    if value is None:
        return "null"
    if isinstance(value, str):
        return '"' + "".join(_go_char(char) for char in value) + '"'
    if isinstance(value, Mapping):
        items = (f"{go_json(str(key))}:{go_json(value[key])}" for key in sorted(value))
        return "{" + ",".join(items) + "}"
    raise TypeError(f"go_json: {type(value).__name__} is not in a ConfigMap or Secret")


def _go_char(char: str) -> str:
    escaped = _GO_ESCAPES.get(char)
    if escaped is not None:
        return escaped
    return f"\\u{ord(char):04x}" if ord(char) < 0x20 else char


def revision_with_configs(
    template_revision: str, configs: Mapping[ConfigRef, Mapping[str, Any]]
) -> str:
    """The template's revision alone when nothing is tracked (so a Deployment without
    config has the revision it always had), else a hash of it and each config's checksum."""
    if not configs:
        return template_revision
    sums = {ref.key: checksum(obj) for ref, obj in sorted(configs.items())}
    text = json.dumps({"template": template_revision, "configs": sums}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def is_tracked(ref: ConfigRef, obj: Mapping[str, Any]) -> bool:
    """Not opted out, and for a Secret, of a tracked type."""
    annotations = (obj.get("metadata") or {}).get("annotations") or {}
    if str(annotations.get(CONFIG_TRACKING, "")).startswith("disable"):
        return False
    return ref.kind != "secret" or obj.get("type", "Opaque") in TRACKED_SECRET_TYPES
