"""The local runtime (`coalmine up`) as a Target, through its HTTP API (plain urllib).

The runtime does the work: it validates and stores changed manifests, computes
revisions the way its canaries see them, records who asked, and wakes the canary.
Calls are blocking and short (each with the client's timeout); a command does one
thing at a time, so they run on the event loop's thread.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from coalmine.errors import CoalmineError
from coalmine.local.client import LocalClient
from coalmine.targets.base import Asked, CanaryView, EventView, Obj, RolloutView

__all__ = ["LocalTarget"]

TIMEOUT_SECONDS = 10.0


class LocalTarget:
    kind: Literal["local", "kubernetes"] = "local"

    def __init__(self, state_dir: Path, namespace: str | None = None) -> None:
        self.client = LocalClient(state_dir, timeout=TIMEOUT_SECONDS)
        self.state_dir = state_dir
        self.description = f"the local runtime (state directory {state_dir})"
        self.namespace = namespace or "default"

    async def canary(self, namespace: str, name: str) -> CanaryView:
        return _canary(self.client.get("Canary", namespace, name))

    async def canaries(self, namespace: str | None) -> list[CanaryView]:
        return [_canary(item) for item in self.client.objects("Canary", namespace)]

    async def events(self, namespace: str, name: str, limit: int = 50) -> list[EventView]:
        return [
            EventView(
                key=str(e["id"]),
                time=datetime.fromisoformat(e["time"]),
                type=e["type"],
                reason=e["reason"],
                message=e["message"],
            )
            for e in self.client.events(namespace, name, limit=limit)
            if e["kind"] == "Canary"
        ]

    async def revision(self, namespace: str, deployment: str) -> str:
        return self.client.revision(namespace, deployment)

    async def set_image(
        self, namespace: str, deployment: str, image: str, container: str | None
    ) -> str:
        raise CoalmineError(
            "--image: the local runtime runs commands, not container images; "
            "ship a new release with --set-env KEY=VALUE (for example --set-env VERSION=0.0.2)"
        )

    async def set_env(
        self, namespace: str, deployment: str, env: dict[str, str], container: str | None
    ) -> str:
        return self.client.set_env(namespace, deployment, env, container)

    async def ask(self, canary: CanaryView, asked: Asked, by: str) -> None:
        if asked == "promote" or asked == "abort":
            self.client.request(canary.namespace, canary.name, asked, by)
        else:
            self.client.suspend(canary.namespace, canary.name, asked == "pause", by)

    async def objects(self, kind: str, namespace: str) -> list[Obj]:
        return [dict(item["manifest"]) for item in self.client.objects(kind, namespace)]

    async def get_object(self, kind: str, namespace: str, name: str) -> Obj | None:
        from coalmine.errors import NotFound

        try:
            return dict(self.client.get(kind, namespace, name)["manifest"])
        except NotFound:
            return None

    async def apply(self, manifests: list[Obj]) -> list[str]:
        text = "\n---\n".join(json.dumps(m) for m in manifests)
        results = self.client.apply(text, "coalmine manual")
        return [f"{r['kind'].lower()}/{r['name']} {r['action']}" for r in results]

    async def rollout(self, namespace: str, deployment: str) -> RolloutView:
        item = self.client.get("Deployment", namespace, deployment)
        status = item.get("status") or {}
        wanted = int(item["manifest"]["spec"].get("replicas", 1))
        updated = int(status.get("updatedReplicas") or 0)
        available = int(status.get("availableReplicas") or 0)
        current = status.get("revision") == self.client.revision(namespace, deployment)
        done = current and updated == wanted and available >= wanted
        return RolloutView(done, wanted, updated, available)

    async def metrics(
        self, namespace: str, name: str, interval: str, server: str | None
    ) -> dict[str, Any]:
        if server:
            raise CoalmineError(
                "--metrics-server is for clusters: the local runtime measures with Envoy's"
                " stats, or with its own Prometheus (coalmine up --prometheus)"
            )
        return self.client.metrics(namespace, name, interval)

    async def close(self) -> None:
        """Nothing to close: every call opens and closes its own connection."""


def _canary(item: dict[str, Any]) -> CanaryView:
    manifest = item["manifest"]
    metadata = manifest.get("metadata") or {}
    return CanaryView(
        namespace=item["namespace"],
        name=item["name"],
        spec=manifest.get("spec") or {},
        status=item.get("status") or {},
        annotations=dict(metadata.get("annotations") or {}),
        api_version=str(manifest.get("apiVersion", "")),
    )
