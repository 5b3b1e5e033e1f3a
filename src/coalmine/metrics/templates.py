"""Where a Canary's `templateRef` finds its MetricTemplate.

The operator looks it up in the cluster, the local runtime in its store; both
implement `TemplateLookup`. `InMemoryTemplates` is the one for tests and for
`coalmine` commands that read templates from files.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from coalmine.api.metric_template import MetricTemplate
from coalmine.errors import NotFound

__all__ = ["InMemoryTemplates", "TemplateLookup"]


class TemplateLookup(Protocol):
    async def get(self, name: str, namespace: str) -> MetricTemplate:
        """The MetricTemplate `name` in `namespace`; raises NotFound when there is none."""
        ...


class InMemoryTemplates:
    """MetricTemplates held in a dict by (namespace, name)."""

    def __init__(self, templates: Iterable[MetricTemplate] = ()) -> None:
        self.templates: dict[tuple[str, str], MetricTemplate] = {}
        for template in templates:
            self.add(template)

    def add(self, template: MetricTemplate) -> None:
        self.templates[(template.metadata.namespace, template.metadata.name)] = template

    async def get(self, name: str, namespace: str) -> MetricTemplate:
        try:
            return self.templates[(namespace, name)]
        except KeyError:
            known = ", ".join(f"{ns}/{n}" for ns, n in sorted(self.templates)) or "none"
            raise NotFound(
                f"metric template {name} not found in namespace {namespace} (known: {known})"
            ) from None
