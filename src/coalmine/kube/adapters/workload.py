"""The Workload port for `apps/v1` Deployments: the target (the canary), `<target>-primary`,
and with judge.baseline `<target>-baseline` (the primary's template, for the analysis).

The Kubernetes twin of `coalmine.local.workload`. The target is the user's
Deployment; coalmine scales it to zero between analyses and back up for a new
revision. Its replicas before scaling down are remembered in the annotation
`coalmine.dev/scaled-down-from` (as Flagger's scaler does), so that scaling up gives
back what the user asked for, even after the controller restarted.

Writes touch only what they change: `spec.replicas` (and that annotation) on the
target; on the primary, the template, strategy and minReadySeconds at promotion.

The ConfigMaps and Secrets the target reads are tracked (`kube.adapters.configs`): their content
is part of the target's revision, and at initialization and promotion they are copied
to `<name>-primary`, which the primary's template names instead.
"""

from __future__ import annotations

import contextlib
import dataclasses
from typing import Any

from coalmine.api.canary import Canary
from coalmine.api.config_tracking import tracked_checksums
from coalmine.engine.observations import WorkloadState
from coalmine.errors import AdapterError, Conflict
from coalmine.kube.adapters.autoscaler import PrimaryAutoscaler
from coalmine.kube.adapters.client import KubeClient, Obj
from coalmine.kube.adapters.configs import ConfigTracker, primary_template, revision_with_configs
from coalmine.kube.adapters.deployments import (
    SCALED_DOWN_FROM,
    baseline_deployment,
    primary_deployment,
    promotion_operations,
    workload_state,
)
from coalmine.kube.adapters.objects import ObjectWriter
from coalmine.kube.adapters.ownership import adoption_patch
from coalmine.kube.adapters.resources import DEPLOYMENTS
from coalmine.kube.adapters.revision import pod_template_revision

__all__ = ["KubeWorkload"]


class KubeWorkload:
    def __init__(self, client: KubeClient) -> None:
        self.client = client
        self.autoscaler = PrimaryAutoscaler(client, ObjectWriter(client))
        self.configs = ConfigTracker(client)

    async def observe_target(self, canary: Canary) -> WorkloadState | None:
        """The target's state; its revision covers the content of the configs it reads,
        whose checksums it carries for `status.trackedConfigs`."""
        target = await self.client.get(DEPLOYMENTS, canary.spec.target_ref.name, canary.namespace)
        if target is None:
            return None
        state = workload_state(target)
        configs = await self.configs.tracked(_template(target), canary.namespace)
        return dataclasses.replace(
            state,
            revision=revision_with_configs(state.revision, configs),
            configs=tracked_checksums(configs),
        )

    async def observe_primary(self, canary: Canary) -> WorkloadState | None:
        primary = await self.client.get(DEPLOYMENTS, canary.primary_name, canary.namespace)
        return workload_state(primary) if primary is not None else None

    async def create_primary(self, canary: Canary) -> None:
        """Create the primary (owned by the Canary) and its autoscaler, if missing; adopt
        one a deleted Canary kept."""
        existing = await self.client.get(DEPLOYMENTS, canary.primary_name, canary.namespace)
        adoption = adoption_patch(existing, canary) if existing is not None else None
        if adoption is not None:  # kept by a deleted Canary (kube.adapters.ownership)
            patch = {"metadata": adoption}
            await self.client.merge_patch(DEPLOYMENTS, canary.primary_name, canary.namespace, patch)
        if existing is None:
            target = await self.target(canary)
            replicas = await self._replicas_to_run(canary, target)
            target = await self._with_primary_configs(canary, target)
            body = primary_deployment(canary, target, replicas)
            with contextlib.suppress(Conflict):  # created meanwhile (a timed-out earlier write)
                await self.client.create(DEPLOYMENTS, canary.namespace, body)
        await self.autoscaler.sync(canary)

    async def scale_canary(self, canary: Canary, *, up: bool) -> None:
        target = await self.target(canary)
        current = int((target.get("spec") or {}).get("replicas", 1))
        if up:
            wanted = await self._replicas_to_run(canary, target)
            if current != wanted:
                await self._patch_target(canary, {"spec": {"replicas": wanted}})
        elif current != 0:
            annotations = {SCALED_DOWN_FROM: str(current)}
            patch = {"metadata": {"annotations": annotations}, "spec": {"replicas": 0}}
            await self._patch_target(canary, patch)

    async def observe_baseline(self, canary: Canary) -> WorkloadState | None:
        baseline = await self.client.get(DEPLOYMENTS, canary.baseline_name, canary.namespace)
        return workload_state(baseline) if baseline is not None else None

    async def scale_baseline(self, canary: Canary, *, up: bool) -> None:
        """Up: `<target>-baseline` runs the primary's template with the replicas the target
        runs for the analysis (no autoscaler: the two must stay alike); down: deleted."""
        name, namespace = canary.baseline_name, canary.namespace
        if not up:
            await self.client.delete(DEPLOYMENTS, name, namespace)
            return
        target = await self.target(canary)
        primary = await self.client.get(DEPLOYMENTS, canary.primary_name, namespace)
        if primary is None:
            raise AdapterError(f"deployment {canary.primary_name}.{namespace} not found")
        replicas = await self._replicas_to_run(canary, target)
        body = baseline_deployment(canary, target, primary, replicas)
        current = await self.client.get(DEPLOYMENTS, name, namespace)
        if current is None:
            with contextlib.suppress(Conflict):  # created meanwhile (a timed-out earlier write)
                await self.client.create(DEPLOYMENTS, namespace, body)
            return
        operations = [
            {"op": "add", "path": "/spec/template", "value": body["spec"]["template"]},
            {"op": "add", "path": "/spec/replicas", "value": replicas},
        ]
        await self.client.json_patch(DEPLOYMENTS, name, namespace, operations)

    async def promote(self, canary: Canary, revision: str) -> None:
        """Copy the target's template, and its configs, to the primary, if the target is
        still `revision` (the configs checked are the ones copied)."""
        target = await self.target(canary)
        configs = await self.configs.tracked(_template(target), canary.namespace)
        current = revision_with_configs(pod_template_revision(_template(target)), configs)
        if current != revision:
            raise AdapterError(
                f"deployment {canary.target_key} moved from the analysed revision {revision} "
                f"to {current}; not promoting it"
            )
        primary = await self.client.get(DEPLOYMENTS, canary.primary_name, canary.namespace)
        if primary is None:
            raise AdapterError(f"deployment {canary.primary_name}.{canary.namespace} not found")
        await self.configs.copy_for_primary(canary, configs)
        target = _with_template(target, primary_template(_template(target), set(configs)))
        operations = promotion_operations(canary, target, primary)
        await self.client.json_patch(DEPLOYMENTS, canary.primary_name, canary.namespace, operations)
        await self.autoscaler.sync(canary)

    async def delete_primary(self, canary: Canary) -> None:
        """On deletion with revertOnDeletion: the primary and its autoscaler go."""
        await self.autoscaler.delete_primary(canary)
        await self.client.delete(DEPLOYMENTS, canary.primary_name, canary.namespace)

    async def target(self, canary: Canary) -> Obj:
        target = await self.client.get(DEPLOYMENTS, canary.spec.target_ref.name, canary.namespace)
        if target is None:
            raise AdapterError(f"deployment {canary.target_key} not found")
        return target

    async def _with_primary_configs(self, canary: Canary, target: Obj) -> Obj:
        """Copy the target's configs to `-primary`; the target with its template naming them."""
        configs = await self.configs.tracked(_template(target), canary.namespace)
        await self.configs.copy_for_primary(canary, configs)
        return _with_template(target, primary_template(_template(target), set(configs)))

    async def _replicas_to_run(self, canary: Canary, target: Obj) -> int:
        """The target's replicas if set above zero, else what it had before being scaled
        down, else the autoscaler's minimum, else 1 (Flagger's ScaleFromZero)."""
        current = int((target.get("spec") or {}).get("replicas", 1))
        if current > 0:
            return current
        remembered = (target.get("metadata", {}).get("annotations") or {}).get(SCALED_DOWN_FROM)
        if remembered and remembered.isdigit() and int(remembered) > 0:
            return int(remembered)
        return await self.autoscaler.min_replicas(canary) or 1

    async def _patch_target(self, canary: Canary, patch: dict[str, Any]) -> None:
        name = canary.spec.target_ref.name
        await self.client.merge_patch(DEPLOYMENTS, name, canary.namespace, patch)


def _template(deployment: Obj) -> dict[str, Any]:
    template: dict[str, Any] = (deployment.get("spec") or {}).get("template") or {}
    return template


def _with_template(deployment: Obj, template: dict[str, Any]) -> Obj:
    """A shallow copy of `deployment` with `template` as its pod template."""
    return {**deployment, "spec": {**(deployment.get("spec") or {}), "template": template}}
