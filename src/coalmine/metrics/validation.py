"""Checks of metric queries that need more than one document: `coalmine validate` runs them.

- A MetricTemplate whose query names an unknown variable.
- A Canary metric with an inline query that names an unknown variable, or uses
  `{{ variables.X }}` that its templateVariables do not set.
- A Canary metric whose templateRef names a template among the validated files, when
  that template uses `{{ variables.X }}` that the metric's templateVariables do not set,
  or gets a value that cannot be placed safely (see metrics.templating).

A templateRef to a template that is not among the files is not an error here: it may
live in the cluster. Each problem reads like
`canary go-demo-7: spec.analysis.metrics[0].templateVariables: template error-rate uses
variables.route, which is not set`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import replace
from datetime import UTC, datetime

from coalmine.api.canary import Canary, CanaryMetric
from coalmine.api.metric_template import MetricTemplate
from coalmine.errors import Problem
from coalmine.metrics.templating import TemplateContext, template_errors

__all__ = ["check_metric_queries"]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ANY = TemplateContext(
    name="", namespace="", target="", service="", interval="", analysis_start=_EPOCH
)
"""Values that fit anywhere: checking a template alone finds only its unknown variables."""


def check_metric_queries(resources: Iterable[object]) -> list[Problem]:
    """Every problem of the templates and canaries among `resources`."""
    resources = list(resources)
    templates = {
        (r.metadata.namespace, r.metadata.name): r
        for r in resources
        if isinstance(r, MetricTemplate)
    }
    problems: list[Problem] = []
    for resource in resources:
        if isinstance(resource, MetricTemplate):
            problems.extend(_check_template(resource))
        elif isinstance(resource, Canary):
            problems.extend(_check_canary(resource, templates))
    return problems


def _check_template(template: MetricTemplate) -> Iterator[Problem]:
    label = f"metrictemplate {template.metadata.name}"
    for error in template_errors(template.spec.query, _ANY, source="query"):
        if error.kind == "unknown":
            yield Problem(label, "spec.query", str(error).removeprefix("query: "))


def _check_canary(
    canary: Canary, templates: Mapping[tuple[str, str], MetricTemplate]
) -> Iterator[Problem]:
    label = f"canary {canary.name}"
    for index, metric in enumerate(canary.spec.analysis.metrics):
        path = f"spec.analysis.metrics[{index}]"
        # analysisStart has a value at run time, whatever the canary's status says now
        context = replace(TemplateContext.for_canary(canary, metric), analysis_start=_EPOCH)
        if metric.query:
            for error in template_errors(metric.query, context, source="query"):
                if error.kind == "unknown":
                    yield Problem(label, f"{path}.query", str(error).removeprefix("query: "))
                else:
                    yield Problem(label, f"{path}.templateVariables", str(error))
        elif (template := _referenced(canary, metric, templates)) is not None:
            source = f"template {template.metadata.name}"
            for error in template_errors(template.spec.query, context, source=source):
                if error.kind != "unknown":  # reported on the template itself
                    yield Problem(label, f"{path}.templateVariables", str(error))


def _referenced(
    canary: Canary, metric: CanaryMetric, templates: Mapping[tuple[str, str], MetricTemplate]
) -> MetricTemplate | None:
    ref = metric.template_ref
    if ref is None:
        return None
    return templates.get((ref.namespace or canary.namespace, ref.name))
