"""The `scale` subresource of Deployments (autoscaling/v1 Scale), as `kubectl scale` uses it.

A read builds the Scale from the Deployment; a write (PUT, merge or JSON patch) changes
only `spec.replicas`, with the Scale's resourceVersion as the precondition.
"""

from __future__ import annotations

from typing import Any

from . import errors, patching
from .registry import Registry, WriteResult
from .routing import Target
from .storage import Obj, clone


def scale_of(deployment: Obj) -> Obj:
    meta = deployment["metadata"]
    selector = deployment.get("spec", {}).get("selector", {}).get("matchLabels", {})
    return {
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {
            k: meta[k]
            for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")
            if k in meta
        },
        "spec": {"replicas": deployment.get("spec", {}).get("replicas", 0)},
        "status": {
            "replicas": deployment.get("status", {}).get("replicas", 0),
            "selector": ",".join(f"{k}={v}" for k, v in sorted(selector.items())),
        },
    }


def write_scale(
    registry: Registry,
    target: Target,
    method: str,
    body: Any,
    content_type: str,
    manager: str = "unknown",
) -> Obj:
    assert target.name is not None
    deployment = registry.get(target.rt, target.namespace, target.name)
    current = scale_of(deployment)
    if method == "PATCH":
        wanted = patching.apply_patch(content_type, current, body, custom=False)
    else:
        wanted = body
    if not isinstance(wanted, dict) or not isinstance(wanted.get("spec", {}).get("replicas"), int):
        raise errors.bad_request("a Scale needs an integer spec.replicas")
    updated = clone(deployment)
    updated["spec"]["replicas"] = wanted["spec"]["replicas"]
    sent_rv = wanted.get("metadata", {}).get("resourceVersion")
    updated["metadata"]["resourceVersion"] = sent_rv or deployment["metadata"]["resourceVersion"]
    result: WriteResult = registry.replace(
        target.rt, target.namespace, target.name, updated, manager=manager
    )
    return scale_of(result.obj)
