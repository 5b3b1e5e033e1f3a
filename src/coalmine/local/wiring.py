"""Small adapters that plug the shared parts (webhooks, load tester, alerts, telemetry,
the routers) into the local runtime."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from coalmine.api.alert_provider import AlertProvider
from coalmine.api.canary import GATEWAY_API_PROVIDERS, Canary, CanaryMetric, CanaryWebhook, Phase
from coalmine.api.common import parse_duration
from coalmine.api.loading import CUSTOM_RESOURCES, parse_resource
from coalmine.api.metric_template import MetricTemplate
from coalmine.engine.decision import Decision
from coalmine.engine.observations import HookResult, Measurement
from coalmine.engine.ports import Hooks, Recorder
from coalmine.errors import NotFound
from coalmine.load import LoadPlan, LoadResult
from coalmine.loadtester.tasks import LoadRunner
from coalmine.local.envoy import cluster_name
from coalmine.local.names import Resolver
from coalmine.local.store import Store
from coalmine.metrics.builtins import Role
from coalmine.metrics.measurer import MetricMeasurer
from coalmine.routers.envoy import EnvoyRouter
from coalmine.routers.local_gatewayapi import LocalGatewayApiRouter
from coalmine.routers.local_store import LocalRouting, StoreRouter
from coalmine.routers.registry import RouterRegistry, Runtime
from coalmine.routing.virtual_service import canary_host

__all__ = [
    "DEFAULT_PROVIDER",
    "ROUTERS",
    "FencedMeasurer",
    "Recorders",
    "ResolvingHooks",
    "StoreAlertProviders",
    "StoreTemplates",
    "resolving_load",
]

ROUTERS: RouterRegistry[LocalRouting, StoreRouter] = RouterRegistry(
    Runtime.LOCAL,
    {
        "istio": EnvoyRouter.of,
        "envoy": EnvoyRouter.of,
        **dict.fromkeys(GATEWAY_API_PROVIDERS, LocalGatewayApiRouter.of),
    },
)
"""The local runtime's routers, all served by Envoy: Istio's objects (and coalmine's own,
which have Istio's shape), and the Gateway API's."""

DEFAULT_PROVIDER = "istio"
"""The router of a Canary with no `spec.provider`."""


class ResolvingHooks:
    """Webhooks whose URL names the load tester or a Service reach them locally."""

    def __init__(self, inner: Hooks, resolver: Resolver) -> None:
        self.inner = inner
        self.resolver = resolver

    async def call(self, canary: Canary, webhook: CanaryWebhook, phase: Phase) -> HookResult:
        resolved = self.resolver.resolve(webhook.url)
        local = webhook.model_copy(update={"url": resolved.url})
        return await self.inner.call(canary, local, phase)


def resolving_load(run: LoadRunner, resolver: Resolver) -> LoadRunner:
    """A load runner that sends traffic for in-cluster names through the local gateway."""

    async def run_resolved(plan: LoadPlan) -> LoadResult:
        resolved = [resolver.resolve(url) for url in plan.urls]
        headers = dict(plan.headers)
        hosts = {r.host_header for r in resolved if r.host_header}
        if len(hosts) == 1:
            headers.setdefault("Host", hosts.pop())
        return await run(replace(plan, urls=tuple(r.url for r in resolved), headers=headers))

    return run_resolved


class StoreTemplates:
    """MetricTemplates applied to the local runtime (the TemplateLookup of coalmine.metrics)."""

    def __init__(self, store: Store) -> None:
        self.store = store

    async def get(self, name: str, namespace: str) -> MetricTemplate:
        stored = self.store.get("MetricTemplate", namespace, name)
        if stored is None:
            raise NotFound(f"metric template {name} not found in namespace {namespace}")
        template = parse_resource(stored.manifest, kinds=CUSTOM_RESOURCES)
        assert isinstance(template, MetricTemplate)
        return template


class StoreAlertProviders:
    """AlertProviders applied to the local runtime."""

    def __init__(self, store: Store) -> None:
        self.store = store

    async def get(self, name: str, namespace: str) -> AlertProvider | None:
        stored = self.store.get("AlertProvider", namespace, name)
        if stored is None:
            return None
        provider = parse_resource(stored.manifest, kinds=CUSTOM_RESOURCES)
        return provider if isinstance(provider, AlertProvider) else None


class Recorders:
    """Several recorders as one (the store's history and the Prometheus metrics)."""

    def __init__(self, *recorders: Recorder) -> None:
        self.recorders = recorders

    def record_tick(self, canary: Canary, decision: Decision, seconds: float) -> None:
        for recorder in self.recorders:
            recorder.record_tick(canary, decision, seconds)


Fenced = Callable[[str, float], Measurement | None]
"""(Envoy cluster, window seconds) -> "waiting" while such a window would begin before the
cluster's fence, else None (`StatsCollector.fenced`)."""


class FencedMeasurer:
    """Prometheus's measurer, whose checks wait at the canary cluster's fence as the
    embedded Envoy stats do: a rate window that began before the previous revision's
    canary replicas were drained would count the last answers they gave (their requests
    are counted when they finish, in the cluster the next revision serves in)."""

    def __init__(self, inner: MetricMeasurer, fenced: Fenced) -> None:
        self.inner = inner
        self.fenced = fenced

    async def measure(self, canary: Canary, metric: CanaryMetric) -> Measurement:
        cluster = cluster_name(canary.namespace, canary_host(canary))
        seconds = parse_duration(metric.interval_or_default).total_seconds()
        waiting = self.fenced(cluster, seconds)
        return waiting if waiting is not None else await self.inner.measure(canary, metric)

    async def unavailable(self, canary: Canary) -> str | None:
        return await self.inner.unavailable(canary)

    async def measure_builtin(
        self, canary: Canary, name: str, *, role: Role = Role.CANARY, interval: str = "1m"
    ) -> Measurement:
        """Views (`coalmine metrics`, the primary's samples) read Prometheus as it is."""
        return await self.inner.measure_builtin(canary, name, role=role, interval=interval)
