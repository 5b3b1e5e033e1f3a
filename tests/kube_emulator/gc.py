"""The controllers behind deletion: garbage collection by ownerReferences, namespace cleanup.

Like kube-controller-manager, this runs after the request that caused it (a background
task woken by every deletion), so tests wait for its effects with a deadline or call
`collect()` to run it at once. It does:

- background propagation: an object whose owners (by uid) are all gone is deleted; one
  that still has a live owner only loses the dangling ownerReferences;
- `foregroundDeletion`: the owner's dependents are deleted first, then the finalizer is
  removed and the owner goes;
- `orphan`: the owner's dependents lose their ownerReference to it, then the owner goes;
- namespaces: a terminating namespace (`status.phase: Terminating`) has all its objects
  deleted; once it is empty its `kubernetes` finalizer is removed and it goes.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable

from . import metadata
from .catalog import StorageKey
from .registry import NAMESPACES, Registry
from .storage import Obj, clone

logger = logging.getLogger(__name__)
MAX_ROUNDS = 100


class GarbageCollector:
    def __init__(self, registry: Registry) -> None:
        self.registry = registry
        self.store = registry.store
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        registry.on_delete.append(self._wake.set)

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="kube-emulator garbage collector")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            await asyncio.sleep(0)  # let the request that woke us answer first
            try:
                self.collect()
            except Exception:  # a GC bug must not silently stop collection
                logger.exception("garbage collection failed")

    def collect(self) -> None:
        """Run until nothing more changes (bounded)."""
        for _ in range(MAX_ROUNDS):
            if not self._one_round():
                return

    def _one_round(self) -> bool:
        changed = self._collect_dangling()
        for storage in self.store.all_storages():
            for obj in self.store.items(storage):
                if metadata.is_deleting(obj):
                    changed |= self._finish(storage, obj)
        return changed

    def _collect_dangling(self) -> bool:
        changed = False
        for owner_uid in self.store.owner_uids():
            if self.store.by_uid(owner_uid) is not None:
                continue
            for storage, dependent in self.store.dependents(owner_uid):
                changed |= self._release(storage, dependent)
            self.store.forget_owner(owner_uid)
        return changed

    def _release(self, storage: StorageKey, dependent: Obj) -> bool:
        """Delete a dependent with no live owner; else drop its dangling references."""
        refs = dependent["metadata"].get("ownerReferences", [])
        live = [r for r in refs if self.store.by_uid(r.get("uid", "")) is not None]
        if live:
            return self._set_owner_refs(storage, dependent, live)
        if metadata.is_deleting(dependent):
            return False
        return self._delete(storage, dependent)

    def _set_owner_refs(self, storage: StorageKey, obj: Obj, refs: list[dict[str, object]]) -> bool:
        new = clone(obj)
        new["metadata"]["ownerReferences"] = refs
        if not refs:
            del new["metadata"]["ownerReferences"]
        self.registry.commit_system_change(storage, obj, new)
        return True

    def _delete(self, storage: StorageKey, obj: Obj) -> bool:
        rt = self.registry.catalog.any_version(storage)
        if rt is None:
            return False
        meta = obj["metadata"]
        self.registry.delete(
            rt, meta.get("namespace"), meta["name"], {"propagationPolicy": "Background"}
        )
        return True

    def _delete_all(self, found: Iterable[tuple[StorageKey, Obj]]) -> bool:
        deleted = [self._delete(storage, obj) for storage, obj in found]
        return any(deleted)

    def _finish(self, storage: StorageKey, obj: Obj) -> bool:
        finalizers = metadata.finalizers(obj)
        uid = obj["metadata"]["uid"]
        if storage == NAMESPACES:
            return self._finish_namespace(obj)
        if "orphan" in finalizers:
            for dep_storage, dependent in self.store.dependents(uid):
                refs = [
                    r
                    for r in dependent["metadata"].get("ownerReferences", [])
                    if r.get("uid") != uid
                ]
                self._set_owner_refs(dep_storage, dependent, refs)
            return self._drop_finalizer(storage, obj, "orphan")
        if "foregroundDeletion" in finalizers:
            dependents = self.store.dependents(uid)
            if not dependents:
                return self._drop_finalizer(storage, obj, "foregroundDeletion")
            return self._delete_all(d for d in dependents if not metadata.is_deleting(d[1]))
        return False

    def _drop_finalizer(self, storage: StorageKey, obj: Obj, finalizer: str) -> bool:
        new = clone(obj)
        new["metadata"]["finalizers"] = [f for f in metadata.finalizers(obj) if f != finalizer]
        self.registry.commit_system_change(storage, obj, new)
        return True

    def _finish_namespace(self, namespace: Obj) -> bool:
        name = namespace["metadata"]["name"]
        if namespace.get("status", {}).get("phase") != "Terminating":
            new = clone(namespace)
            new["status"] = {"phase": "Terminating"}
            self.registry.commit_system_change(NAMESPACES, namespace, new)
            return True
        contents = [(s, o) for s in self.store.all_storages() for o in self.store.items(s, name)]
        if contents:
            return self._delete_all(c for c in contents if not metadata.is_deleting(c[1]))
        if not namespace.get("spec", {}).get("finalizers"):
            return False
        new = clone(namespace)
        new["spec"]["finalizers"] = []
        self.registry.commit_system_change(NAMESPACES, namespace, new)
        return True
