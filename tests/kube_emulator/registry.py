"""The write rules of the apiserver's generic registry, for every resource type.

Create, replace (PUT), patch and delete go through here. What it enforces, as the real
server does: server-owned metadata (uid, creationTimestamp, resourceVersion, generation),
generateName, 409 AlreadyExists, 409 Conflict on a stale resourceVersion, 404 NotFound,
422 Invalid with causes, the status subresource split (writes to the object ignore
status; writes to /status ignore all but status), generation bumped on spec changes
only, CRD schema pruning/defaulting/validation, finalizers (deletionTimestamp first,
removal when the last finalizer goes) and no-op writes that change nothing (no new
resourceVersion, no watch event).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from . import errors, fieldmanager, metadata, patching, schema
from .catalog import Catalog, ResourceType, StorageKey
from .errors import FieldError
from .rules import NO_RULES, TypeRules
from .storage import Obj, Store, clone, object_key

NAMESPACES: StorageKey = ("", "namespaces")
GC_FINALIZERS = {"Foreground": "foregroundDeletion", "Orphan": "orphan"}


@dataclass
class WriteResult:
    """The object as stored (or as it was when deleted) and any Warning headers."""

    obj: Obj
    warnings: list[str] = field(default_factory=list)
    created: bool = False
    deleted: bool = False


class Registry:
    """Generic create/update/patch/delete with Kubernetes' rules, over one Store."""

    def __init__(self, store: Store, catalog: Catalog, rules: dict[StorageKey, TypeRules]) -> None:
        self.store = store
        self.catalog = catalog
        self.rules = rules
        self.on_delete: list[Callable[[], None]] = []  # a deletion may orphan dependents
        self._admitted: dict[int, tuple[Obj, schema.Schema]] = {}
        """Stored objects (by id, held so that the id is not reused) that were admitted
        under the schema with them: `schema.admit` need not look again into a field
        they still hold. Objects stored otherwise (the emulator's own controllers) are
        not here, and are checked in full at their next write."""

    def _rules(self, rt: ResourceType) -> TypeRules:
        return self.rules.get(rt.storage_key, NO_RULES)

    def get(self, rt: ResourceType, namespace: str | None, name: str) -> Obj:
        obj = self.store.get(rt.storage_key, (namespace or "", name))
        if obj is None:
            raise errors.not_found(rt.plural, rt.group, name)
        return obj

    # --- create -------------------------------------------------------------------------

    def create(
        self,
        rt: ResourceType,
        namespace: str | None,
        body: Any,
        validation: str = "",
        manager: str = "unknown",
        applied: bool = False,
    ) -> WriteResult:
        obj = self._decode(rt, body)
        entries = obj.get("metadata", {}).get("managedFields") if applied else None
        meta = obj.setdefault("metadata", {})
        self._check_namespace(rt, namespace, meta)
        if not meta.get("name") and meta.get("generateName"):
            meta["name"] = metadata.generated_name(meta["generateName"])
        if meta.get("resourceVersion"):
            raise errors.internal("resourceVersion should not be set on objects to be created")
        self._init_metadata(rt, meta, namespace)
        if rt.has_status_subresource:  # a create never sets status: the controllers do
            obj.pop("status", None)
            if not rt.custom:
                obj["status"] = {}
        name_errors = metadata.validate_name(meta.get("name"), self._rules(rt).name_rule)
        if name_errors:
            raise errors.invalid(rt.kind, rt.group, str(meta.get("name", "")), name_errors)
        obj, warnings = self._admit(rt, obj, None, validation)
        if self.store.get(rt.storage_key, object_key(obj)) is not None:
            raise errors.already_exists(rt.plural, rt.group, meta["name"])
        if entries:  # a server-side apply that creates: the applier owns what it applied
            obj["metadata"]["managedFields"] = entries
        else:
            fieldmanager.record_update(None, obj, manager, rt.has_status_subresource, None)
        stored = self.store.put(rt.storage_key, obj, "ADDED")
        self._stored(rt, None, stored, admitted=True)
        self._rules(rt).committed(stored, None)
        return WriteResult(stored, warnings, created=True)

    def _decode(self, rt: ResourceType, body: Any) -> Obj:
        if not isinstance(body, dict):
            raise errors.bad_request(f"the body of the request must be a {rt.kind} object")
        if body.get("kind") not in (None, rt.kind) or body.get("apiVersion") not in (
            None,
            rt.api_version,
        ):
            message = (
                f"the API version in the data ({body.get('apiVersion')}) does not match "
                f"the expected API version ({rt.api_version})"
            )
            raise errors.bad_request(message)
        rest = {k: v for k, v in clone(body).items() if k not in ("apiVersion", "kind")}
        return {"apiVersion": rt.api_version, "kind": rt.kind, **rest}

    def _check_namespace(
        self, rt: ResourceType, namespace: str | None, meta: dict[str, Any]
    ) -> None:
        if not rt.namespaced:
            meta.pop("namespace", None)
            return
        if meta.get("namespace") not in (None, "", namespace):
            raise errors.bad_request(
                "the namespace of the provided object does not match "
                "the namespace sent on the request"
            )
        ns = self.store.get(NAMESPACES, ("", namespace or ""))
        if ns is None:
            raise errors.not_found("namespaces", "", namespace or "")
        if metadata.is_deleting(ns):
            why = (
                f"unable to create new content in namespace {namespace} "
                "because it is being terminated"
            )
            raise errors.forbidden(rt.plural, rt.group, meta.get("name", ""), why)

    def _init_metadata(self, rt: ResourceType, meta: dict[str, Any], namespace: str | None) -> None:
        for server_owned in (
            "uid",
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
            "managedFields",
            "selfLink",
        ):
            meta.pop(server_owned, None)
        meta["uid"] = metadata.new_uid()
        meta["creationTimestamp"] = metadata.timestamp()
        if rt.namespaced:
            meta["namespace"] = namespace
        if rt.has_generation:
            meta["generation"] = 1
        else:
            meta.pop("generation", None)

    def _admit(
        self, rt: ResourceType, obj: Obj, old: Obj | None, validation: str
    ) -> tuple[Obj, list[str]]:
        """Type defaults, schema pruning/defaulting, then validation; 400/422 on failure."""
        rules = self._rules(rt)
        rules.prepare(obj, old)
        warnings: list[str] = []
        problems: list[FieldError] = []
        if rt.schema is not None:
            obj, dropped, problems = schema.admit(obj, rt.schema, self._admitted_as(rt, old))
            warnings = self._unknown_fields(rt, dropped, validation)
        problems = problems + rules.validate(obj, old) + self._finalizer_errors(obj, old)
        if problems:
            raise errors.invalid(rt.kind, rt.group, obj["metadata"].get("name", ""), problems)
        return obj, warnings

    def _admitted_as(self, rt: ResourceType, old: Obj | None) -> Obj | None:
        """`old` if it was admitted under the type's current schema (not a CRD changed since)."""
        entry = self._admitted.get(id(old)) if old is not None else None
        return old if entry is not None and entry[0] is old and entry[1] is rt.schema else None

    def _stored(self, rt: ResourceType, old: Obj | None, stored: Obj, admitted: bool) -> None:
        """Bookkeeping for `_admitted` when `stored` replaces `old` (None: was created)."""
        if stored is old:
            return
        if old is not None:
            self._admitted.pop(id(old), None)
        if admitted and rt.schema is not None:
            self._admitted[id(stored)] = (stored, rt.schema)

    def _unknown_fields(self, rt: ResourceType, dropped: list[str], validation: str) -> list[str]:
        listed = [f'unknown field "{path}"' for path in dropped]
        if not listed or validation == "Ignore":
            return []
        if validation == "Strict":
            raise errors.bad_request(
                f'{rt.kind} in version "{rt.version}" cannot be handled as a {rt.kind}: '
                f"strict decoding error: {', '.join(listed)}"
            )
        return listed

    @staticmethod
    def _finalizer_errors(obj: Obj, old: Obj | None) -> list[FieldError]:
        if old is None or not metadata.is_deleting(old):
            return []
        added = [f for f in metadata.finalizers(obj) if f not in metadata.finalizers(old)]
        if not added:
            return []
        listed = "[]string{" + ", ".join(f'"{f}"' for f in added) + "}"
        detail = (
            "no new finalizers can be added if the object is being deleted, "
            f"found new finalizers {listed}"
        )
        return [FieldError("metadata.finalizers", "forbidden", detail)]

    # --- update ---------------------------------------------------------------------------

    def replace(
        self,
        rt: ResourceType,
        namespace: str | None,
        name: str,
        body: Any,
        subresource: str | None = None,
        validation: str = "",
        manager: str = "unknown",
    ) -> WriteResult:
        old = self.get(rt, namespace, name)
        new = self._decode(rt, body)
        sent_rv = new.get("metadata", {}).get("resourceVersion")
        if not sent_rv and not rt.unconditional_update:
            problem = FieldError(
                "metadata.resourceVersion", "invalid", "must be specified for an update", 0
            )
            raise errors.invalid(rt.kind, rt.group, name, [problem])
        return self._update(rt, old, new, subresource, validation, manager)

    def patch(
        self,
        rt: ResourceType,
        namespace: str | None,
        name: str,
        content_type: str,
        body: Any,
        subresource: str | None = None,
        validation: str = "",
        manager: str = "unknown",
        force: bool = False,
    ) -> WriteResult:
        if content_type == patching.APPLY:
            return self._apply(rt, namespace, name, body, subresource, validation, manager, force)
        old = self.get(rt, namespace, name)
        patched = patching.apply_patch(content_type, old, body, rt.custom)
        return self._update(rt, old, self._decode(rt, patched), subresource, validation, manager)

    def _apply(
        self,
        rt: ResourceType,
        namespace: str | None,
        name: str,
        config: Any,
        subresource: str | None,
        validation: str,
        manager: str,
        force: bool,
    ) -> WriteResult:
        """Server-side apply (`fieldmanager.py`): creates a missing object, else merges."""
        if not manager or manager == "unknown":
            raise errors.bad_request("PATCH: fieldManager is required for apply requests")
        config = self._decode(rt, config)
        config_name = config.get("metadata", {}).get("name")
        if config_name not in (None, name):
            raise errors.bad_request(
                f"the name of the object ({config_name}) does not match the name on the URL "
                f"({name})"
            )
        config.setdefault("metadata", {})["name"] = name
        old = self.store.get(rt.storage_key, (namespace or "", name))
        split = rt.has_status_subresource
        where = (rt.plural, rt.group, name)
        merged = fieldmanager.apply(old, config, manager, force, split, subresource, where)
        if old is None:
            merged["metadata"].pop("resourceVersion", None)
            return self.create(rt, namespace, merged, validation, manager, applied=True)
        merged["metadata"]["resourceVersion"] = old["metadata"]["resourceVersion"]
        return self._update(rt, old, merged, subresource, validation, manager, applied=True)

    def _update(
        self,
        rt: ResourceType,
        old: Obj,
        new: Obj,
        subresource: str | None,
        validation: str,
        manager: str = "unknown",
        applied: bool = False,
    ) -> WriteResult:
        meta = new.setdefault("metadata", {})
        entries = meta.get("managedFields") if applied else None
        name = old["metadata"]["name"]
        if meta.get("name", name) != name:
            raise errors.bad_request(
                f"the name of the object ({meta.get('name')}) does not match "
                f"the name on the URL ({name})"
            )
        sent_rv = meta.get("resourceVersion")
        if sent_rv and sent_rv != old["metadata"]["resourceVersion"]:
            raise errors.conflict(rt.plural, rt.group, name, errors.STALE_OBJECT)
        new = self._split_status(rt, old, new, subresource)
        self._carry_system_fields(old, new)
        new, warnings = self._admit(rt, new, old, validation)
        if applied:
            if entries:
                new["metadata"]["managedFields"] = entries
        else:
            split = rt.has_status_subresource
            fieldmanager.record_update(old, new, manager, split, subresource)
        return self._commit(rt, old, new, warnings, admitted=True)

    @staticmethod
    def _split_status(rt: ResourceType, old: Obj, new: Obj, subresource: str | None) -> Obj:
        if subresource == "status":
            result = clone(old)
            result.pop("status", None)
            if "status" in new:
                result["status"] = new["status"]
            result["apiVersion"] = new["apiVersion"]
            return result
        if rt.has_status_subresource:
            new.pop("status", None)
            if "status" in old:
                new["status"] = clone(old["status"])
        return new

    @staticmethod
    def _carry_system_fields(old: Obj, new: Obj) -> None:
        meta, old_meta = new["metadata"], old["metadata"]
        for owned in (
            "managedFields",
            "uid",
            "creationTimestamp",
            "namespace",
            "name",
            "generation",
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
        ):
            if owned in old_meta:
                meta[owned] = old_meta[owned]
            else:
                meta.pop(owned, None)
        meta["resourceVersion"] = old_meta["resourceVersion"]

    def _commit(
        self,
        rt: ResourceType,
        old: Obj,
        new: Obj,
        warnings: list[str] | None = None,
        admitted: bool = False,
    ) -> WriteResult:
        """Store an update: bump generation on content changes, skip no-ops, finish deletions."""
        if "generation" in old["metadata"] and self._content_changed(rt, old, new):
            new["metadata"]["generation"] = old["metadata"]["generation"] + 1
        if self._same(old, new):
            return WriteResult(old, warnings or [])
        if metadata.is_deleting(new) and not self._pending(rt, new):
            final = self.store.remove(rt.storage_key, object_key(old))
            self._after_delete(rt, old)
            return WriteResult(final, warnings or [], deleted=True)
        stored = self.store.put(rt.storage_key, new, "MODIFIED")
        self._stored(rt, old, stored, admitted)
        self._rules(rt).committed(stored, old)
        return WriteResult(stored, warnings or [])

    @staticmethod
    def _same(old: Obj, new: Obj) -> bool:
        strip = ("apiVersion",)
        return {k: v for k, v in old.items() if k not in strip} == {
            k: v for k, v in new.items() if k not in strip
        }

    @staticmethod
    def _content_changed(rt: ResourceType, old: Obj, new: Obj) -> bool:
        """Generation counts spec changes: for custom resources, all but metadata (and status)."""
        if not rt.custom:
            return old.get("spec") != new.get("spec")
        ignored = {"apiVersion", "kind", "metadata"} | (
            {"status"} if rt.has_status_subresource else set()
        )
        return {k: v for k, v in old.items() if k not in ignored} != {
            k: v for k, v in new.items() if k not in ignored
        }

    def commit_system_change(self, storage: StorageKey, old: Obj, new: Obj) -> WriteResult:
        """A write by the emulator's own controllers (GC, namespace cleanup, test helpers)."""
        rt = self.catalog.any_version(storage)
        assert rt is not None, storage
        new["metadata"]["resourceVersion"] = old["metadata"]["resourceVersion"]
        return self._commit(rt, old, new)

    # --- delete ---------------------------------------------------------------------------

    def _pending(self, rt: ResourceType, obj: Obj) -> bool:
        """Whether something still holds the object: finalizers (or a namespace's spec ones)."""
        held_by_namespace = rt.storage_key == NAMESPACES and obj.get("spec", {}).get("finalizers")
        return bool(metadata.finalizers(obj) or held_by_namespace)

    def delete(
        self, rt: ResourceType, namespace: str | None, name: str, options: dict[str, Any]
    ) -> WriteResult:
        old = self.get(rt, namespace, name)
        self._check_preconditions(rt, old, options.get("preconditions") or {})
        new = clone(old)
        policy = options.get("propagationPolicy") or (
            "Orphan" if options.get("orphanDependents") else ""
        )
        gc_finalizer = GC_FINALIZERS.get(policy)
        if (
            gc_finalizer
            and not metadata.is_deleting(old)
            and gc_finalizer not in metadata.finalizers(new)
        ):
            new["metadata"]["finalizers"] = [*metadata.finalizers(new), gc_finalizer]
        if not self._pending(rt, new):
            final = self.store.remove(rt.storage_key, object_key(old))
            self._after_delete(rt, old)
            return WriteResult(final, deleted=True)
        if metadata.is_deleting(old):
            return WriteResult(old)
        self._mark_deleting(new)
        result = self._commit(rt, old, new)
        self._notify()
        return result

    def _check_preconditions(
        self, rt: ResourceType, obj: Obj, preconditions: dict[str, Any]
    ) -> None:
        meta, name = obj["metadata"], obj["metadata"]["name"]
        for field_name, label in (("uid", "UID"), ("resourceVersion", "ResourceVersion")):
            wanted = preconditions.get(field_name)
            if wanted and wanted != meta.get(field_name):
                why = (
                    f"Precondition failed: {label} in precondition: {wanted}, "
                    f"{label} in object meta: {meta.get(field_name)}"
                )
                raise errors.conflict(rt.plural, rt.group, name, why)

    @staticmethod
    def _mark_deleting(obj: Obj) -> None:
        meta = obj["metadata"]
        meta["deletionTimestamp"] = metadata.timestamp()
        meta["deletionGracePeriodSeconds"] = 0
        if meta.get("generation"):
            meta["generation"] += 1

    def _after_delete(self, rt: ResourceType, old: Obj) -> None:
        self._admitted.pop(id(old), None)
        self._rules(rt).committed(None, old)
        self._notify()

    def _notify(self) -> None:
        for callback in self.on_delete:
            callback()


__all__ = ["Registry", "WriteResult"]
