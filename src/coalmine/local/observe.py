"""The Observer port in local mode: the judge's counts from Envoy's own stats.

Per side (the `-primary`, `-canary` and with judge.baseline `-baseline` Envoy clusters),
over the tick's window: responses of every class (`upstream_rq_xx`, Envoy's own 503s
included), the 5xx among them, and the `upstream_rq_time` histogram as counts per bucket
(only requests that reached a backend have a duration). The same collector as
`EnvoyMeasurer`; no Prometheus needed.
"""

from __future__ import annotations

from collections.abc import Callable

from coalmine.api.canary import Canary
from coalmine.errors import AdapterError
from coalmine.judge.observations import Histogram, Side, TickObservation
from coalmine.local.envoy import ClusterWindow, cluster_name
from coalmine.metrics.providers.envoy.measurer import Windows
from coalmine.routing.virtual_service import (
    baseline_host,
    canary_host,
    has_baseline,
    primary_host,
)

__all__ = ["EnvoyObserver"]


class EnvoyObserver:
    def __init__(self, windows: Callable[[], Windows]) -> None:
        self.windows = windows
        """The stats collector; a callable, since Envoy starts after the observer is made."""

    async def observe(self, canary: Canary, window_seconds: float) -> TickObservation:
        baseline = None
        if has_baseline(canary):
            baseline = self._side(canary, baseline_host(canary), window_seconds)
        return TickObservation(
            primary=self._side(canary, primary_host(canary), window_seconds),
            canary=self._side(canary, canary_host(canary), window_seconds),
            baseline=baseline,
        )

    def _side(self, canary: Canary, host: str, window_seconds: float) -> Side:
        cluster = cluster_name(canary.namespace, host)
        window = self.windows().window(cluster, window_seconds)
        if window.requests.value is None:
            raise AdapterError(f"envoy stats of cluster {cluster}: {window.requests.reason}")
        return side_of(window)


def side_of(window: ClusterWindow) -> Side:
    """One cluster's window as the judge counts it."""
    requests = round(window.requests.value or 0)
    errors = round(window.errors_5xx.value or 0)
    durations = window.durations
    latency = None
    if durations.cumulative:
        counts = [durations.cumulative[0]]
        counts += [
            b - a for a, b in zip(durations.cumulative, durations.cumulative[1:], strict=False)
        ]
        latency = Histogram(durations.bounds, tuple(max(0, c) for c in counts))
    return Side(requests, min(errors, requests), latency)
