"""What a person changes by command in the local runtime, besides applying manifests.

`coalmine promote/abort` write the request annotation on the Canary, `pause/resume`
set `spec.suspend`, `coalmine deploy --set-env` changes the target Deployment's
environment (a new revision). Each change is a whole manifest applied through the
same validation as `coalmine apply`, then the canaries concerned are woken so that
they act now rather than at the end of their interval.
"""

from __future__ import annotations

import copy
import json
import uuid
from collections.abc import Awaitable, Callable

from coalmine.api.canary import Canary
from coalmine.api.templates import with_env
from coalmine.api.workloads import Deployment, pod_template_hash
from coalmine.engine.requests import Action, Asked, asked_event, request_annotation
from coalmine.errors import CoalmineError
from coalmine.local.objects import Applied, ObjectBook
from coalmine.local.store import Store, StoredObject

__all__ = ["LocalChanges"]

Apply = Callable[[str, str], Awaitable[list[Applied]]]
Wake = Callable[[str, str], None]


class LocalChanges:
    """Requests, suspension and environment changes, as the local API offers them."""

    def __init__(self, book: ObjectBook, store: Store, apply: Apply, wake: Wake) -> None:
        self.book = book
        self.store = store
        self.apply = apply
        """Validates, stores and syncs a manifest (the runtime's apply)."""
        self.wake = wake
        """Makes a canary tick now."""

    async def request(self, namespace: str, name: str, action: Action, by: str) -> StoredObject:
        """Write the request annotation; the canary acts on it at its next tick (now)."""
        stored = self.book.get("Canary", namespace, name)
        manifest = copy.deepcopy(stored.manifest)
        annotations = manifest["metadata"].setdefault("annotations", {})
        annotations.update(request_annotation(uuid.uuid4().hex[:12], action, by))
        await self.apply(json.dumps(manifest), f"coalmine {action}")
        return self._asked(action, namespace, name, by)

    async def suspend(self, namespace: str, name: str, suspended: bool, by: str) -> StoredObject:
        """Set spec.suspend: a suspended canary takes no action until resumed."""
        stored = self.book.get("Canary", namespace, name)
        manifest = copy.deepcopy(stored.manifest)
        manifest["spec"]["suspend"] = suspended
        await self.apply(json.dumps(manifest), "coalmine pause" if suspended else "coalmine resume")
        return self._asked("pause" if suspended else "resume", namespace, name, by)

    async def set_env(
        self, namespace: str, name: str, env: dict[str, str], container: str | None
    ) -> str:
        """Set environment variables of a Deployment's container; return the new revision."""
        stored = self.book.get("Deployment", namespace, name)
        if stored.owner is not None:
            raise CoalmineError(
                f"deployment {name} in {namespace} is managed by {stored.owner}; "
                "change the Deployment it was made from instead"
            )
        manifest = copy.deepcopy(stored.manifest)
        what = f"deployment {name} in {namespace}"
        manifest["spec"]["template"] = with_env(manifest["spec"]["template"], env, container, what)
        await self.apply(json.dumps(manifest), "coalmine deploy")
        for canary in self._canaries_of(namespace, name):
            self.wake(namespace, canary.metadata.name)
        return self.revision(namespace, name)

    def revision(self, namespace: str, name: str) -> str:
        """The revision of a stored Deployment: what a canary targeting it would analyse."""
        stored = self.book.get("Deployment", namespace, name)
        return pod_template_hash(Deployment.model_validate(stored.manifest).spec.template)

    def _asked(self, asked: Asked, namespace: str, name: str, by: str) -> StoredObject:
        event = asked_event(asked, by, f"{name}.{namespace}")
        self.store.add_event(
            "Canary", namespace, name, event.type.value, event.reason, event.message
        )
        self.wake(namespace, name)
        return self.book.get("Canary", namespace, name)

    def _canaries_of(self, namespace: str, deployment: str) -> list[Canary]:
        return [
            c
            for c in self.book.canaries()
            if c.namespace == namespace and c.spec.target_ref.name == deployment
        ]
