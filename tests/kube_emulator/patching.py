"""The three classic patch formats the apiserver accepts (server-side apply: `fieldmanager.py`).

- `application/merge-patch+json`: RFC 7386. `null` deletes a key; lists are replaced.
- `application/json-patch+json`: RFC 6902 (add, remove, replace, move, copy, test). A
  failed `test` or a missing path is a 422, as on the real server (kopf relies on it).
- `application/strategic-merge-patch+json`: a merge patch in which the lists Kubernetes
  declares with a merge key are merged item by item instead of replaced: containers,
  initContainers, env, volumes, imagePullSecrets (by `name`), volumeMounts (by
  `mountPath`), container ports (by `containerPort`), service ports (by `port`),
  conditions (by `type`), ownerReferences (by `uid`); `finalizers` is merged as a set.
  An item with `"$patch": "delete"` removes the matching item; `"$patch": "replace"` on a
  map replaces it; other `$` directives (`$setElementOrder/...`, `$retainKeys`) are
  ignored. Custom resources refuse it with 415, as on a real server.
"""

from __future__ import annotations

from typing import Any

from .errors import bad_request, unprocessable_patch, unsupported_media_type
from .storage import clone

MERGE = "application/merge-patch+json"
JSON = "application/json-patch+json"
STRATEGIC = "application/strategic-merge-patch+json"
APPLY = "application/apply-patch+yaml"
CR_ACCEPTED = f"{JSON}, {MERGE}, {APPLY}"

_MERGE_KEYS = {
    "containers": "name",
    "initContainers": "name",
    "ephemeralContainers": "name",
    "env": "name",
    "volumes": "name",
    "imagePullSecrets": "name",
    "volumeMounts": "mountPath",
    "conditions": "type",
    "ownerReferences": "uid",
}
_SET_LISTS = {"finalizers"}


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386: objects merge recursively, `null` removes, anything else replaces."""
    if not isinstance(patch, dict):
        return clone(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def strategic_merge_patch(target: Any, patch: Any) -> Any:
    """A merge patch that merges the well-known keyed lists item by item."""
    if not isinstance(patch, dict):
        return clone(patch)
    if patch.get("$patch") == "replace":
        return {k: clone(v) for k, v in patch.items() if k != "$patch"}
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if key.startswith("$"):
            continue
        if value is None:
            result.pop(key, None)
        elif isinstance(value, list) and isinstance(result.get(key), list):
            result[key] = _merge_list(key, result[key], value)
        else:
            result[key] = strategic_merge_patch(result.get(key), value)
    return result


def _merge_key(field: str, items: list[Any]) -> str | None:
    if field == "ports":
        sample = next((i for i in items if isinstance(i, dict)), {})
        return "containerPort" if "containerPort" in sample else "port"
    return _MERGE_KEYS.get(field)


def _merge_list(field: str, current: list[Any], patch: list[Any]) -> list[Any]:
    if field in _SET_LISTS:
        return list(dict.fromkeys([*current, *patch]))
    key = _merge_key(field, current + patch)
    if key is None or not all(isinstance(i, dict) and key in i for i in current + patch):
        return [strategic_merge_patch(None, item) for item in patch]
    merged = list(current)
    for item in patch:
        index = next((n for n, old in enumerate(merged) if old[key] == item[key]), None)
        if item.get("$patch") == "delete":
            if index is not None:
                del merged[index]
        elif index is None:
            merged.append(strategic_merge_patch(None, item))
        else:
            merged[index] = strategic_merge_patch(merged[index], item)
    return merged


def _pointer(path: Any) -> list[str]:
    if not isinstance(path, str) or (path and not path.startswith("/")):
        raise unprocessable_patch(f"invalid JSON pointer: {path!r}")
    if path == "":
        return []
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def _index(container: list[Any], token: str, path: str, allow_end: bool) -> int:
    if allow_end and token == "-":
        return len(container)
    if not token.isdigit():
        raise unprocessable_patch(f"invalid array index {token!r} in {path}")
    index = int(token)
    limit = len(container) if allow_end else len(container) - 1
    if index > limit:
        raise unprocessable_patch(f"array index {index} out of bounds in {path}")
    return index


def _parent(doc: Any, parts: list[str], path: str) -> Any:
    current = doc
    for token in parts[:-1]:
        if isinstance(current, dict) and token in current:
            current = current[token]
        elif isinstance(current, list):
            current = current[_index(current, token, path, allow_end=False)]
        else:
            raise unprocessable_patch(f"doc is missing path: {path}: missing value")
    return current


def _get(doc: Any, path: str) -> Any:
    parts = _pointer(path)
    if not parts:
        return doc
    parent, last = _parent(doc, parts, path), parts[-1]
    if isinstance(parent, dict) and last in parent:
        return parent[last]
    if isinstance(parent, list):
        return parent[_index(parent, last, path, allow_end=False)]
    raise unprocessable_patch(f"doc is missing key: {path}: missing value")


def _remove(doc: Any, path: str) -> Any:
    parts = _pointer(path)
    parent, last = _parent(doc, parts, path), parts[-1] if parts else ""
    if isinstance(parent, dict) and last in parent:
        return parent.pop(last)
    if isinstance(parent, list):
        return parent.pop(_index(parent, last, path, allow_end=False))
    raise unprocessable_patch(f"remove operation does not apply: doc is missing path: {path}")


def _add(doc: Any, path: str, value: Any) -> Any:
    parts = _pointer(path)
    if not parts:
        return value
    parent, last = _parent(doc, parts, path), parts[-1]
    if isinstance(parent, dict):
        parent[last] = value
    elif isinstance(parent, list):
        parent.insert(_index(parent, last, path, allow_end=True), value)
    else:
        raise unprocessable_patch(f"add operation does not apply: doc is missing path: {path}")
    return doc


def _path(op: dict[str, Any], key: str) -> str:
    value = op.get(key)
    if not isinstance(value, str):
        raise unprocessable_patch(f"operation {op.get('op')!r} has no {key!r} string")
    return value


def _apply_op(doc: Any, op: dict[str, Any]) -> Any:
    kind, path = op.get("op"), _path(op, "path")
    if kind in ("add", "replace", "test") and "value" not in op:
        raise unprocessable_patch(f"{kind} operation has no value")
    if kind == "add":
        return _add(doc, path, clone(op["value"]))
    if kind == "remove":
        _remove(doc, path)
        return doc
    if kind == "replace":
        _get(doc, path)  # must exist
        if not _pointer(path):
            return clone(op["value"])
        _remove(doc, path)
        return _add(doc, path, clone(op["value"]))
    if kind == "move":
        return _add(doc, path, _remove(doc, _path(op, "from")))
    if kind == "copy":
        return _add(doc, path, clone(_get(doc, _path(op, "from"))))
    if kind == "test":
        if _get(doc, path) != op["value"]:
            raise unprocessable_patch(f"testing value {path} failed: test failed")
        return doc
    raise unprocessable_patch(f"Unexpected kind: {kind}")


def json_patch(doc: Any, operations: Any) -> Any:
    """RFC 6902, all-or-nothing: the document is only returned if every operation applied."""
    if not isinstance(operations, list):
        raise bad_request("json: cannot unmarshal object into Go value of type jsonpatch.Patch")
    result = clone(doc)
    for operation in operations:
        if not isinstance(operation, dict):
            raise bad_request("a JSON patch operation must be an object")
        result = _apply_op(result, operation)
    return result


def apply_patch(content_type: str, current: dict[str, Any], patch: Any, custom: bool) -> Any:
    """Dispatch on the request's Content-Type, refusing what the real server refuses."""
    if content_type == MERGE:
        return merge_patch(current, patch)
    if content_type == JSON:
        return json_patch(current, patch)
    if content_type == STRATEGIC and not custom:
        return strategic_merge_patch(current, patch)
    if content_type == APPLY:
        raise unsupported_media_type(
            "server-side apply (application/apply-patch+yaml) is not supported on this "
            "subresource by the coalmine Kubernetes API emulator; send a merge patch"
        )
    accepted = CR_ACCEPTED if custom else f"{CR_ACCEPTED}, {STRATEGIC}"
    raise unsupported_media_type(
        "the body of the request was in an unknown format - accepted media types include: "
        + accepted
    )


__all__ = ["apply_patch", "json_patch", "merge_patch", "strategic_merge_patch"]
