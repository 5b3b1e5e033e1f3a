"""The Workload port in local mode: the target Deployment, its `-primary` copy (and with
judge.baseline a `-baseline` copy of the primary), as processes.

The desired state lives in the store (manifests, plus a `scaledToZero` mark in the
target's status); `sync` makes the processes match it. Labels are rewritten the way
Flagger does: every selector label's value gets `-primary` on the primary.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from coalmine.api.canary import Canary
from coalmine.api.config_tracking import primary_template, tracked_checksums
from coalmine.api.workloads import Deployment, pod_template_hash
from coalmine.engine.observations import WorkloadState
from coalmine.errors import AdapterError
from coalmine.local.configs import copy_for_primary, tracked_configs, with_config_revision
from coalmine.local.store import Store

__all__ = [
    "LocalWorkload",
    "ProcessStates",
    "baseline_labels",
    "desired_replicas",
    "primary_labels",
    "target_labels",
    "target_revision",
]

SCALED_TO_ZERO = "scaledToZero"
"""Key in a target Deployment's stored status: the canary scaled it to zero."""


class ProcessStates(Protocol):
    def workload_state(self, namespace: str, name: str) -> WorkloadState | None:
        """What the processes of a Deployment look like now; None when none are managed."""
        ...


def target_labels(store: Store, canary: Canary) -> dict[str, str] | None:
    stored = store.get("Deployment", canary.namespace, canary.spec.target_ref.name)
    if stored is None:
        return None
    labels: dict[str, str] = stored.manifest["spec"]["selector"]["matchLabels"]
    return dict(labels)


def primary_labels(labels: dict[str, str]) -> dict[str, str]:
    return {key: f"{value}-primary" for key, value in labels.items()}


def baseline_labels(labels: dict[str, str]) -> dict[str, str]:
    return {key: f"{value}-baseline" for key, value in labels.items()}


def desired_replicas(manifest: dict[str, Any], status: dict[str, Any] | None) -> int:
    """What a stored Deployment should run: zero while a canary holds it down."""
    if status and status.get(SCALED_TO_ZERO):
        return 0
    return int(manifest.get("spec", {}).get("replicas", 1))


class LocalWorkload:
    def __init__(
        self, store: Store, processes: ProcessStates, sync: Callable[[], Awaitable[None]]
    ) -> None:
        self.store = store
        self.processes = processes
        self.sync = sync
        """Makes the processes match the stored Deployments."""

    async def observe_target(self, canary: Canary) -> WorkloadState | None:
        """The target's processes, with the checksums of the configs it reads (for
        `status.trackedConfigs`; its revision covers their content, `local.configs`)."""
        state = self._observe(canary.namespace, canary.spec.target_ref.name)
        stored = self.store.get("Deployment", canary.namespace, canary.spec.target_ref.name)
        if state is None or stored is None:
            return state
        template = stored.manifest["spec"]["template"]
        configs = tracked_configs(self.store, canary.namespace, template)
        return dataclasses.replace(state, configs=tracked_checksums(configs))

    async def observe_primary(self, canary: Canary) -> WorkloadState | None:
        return self._observe(canary.namespace, canary.primary_name)

    async def create_primary(self, canary: Canary) -> None:
        if self.store.get("Deployment", canary.namespace, canary.primary_name) is not None:
            return
        target = self._target_manifest(canary)
        self.store.put(
            "Deployment",
            canary.namespace,
            canary.primary_name,
            self._primary_of(canary, target),
            owner=f"Canary/{canary.name}",
        )
        await self.sync()

    async def scale_canary(self, canary: Canary, *, up: bool) -> None:
        stored = self.store.get("Deployment", canary.namespace, canary.spec.target_ref.name)
        if stored is None:
            raise AdapterError(f"deployment {canary.target_key} not found")
        status = {**(stored.status or {}), SCALED_TO_ZERO: not up}
        self.store.write_status("Deployment", canary.namespace, stored.name, status)
        await self.sync()

    async def observe_baseline(self, canary: Canary) -> WorkloadState | None:
        return self._observe(canary.namespace, canary.baseline_name)

    async def scale_baseline(self, canary: Canary, *, up: bool) -> None:
        """Up: `<target>-baseline` runs the primary's template with the target's replicas;
        down: removed (its processes stop at the next sync)."""
        namespace, name = canary.namespace, canary.baseline_name
        if not up:
            if self.store.get("Deployment", namespace, name) is not None:
                self.store.delete("Deployment", namespace, name)
                await self.sync()
            return
        primary = self.store.get("Deployment", namespace, canary.primary_name)
        if primary is None:
            raise AdapterError(f"deployment {canary.primary_name}.{namespace} not found")
        target = self._target_manifest(canary)
        baseline = _relabelled(primary.manifest, name, baseline_labels(_selector(target)))
        baseline["spec"]["replicas"] = target["spec"].get("replicas", 1)
        current = self.store.get("Deployment", namespace, name)
        if current is None or current.manifest != baseline:
            self.store.put("Deployment", namespace, name, baseline, owner=f"Canary/{canary.name}")
        await self.sync()

    async def promote(self, canary: Canary, revision: str) -> None:
        target = self._target_manifest(canary)
        current = target_revision(self.store, target)
        if current != revision:
            raise AdapterError(
                f"{canary.target_key} moved from revision {revision} to {current}; not promoting"
            )
        primary = self.store.get("Deployment", canary.namespace, canary.primary_name)
        if primary is None:
            raise AdapterError(f"deployment {canary.primary_name}.{canary.namespace} not found")
        promoted = self._primary_of(canary, target)
        promoted["spec"]["replicas"] = primary.manifest["spec"].get("replicas", 1)
        self.store.put("Deployment", canary.namespace, primary.name, promoted, owner=primary.owner)
        await self.sync()

    def _primary_of(self, canary: Canary, target: dict[str, Any]) -> dict[str, Any]:
        """The primary's manifest: the target's, relabelled, reading `-primary` copies of
        the tracked configs, which are written now (initialization and promotion)."""
        configs = tracked_configs(self.store, canary.namespace, target["spec"]["template"])
        copy_for_primary(self.store, canary, configs, owner=f"Canary/{canary.name}")
        primary = _as_primary(target, canary.primary_name)
        primary["spec"]["template"] = primary_template(primary["spec"]["template"], set(configs))
        return primary

    def _observe(self, namespace: str, name: str) -> WorkloadState | None:
        if self.store.get("Deployment", namespace, name) is None:
            return None
        return self.processes.workload_state(namespace, name)

    def _target_manifest(self, canary: Canary) -> dict[str, Any]:
        stored = self.store.get("Deployment", canary.namespace, canary.spec.target_ref.name)
        if stored is None:
            raise AdapterError(f"deployment {canary.target_key} not found")
        return stored.manifest


def target_revision(store: Store, manifest: dict[str, Any]) -> str:
    """The revision a stored Deployment runs at: its pod template's hash, with the tracked
    configs' checksum (see `local.configs`)."""
    annotated = with_config_revision(store, manifest)
    return pod_template_hash(Deployment.model_validate(annotated).spec.template)


def _as_primary(target: dict[str, Any], name: str) -> dict[str, Any]:
    """The target's manifest renamed, with selector and pod labels rewritten to `-primary`."""
    return _relabelled(target, name, primary_labels(_selector(target)))


def _selector(manifest: dict[str, Any]) -> dict[str, str]:
    return dict(manifest["spec"]["selector"]["matchLabels"])


def _relabelled(manifest: dict[str, Any], name: str, labels: dict[str, str]) -> dict[str, Any]:
    """A Deployment's manifest renamed, selecting (and labelling its pods) with `labels`."""
    copied = copy.deepcopy(manifest)
    copied["metadata"] = {**copied["metadata"], "name": name}
    spec = copied["spec"]
    spec["selector"]["matchLabels"] = labels
    template_labels = spec["template"].setdefault("metadata", {}).setdefault("labels", {})
    template_labels.update(labels)
    return copied
