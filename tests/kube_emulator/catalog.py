"""The resource types the emulator serves, and the discovery documents built from them.

A `ResourceType` is one (group, version, plural): what discovery lists and what a URL
names. Several versions of one CRD share one storage (`storage_key`), as on a real
server where `conversion: None` only rewrites `apiVersion`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

ALL_VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")
SUBRESOURCE_VERBS = ("get", "patch", "update")
DEFAULT_FIELD_LABELS = frozenset({"metadata.name", "metadata.namespace"})

StorageKey = tuple[str, str]  # (group, plural)


@dataclass(frozen=True)
class ResourceType:
    """One servable resource: what its URL, its discovery entry and its write rules need."""

    group: str
    version: str
    plural: str
    singular: str
    kind: str
    namespaced: bool
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    subresources: frozenset[str] = frozenset()
    has_generation: bool = False
    unconditional_update: bool = True
    field_labels: frozenset[str] = DEFAULT_FIELD_LABELS
    custom: bool = False
    schema: dict[str, Any] | None = field(default=None, compare=False, hash=False)

    @property
    def storage_key(self) -> StorageKey:
        return (self.group, self.plural)

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def has_status_subresource(self) -> bool:
        return "status" in self.subresources

    def discovery_entries(self) -> list[dict[str, Any]]:
        """The APIResourceList entries: the resource itself, then one per subresource."""
        main: dict[str, Any] = {
            "name": self.plural,
            "singularName": self.singular,
            "namespaced": self.namespaced,
            "kind": self.kind,
            "verbs": list(ALL_VERBS),
        }
        if self.short_names:
            main["shortNames"] = list(self.short_names)
        if self.categories:
            main["categories"] = list(self.categories)
        entries = [main]
        for sub in sorted(self.subresources):
            entry = {
                "name": f"{self.plural}/{sub}",
                "singularName": "",
                "namespaced": self.namespaced,
                "kind": self.kind,
                "verbs": list(SUBRESOURCE_VERBS),
            }
            if sub == "scale":
                entry.update(group="autoscaling", version="v1", kind="Scale")
            entries.append(entry)
        return entries


_KUBE_VERSION = re.compile(r"^v(\d+)(?:(alpha|beta)(\d+))?$")


def version_priority(version: str) -> tuple[int, int, int, str]:
    """Sort key for Kubernetes version order: v2 > v1 > v1beta2 > v1beta1 > v1alpha1 > other."""
    match = _KUBE_VERSION.match(version)
    if not match:
        return (3, 0, 0, version)
    major, stage, minor = match.groups()
    stage_rank = {None: 0, "beta": 1, "alpha": 2}[stage]
    return (stage_rank, -int(major), -int(minor or 0), version)


class Catalog:
    """Every served resource type, with lookups by URL parts and by storage."""

    def __init__(self, types: Iterable[ResourceType] = ()) -> None:
        self._types: dict[tuple[str, str, str], ResourceType] = {}
        self._group_order: list[str] = []
        for resource_type in types:
            self.add(resource_type)

    def add(self, resource_type: ResourceType) -> None:
        key = (resource_type.group, resource_type.version, resource_type.plural)
        self._types[key] = resource_type
        if resource_type.group not in self._group_order:
            self._group_order.append(resource_type.group)

    def remove_storage(self, storage_key: StorageKey) -> None:
        """Forget every version of one resource (a CRD went away or changed its versions)."""
        for key in [k for k, t in self._types.items() if t.storage_key == storage_key]:
            del self._types[key]
        group = storage_key[0]
        if group in self._group_order and not any(t.group == group for t in self._types.values()):
            self._group_order.remove(group)

    def lookup(self, group: str, version: str, plural: str) -> ResourceType | None:
        return self._types.get((group, version, plural))

    def any_version(self, storage_key: StorageKey) -> ResourceType | None:
        """The preferred served version of a storage (for owners found by uid, GC, helpers)."""
        group = storage_key[0]
        versions = [t for t in self._types.values() if t.storage_key == storage_key]
        if not versions:
            return None
        preferred = self.preferred_version(group)
        return next((t for t in versions if t.version == preferred), versions[0])

    def groups(self) -> list[str]:
        return list(self._group_order)

    def versions(self, group: str) -> list[str]:
        """Served versions of a group, most preferred first."""
        found = {t.version for t in self._types.values() if t.group == group}
        builtin = [t.version for t in self._types.values() if t.group == group and not t.custom]
        if builtin:  # built-in groups list versions in declaration order
            return list(dict.fromkeys(builtin)) + sorted(found - set(builtin), key=version_priority)
        return sorted(found, key=version_priority)

    def preferred_version(self, group: str) -> str:
        return self.versions(group)[0]

    def resources(self, group: str, version: str) -> list[ResourceType]:
        return [t for t in self._types.values() if t.group == group and t.version == version]

    def by_kind(self, api_version: str, kind: str) -> ResourceType | None:
        for resource_type in self._types.values():
            if resource_type.api_version == api_version and resource_type.kind == kind:
                return resource_type
        return None
