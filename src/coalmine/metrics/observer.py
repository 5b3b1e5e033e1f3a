"""The judge's counts from Prometheus: per side, requests, 5xx and latency buckets.

The Observer port for Kubernetes (Istio's `istio_requests_total` and
`istio_request_duration_milliseconds_bucket`) and for `coalmine up --prometheus`
(Envoy's `envoy_cluster_upstream_rq_xx` and `envoy_cluster_upstream_rq_time_bucket`):
`increase()` over the tick's window, per side. Queries are data, rendered with the same
escaping as the built-in checks. `increase()` extrapolates to the window's edges, so
counts are rounded to whole requests; a bucket whose cumulative count went down (a
restart between scrapes) is read as zero rather than negative.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import datetime

from coalmine.api.canary import GATEWAY_API_PROVIDERS, Canary
from coalmine.errors import AdapterError, CoalmineError, NotFound
from coalmine.judge.observations import Histogram, Side, TickObservation
from coalmine.metrics.builtins import Role
from coalmine.metrics.providers.base import ProviderSettings
from coalmine.metrics.providers.prometheus import PrometheusProvider
from coalmine.metrics.results import QueryResult
from coalmine.metrics.templating import TemplateContext, render
from coalmine.routing.virtual_service import has_baseline

__all__ = ["COUNT_QUERIES", "PrometheusObserver"]

BASELINE = "baseline"
"""judge.baseline's side (not a Role of the built-in checks, which compare two sides)."""

_ISTIO: dict[str, str] = {
    Role.CANARY: 'reporter="destination",destination_workload_namespace="{{ namespace }}",'
    'destination_workload=~"{{ target }}"',
    Role.PRIMARY: 'reporter="destination",destination_workload_namespace="{{ namespace }}",'
    'destination_workload=~"{{ target }}-primary"',
    BASELINE: 'reporter="destination",destination_workload_namespace="{{ namespace }}",'
    'destination_workload=~"{{ target }}-baseline"',
}
_ENVOY: dict[str, str] = {
    Role.CANARY: 'envoy_cluster_name="{{ namespace }}_{{ service }}-canary"',
    Role.PRIMARY: 'envoy_cluster_name="{{ namespace }}_{{ service }}-primary"',
    BASELINE: 'envoy_cluster_name="{{ namespace }}_{{ service }}-baseline"',
}

_ISTIO_COUNTS = {
    "requests": "sum(increase(istio_requests_total{<s>}[{{ interval }}]))",
    "errors": 'sum(increase(istio_requests_total{<s>,response_code=~"5.*"}[{{ interval }}]))',
    "buckets": "sum by (le) (increase("
    "istio_request_duration_milliseconds_bucket{<s>}[{{ interval }}]))",
}
COUNT_QUERIES: Mapping[str, Mapping[str, str]] = {
    "istio": _ISTIO_COUNTS,
    **dict.fromkeys(GATEWAY_API_PROVIDERS, _ISTIO_COUNTS),
    "envoy": {
        "requests": "sum(increase(envoy_cluster_upstream_rq_xx{<s>}[{{ interval }}]))",
        "errors": "sum(increase(envoy_cluster_upstream_rq_xx"
        '{<s>,envoy_response_code_class="5"}[{{ interval }}]))',
        "buckets": "sum by (le) (increase("
        "envoy_cluster_upstream_rq_time_bucket{<s>}[{{ interval }}]))",
    },
}
"""Per mesh: the request count, the 5xx count and the latency buckets of one side; <s> is
the side's selector. The Gateway API's providers read Istio's series, as their built-in
checks do (`metrics.builtins`)."""

SELECTORS = {"istio": _ISTIO, "envoy": _ENVOY, **dict.fromkeys(GATEWAY_API_PROVIDERS, _ISTIO)}


class PrometheusObserver:
    """Counts per side over the tick's window from one Prometheus."""

    def __init__(self, provider: PrometheusProvider, *, mesh: str) -> None:
        if mesh not in COUNT_QUERIES:
            raise NotFound(f"mesh {mesh!r} has no count queries; known: {', '.join(COUNT_QUERIES)}")
        self.provider = provider
        self.mesh = mesh

    def queries(self, canary: Canary, role: str, window_seconds: float) -> dict[str, str]:
        """The three rendered queries for one side (shown in errors and docs)."""
        context = TemplateContext.for_interval(canary, f"{max(1, round(window_seconds))}s")
        selector = SELECTORS[self.mesh][role]
        return {
            name: render(template.replace("<s>", selector), context, source=f"count {name}")
            for name, template in COUNT_QUERIES[self.mesh].items()
        }

    async def observe(
        self, canary: Canary, window_seconds: float, *, at: datetime | None = None
    ) -> TickObservation:
        """The window ending now, or ending `at` (a past tick, for `coalmine backtest`)."""
        primary = await self._side(canary, Role.PRIMARY, window_seconds, at)
        baseline = None
        if has_baseline(canary):
            baseline = await self._side(canary, BASELINE, window_seconds, at)
        return TickObservation(
            primary=primary,
            canary=await self._side(canary, Role.CANARY, window_seconds, at),
            baseline=baseline,
        )

    def provider_of(self, canary: Canary) -> PrometheusProvider:
        """spec.metricsServer when it names another server, as for the metrics."""
        default = self.provider.settings
        address = canary.spec.metrics_server
        if not address or address.rstrip("/") == default.address.rstrip("/"):
            return self.provider
        return PrometheusProvider(
            ProviderSettings(address, timeout=default.timeout, verify_tls=default.verify_tls),
            sessions=self.provider.sessions,
        )

    async def _side(
        self, canary: Canary, role: str, window_seconds: float, at: datetime | None
    ) -> Side:
        queries = self.queries(canary, role, window_seconds)
        provider = self.provider_of(canary)
        try:
            requests = _count(await provider.instant(queries["requests"], at=at))
            errors = _count(await provider.instant(queries["errors"], at=at))
            buckets = await provider.instant(queries["buckets"], at=at)
        except CoalmineError as error:
            raise AdapterError(f"counting the {role} side: {error}") from None
        return Side(requests, min(errors, requests), _histogram(buckets))


def _count(result: QueryResult) -> int:
    """A sum over no series (no traffic yet, no 5xx yet) is zero requests."""
    if not result.series or not result.series[0].points:
        return 0
    value = result.series[0].points[-1].value
    return 0 if math.isnan(value) else max(0, round(value))


def _histogram(result: QueryResult) -> Histogram | None:
    """Cumulative `le` buckets into per-bucket counts; None without any bucket."""
    cumulative: dict[float, float] = {}
    for series in result.series:
        if "le" in series.labels and series.points:
            value = series.points[-1].value
            cumulative[float(series.labels["le"])] = 0.0 if math.isnan(value) else value
    if not cumulative or math.inf not in cumulative:
        return None
    bounds = sorted(b for b in cumulative if b != math.inf)
    running, counts = 0, []
    for bound in [*bounds, math.inf]:
        total = max(running, round(cumulative[bound]))
        counts.append(total - running)
        running = total
    return Histogram(tuple(bounds), tuple(counts))
