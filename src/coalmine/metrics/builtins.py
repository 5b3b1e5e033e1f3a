"""The built-in checks: PromQL templates per mesh, for the canary and for the primary.

Data, like Flagger's observers: a metric that names one of BUILTIN_METRICS and has no
query or templateRef is measured with the query below for the canary's mesh
(`spec.provider`, or the runtime's mesh). The templates use the variables of
`metrics.templating` and are rendered (and escaped) the same way as a MetricTemplate.

Istio (the sidecars' `istio_requests_total` and `istio_request_duration_milliseconds`):
`request-success-rate` and `request-duration` are Flagger's queries, character for
character once Flagger's whitespace is collapsed. The primary's queries differ only in
the workload: `{{ target }}-primary`.

Envoy (coalmine's local data plane; Envoy's own `/stats/prometheus` series): one Envoy
cluster per workload, named `{namespace}_{service}-canary` and
`{namespace}_{service}-primary` (service = spec.service.name, else the target's name),
label `envoy_cluster_name`. Facts these queries rely on, checked against Envoy 1.40 in
tests/metrics/test_builtins_envoy.py:
- `envoy_cluster_upstream_rq_xx{envoy_response_code_class="5"}` does not exist until
  the first 5xx: the 5xx side is filled with `or vector(0)`.
- A dead backend (connection refused) gives Envoy's own 503s: they count in
  `upstream_rq_xx` class 5 while `upstream_rq_total` stays 0, so every denominator is
  `upstream_rq_xx` over all classes, never `upstream_rq_total`.
- `upstream_rq_time` (whole milliseconds) is only recorded for requests that reached
  the backend, and only at each stats flush (set `stats_flush_interval: 1s`).

Kubernetes (the `kubernetes` provider: no mesh, so the application's own metrics, as
Flagger's HttpObserver, pkg/metrics/observers/http.go): the
`http_request_duration_seconds` histogram with a `status` label (podinfo's, and
prometheus client libraries' usual shape), scraped with the `kubernetes_namespace` and
`kubernetes_pod_name` labels. The canary's pods are `{{ target }}-<hash>-<id>`, the
primary's `{{ target }}-primary-<hash>-<id>` (the regex is anchored, so the canary's does
not match the primary's). `request-success-rate` and `request-duration` are Flagger's
queries once its whitespace is collapsed, the duration times 1000: Flagger converts
the seconds to milliseconds in Go, coalmine in the query, so that every built-in
answers in milliseconds.

Gateway API (`gatewayapi`, `gatewayapi:v1`, `gatewayapi:v1beta1`): Istio's queries.
Flagger has no observer of its own for Gateway API: its observer factory
(pkg/metrics/observers/factory.go) gives every provider it does not name the
IstioObserver, so its built-in checks read `istio_requests_total` whatever implements
the Gateway. They measure something only when the workloads have Istio sidecars (Istio
as the Gateway API implementation); with another implementation (Envoy Gateway,
Contour, Cilium, ...) give each check a query or a templateRef, as Flagger's Gateway
API tutorials do with MetricTemplates.

What each metric returns:
- request-success-rate: % of requests not answered 5xx, 0..100.
- error-rate: % of requests answered 5xx, 0..100 (0 when there was traffic but no 5xx).
- request-duration: 99th percentile in ms, interpolated within its histogram bucket.
- request-duration-avg: mean in ms, from the histogram's _sum and _count.
- request-duration-max: `histogram_quantile(1, ...)`: the upper bound of the smallest
  bucket that holds every request of the interval. The true maximum is at most this
  and above the bucket below; it is exact only to the bucket boundaries. When some
  request was slower than the largest finite bucket, it returns that largest finite
  bound (an underestimate), so give the histogram a bucket above your threshold.
- request-rate (not a check: for `coalmine metrics`): requests per second.

All of them are "no data" when there was no traffic in the interval (an empty
result, or NaN from 0/0): a canary that gets no requests never passes a check.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum

from coalmine.errors import NotFound

__all__ = ["MESHES", "REQUEST_RATE", "Role", "builtin_query"]

REQUEST_RATE = "request-rate"


class Role(StrEnum):
    """Which of the two workloads a query is about."""

    CANARY = "canary"
    """The target Deployment: the new revision under analysis."""
    PRIMARY = "primary"
    """The `-primary` copy: the revision in production."""


_SELECTOR = "<selector>"

_ISTIO_SELECTORS = {
    Role.CANARY: 'reporter="destination",destination_workload_namespace="{{ namespace }}",'
    'destination_workload=~"{{ target }}"',
    Role.PRIMARY: 'reporter="destination",destination_workload_namespace="{{ namespace }}",'
    'destination_workload=~"{{ target }}-primary"',
}

_ISTIO = {
    "request-success-rate": (
        'sum(rate(istio_requests_total{<selector>,response_code!~"5.*"}[{{ interval }}])) '
        "/ sum(rate(istio_requests_total{<selector>}[{{ interval }}])) * 100"
    ),
    "request-duration": (
        "histogram_quantile(0.99, "
        "sum(rate(istio_request_duration_milliseconds_bucket{<selector>}[{{ interval }}])) by (le))"
    ),
    "error-rate": (
        '(sum(rate(istio_requests_total{<selector>,response_code=~"5.*"}[{{ interval }}])) '
        "or vector(0)) / sum(rate(istio_requests_total{<selector>}[{{ interval }}])) * 100"
    ),
    "request-duration-avg": (
        "sum(rate(istio_request_duration_milliseconds_sum{<selector>}[{{ interval }}])) "
        "/ sum(rate(istio_request_duration_milliseconds_count{<selector>}[{{ interval }}]))"
    ),
    "request-duration-max": (
        "histogram_quantile(1, "
        "sum(rate(istio_request_duration_milliseconds_bucket{<selector>}[{{ interval }}])) by (le))"
    ),
    REQUEST_RATE: "sum(rate(istio_requests_total{<selector>}[{{ interval }}]))",
}

_ENVOY_SELECTORS = {
    Role.CANARY: 'envoy_cluster_name="{{ namespace }}_{{ service }}-canary"',
    Role.PRIMARY: 'envoy_cluster_name="{{ namespace }}_{{ service }}-primary"',
}

_ENVOY = {
    "request-success-rate": (
        "(sum(rate(envoy_cluster_upstream_rq_xx"
        '{<selector>,envoy_response_code_class!="5"}[{{ interval }}])) or vector(0)) '
        "/ sum(rate(envoy_cluster_upstream_rq_xx{<selector>}[{{ interval }}])) * 100"
    ),
    "request-duration": (
        "histogram_quantile(0.99, "
        "sum(rate(envoy_cluster_upstream_rq_time_bucket{<selector>}[{{ interval }}])) by (le))"
    ),
    "error-rate": (
        "(sum(rate(envoy_cluster_upstream_rq_xx"
        '{<selector>,envoy_response_code_class="5"}[{{ interval }}])) or vector(0)) '
        "/ sum(rate(envoy_cluster_upstream_rq_xx{<selector>}[{{ interval }}])) * 100"
    ),
    "request-duration-avg": (
        "sum(rate(envoy_cluster_upstream_rq_time_sum{<selector>}[{{ interval }}])) "
        "/ sum(rate(envoy_cluster_upstream_rq_time_count{<selector>}[{{ interval }}]))"
    ),
    "request-duration-max": (
        "histogram_quantile(1, "
        "sum(rate(envoy_cluster_upstream_rq_time_bucket{<selector>}[{{ interval }}])) by (le))"
    ),
    REQUEST_RATE: "sum(rate(envoy_cluster_upstream_rq_xx{<selector>}[{{ interval }}]))",
}


_POD = "[0-9a-zA-Z]+(-[0-9a-zA-Z]+)"
_HTTP_SELECTORS = {
    Role.CANARY: 'kubernetes_namespace="{{ namespace }}",'
    f'kubernetes_pod_name=~"{{{{ target }}}}-{_POD}"',
    Role.PRIMARY: 'kubernetes_namespace="{{ namespace }}",'
    f'kubernetes_pod_name=~"{{{{ target }}}}-primary-{_POD}"',
}

_HTTP = {
    "request-success-rate": (
        'sum(rate(http_request_duration_seconds_count{<selector>,status!~"5.*"}[{{ interval }}]))'
        " / sum(rate(http_request_duration_seconds_count{<selector>}[{{ interval }}])) * 100"
    ),
    "request-duration": (
        "histogram_quantile(0.99, "
        "sum(rate(http_request_duration_seconds_bucket{<selector>}[{{ interval }}])) by (le))"
        " * 1000"
    ),
    "error-rate": (
        '(sum(rate(http_request_duration_seconds_count{<selector>,status=~"5.*"}'
        "[{{ interval }}])) or vector(0)) "
        "/ sum(rate(http_request_duration_seconds_count{<selector>}[{{ interval }}])) * 100"
    ),
    "request-duration-avg": (
        "sum(rate(http_request_duration_seconds_sum{<selector>}[{{ interval }}])) "
        "/ sum(rate(http_request_duration_seconds_count{<selector>}[{{ interval }}])) * 1000"
    ),
    "request-duration-max": (
        "histogram_quantile(1, "
        "sum(rate(http_request_duration_seconds_bucket{<selector>}[{{ interval }}])) by (le))"
        " * 1000"
    ),
    REQUEST_RATE: "sum(rate(http_request_duration_seconds_count{<selector>}[{{ interval }}]))",
}


def _for_roles(
    queries: Mapping[str, str], selectors: Mapping[Role, str]
) -> Mapping[Role, Mapping[str, str]]:
    return {
        role: {name: query.replace(_SELECTOR, selector) for name, query in queries.items()}
        for role, selector in selectors.items()
    }


MESHES: Mapping[str, Mapping[Role, Mapping[str, str]]] = {
    "istio": _for_roles(_ISTIO, _ISTIO_SELECTORS),
    "envoy": _for_roles(_ENVOY, _ENVOY_SELECTORS),
    "kubernetes": _for_roles(_HTTP, _HTTP_SELECTORS),
    **dict.fromkeys(
        ("gatewayapi", "gatewayapi:v1", "gatewayapi:v1beta1"), _for_roles(_ISTIO, _ISTIO_SELECTORS)
    ),
}
"""Query templates by mesh, then workload, then metric name."""


def builtin_query(mesh: str, metric: str, role: Role = Role.CANARY) -> str:
    """The template of a built-in metric; NotFound, listing what exists, for anything else."""
    queries = MESHES.get(mesh)
    if queries is None:
        raise NotFound(
            f"mesh {mesh!r} has no built-in metrics; meshes with built-in metrics: "
            f"{', '.join(MESHES)} (or give the metric a query or templateRef)"
        )
    query = queries[role].get(metric)
    if query is None:
        raise NotFound(
            f"{metric!r} is not a built-in metric of {mesh}; built-in metrics: "
            f"{', '.join(queries[role])}"
        )
    return query
