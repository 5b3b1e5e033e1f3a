"""The Envoy stats provider's Measurer: built-in checks from Envoy's own stats, no Prometheus.

The five built-in names mean what they mean on Istio, measured on the canary's Envoy
cluster (`{namespace}_{service}-canary`) over the metric's interval:

    request-success-rate   non-5xx responses / all responses x 100
    error-rate             5xx responses / all responses x 100
    request-duration       99th percentile duration, ms
    request-duration-avg   average duration, ms
    request-duration-max   highest duration bucket with observations, ms

`request-rate` (requests per second) is there for `coalmine metrics`. Templated and
inline PromQL queries need Prometheus: started with `coalmine up --prometheus`, it
measures everything instead (see LocalRuntime); without it they are "no data" with the fix.

The interval arrives already cut at the start of this revision's analysis (engine.windows),
so the deltas never reach back before the revision's first tick. A window that reaches
back before the stats collector's first sample (`coalmine up` restarted) waits for data,
and one with no sample because Envoy's admin API does not answer is an outage of the
source: neither fails a check (see `metrics.providers.envoy.stats`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Protocol

from coalmine.api.canary import Canary, CanaryMetric
from coalmine.api.common import parse_duration
from coalmine.engine.observations import Measurement
from coalmine.metrics.builtins import Role
from coalmine.metrics.providers.envoy.names import cluster_name
from coalmine.metrics.providers.envoy.stats import ClusterWindow
from coalmine.routing.virtual_service import canary_host, primary_host

__all__ = ["EnvoyMeasurer", "Windows"]


class Windows(Protocol):
    def window(
        self, cluster: str, window_s: float = 60.0, *, wait_for_data: bool = False
    ) -> ClusterWindow: ...


class EnvoyMeasurer:
    def __init__(self, windows: Callable[[], Windows]) -> None:
        self.windows = windows
        """The stats collector; a callable, since Envoy starts after the measurer is made."""

    async def measure(self, canary: Canary, metric: CanaryMetric) -> Measurement:
        if metric.query or metric.template_ref:
            return Measurement.no_data(
                f"metric {metric.name} is a PromQL query and no Prometheus is configured;"
                " start the local runtime with: coalmine up --prometheus"
            )
        return await self.measure_builtin(
            canary, metric.name, role=Role.CANARY, interval=metric.interval_or_default
        )

    async def unavailable(self, canary: Canary) -> str | None:
        """Envoy's stats are always at hand; a PromQL metric has no server to ask."""
        for metric in canary.spec.analysis.metrics:
            if metric.query or metric.template_ref:
                return (
                    f"metric {metric.name} is a PromQL query and no Prometheus is configured;"
                    " start the local runtime with: coalmine up --prometheus"
                )
        return None

    async def measure_builtin(
        self, canary: Canary, name: str, *, role: Role = Role.CANARY, interval: str = "1m"
    ) -> Measurement:
        """A built-in of the canary or of the primary, as MetricMeasurer has it."""
        host = canary_host(canary) if role == Role.CANARY else primary_host(canary)
        cluster = cluster_name(canary.namespace, host)
        seconds = parse_duration(interval).total_seconds()
        window = self.windows().window(cluster, seconds, wait_for_data=True)
        measured = _pick(name, window)
        described = f"envoy stats: {name} of cluster {cluster} over {interval}"
        return replace(measured, query=described)


def _pick(name: str, window: ClusterWindow) -> Measurement:
    if name == "request-success-rate":
        return window.success_rate
    if name == "error-rate":
        rate = window.success_rate
        return Measurement.of(100.0 - rate.value) if rate.value is not None else rate
    if name == "request-duration":
        return window.p99_ms
    if name == "request-duration-avg":
        return window.average_ms
    if name == "request-duration-max":
        return window.max_ms
    if name == "request-rate":
        return window.request_rate
    return Measurement.no_data(f"{name} is not a built-in metric of the local runtime")
