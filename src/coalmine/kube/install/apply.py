"""Putting objects into a cluster with server-side apply, reported as `kubectl apply` does.

Each object is sent as an apply patch (`application/apply-patch+yaml`) with the field
manager `coalmine`: the API server creates it when missing and otherwise merges it,
recording in `managedFields` which fields coalmine owns. So `kubectl apply
--server-side` or a Helm upgrade of the same objects shares the fields whose values
agree instead of conflicting, a field another manager changed since (`kubectl scale`,
an edit) is a 409 naming it unless `--force-conflicts` takes it over, and a field
coalmine stops setting is removed unless someone else owns it.

Two exceptions to "send the manifest as it is":
- a Deployment whose `spec.replicas` another field manager owns (it was scaled with
  `kubectl scale`, an edit, an autoscaler, or installed before coalmine used
  server-side apply) is applied without it, so re-running `install` never resets the
  controller's replicas nor conflicts over them: whoever scaled it keeps the field;
- each object carries `kubectl.kubernetes.io/last-applied-configuration`, as `kubectl
  create --save-config` writes it, so a later client-side `kubectl apply` of the same
  manifests computes its three-way merge and does not warn that it is missing.
"""

from __future__ import annotations

import asyncio
import copy
import json
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from coalmine.errors import AdapterError, Unavailable

__all__ = [
    "FIELD_MANAGER",
    "LAST_APPLIED",
    "Applied",
    "applied_configuration",
    "apply_objects",
    "connect",
]

FIELD_MANAGER = "coalmine"
"""The field manager of every object `coalmine install` applies (`managedFields`)."""
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
CONFLICT = 409

TIMEOUT_SECONDS = 15.0
"""Deadline of each request to the API server, and of connecting to it."""

Action = Literal["created", "configured", "unchanged"]


@dataclass(frozen=True)
class Applied:
    """What happened to one object."""

    kind: str
    group: str
    name: str
    action: Action

    def __str__(self) -> str:
        """As kubectl prints it: `deployment.apps/coalmine configured`."""
        resource = f"{self.kind.lower()}.{self.group}" if self.group else self.kind.lower()
        return f"{resource}/{self.name} {self.action}"


async def connect(kubeconfig: str | None = None, context: str | None = None) -> Any:
    """A kr8s API for the kubeconfig's (current or named) context, or `Unavailable`."""
    import httpx
    import kr8s.asyncio

    name = context or _current_context(kubeconfig)
    where = f"context {name!r}" if name else "the current kubeconfig context"
    try:
        async with asyncio.timeout(TIMEOUT_SECONDS):
            api = await kr8s.asyncio.api(kubeconfig=kubeconfig, context=context)  # asks /version
            api.timeout = TIMEOUT_SECONDS
    except (httpx.HTTPError, OSError, TimeoutError) as error:
        raise Unavailable(
            f"cannot reach the Kubernetes API of {where}: {error or type(error).__name__}; "
            "check the cluster is up and `kubectl cluster-info` works, or pick one with --context"
        ) from None
    except ValueError as error:  # kr8s: no credentials found, no such context
        raise Unavailable(
            f"no usable Kubernetes configuration ({error}); set KUBECONFIG or pass --context"
        ) from None
    return api


def _current_context(kubeconfig: str | None) -> str | None:
    """The kubeconfig's current-context, to name it in errors; None when unreadable."""
    import yaml

    default = os.environ.get("KUBECONFIG", "").split(os.pathsep)[0] or "~/.kube/config"
    try:
        config = yaml.safe_load(Path(kubeconfig or default).expanduser().read_text())
    except (OSError, yaml.YAMLError):
        return None
    current = config.get("current-context") if isinstance(config, dict) else None
    return current if isinstance(current, str) else None


async def apply_objects(
    api: Any,
    objects: Iterable[dict[str, Any]],
    report: Callable[[Applied], None],
    *,
    force_conflicts: bool = False,
) -> list[Applied]:
    """Apply the objects in order, reporting each as it is done."""
    results = []
    for spec in objects:
        result = await _apply_one(api, spec, force_conflicts)
        report(result)
        results.append(result)
    return results


def applied_configuration(spec: dict[str, Any], live: dict[str, Any] | None) -> dict[str, Any]:
    """What is sent for `spec` given the live object (None: missing): see the module doc."""
    config = copy.deepcopy(spec)
    if config["kind"] == "Deployment" and live is not None and _scaled_by_others(live):
        config.get("spec", {}).pop("replicas", None)
    annotations = config["metadata"].setdefault("annotations", {})
    annotations.pop(LAST_APPLIED, None)
    annotations[LAST_APPLIED] = json.dumps(config, sort_keys=True, separators=(",", ":")) + "\n"
    return config


def _scaled_by_others(live: dict[str, Any]) -> bool:
    """Whether a field manager other than coalmine owns the live Deployment's replicas
    (`kubectl scale`, an autoscaler, an edit, or an install older than server-side apply)."""
    for entry in live.get("metadata", {}).get("managedFields") or []:
        fields = (entry.get("fieldsV1") or {}).get("f:spec") or {}
        if entry.get("manager") != FIELD_MANAGER and "f:replicas" in fields:
            return True
    return False


async def _apply_one(api: Any, spec: dict[str, Any], force: bool) -> Applied:
    import httpx
    from kr8s import NotFoundError, ServerError
    from kr8s.asyncio.objects import object_from_spec

    obj = object_from_spec(spec, api=api)
    group = spec["apiVersion"].rpartition("/")[0]
    label = f"{spec['kind']} {spec['metadata']['name']}"
    try:
        try:
            await obj.refresh()
            live: dict[str, Any] | None = obj.raw
        except NotFoundError:
            live = None
        before = (live or {}).get("metadata", {}).get("resourceVersion")
        params = {
            "fieldManager": FIELD_MANAGER,
            "fieldValidation": "Strict",  # as kubectl: an unknown field is an error
            **({"force": "true"} if force else {}),
        }
        async with api.call_api(
            "PATCH",
            version=obj.version,
            url=f"{obj.endpoint}/{obj.name}",
            namespace=obj.namespace,
            content=json.dumps(applied_configuration(spec, live)),
            headers={"Content-Type": "application/apply-patch+yaml"},
            params=params,
        ) as response:
            after = response.json()["metadata"].get("resourceVersion")
    except ServerError as error:
        raise AdapterError(f"{label}: the API server refused it: {_reason(error)}") from None
    except httpx.HTTPError as error:
        raise Unavailable(f"{label}: lost the Kubernetes API: {error}") from None
    if live is None:
        return Applied(spec["kind"], group, obj.name, "created")
    return Applied(spec["kind"], group, obj.name, "unchanged" if after == before else "configured")


def _reason(error: Any) -> str:
    """The server's message; for a conflict, which fields and the way out."""
    response = getattr(error, "response", None)
    if response is None or response.status_code != CONFLICT:
        return str(error)
    return (
        f"{error}. Another field manager changed these fields since coalmine applied "
        "them: keep its values by changing them in your install options or manifests, or "
        "run `coalmine install --force-conflicts` to take them over"
    )
