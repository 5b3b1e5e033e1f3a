"""From a stored Canary to the engine's model, or the list of everything wrong with it.

The spec is validated as `coalmine validate` does (`api.loading.parse_resource`, and
the controller's analysis.interval floor: `api.interval_floor`), then against the
controller's own rules:
a MetricTemplate or AlertProvider in another namespace is allowed only with
`--allow-cross-namespace-refs`, and `spec.provider` must name a router the operator has
(`routers.registry`: `envoy` is the local runtime's). The status is read leniently
(`kube.adapters.store.read_status`), so a status never makes a Canary invalid.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from coalmine.api.canary import Canary
from coalmine.api.interval_floor import interval_problems
from coalmine.api.loading import CUSTOM_RESOURCES, parse_resource
from coalmine.errors import ManifestError, Problem
from coalmine.kube.adapters.store import read_status
from coalmine.routers.registry import PROVIDERS, Runtime, unknown_provider

__all__ = ["cross_namespace_problems", "parse_canary", "provider_problems"]

MANIFEST_FIELDS = ("apiVersion", "kind", "metadata", "spec")
ALLOW_FLAG = "--allow-cross-namespace-refs"


def parse_canary(
    obj: dict[str, Any], *, min_interval: timedelta, allow_cross_namespace_refs: bool
) -> Canary:
    """The Canary; raises ManifestError listing every problem (the model's and ours)."""
    document = {key: obj[key] for key in MANIFEST_FIELDS if key in obj}
    problems = interval_problems(document, min_interval) + provider_problems(document)
    if not allow_cross_namespace_refs:
        problems += cross_namespace_problems(document)
    try:
        model = parse_resource(document, kinds={"Canary": CUSTOM_RESOURCES["Canary"]})
    except ManifestError as error:
        raise ManifestError([*error.problems, *problems]) from None
    if problems:
        raise ManifestError(problems)
    assert isinstance(model, Canary)
    return model.with_status(read_status(obj.get("status")))


def provider_problems(document: dict[str, Any]) -> list[Problem]:
    """`spec.provider` naming a provider the API accepts but the operator has no router
    for (the model refuses the others with its own message)."""
    provider = (document.get("spec") or {}).get("provider")
    if not isinstance(provider, str) or provider in PROVIDERS[Runtime.KUBERNETES]:
        return []
    if provider not in {name for names in PROVIDERS.values() for name in names}:
        return []
    label = f"canary {(document.get('metadata') or {}).get('name')}"
    return [Problem(label, "spec.provider", unknown_provider(provider, Runtime.KUBERNETES))]


def cross_namespace_problems(document: dict[str, Any]) -> list[Problem]:
    """References to MetricTemplates and AlertProviders in another namespace, read from the
    document itself, so that they are reported together with the model's problems."""
    metadata = document.get("metadata") or {}
    own, label = metadata.get("namespace") or "default", f"canary {metadata.get('name')}"
    analysis = (document.get("spec") or {}).get("analysis") or {}
    references = [
        *_references(analysis, "metrics", "templateRef"),
        *_references(analysis, "alerts", "providerRef"),
    ]
    return [
        Problem(
            label,
            path,
            f"names namespace {namespace!r} but cross-namespace references are off; use "
            f"namespace {own!r}, or start the controller with {ALLOW_FLAG}",
        )
        for path, namespace in references
        if namespace and namespace != own
    ]


def _references(analysis: dict[str, Any], items: str, ref: str) -> list[tuple[str, Any]]:
    found = []
    for n, item in enumerate(analysis.get(items) or []):
        reference = item.get(ref) if isinstance(item, dict) else None
        if isinstance(reference, dict):
            found.append(
                (f"spec.analysis.{items}[{n}].{ref}.namespace", reference.get("namespace"))
            )
    return found
