"""The store's routing objects as models: each stored version parsed once, at this boundary.

The SQLite store keeps every object as the manifest a user would write (what
`coalmine get -o yaml` shows); the runtime's data plane needs models. Rather than read
and validate every routing row again on each change, this keeps the model of each row
by the row's revision (the store-wide change counter at its last write):
- a writer that already holds the model (the local routers, `coalmine apply`) writes the
  row and hands the model over with `put`: nothing is parsed back;
- a row written any other way (giving an object back, a quarantine, an older coalmine)
  shows a new revision and is parsed once, the next time the models are asked for.
A rolled-back transaction gives its revisions out again, so after one every row is
parsed again once. A row that no longer parses raises one `StoredObjectInvalid` naming
the object and the fix.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from coalmine.api import gatewayapi
from coalmine.api.common import Model
from coalmine.api.loading import GATEWAY_API_GATEWAY, LOCAL_RESOURCES, parse_resource
from coalmine.api.networking import DestinationRule, Gateway, VirtualService
from coalmine.api.workloads import Service
from coalmine.errors import ManifestError, Problem
from coalmine.local.store import Store, StoredObject

__all__ = ["ROUTING_KINDS", "Key", "StoredModels", "StoredObjectInvalid"]

Key = tuple[str, str, str]
"""(kind as stored, namespace, name)."""

ROUTING_KINDS: dict[str, type[Any]] = {
    "Service": Service,
    "DestinationRule": DestinationRule,
    "Gateway": Gateway,
    "VirtualService": VirtualService,
    GATEWAY_API_GATEWAY: gatewayapi.Gateway,
    "HTTPRoute": gatewayapi.HTTPRoute,
    "ReferenceGrant": gatewayapi.ReferenceGrant,
}
"""The kinds (as stored) Envoy's configuration is made from, in the order they may depend
on each other."""


class StoredObjectInvalid(ManifestError):
    """A stored row that no longer validates (edited by hand, or written by an older
    coalmine while this one runs): the runtime cannot serve it."""

    def __init__(self, key: Key, cause: ManifestError) -> None:
        kind, namespace, name = key
        where = f"{kind.lower()} {name} (namespace {namespace}) in the store"
        fix = (
            "correct it and apply it again (coalmine apply -f FILE), or remove it"
            " (coalmine delete -f FILE)"
        )
        problems = [Problem(where, p.path, p.message) for p in cause.problems]
        problems.append(Problem(where, "", f"does not validate; {fix}"))
        super().__init__(problems)
        self.key = key
        self.cause = cause
        """The model's own problems, without the object's name (a quarantine's reason)."""


@dataclass(frozen=True)
class _Entry:
    revision: int
    rollbacks: int
    """The store's rollback count when it was kept (a rollback reuses revisions)."""
    model: Model


class StoredModels:
    """The models of the store's routing objects, kept in step with their rows."""

    def __init__(self, store: Store, kinds: Mapping[str, type[Any]] = ROUTING_KINDS) -> None:
        self.store = store
        self.kinds = kinds
        self._entries: dict[Key, _Entry] = {}
        self.parsed = 0
        """Rows parsed so far (the rest came as models from their writers)."""

    def put(
        self, key: Key, manifest: dict[str, Any], model: Model, owner: str | None
    ) -> StoredObject:
        """Write `manifest` (the user's form of `model`) and keep `model` as its model."""
        stored = self.store.put(*key, manifest, owner=owner)
        if key[0] in self.kinds:
            self._entries[key] = _Entry(stored.revision, self.store.rollbacks, model)
        return stored

    def get(self, key: Key) -> tuple[Model, str | None] | None:
        """(model, owner) of one stored object, None when it is not stored."""
        return self._current([key[0]], namespace=key[1], name=key[2]).get(key)

    def of_kind(self, kind: str) -> list[Any]:
        """The models of every stored object of `kind` (one of `kinds`), by namespace, name."""
        found = self._current([kind])
        return [found[key][0] for key in sorted(found)]

    def all(self) -> dict[Key, Model]:
        """Every routing object's model, by key."""
        return {key: model for key, (model, _) in self._current(self.kinds).items()}

    def _current(
        self, kinds: Iterable[str], *, namespace: str | None = None, name: str | None = None
    ) -> dict[Key, tuple[Model, str | None]]:
        """The rows of `kinds` as they are now, by key; a row whose revision moved is parsed.
        Models of rows no longer stored are dropped when the whole kind is read."""
        wanted = set(kinds)
        revisions = self.store.revisions(wanted, namespace=namespace, name=name)
        if namespace is None and name is None:
            for gone in [k for k in self._entries if k[0] in wanted and k not in revisions]:
                del self._entries[gone]
        found: dict[Key, tuple[Model, str | None]] = {}
        for key, (revision, owner) in revisions.items():
            entry = self._entries.get(key)
            rolled_back = entry is not None and entry.rollbacks != self.store.rollbacks
            if entry is None or entry.revision != revision or rolled_back:
                entry = self._parse(key)
            found[key] = (entry.model, owner)
        return dict(sorted(found.items()))

    def _parse(self, key: Key) -> _Entry:
        stored = self.store.get(*key)
        assert stored is not None  # read in the same synchronous step as its revision
        try:
            model = parse_resource(stored.manifest, kinds=LOCAL_RESOURCES)
        except ManifestError as error:
            raise StoredObjectInvalid(key, error) from None
        self.parsed += 1
        entry = _Entry(stored.revision, self.store.rollbacks, model)
        self._entries[key] = entry
        return entry
