"""Discovery documents: /version, /api, /apis, /apis/{group}, and the resource lists.

Served in the plain (non-aggregated) format, which every client falls back to; kopf and
kr8s read exactly these. The version is one kr8s supports, so it does not warn.
"""

from __future__ import annotations

from typing import Any

from . import errors
from .catalog import Catalog

VERSION_INFO = {
    "major": "1",
    "minor": "32",
    "gitVersion": "v1.32.0",
    "gitCommit": "0000000000000000000000000000000000000000",
    "gitTreeState": "clean",
    "buildDate": "2024-12-11T00:00:00Z",
    "goVersion": "go1.23.3",
    "compiler": "gc",
    "platform": "linux/amd64",
}


def core_versions(server_address: str) -> dict[str, Any]:
    return {
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [
            {"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}
        ],
    }


def _group_entry(catalog: Catalog, group: str) -> dict[str, Any]:
    versions = [{"groupVersion": f"{group}/{v}", "version": v} for v in catalog.versions(group)]
    return {"name": group, "versions": versions, "preferredVersion": versions[0]}


def group_list(catalog: Catalog) -> dict[str, Any]:
    groups = [_group_entry(catalog, g) for g in catalog.groups() if g]
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}


def group(catalog: Catalog, name: str) -> dict[str, Any]:
    if not name or name not in catalog.groups():
        raise errors.no_such_path()
    return {"kind": "APIGroup", "apiVersion": "v1", **_group_entry(catalog, name)}


def resource_list(catalog: Catalog, group_name: str, version: str) -> dict[str, Any]:
    types = catalog.resources(group_name, version)
    if not types:
        raise errors.no_such_path()
    entries = [
        entry for t in sorted(types, key=lambda t: t.plural) for entry in t.discovery_entries()
    ]
    group_version = f"{group_name}/{version}" if group_name else version
    return {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": group_version,
        "resources": entries,
    }
