"""LIST: selectors, `limit`/`continue` paging, and the list's resourceVersion.

Pages are cut from the current objects in key order after the last key of the previous
page; unlike etcd's snapshot reads, a later page may show changes made between pages.
A continue token older than etcd's compacted revision (every five minutes, or `compact()`;
not the watch history's window, see `storage`) is refused with 410 like the real one.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from typing import Any

from . import errors
from .routing import Target
from .selectors import object_filter
from .storage import Obj, Store, encode, object_key


def in_version(obj: Obj, api_version: str) -> Obj:
    """The object as served at one version (all versions share storage)."""
    return obj if obj.get("apiVersion") == api_version else {**obj, "apiVersion": api_version}


def _decode_token(token: str, store: Store) -> tuple[int, tuple[str, str]]:
    try:
        data = json.loads(base64.urlsafe_b64decode(token.encode()))
        rv, start = int(data["rv"]), (str(data["start"][0]), str(data["start"][1]))
    except (ValueError, KeyError, TypeError, IndexError) as error:
        raise errors.bad_request(f"continue key is not valid: {error}") from None
    if rv < store.etcd_compacted_rv:
        raise errors.gone(
            "The provided continue parameter is too old to display a consistent list result. "
            "You can start a new list without the continue parameter."
        )
    return rv, start


def _encode_token(rv: int, last: Obj) -> str:
    payload = {"rv": rv, "start": list(object_key(last))}
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode()


def _select(store: Store, target: Target, query: Mapping[str, str]) -> tuple[Obj, list[Obj]]:
    """The list's metadata and the stored objects of its page."""
    rt = target.rt
    matches = object_filter(
        target.namespace, query.get("labelSelector"), query.get("fieldSelector"), rt.field_labels
    )
    selected = [o for o in store.items(rt.storage_key, target.namespace) if matches(o)]
    list_rv = store.resource_version
    if query.get("continue"):
        list_rv, start = _decode_token(query["continue"], store)
        selected = [o for o in selected if object_key(o) > start]
    limit = int(query.get("limit") or 0)
    meta: dict[str, Any] = {"resourceVersion": str(list_rv)}
    if 0 < limit < len(selected):
        meta["continue"] = _encode_token(list_rv, selected[limit - 1])
        meta["remainingItemCount"] = len(selected) - limit
        selected = selected[:limit]
    return meta, selected


def list_objects(store: Store, target: Target, query: Mapping[str, str]) -> dict[str, Any]:
    rt = target.rt
    meta, selected = _select(store, target, query)
    items = [in_version(o, rt.api_version) for o in selected]
    return {
        "kind": f"{rt.kind}List",
        "apiVersion": rt.api_version,
        "metadata": meta,
        "items": items,
    }


def list_text(store: Store, target: Target, query: Mapping[str, str]) -> bytes:
    """`list_objects` encoded, each item from the store's text of it (`Store.text`): a
    list of 5,000 Canaries re-encoded nothing that was served before."""
    rt = target.rt
    meta, selected = _select(store, target, query)
    items = b",".join(
        store.text(rt.storage_key, o)
        if o.get("apiVersion") == rt.api_version
        else encode(in_version(o, rt.api_version))
        for o in selected
    )
    head = encode({"kind": f"{rt.kind}List", "apiVersion": rt.api_version, "metadata": meta})
    return head[:-1] + b',"items":[' + items + b"]}"
