"""Pod templates as plain dicts: which container a change is about, what a revision runs.

Shared by the local runtime (which edits stored Deployments) and the CLI's Kubernetes
target (which patches Deployments in a cluster), so that `coalmine deploy` picks the
same container and describes a release the same way in both modes.
"""

from __future__ import annotations

from typing import Any

from coalmine.errors import CoalmineError

__all__ = ["container_index", "template_summary", "with_env"]


def container_index(template: dict[str, Any], container: str | None, what: str) -> int:
    """The index of the container named `container`, or of the only one when None.

    `what` names the Deployment in messages ("deployment go-demo-7 in go-demo-7").
    """
    containers = (template.get("spec") or {}).get("containers") or []
    names = [str(c.get("name")) for c in containers]
    if container is None:
        if len(names) == 1:
            return 0
        raise CoalmineError(
            f"{what} has {len(names)} containers ({', '.join(names) or 'none'}); "
            "name one with --container"
        )
    if container not in names:
        raise CoalmineError(
            f"{what} has no container {container!r}; its containers: {', '.join(names)}"
        )
    return names.index(container)


def with_env(
    template: dict[str, Any], env: dict[str, str], container: str | None, what: str
) -> dict[str, Any]:
    """A copy of the template with `env` set on one container (existing names replaced,
    new ones appended, order kept)."""
    index = container_index(template, container, what)
    spec = dict(template.get("spec") or {})
    containers = [dict(c) for c in spec.get("containers") or []]
    current = [dict(v) for v in containers[index].get("env") or []]
    for name, value in env.items():
        entry = {"name": name, "value": value}
        found = next((n for n, v in enumerate(current) if v.get("name") == name), None)
        if found is None:
            current.append(entry)
        else:
            current[found] = entry
    containers[index]["env"] = current
    spec["containers"] = containers
    return {**template, "spec": spec}


def template_summary(template: dict[str, Any]) -> str:
    """What a revision runs, in a few words: its images, else its VERSION-like env values."""
    containers = (template.get("spec") or {}).get("containers") or []
    images = [str(c["image"]) for c in containers if c.get("image")]
    if images:
        return ", ".join(images)
    values = [
        f"{v['name']}={v.get('value', '')}"
        for c in containers
        for v in c.get("env") or []
        if "VERSION" in str(v.get("name", "")).upper()
    ]
    return ", ".join(values)
