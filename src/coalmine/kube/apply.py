"""Putting objects into a cluster the way `kubectl apply` reports it, with kr8s.

Each object is created when missing and merge-patched when present (a merge patch
replaces lists and leaves fields coalmine does not set alone). Server-side apply would
be finer, but not every API server a test uses speaks it.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from coalmine.errors import AdapterError, Unavailable

__all__ = ["Applied", "apply_objects", "connect"]

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
    api: Any, objects: Iterable[dict[str, Any]], report: Callable[[Applied], None]
) -> list[Applied]:
    """Apply the objects in order, reporting each as it is done."""
    results = []
    for spec in objects:
        result = await _apply_one(api, spec)
        report(result)
        results.append(result)
    return results


async def _apply_one(api: Any, spec: dict[str, Any]) -> Applied:
    import httpx
    from kr8s import NotFoundError, ServerError
    from kr8s.asyncio.objects import object_from_spec

    obj = object_from_spec(spec, api=api)
    group = spec["apiVersion"].rpartition("/")[0]
    label = f"{spec['kind']} {spec['metadata']['name']}"
    try:
        try:
            await obj.refresh()
        except NotFoundError:
            await obj.create()
            return Applied(spec["kind"], group, obj.name, "created")
        before = obj.raw["metadata"].get("resourceVersion")
        await obj.patch(spec)
    except ServerError as error:
        raise AdapterError(f"{label}: the API server refused it: {error}") from None
    except httpx.HTTPError as error:
        raise Unavailable(f"{label}: lost the Kubernetes API: {error}") from None
    after = obj.raw["metadata"].get("resourceVersion")
    return Applied(spec["kind"], group, obj.name, "unchanged" if after == before else "configured")
