"""The primary's HorizontalPodAutoscaler: a `-primary` copy of the Canary's autoscalerRef.

The user's HPA keeps scaling the target (the canary) during an analysis; its copy
scales the primary with the same bounds (or those of `primaryScalerReplicas`), metrics
and behaviour. The copy is owned by
the Canary and kept in line with the original at initialization and every promotion
(autoscaling/v2, as Flagger).
"""

from __future__ import annotations

import copy
from typing import Any

from coalmine.api.canary import Canary
from coalmine.errors import AdapterError
from coalmine.kube.adapters.client import KubeClient
from coalmine.kube.adapters.objects import Desired, ObjectWriter
from coalmine.kube.adapters.resources import HPAS

__all__ = ["PrimaryAutoscaler", "primary_hpa_name"]

OWNED_FIELDS = ("minReplicas", "maxReplicas", "metrics", "behavior")


def primary_hpa_name(canary: Canary) -> str | None:
    ref = canary.spec.autoscaler_ref
    return f"{ref.name}-primary" if ref is not None else None


class PrimaryAutoscaler:
    def __init__(self, client: KubeClient, objects: ObjectWriter) -> None:
        self.client = client
        self.objects = objects

    async def min_replicas(self, canary: Canary) -> int | None:
        """The autoscalerRef's minReplicas (1 when unset), or None without autoscalerRef."""
        hpa = await self._original(canary)
        if hpa is None:
            return None
        return int((hpa.get("spec") or {}).get("minReplicas") or 1)

    async def sync(self, canary: Canary) -> None:
        """Create or update the primary's copy of the autoscalerRef (no-op without one)."""
        hpa = await self._original(canary)
        name = primary_hpa_name(canary)
        if hpa is None or name is None:
            return
        spec = hpa.get("spec") or {}
        owned: dict[str, Any] = {key: copy.deepcopy(spec.get(key)) for key in OWNED_FIELDS}
        override = (
            canary.spec.autoscaler_ref.primary_scaler_replicas
            if canary.spec.autoscaler_ref
            else None
        )
        if override is not None:  # Flagger's primaryScalerReplicas
            if override.min_replicas is not None:
                owned["minReplicas"] = override.min_replicas
            if override.max_replicas is not None:
                owned["maxReplicas"] = override.max_replicas
        owned["scaleTargetRef"] = {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "name": canary.primary_name,
        }
        await self.objects.ensure(canary, Desired(HPAS, name, owned))

    async def delete_primary(self, canary: Canary) -> None:
        name = primary_hpa_name(canary)
        if name is not None:
            await self.client.delete(HPAS, name, canary.namespace)

    async def _original(self, canary: Canary) -> dict[str, Any] | None:
        ref = canary.spec.autoscaler_ref
        if ref is None:
            return None
        if ref.kind not in (None, "HorizontalPodAutoscaler") or ref.api_version not in (
            None,
            HPAS.api_version,
        ):
            raise AdapterError(
                f"canary {canary.key}: autoscalerRef must be an autoscaling/v2 "
                f"HorizontalPodAutoscaler, got {ref.api_version} {ref.kind}"
            )
        hpa = await self.client.get(HPAS, ref.name, canary.namespace)
        if hpa is None:
            raise AdapterError(
                f"canary {canary.key}: autoscalerRef names horizontalpodautoscaler "
                f"{ref.name}, which does not exist in {canary.namespace}"
            )
        return hpa
