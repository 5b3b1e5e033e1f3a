"""Resource URLs taken apart the way the apiserver's router does.

    /api/v1[/watch][/namespaces/{ns}]/{plural}[/{name}[/{subresource}]]
    /apis/{group}/{version}[/watch][/namespaces/{ns}]/{plural}[/{name}[/{subresource}]]

`/api/v1/namespaces/{name}/status` is the namespace's own subresource: a segment after
`namespaces/{ns}/` only starts a namespaced path when it names a namespaced resource.
"""

from __future__ import annotations

from dataclasses import dataclass

from . import errors
from .catalog import Catalog, ResourceType


@dataclass(frozen=True)
class Target:
    """What one resource URL addresses."""

    rt: ResourceType
    namespace: str | None
    name: str | None
    subresource: str | None
    legacy_watch: bool


def _namespaced_split(
    catalog: Catalog, group: str, version: str, rest: list[str]
) -> tuple[str | None, list[str]]:
    if len(rest) >= 3 and rest[0] == "namespaces":
        candidate = catalog.lookup(group, version, rest[2])
        if candidate is not None and candidate.namespaced:
            return rest[1], rest[2:]
    return None, rest


def resolve(catalog: Catalog, group: str, version: str, tail: str) -> Target:
    """The target of a resource URL below its group/version; 404 when nothing is there."""
    rest = [part for part in tail.split("/") if part]
    legacy_watch = bool(rest) and rest[0] == "watch"
    if legacy_watch:
        rest = rest[1:]
    namespace, rest = _namespaced_split(catalog, group, version, rest)
    if not rest or len(rest) > 3:
        raise errors.no_such_path()
    rt = catalog.lookup(group, version, rest[0])
    if rt is None or (namespace is not None and not rt.namespaced):
        raise errors.no_such_path()
    name = rest[1] if len(rest) > 1 else None
    subresource = rest[2] if len(rest) > 2 else None
    if subresource is not None and subresource not in rt.subresources:
        raise errors.no_such_path()
    if rt.namespaced and name is not None and namespace is None:
        raise errors.no_such_path()
    return Target(rt, namespace, name, subresource, legacy_watch)
