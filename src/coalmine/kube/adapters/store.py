"""The CanaryStore port: a Canary's status, written through the `status` subresource.

The status is the engine's memory between ticks, and coalmine is its only writer, so
the whole status is replaced (PUT .../status): a field the engine cleared is cleared
in the cluster too. The write carries the resourceVersion the tick read; when the
Canary changed meanwhile the API answers 409 and the store re-reads it:

- its status is the one the tick read (a user edited the spec or a label, kopf
  annotated it): the same status is written onto the fresh copy, a bounded number of
  times. The status was decided from the old read and its actions are carried out, so
  it is the truth to record whatever else changed meanwhile;
- its status changed (another replica took the Canary's shard over while this one was
  paused, and ticked it): this tick's status was decided from a state that is no longer
  the Canary's, and writing it would undo the other writer's step. It is dropped
  (`StatusSuperseded`); the next tick starts from the stored status. A deletion's
  phases (`kube.adapters.revert`) are written over it all the same (`supersede`): the
  deletion ends the Canary whatever its last tick did.

A stored status is read leniently (`read_status`): fields this version does not know or
cannot read (written by Flagger, or by a newer coalmine) are dropped, so a status never
makes a Canary invalid, and two reads of the same stored status compare equal.
"""

from __future__ import annotations

import logging
from typing import Any

from pydantic import ValidationError

from coalmine.api.canary import Canary, CanaryStatus
from coalmine.errors import AdapterError, Conflict, NotFound
from coalmine.kube.adapters.client import KubeClient
from coalmine.kube.adapters.resources import canaries_of

__all__ = ["KubeCanaryStore", "StatusSuperseded", "read_status"]

log = logging.getLogger(__name__)


class StatusSuperseded(AdapterError):
    """The Canary's status changed since the tick read it: another writer ticked it."""


class KubeCanaryStore:
    def __init__(self, client: KubeClient, *, attempts: int = 5) -> None:
        self.client = client
        self.attempts = attempts
        """Writes tried before giving up (the tick then fails and the next one retries)."""

    async def write_status(
        self, canary: Canary, status: CanaryStatus, *, supersede: bool = False
    ) -> Canary:
        """The Canary as stored with `status`; `supersede` writes it even over a status
        another writer changed since `canary` was read."""
        kind = canaries_of(canary.api_version)
        version = canary.metadata.resource_version
        for _ in range(self.attempts):
            body = _status_body(canary, status, version)
            try:
                stored = await self.client.replace(
                    kind, canary.name, canary.namespace, body, subresource="status"
                )
            except Conflict:
                version = await self._version_to_retry_on(canary, supersede)
                continue
            except NotFound:
                raise _deleted(canary) from None
            metadata = canary.metadata.model_copy(
                update={"resource_version": stored["metadata"].get("resourceVersion")}
            )
            return canary.model_copy(update={"metadata": metadata, "status": status})
        raise AdapterError(
            f"writing the status of canary {canary.key} conflicted {self.attempts} times in a row"
        )

    async def _version_to_retry_on(self, canary: Canary, supersede: bool) -> str | None:
        """The fresh copy's resourceVersion, when only its other parts changed."""
        fresh = await self.client.get(
            canaries_of(canary.api_version), canary.name, canary.namespace, fresh=True
        )
        if fresh is None:
            raise _deleted(canary)
        if not supersede and read_status(fresh.get("status")) != canary.status:
            raise StatusSuperseded(
                f"the status of canary {canary.key} was written by another writer since "
                "this tick read it (a replica that took its shard over, or a second "
                "controller): this tick's status is dropped, the next tick starts from "
                "the stored one"
            )
        log.debug("status of %s conflicted; retrying on the fresh copy", canary.key)
        version: str | None = fresh["metadata"].get("resourceVersion")
        return version


def read_status(status: Any) -> CanaryStatus:
    """The fields of a stored status that this version reads; the others are dropped."""
    if not isinstance(status, dict):
        return CanaryStatus()
    known = {info.alias or name for name, info in CanaryStatus.model_fields.items()}
    readable = {k: v for k, v in status.items() if k in known and _readable(k, v)}
    return CanaryStatus.model_validate(readable)


def _readable(key: str, value: Any) -> bool:
    try:
        CanaryStatus.model_validate({key: value})
    except ValidationError:
        return False
    return True


def _status_body(canary: Canary, status: CanaryStatus, version: str | None) -> dict[str, Any]:
    """What PUT .../status needs: the object's identity, its version, and the status."""
    metadata: dict[str, Any] = {"name": canary.name, "namespace": canary.namespace}
    if version:
        metadata["resourceVersion"] = version
    return {
        "apiVersion": canary.api_version,
        "kind": "Canary",
        "metadata": metadata,
        "status": status.to_manifest(),
    }


def _deleted(canary: Canary) -> AdapterError:
    return AdapterError(f"canary {canary.key} was deleted; its status cannot be written")
