"""Are the metrics servers a canary's checks need online? Flagger asks at initialization.

Flagger (`pkg/controller/scheduler_metrics.go` `checkMetricProviderAvailability`, called
by `scheduler.go` at every tick while the phase is "" or Initializing, unless
skipAnalysis) asks the server of each built-in metric (the Canary's metricsServer, else
the default Prometheus) and the provider of each templateRef'd MetricTemplate whether it
is online (Prometheus: `vector(1)` answers 1). The first one that is not, or a template
that cannot be found, gives a Warning event "Error checking metric providers: ..."; when
all answer, a Normal event "all the metrics providers are available!". The canary goes
on initializing either way: the event warns early, the analysis itself still fails the
checks that cannot be measured.

coalmine asks the same, and the server of an inline `query` too (Flagger leaves those
unasked, though they run on the Canary's metricsServer like the built-ins), each server
once. The tick (engine.tick) writes the event.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from coalmine.api.canary import Canary, CanaryMetric
from coalmine.errors import CoalmineError
from coalmine.metrics.providers.base import ProviderFactory, ProviderSettings
from coalmine.metrics.providers.registry import create_provider

__all__ = ["Planned", "Planner", "unavailable_provider"]


class Planned(Protocol):
    """Where one metric is measured (the measurer's QueryPlan)."""

    @property
    def provider_type(self) -> str: ...

    @property
    def server(self) -> ProviderSettings: ...

    @property
    def source(self) -> str: ...


class Planner(Protocol):
    """What this check needs of the measurer that asks it (MetricMeasurer): declared
    here, so that the measurer imports this module and not the reverse."""

    providers: Mapping[str, ProviderFactory]

    async def plan(self, canary: Canary, metric: CanaryMetric) -> Planned: ...


async def unavailable_provider(measurer: Planner, canary: Canary) -> str | None:
    """None when the server of every metric answers; else the first that does not,
    naming the metric, the server and where it is set."""
    asked: set[tuple[str, str]] = set()
    for metric in canary.spec.analysis.metrics:
        try:
            plan = await measurer.plan(canary, metric)
            server = (plan.provider_type, plan.server.address)
            if server in asked:
                continue
            asked.add(server)
            provider = create_provider(
                plan.provider_type, plan.server, providers=measurer.providers
            )
            online = await provider.is_online()
        except CoalmineError as error:
            return f"metric {metric.name}: {error}"
        if not online:
            return (
                f"{plan.provider_type} at {plan.server.address} ({plan.source} of metric"
                f" {metric.name}) is not available: it did not answer a test query;"
                f" {_where_set(metric.template_ref is not None)}"
            )
    return None


def _where_set(templated: bool) -> str:
    if templated:
        return "check the MetricTemplate's spec.provider.address and that the server is up"
    return "check spec.metricsServer (or the controller's default) and that the server is up"
