"""CustomResourceDefinitions: checked like the real server, then served at once.

Creating or changing a CRD registers one `ResourceType` per served version (discovery
lists it, its URLs answer); deleting one unregisters it and removes all its objects.
The real server reaches `Established` a moment later through its controllers; here the
status (`NamesAccepted`, `Established`, `acceptedNames`, `storedVersions`) is written in
the same request. Differences: objects of a deleted CRD vanish at once, even those with
finalizers; CRD conversion webhooks are not supported (all versions share storage).
"""

from __future__ import annotations

from typing import Any

from . import metadata
from .catalog import Catalog, ResourceType
from .errors import FieldError
from .rules import TypeRules
from .storage import Store

Obj = dict[str, Any]
CRDS = ("apiextensions.k8s.io", "customresourcedefinitions")


def _version_errors(versions: Any) -> list[FieldError]:
    if not isinstance(versions, list) or not versions:
        return [
            FieldError(
                "spec.versions",
                "required",
                "must have exactly one version marked as storage version",
            )
        ]
    errors = []
    if sum(1 for v in versions if v.get("storage")) != 1:
        detail = "must have exactly one version marked as storage version"
        storage = [v.get("name") for v in versions if v.get("storage")]
        errors.append(FieldError("spec.versions", "invalid", detail, storage))
    for n, version in enumerate(versions):
        root = version.get("schema", {}).get("openAPIV3Schema")
        path = f"spec.versions[{n}].schema.openAPIV3Schema"
        if not isinstance(root, dict):
            errors.append(FieldError(path, "required", "schemas are required"))
        elif root.get("type") != "object":
            errors.append(FieldError(f"{path}.type", "required", "must be object at the root"))
    return errors


def validate_crd(obj: Obj, old: Obj | None) -> list[FieldError]:
    spec, names = obj.get("spec", {}), obj.get("spec", {}).get("names", {})
    errors = [
        FieldError(f"spec.{path}", "required")
        for path, value in (
            ("group", spec.get("group")),
            ("names.plural", names.get("plural")),
            ("names.kind", names.get("kind")),
        )
        if not value
    ]
    if spec.get("scope") not in ("Namespaced", "Cluster"):
        detail = 'supported values: "Cluster", "Namespaced"'
        errors.append(FieldError("spec.scope", "unsupported", detail, spec.get("scope")))
    expected = f"{names.get('plural')}.{spec.get('group')}"
    if not errors and obj["metadata"]["name"] != expected:
        detail = 'must be spec.names.plural+"."+spec.group'
        errors.append(FieldError("metadata.name", "invalid", detail, obj["metadata"]["name"]))
    if old is not None and old.get("spec", {}).get("group") != spec.get("group"):
        errors.append(FieldError("spec.group", "invalid", "field is immutable", spec.get("group")))
    return errors + _version_errors(spec.get("versions"))


def prepare_crd(obj: Obj, old: Obj | None) -> None:
    """Default the names and write the status the CRD controllers would converge to."""
    spec = obj.setdefault("spec", {})
    names = spec.setdefault("names", {})
    kind = names.get("kind", "")
    names.setdefault("singular", kind.lower())
    names.setdefault("listKind", f"{kind}List")
    for version in spec.get("versions", []):
        version.setdefault("served", True)
    # A condition keeps its lastTransitionTime while it holds, as on a real server: an
    # update that changes nothing must not change the stored CRD (its resourceVersion).
    previous = (old or {}).get("status", {}).get("conditions") or []
    moment = previous[0]["lastTransitionTime"] if previous else metadata.timestamp()
    storage = [v.get("name") for v in spec.get("versions", []) if v.get("storage")]
    obj["status"] = {
        "acceptedNames": names,
        "storedVersions": storage,
        "conditions": [
            {
                "type": "NamesAccepted",
                "status": "True",
                "reason": "NoConflicts",
                "message": "no conflicts found",
                "lastTransitionTime": moment,
            },
            {
                "type": "Established",
                "status": "True",
                "reason": "InitialNamesAccepted",
                "message": "the initial names have been accepted",
                "lastTransitionTime": moment,
            },
        ],
    }


def resource_types(crd: Obj) -> list[ResourceType]:
    """One ResourceType per served version of a CRD."""
    spec, names = crd["spec"], crd["spec"]["names"]
    types = []
    for version in spec["versions"]:
        if not version.get("served", True):
            continue
        subresources = version.get("subresources") or {}
        types.append(
            ResourceType(
                group=spec["group"],
                version=version["name"],
                plural=names["plural"],
                singular=names.get("singular") or names["kind"].lower(),
                kind=names["kind"],
                namespaced=spec["scope"] == "Namespaced",
                short_names=tuple(names.get("shortNames", ())),
                categories=tuple(names.get("categories", ())),
                subresources=frozenset(k for k in ("status", "scale") if k in subresources),
                has_generation=True,
                unconditional_update=False,
                custom=True,
                schema=version["schema"]["openAPIV3Schema"],
            )
        )
    return types


def crd_rules(catalog: Catalog, store: Store) -> TypeRules:
    """Hooks that keep the catalog in step with the stored CRDs."""

    def committed(obj: Obj | None, old: Obj | None) -> None:
        current = obj or old
        assert current is not None
        storage = (current["spec"]["group"], current["spec"]["names"]["plural"])
        catalog.remove_storage(storage)
        if obj is not None:
            for resource_type in resource_types(obj):
                catalog.add(resource_type)
            return
        for item in store.items(storage):
            store.remove(storage, (item["metadata"].get("namespace", ""), item["metadata"]["name"]))
        store.close_watches(storage)

    return TypeRules(prepare=prepare_crd, validate=validate_crd, committed=committed)
