"""Server-side apply and `metadata.managedFields`, as the apiserver's field manager keeps them.

Every write records who set which fields (k8s.io/apiserver/pkg/endpoints/handlers/
fieldmanager, structured-merge-diff):

- a create, update or non-apply patch gives the fields it changed to its manager, with
  operation `Update`, and takes them from every other manager; it never conflicts;
- an apply (`PATCH` with `application/apply-patch+yaml`, `fieldManager` required) makes
  the applied configuration the manager's whole set (operation `Apply`): a field another
  manager owns with a different value is a conflict, 409 `Apply failed with N
  conflict(s): conflict with "<manager>" ...` listing each field, unless `force=true`,
  which takes the field over; the same value is shared. A field the manager applied
  before and applies no more is removed from the object when no other manager owns it
  (so an applier that stops setting `spec.replicas` gives it up to whoever scaled it,
  or lets the default come back). An apply to a missing object creates it;
- the manager's entry keeps its `time` while its fields do not change, so a no-op
  write stays a no-op (no new resourceVersion).

Field sets are written as `fieldsV1` (`{"f:spec": {"f:replicas": {}}}`). Managers of
non-apply writes are named by `fieldManager`, else by the User-Agent up to its first
`/`, as the real server does. Status-subresource writes are entries with
`subresource: status`. Differences: every list is atomic (the real server merges
lists with merge keys or `x-kubernetes-list-type: map` item by item, `k:{...}` keys);
`apply` accepts JSON or YAML but not protobuf; the apply body is not checked against
the type's schema before merging (the merged object is, as for every write).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import yaml

from . import errors, metadata
from .storage import clone

Obj = dict[str, Any]
Path = tuple[str, ...]

APPLY = "Apply"
UPDATE = "Update"

_STRIPPED: frozenset[Path] = frozenset(
    {
        ("apiVersion",),
        ("kind",),
        ("metadata", "name"),
        ("metadata", "namespace"),
        ("metadata", "uid"),
        ("metadata", "resourceVersion"),
        ("metadata", "generation"),
        ("metadata", "creationTimestamp"),
        ("metadata", "deletionTimestamp"),
        ("metadata", "deletionGracePeriodSeconds"),
        ("metadata", "managedFields"),
        ("metadata", "selfLink"),
    }
)
"""Fields no manager owns (the field manager's strip list)."""


def leaves(value: Any, prefix: Path = ()) -> dict[Path, Any]:
    """Every owned field of an object: scalars, lists (atomic) and empty maps, by path."""
    if isinstance(value, dict) and value:
        found: dict[Path, Any] = {}
        for key, item in value.items():
            path = (*prefix, key)
            if path in _STRIPPED:
                continue
            found.update(leaves(item, path))
        return found
    return {prefix: value} if prefix else {}


def _writable_leaves(obj: Obj, status_split: bool, subresource: str | None) -> dict[Path, Any]:
    """The fields a write to the main resource or to /status may own (only the part it
    may write is walked: a status write at 5,000 Canaries walked the whole object twice)."""
    if not status_split:
        return leaves(obj)
    if subresource == "status":
        return leaves(obj["status"], ("status",)) if "status" in obj else {}
    return leaves({key: value for key, value in obj.items() if key != "status"})


def encode(paths: Iterable[Path]) -> Obj:
    """A set of paths as `fieldsV1`."""
    tree: Obj = {}
    for path in sorted(paths):
        node = tree
        for key in path:
            node = node.setdefault(f"f:{key}", {})
    return tree


def decode(fields: Obj, prefix: Path = ()) -> set[Path]:
    """`fieldsV1` back to paths (its leaves; a `.` entry marks the map itself)."""
    found: set[Path] = set()
    for key, child in fields.items():
        if not key.startswith("f:"):
            continue
        path = (*prefix, key[2:])
        inner = decode(child, path) if isinstance(child, dict) else set()
        found |= inner or {path}
    return found


def manager_of(query: dict[str, str] | Any, user_agent: str) -> str:
    """The manager of a write: `fieldManager`, else the User-Agent's product name."""
    named = query.get("fieldManager") if query is not None else None
    return named or (user_agent.split("/", 1)[0] if user_agent else "unknown")


def _entries(obj: Obj | None) -> list[Obj]:
    return list(((obj or {}).get("metadata") or {}).get("managedFields") or [])


def _owned(entry: Obj) -> set[Path]:
    return decode(entry.get("fieldsV1") or {})


def _entry(
    manager: str, operation: str, api_version: str, paths: set[Path], sub: str | None
) -> Obj:
    entry: Obj = {
        "manager": manager,
        "operation": operation,
        "apiVersion": api_version,
        "time": metadata.timestamp(),
        "fieldsType": "FieldsV1",
        "fieldsV1": encode(paths),
    }
    if sub:
        entry["subresource"] = sub
    return entry


def _same_entry(entry: Obj, manager: str, operation: str, sub: str | None) -> bool:
    return (
        entry.get("manager") == manager
        and entry.get("operation") == operation
        and entry.get("subresource") == sub
    )


def _overlaps(a: Path, b: Path) -> bool:
    shorter = min(len(a), len(b))
    return a[:shorter] == b[:shorter]


def _set_entries(
    entries: list[Obj],
    manager: str,
    operation: str,
    api_version: str,
    paths: set[Path],
    sub: str | None,
) -> list[Obj]:
    """Replace (or add) the manager's entry; its time moves only when its set changed."""
    result, found = [], False
    for entry in entries:
        if _same_entry(entry, manager, operation, sub):
            found = True
            if _owned(entry) == paths and entry.get("apiVersion") == api_version:
                result.append(entry)
            elif paths:
                result.append(_entry(manager, operation, api_version, paths, sub))
        elif entry.get("fieldsV1") or entry.get("operation") == APPLY:
            result.append(entry)
    if not found and paths:
        result.append(_entry(manager, operation, api_version, paths, sub))
    return result


def _take_from_others(
    entries: list[Obj], taken: set[Path], manager: str, operation: str, sub: str | None
) -> list[Obj]:
    """Other managers lose the fields in `taken` (and their parents or children)."""
    result = []
    for entry in entries:
        if _same_entry(entry, manager, operation, sub):
            result.append(entry)
            continue
        owned = _owned(entry)
        kept = {p for p in owned if not any(_overlaps(p, t) for t in taken)}
        if kept == owned:
            result.append(entry)
        elif kept:
            result.append({**entry, "fieldsV1": encode(kept), "time": metadata.timestamp()})
    return result


def record_update(
    old: Obj | None,
    new: Obj,
    manager: str,
    status_split: bool,
    subresource: str | None,
) -> None:
    """Give the fields a non-apply write changed to its manager (operation Update)."""
    before = _writable_leaves(old or {}, status_split, subresource)
    after = _writable_leaves(new, status_split, subresource)
    changed = {p for p, v in after.items() if before.get(p, _MISSING) != v}
    gone = {p for p in before if p not in after}
    entries = _entries(old)
    if changed or gone:
        entries = _take_from_others(entries, changed | gone, manager, UPDATE, subresource)
        mine = next(
            (_owned(e) for e in entries if _same_entry(e, manager, UPDATE, subresource)), set()
        )
        mine = {p for p in mine if p in after} | changed
        entries = _set_entries(entries, manager, UPDATE, new["apiVersion"], mine, subresource)
    _store(new, entries)


_MISSING = object()


def _store(obj: Obj, entries: list[Obj]) -> None:
    if entries:
        obj["metadata"]["managedFields"] = entries
    else:
        obj["metadata"].pop("managedFields", None)


def decode_apply_body(raw: bytes) -> Obj:
    """The applied configuration: YAML (JSON is YAML too), one object."""
    try:
        body = yaml.safe_load(raw.decode() or "null")
    except (yaml.YAMLError, UnicodeDecodeError) as error:
        raise errors.bad_request(f"error decoding YAML: {error}") from None
    if not isinstance(body, dict):
        raise errors.bad_request("the body of an apply request must be an object")
    return body


def apply(
    live: Obj | None,
    config: Obj,
    manager: str,
    force: bool,
    status_split: bool,
    subresource: str | None,
    qualified: tuple[str, str, str],
) -> Obj:
    """The object after applying `config` as `manager`; 409 on conflicts unless forced.

    `qualified` is (resource, group, name) for the error; the result still goes through
    the registry's admission like any write.
    """
    applied = _writable_leaves(config, status_split, subresource)
    current = leaves(live or {})
    entries = _entries(live)
    conflicts = _conflicts(entries, applied, current, manager, subresource)
    if conflicts and not force:
        raise _conflict_error(conflicts, config.get("apiVersion", ""), qualified)
    taken = {path for path, _ in conflicts}
    entries = _take_from_others(entries, taken, manager, APPLY, subresource)
    previous = next(
        (_owned(e) for e in entries if _same_entry(e, manager, APPLY, subresource)), set()
    )
    others = set().union(
        *(_owned(e) for e in entries if not _same_entry(e, manager, APPLY, subresource))
    )
    result = clone(live) if live is not None else {"metadata": {}}
    for path in previous - set(applied):
        if not any(_overlaps(path, o) for o in others):
            _remove(result, path)
    _merge(result, config)
    result["metadata"] = result.get("metadata") or {}
    entries = _set_entries(
        entries, manager, APPLY, config.get("apiVersion", ""), set(applied), subresource
    )
    _store(result, entries)
    return result


def _conflicts(
    entries: list[Obj],
    applied: dict[Path, Any],
    current: dict[Path, Any],
    manager: str,
    sub: str | None,
) -> list[tuple[Path, str]]:
    found = []
    for entry in entries:
        if _same_entry(entry, manager, APPLY, sub) or entry.get("subresource") != sub:
            continue
        owned = _owned(entry)
        for path, value in applied.items():
            if any(_overlaps(path, o) for o in owned) and current.get(path, _MISSING) != value:
                found.append((path, str(entry.get("manager"))))
    return found


def _conflict_error(
    conflicts: list[tuple[Path, str]], api_version: str, qualified: tuple[str, str, str]
) -> errors.ApiError:
    """Worded as structured-merge-diff's `Conflicts.Error` and the apiserver's 409."""
    by_manager: dict[str, list[str]] = {}
    for path, manager in conflicts:
        by_manager.setdefault(manager, []).append("." + ".".join(path))
    parts = []
    for manager, fields in by_manager.items():
        if len(fields) == 1:
            parts.append(f'conflict with "{manager}" using {api_version}: {fields[0]}')
        else:
            listed = "\n".join(f"- {f}" for f in fields)
            parts.append(f'conflicts with "{manager}" using {api_version}:\n{listed}')
    count = len(conflicts)
    message = f"Apply failed with {count} conflict{'s' if count > 1 else ''}: " + "\n".join(parts)
    resource, group, name = qualified
    details: Obj = {"name": name, "kind": resource, "causes": []}
    if group:
        details["group"] = group
    details["causes"] = [
        {
            "reason": "FieldManagerConflict",
            "message": f'conflict with "{manager}" using {api_version}',
            "field": "." + ".".join(path),
        }
        for path, manager in conflicts
    ]
    return errors.ApiError(409, "Conflict", message, details)


def _remove(obj: Obj, path: Path) -> None:
    """Remove a field, and the maps it leaves empty (they held only the applier's field)."""
    parents: list[tuple[Obj, str]] = []
    node: Any = obj
    for key in path[:-1]:
        if not isinstance(node, dict) or key not in node:
            return
        parents.append((node, key))
        node = node[key]
    if not isinstance(node, dict):
        return
    node.pop(path[-1], None)
    for parent, key in reversed(parents):
        if parent[key] != {} or (parent is obj and key == "metadata"):
            break
        del parent[key]


def _merge(target: Obj, config: Obj) -> None:
    """Set every field of the configuration: maps merge, lists and scalars replace."""
    for key, value in config.items():
        if isinstance(value, dict) and value and isinstance(target.get(key), dict):
            _merge(target[key], value)
        else:
            target[key] = clone(value)


__all__ = ["APPLY", "UPDATE", "apply", "decode_apply_body", "manager_of", "record_update"]
