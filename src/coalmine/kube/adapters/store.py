"""The CanaryStore port: a Canary's status, written through the `status` subresource.

The status is the engine's memory between ticks, and coalmine is its only writer, so
the whole status is replaced (PUT .../status): a field the engine cleared is cleared
in the cluster too. The write carries the resourceVersion the tick read; when the
Canary changed meanwhile (a user edited it, kopf annotated it) the API answers 409,
and the store re-reads the Canary and writes the same status onto the fresh copy, a
bounded number of times. The status was decided from the old read, and its actions
are already carried out, so it is the truth to record whatever changed meanwhile.
"""

from __future__ import annotations

import logging
from typing import Any

from coalmine.api.canary import Canary, CanaryStatus
from coalmine.errors import AdapterError, Conflict, NotFound
from coalmine.kube.adapters.client import KubeClient
from coalmine.kube.adapters.resources import canaries_of

__all__ = ["KubeCanaryStore"]

log = logging.getLogger(__name__)


class KubeCanaryStore:
    def __init__(self, client: KubeClient, *, attempts: int = 5) -> None:
        self.client = client
        self.attempts = attempts
        """Writes tried before giving up (the tick then fails and the next one retries)."""

    async def write_status(self, canary: Canary, status: CanaryStatus) -> Canary:
        kind = canaries_of(canary.api_version)
        version = canary.metadata.resource_version
        for _ in range(self.attempts):
            body = _status_body(canary, status, version)
            try:
                stored = await self.client.replace(
                    kind, canary.name, canary.namespace, body, subresource="status"
                )
            except Conflict:
                version = await self._current_version(canary)
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

    async def _current_version(self, canary: Canary) -> str | None:
        fresh = await self.client.get(
            canaries_of(canary.api_version), canary.name, canary.namespace, fresh=True
        )
        if fresh is None:
            raise _deleted(canary)
        log.debug("status of %s conflicted; retrying on the fresh copy", canary.key)
        version: str | None = fresh["metadata"].get("resourceVersion")
        return version


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
