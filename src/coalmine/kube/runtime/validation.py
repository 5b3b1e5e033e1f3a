"""From a stored Canary to the engine's model, or the list of everything wrong with it.

The spec is validated as `coalmine validate` does (`api.loading.parse_resource`, and
the controller's analysis.interval floor: `api.interval_floor`), then against the
controller's own rules:
a MetricTemplate or AlertProvider in another namespace is allowed only with
`--allow-cross-namespace-refs`, and `spec.provider` must name a router the operator has
(`routers.registry`: `envoy` is the local runtime's). The status is read leniently
(`kube.adapters.store.read_status`), so a status never makes a Canary invalid.

A loop parses its Canary at every tick, and between two ticks only the status and the
resourceVersion changed, as a rule: `LastParse` keeps the model of the last parse and
reuses it while the rest is equal (a dict comparison, against pydantic's validation:
3 % of a replica's CPU at 5,000 Canaries on three replicas, BENCHMARKS.md).
"""

from __future__ import annotations

import copy
from datetime import timedelta
from typing import Any

from coalmine.api.canary import Canary
from coalmine.api.interval_floor import interval_problems
from coalmine.api.loading import CUSTOM_RESOURCES, parse_resource
from coalmine.errors import ManifestError, Problem
from coalmine.kube.adapters.store import read_status
from coalmine.routers.registry import PROVIDERS, Runtime, unknown_provider

__all__ = ["LastParse", "cross_namespace_problems", "parse_canary", "provider_problems"]

MANIFEST_FIELDS = ("apiVersion", "kind", "metadata", "spec")
VOLATILE_METADATA = ("resourceVersion", "managedFields")
"""Changed by every status write; not part of what `LastParse` compares."""
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


class LastParse:
    """One Canary's last parse, reused while all but its status and `VOLATILE_METADATA`
    are equal: the reused model gets the new resourceVersion (a status write's
    precondition) and status; its managedFields stay those of the parse (nothing reads
    them). A parse that fails keeps nothing: the next one parses again."""

    def __init__(self, *, min_interval: timedelta, allow_cross_namespace_refs: bool) -> None:
        self.min_interval = min_interval
        self.allow_cross_namespace_refs = allow_cross_namespace_refs
        self._last: tuple[dict[str, Any], Canary] | None = None
        self.parses = 0
        """Full parses made (for tests)."""

    def parse(self, obj: dict[str, Any]) -> Canary:
        """As `parse_canary`."""
        stable = _stable_part(obj)
        if self._last is None or self._last[0] != stable:
            self._last = None
            self.parses += 1
            canary = parse_canary(
                obj,
                min_interval=self.min_interval,
                allow_cross_namespace_refs=self.allow_cross_namespace_refs,
            )
            self._last = (copy.deepcopy(stable), canary)  # (its own: bodies are shared)
            return canary
        last = self._last[1]
        version = (obj.get("metadata") or {}).get("resourceVersion")
        metadata = last.metadata.model_copy(update={"resource_version": version})
        return last.model_copy(
            update={"metadata": metadata, "status": read_status(obj.get("status"))}
        )


def _stable_part(obj: dict[str, Any]) -> dict[str, Any]:
    metadata = obj.get("metadata") or {}
    return {
        **{key: obj[key] for key in MANIFEST_FIELDS if key in obj},
        "metadata": {k: v for k, v in metadata.items() if k not in VOLATILE_METADATA},
    }


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
