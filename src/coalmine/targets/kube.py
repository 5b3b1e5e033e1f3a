"""A Kubernetes cluster as a Target, through kr8s (`coalmine.kube.adapters.client`).

Reads and writes are the operator's own building blocks, so that the CLI and the
controller agree: the revision is `kube.adapters.revision.pod_template_revision` (what the
operator compares), readiness is `kube.adapters.deployments.workload_state`, events are
`kube.adapters.events.KubeEvents`. Writes send only what they change: a JSON patch with a
`test` of the container's name for an image or environment change (a concurrent
reordering of containers fails the patch instead of changing the wrong one), merge
patches for annotations, `spec.suspend` and the manual canary's objects.
"""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime
from typing import Any, Literal

from coalmine.api.templates import container_index
from coalmine.engine.requests import asked_event, request_annotation
from coalmine.errors import CoalmineError, NotFound
from coalmine.kube.adapters.client import KubeClient
from coalmine.kube.adapters.deployments import workload_state
from coalmine.kube.adapters.events import Involved, KubeEvents
from coalmine.kube.adapters.resources import (
    CANARIES,
    DEPLOYMENTS,
    DESTINATION_RULES,
    EVENTS,
    FLAGGER_CANARIES,
    GATEWAY_API_GATEWAYS,
    GATEWAYS,
    HTTP_ROUTES,
    SERVICES,
    VIRTUAL_SERVICES,
    Kind,
    canaries_of,
)
from coalmine.kube.adapters.revision import pod_template_revision
from coalmine.targets.base import Asked, CanaryView, EventView, Obj, RolloutView
from coalmine.targets.patches import merge_patch

__all__ = ["CLI_INSTANCE", "KINDS", "KubeTarget"]

CLI_INSTANCE = "coalmine-cli"
"""reportingInstance of the Events the CLI records."""

KINDS: dict[str, Kind] = {
    k.kind: k
    for k in (DEPLOYMENTS, SERVICES, GATEWAYS, VIRTUAL_SERVICES, DESTINATION_RULES, HTTP_ROUTES)
}
"""The kinds the CLI reads and writes, by name (`Gateway` is Istio's; see `_kind_of`)."""
REPLACED = {"Deployment": (("spec", "template"),)}
"""Where a manifest the CLI applies is the whole truth (see targets.patches)."""


class KubeTarget:
    kind: Literal["local", "kubernetes"] = "kubernetes"

    def __init__(self, client: KubeClient, description: str, namespace: str | None) -> None:
        self.client = client
        self.description = description
        self.namespace = namespace or client.default_namespace

    async def canary(self, namespace: str, name: str) -> CanaryView:
        for kind in (CANARIES, FLAGGER_CANARIES):
            found = await self.client.get(kind, name, namespace)
            if found is not None:
                return _canary(found)
        raise NotFound(f"canary {name} not found in namespace {namespace}")

    async def canaries(self, namespace: str | None) -> list[CanaryView]:
        try:
            found = await self.client.list(CANARIES, namespace)
        except NotFound:
            raise CoalmineError(
                "the Canary resource (canaries.coalmine.dev) is not installed in this "
                "cluster; install it with: coalmine install"
            ) from None
        with contextlib.suppress(NotFound):  # no Flagger CRDs: only coalmine's canaries
            found += await self.client.list(FLAGGER_CANARIES, namespace)
        return sorted((_canary(obj) for obj in found), key=lambda c: (c.namespace, c.name))

    async def events(self, namespace: str, name: str, limit: int = 50) -> list[EventView]:
        selector = f"involvedObject.kind=Canary,involvedObject.name={name}"
        found = await self.client.list(EVENTS, namespace, field_selector=selector)
        found.sort(key=lambda e: (_event_time(e), int(e["metadata"].get("resourceVersion") or 0)))
        return [_event(e) for e in found[-limit:]]

    async def canary_events(
        self, namespace: str | None, limit: int = 50
    ) -> dict[tuple[str, str], list[EventView]]:
        """The Events of every Canary (in `namespace`, or all), in one list call: the
        dashboard's overview reads them for each row without a call per canary."""
        found = await self.client.list(
            EVENTS, namespace, field_selector="involvedObject.kind=Canary"
        )
        found.sort(key=lambda e: (_event_time(e), int(e["metadata"].get("resourceVersion") or 0)))
        grouped: dict[tuple[str, str], list[EventView]] = {}
        for obj in found:
            involved = obj.get("involvedObject") or {}
            key = (str(involved.get("namespace") or ""), str(involved.get("name") or ""))
            grouped.setdefault(key, []).append(_event(obj))
        return {key: events[-limit:] for key, events in grouped.items()}

    async def revision(self, namespace: str, deployment: str) -> str:
        found = await self._deployment(namespace, deployment)
        return pod_template_revision(found["spec"].get("template") or {})

    async def set_image(
        self, namespace: str, deployment: str, image: str, container: str | None
    ) -> str:
        found = await self._deployment(namespace, deployment)
        at = _container_path(found, container, DEPLOYMENTS.describe(deployment, namespace))
        operations = [
            {"op": "test", "path": f"{at}/name", "value": _container_name(found, at)},
            {"op": "replace", "path": f"{at}/image", "value": image},
        ]
        changed = await self.client.json_patch(DEPLOYMENTS, deployment, namespace, operations)
        return pod_template_revision(changed["spec"].get("template") or {})

    async def set_env(
        self, namespace: str, deployment: str, env: dict[str, str], container: str | None
    ) -> str:
        found = await self._deployment(namespace, deployment)
        at = _container_path(found, container, DEPLOYMENTS.describe(deployment, namespace))
        operations = [{"op": "test", "path": f"{at}/name", "value": _container_name(found, at)}]
        operations += _env_operations(_at(found, at).get("env"), env, f"{at}/env")
        changed = await self.client.json_patch(DEPLOYMENTS, deployment, namespace, operations)
        return pod_template_revision(changed["spec"].get("template") or {})

    async def ask(self, canary: CanaryView, asked: Asked, by: str) -> None:
        kind = canaries_of(canary.api_version)
        if asked == "promote" or asked == "abort":
            request_id = f"{asked}-{datetime.now(UTC):%Y%m%dT%H%M%S%f}"
            patch: Obj = {"metadata": {"annotations": request_annotation(request_id, asked, by)}}
        else:
            patch = {"spec": {"suspend": asked == "pause"}}
        written = await self.client.merge_patch(kind, canary.name, canary.namespace, patch)
        events = KubeEvents(self.client, instance=CLI_INSTANCE)
        await events.about(Involved.of_object(written), asked_event(asked, by, canary.key))

    async def objects(self, kind: str, namespace: str) -> list[Obj]:
        """As listed; the API server leaves apiVersion and kind out of list items."""
        known = _kind(kind)
        found = await self.client.list(known, namespace)
        return [{"apiVersion": known.api_version, "kind": known.kind, **obj} for obj in found]

    async def get_object(self, kind: str, namespace: str, name: str) -> Obj | None:
        return await self.client.get(_kind(kind), name, namespace)

    async def apply(self, manifests: list[Obj]) -> list[str]:
        return [await self._apply_one(manifest) for manifest in manifests]

    async def rollout(self, namespace: str, deployment: str) -> RolloutView:
        state = workload_state(await self._deployment(namespace, deployment))
        done = (
            state.settled
            and state.updated == state.replicas
            and state.available >= state.replicas
            and (state.total is None or state.total == state.replicas)
        )
        return RolloutView(done, state.replicas, state.updated, state.available)

    async def metrics(
        self, namespace: str, name: str, interval: str, server: str | None
    ) -> dict[str, Any]:
        """Istio's built-ins from the Prometheus at `server` for the canary and its primary."""
        if not server:
            raise CoalmineError(
                "set --metrics-server URL (or COALMINE_PROMETHEUS_URL): the Prometheus that"
                " holds the Istio metrics, for example http://127.0.0.1:9090 after"
                " kubectl -n istio-system port-forward svc/prometheus 9090"
            )
        from coalmine.api.canary import Canary
        from coalmine.api.loading import parse_resource
        from coalmine.metrics.measurer import MeasurerSettings, MetricMeasurer
        from coalmine.metrics.providers.base import ProviderSettings
        from coalmine.metrics.side_by_side import side_by_side

        view = await self.canary(namespace, name)
        document = {
            "apiVersion": "coalmine.dev/v1beta1",
            "kind": "Canary",
            "metadata": {"name": name, "namespace": namespace},
            "spec": view.spec,
        }
        canary = parse_resource(document)
        assert isinstance(canary, Canary)
        measurer = MetricMeasurer(MeasurerSettings(ProviderSettings(server)))
        return await side_by_side(measurer, canary, interval, server)

    async def close(self) -> None:
        from coalmine.kube.runtime.connection import close

        await close(self.client)

    async def _apply_one(self, manifest: Obj) -> str:
        kind = _kind_of(manifest)
        name, namespace = manifest["metadata"]["name"], manifest["metadata"]["namespace"]
        label = f"{kind.kind.lower()}/{name}"
        current = await self.client.get(kind, name, namespace)
        if current is None:
            await self.client.create(kind, namespace, manifest)
            return f"{label} created"
        body = {k: v for k, v in manifest.items() if k in ("metadata", "spec")}
        body["metadata"] = {k: v for k, v in body["metadata"].items() if k in ("labels",)}
        patch = merge_patch(current, body, replaced=REPLACED.get(kind.kind, ()))
        if not patch:
            return f"{label} unchanged"
        await self.client.merge_patch(kind, name, namespace, patch)
        return f"{label} configured"

    async def _deployment(self, namespace: str, name: str) -> Obj:
        found = await self.client.get(DEPLOYMENTS, name, namespace)
        if found is None:
            raise NotFound(f"deployment {name} not found in namespace {namespace}")
        return found


def _kind(name: str) -> Kind:
    if name not in KINDS:
        raise CoalmineError(f"kind {name!r} is not one the CLI writes; known: {', '.join(KINDS)}")
    return KINDS[name]


def _kind_of(manifest: Obj) -> Kind:
    """The kind a manifest names, its apiVersion telling the two Gateways apart."""
    if (
        manifest["kind"] == "Gateway"
        and manifest.get("apiVersion") == GATEWAY_API_GATEWAYS.api_version
    ):
        return GATEWAY_API_GATEWAYS
    return _kind(manifest["kind"])


def _container_path(deployment: Obj, container: str | None, what: str) -> str:
    index = container_index(deployment["spec"].get("template") or {}, container, what)
    return f"/spec/template/spec/containers/{index}"


def _at(deployment: Obj, path: str) -> Obj:
    index = int(path.rpartition("/")[2])
    container: Obj = deployment["spec"]["template"]["spec"]["containers"][index]
    return container


def _container_name(deployment: Obj, path: str) -> str:
    return str(_at(deployment, path).get("name"))


def _env_operations(current: list[Obj] | None, env: dict[str, str], at: str) -> list[Obj]:
    """JSON patch operations that set `env` on a container whose env is `current`."""
    if not current:
        return [
            {"op": "add", "path": at, "value": [{"name": k, "value": v} for k, v in env.items()]}
        ]
    names = [str(v.get("name")) for v in current]
    operations: list[Obj] = []
    for name, value in env.items():
        entry = {"name": name, "value": value}
        if name in names:
            index = names.index(name)
            operations += [
                {"op": "test", "path": f"{at}/{index}/name", "value": name},
                {"op": "replace", "path": f"{at}/{index}", "value": entry},
            ]
        else:
            operations.append({"op": "add", "path": f"{at}/-", "value": entry})
    return operations


def _canary(obj: Obj) -> CanaryView:
    metadata = obj.get("metadata") or {}
    return CanaryView(
        namespace=str(metadata.get("namespace")),
        name=str(metadata.get("name")),
        spec=obj.get("spec") or {},
        status=obj.get("status") or {},
        annotations=dict(metadata.get("annotations") or {}),
        api_version=str(obj.get("apiVersion", CANARIES.api_version)),
    )


def _event_time(obj: Obj) -> datetime:
    return _parse_time(
        obj.get("lastTimestamp") or obj.get("eventTime") or obj.get("firstTimestamp")
    )


def _event(obj: Obj) -> EventView:
    metadata = obj.get("metadata") or {}
    count = int(obj.get("count") or 1)
    first = obj.get("firstTimestamp")
    return EventView(
        key=f"{metadata.get('name')}#{count}",
        time=_event_time(obj),
        type=str(obj.get("type") or "Normal"),
        reason=str(obj.get("reason") or ""),
        message=str(obj.get("message") or ""),
        first_time=_parse_time(first) if count > 1 and first else None,
        count=count,
    )


def _parse_time(text: Any) -> datetime:
    if not text:
        return datetime.fromtimestamp(0, UTC)
    return datetime.fromisoformat(str(text).replace("Z", "+00:00"))
