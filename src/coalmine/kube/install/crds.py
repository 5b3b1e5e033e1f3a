"""The CustomResourceDefinitions of Canary, MetricTemplate and AlertProvider.

Their schemas come from the models (`kube.install.schema`), so `coalmine validate` and the API
server agree. The same three CRDs can be made for Flagger's group, `flagger.app`, for a
cluster that has no Flagger CRDs and whose controller runs with `--flagger-compat`;
those mirror Flagger's names (no short names, category `all`) so that they can stand in
for Flagger's own, with coalmine's stricter schema.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from coalmine.api.alert_provider import AlertProvider
from coalmine.api.canary import Canary
from coalmine.api.common import COALMINE_GROUP, FLAGGER_GROUP, Model
from coalmine.api.metric_template import MetricTemplate
from coalmine.kube.install.schema import structural_schema

__all__ = ["GROUPS", "KINDS", "VERSION", "CrdKind", "custom_resource_definitions"]

VERSION = "v1beta1"
GROUPS = (COALMINE_GROUP, FLAGGER_GROUP)
PART_OF = {"app.kubernetes.io/part-of": "coalmine"}
"""The label every object coalmine installs carries (`kubectl get crd -l ...` finds them)."""


def _column(
    name: str, path: str, kind: str = "string", priority: int = 0, about: str = ""
) -> dict[str, Any]:
    column: dict[str, Any] = {"name": name, "type": kind, "jsonPath": path}
    if priority:
        column["priority"] = priority
    if about:
        column["description"] = about
    return column


@dataclass(frozen=True)
class CrdKind:
    """One custom resource: its model and how kubectl names and lists it."""

    model: type[Model]
    plural: str
    short_names: tuple[str, ...]
    columns: tuple[dict[str, Any], ...]
    status: bool
    """Whether it has a status subresource (only the Canary has a status)."""

    @property
    def kind(self) -> str:
        return self.model.__name__


CANARY_COLUMNS = (
    _column("Status", ".status.phase", about="Phase of the analysis"),
    _column("Weight", ".status.canaryWeight", "integer", about="Traffic share of the canary"),
    _column("FailedChecks", ".status.failedChecks", "integer", about="Failed checks so far"),
    _column("Suspended", ".spec.suspend", "boolean", 1),
    _column("Interval", ".spec.analysis.interval", priority=1),
    _column("Mirror", ".spec.analysis.mirror", "boolean", 1),
    _column("StepWeight", ".spec.analysis.stepWeight", "integer", 1),
    _column("StepWeights", ".spec.analysis.stepWeights", priority=1),
    _column("MaxWeight", ".spec.analysis.maxWeight", "integer", 1),
    _column("LastTransitionTime", ".status.lastTransitionTime", "date"),
)

KINDS = (
    CrdKind(Canary, "canaries", (), CANARY_COLUMNS, status=True),
    CrdKind(
        MetricTemplate,
        "metrictemplates",
        ("mt",),
        (_column("Provider", ".spec.provider.type"),),
        status=False,
    ),
    CrdKind(
        AlertProvider, "alertproviders", ("ap",), (_column("Type", ".spec.type"),), status=False
    ),
)
"""The three resources, in the order they are installed."""


def custom_resource_definitions(group: str = COALMINE_GROUP) -> list[dict[str, Any]]:
    """The three CRDs for `group` (coalmine.dev, or flagger.app for compatibility)."""
    if group not in GROUPS:
        raise ValueError(f"group must be one of {', '.join(GROUPS)}, got {group!r}")
    return [_definition(kind, group) for kind in KINDS]


def _definition(crd: CrdKind, group: str) -> dict[str, Any]:
    schema = structural_schema(crd.model)
    if group == FLAGGER_GROUP and crd.model is Canary:
        _drop_coalmine_only(schema)
    version: dict[str, Any] = {
        "name": VERSION,
        "served": True,
        "storage": True,
        "schema": {"openAPIV3Schema": schema},
        "additionalPrinterColumns": list(crd.columns),
    }
    if crd.status:
        version["subresources"] = {"status": {}}
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{crd.plural}.{group}", "labels": dict(PART_OF)},
        "spec": {
            "group": group,
            "names": _names(crd, group),
            "scope": "Namespaced",
            "versions": [version],
        },
    }


def _drop_coalmine_only(schema: dict[str, Any]) -> None:
    """flagger.app Canaries keep Flagger's thresholds: no judge in their schema."""
    analysis = schema["properties"]["spec"]["properties"]["analysis"]
    analysis["properties"].pop("judge", None)
    schema["properties"]["status"]["properties"].pop("judge", None)


def _names(crd: CrdKind, group: str) -> dict[str, Any]:
    names: dict[str, Any] = {
        "kind": crd.kind,
        "listKind": f"{crd.kind}List",
        "plural": crd.plural,
        "singular": crd.kind.lower(),
    }
    if group == FLAGGER_GROUP:
        names["categories"] = ["all"]  # as Flagger's own CRDs
        return names
    if crd.short_names:
        names["shortNames"] = list(crd.short_names)
    names["categories"] = ["all", "coalmine"] if crd.model is Canary else ["coalmine"]
    return names
