"""The Observer port in local mode: the judge's counts from Envoy's own stats.

Per side (the `-primary`, `-canary` and with judge.baseline `-baseline` Envoy clusters),
over the tick's window: responses of every class (`upstream_rq_xx`, Envoy's own 503s
included), the 5xx among them, and the `upstream_rq_time` histogram as counts per bucket
(only requests that reached a backend have a duration). The same collector as
`EnvoyMeasurer`; no Prometheus needed.

A side whose window would begin before its cluster's fence (the replicas of an earlier
revision behind it still answering, or their last answers not yet counted: see
`local.envoy.collector`) cannot be counted: the judge holds, as it does when counts
cannot be read. The canary cluster keeps its name across revisions, so without the fence
the slow answers of a release just rolled back would be evidence against the next.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from coalmine.api.canary import Canary
from coalmine.engine.observations import Measurement
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

__all__ = ["EnvoyObserver", "FencedWindows"]


class FencedWindows(Windows, Protocol):
    def fenced(self, cluster: str, window_s: float) -> Measurement | None: ...


class EnvoyObserver:
    def __init__(self, windows: Callable[[], FencedWindows]) -> None:
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
        windows = self.windows()
        waiting = windows.fenced(cluster, window_seconds)
        if waiting is not None:
            raise AdapterError(f"envoy stats of cluster {cluster}: {waiting.reason}")
        window = windows.window(cluster, window_seconds)
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
