"""The operator's ports, wired: every adapter the engine talks to in Kubernetes mode.

workload  KubeWorkload (Deployments)          router    by provider (ROUTERS): IstioRouter,
                                                        KubernetesRouter, GatewayAPIRouter
measurer  MetricMeasurer (coalmine.metrics) with MetricTemplates and Secrets from the cluster
          (its Prometheus providers share one HTTP session per server: `sessions`, closed
          with the wiring)
hooks     HttpHooks                           recorder  PrometheusRecorder (/metrics)
          (measurer and observer wrapped by kube.runtime.tick_timing: a tick's own time
          leaves them out; the client's requests timed by it too, `awaiting_api`)
store     KubeCanaryStore (status subresource)
notifier  AlertingNotifier -> EventWebhookNotifier -> BackgroundKubeEvents
          (alerts to the AlertProviders, events to the event webhooks, then Kubernetes Events,
          queued and written by tasks of their own)
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

from prometheus_client import CollectorRegistry

from coalmine.api.canary import GATEWAY_API_PROVIDERS, Canary
from coalmine.engine.observations import Routes
from coalmine.engine.ports import Measurer, Ports
from coalmine.hooks import EventWebhookNotifier, HttpHooks
from coalmine.hooks.http import loadtester_token
from coalmine.kube.adapters.client import KubeClient
from coalmine.kube.adapters.disown import Disowner
from coalmine.kube.adapters.events import BackgroundKubeEvents
from coalmine.kube.adapters.lookups import (
    KubeAlertProviders,
    KubeCredentials,
    KubeSecrets,
    KubeTemplates,
)
from coalmine.kube.adapters.resources import (
    ALERT_PROVIDERS,
    CANARIES,
    DEPLOYMENTS,
    DESTINATION_RULES,
    FLAGGER_ALERT_PROVIDERS,
    FLAGGER_CANARIES,
    FLAGGER_METRIC_TEMPLATES,
    HPAS,
    HTTP_ROUTES,
    METRIC_TEMPLATES,
    SERVICES,
    VIRTUAL_SERVICES,
    Kind,
)
from coalmine.kube.adapters.revert import Reverter
from coalmine.kube.adapters.store import KubeCanaryStore
from coalmine.kube.adapters.workload import KubeWorkload
from coalmine.kube.runtime.settings import ControllerSettings, ScopeSettings
from coalmine.kube.runtime.tick_timing import (
    RequestTimer,
    TickTimer,
    TimedMeasurer,
    TimedObserver,
    awaiting_api,
)
from coalmine.metrics import PROVIDERS, MeasurerSettings, MetricMeasurer, ProviderSettings
from coalmine.metrics.limits import QueryLimits
from coalmine.metrics.observer import COUNT_QUERIES, PrometheusObserver
from coalmine.metrics.providers.prometheus import PrometheusProvider
from coalmine.metrics.providers.sessions import HttpSessions
from coalmine.notify import AlertingNotifier
from coalmine.routers.gatewayapi import GatewayAPIRouter
from coalmine.routers.istio import IstioRouter
from coalmine.routers.kubernetes import KubernetesRouter
from coalmine.routers.registry import ProviderRouter, RouterRegistry, Runtime
from coalmine.routers.services import KubeRouter
from coalmine.telemetry import PrometheusRecorder

__all__ = ["ROUTERS", "KubeRouters", "Wiring", "cached_kinds", "canary_kinds", "wire"]

ROUTERS: RouterRegistry[KubeClient, KubeRouter] = RouterRegistry(
    Runtime.KUBERNETES,
    {
        "istio": IstioRouter,
        "kubernetes": KubernetesRouter,
        **dict.fromkeys(GATEWAY_API_PROVIDERS, GatewayAPIRouter),
    },
)
"""The operator's routers by provider (`spec.provider`, else --mesh-provider)."""


class KubeRouters:
    """The engine's Router port and the reverter's and disowner's `revert`, each sent to
    the router of the Canary's provider."""

    def __init__(self, routers: ProviderRouter[KubeRouter]) -> None:
        self.routers = routers

    async def reconcile(self, canary: Canary) -> None:
        await self.routers.reconcile(canary)

    async def get_routes(self, canary: Canary) -> Routes:
        return await self.routers.get_routes(canary)

    async def set_routes(self, canary: Canary, routes: Routes) -> None:
        await self.routers.set_routes(canary, routes)

    async def revert(self, canary: Canary, target_labels: dict[str, str]) -> dict[str, str]:
        return await self.routers.of(canary).revert(canary, target_labels)


def canary_kinds(scope: ScopeSettings) -> tuple[Kind, ...]:
    """The Canary resources to reconcile: coalmine's, and Flagger's with --flagger-compat."""
    return (CANARIES, FLAGGER_CANARIES) if scope.flagger_compat else (CANARIES,)


def cached_kinds(scope: ScopeSettings) -> tuple[Kind, ...]:
    """What a tick reads, kept in memory by a watch (`kube.adapters.cache`): the Canaries, their
    Deployments, Services, DestinationRules, VirtualServices, HTTPRoutes and HPAs (a kind
    the cluster does not serve is read from the API, see `kube.adapters.cache`). Secrets are
    never watched (the controller may only get them), nor Events (written, rarely read)."""
    return (
        *canary_kinds(scope),
        DEPLOYMENTS,
        SERVICES,
        DESTINATION_RULES,
        VIRTUAL_SERVICES,
        HTTP_ROUTES,
        HPAS,
    )


@dataclass
class Wiring:
    ports: Ports
    events: BackgroundKubeEvents
    reverter: Reverter
    disowner: Disowner
    recorder: PrometheusRecorder
    hooks: HttpHooks
    notifier: AlertingNotifier
    timer: TickTimer
    """Ticks' own durations, the metric queries left out (the measurer is timed)."""
    sessions: HttpSessions
    """The metric queries' HTTP sessions, one per Prometheus address."""

    async def close(self) -> None:
        await self.events.close()  # (what the last ticks queued)
        await self.notifier.close()
        await self.hooks.close()
        await self.sessions.close()


def wire(
    client: KubeClient,
    settings: ControllerSettings,
    registry: CollectorRegistry,
    *,
    measurer: Measurer | None = None,
) -> Wiring:
    """The ports for `settings`; `measurer` replaces the Prometheus one (tests, benchmarks)."""
    compat = settings.scope.flagger_compat
    secrets = KubeSecrets(client)
    events = BackgroundKubeEvents(client, instance=settings.identity)
    hooks = HttpHooks(token_for=loadtester_token(settings.analysis.loadtester_token))
    notifier = AlertingNotifier(
        inner=EventWebhookNotifier(events, hooks),
        providers=KubeAlertProviders(
            client, (ALERT_PROVIDERS, FLAGGER_ALERT_PROVIDERS) if compat else (ALERT_PROVIDERS,)
        ),
        secrets=secrets,
    )
    templates = KubeTemplates(
        client, (METRIC_TEMPLATES, FLAGGER_METRIC_TEMPLATES) if compat else (METRIC_TEMPLATES,)
    )
    recorder = PrometheusRecorder(registry, mesh_provider=settings.analysis.mesh_provider)
    workload, store = KubeWorkload(client), KubeCanaryStore(client)
    routers = KubeRouters(ROUTERS.dispatch(client, default=settings.analysis.mesh_provider))
    sessions = HttpSessions()
    ports = Ports(
        workload=workload,
        router=routers,
        measurer=TimedMeasurer(
            measurer or _measurer(settings, templates, KubeCredentials(secrets), sessions)
        ),
        hooks=hooks,
        notifier=notifier,
        recorder=recorder,
        store=store,
        observer=_observer(settings, sessions),
    )
    reverter = Reverter(workload, routers, store, notifier)
    disowner = Disowner(client, workload, routers, store, notifier)
    timer = TickTimer(registry)
    client.timing = awaiting_api
    client.request_timing = RequestTimer(registry)
    return Wiring(ports, events, reverter, disowner, recorder, hooks, notifier, timer, sessions)


def _observer(settings: ControllerSettings, sessions: HttpSessions) -> TimedObserver | None:
    """The judge's per-side counts from the cluster's Prometheus (Istio's series)."""
    mesh = settings.analysis.mesh_provider
    if mesh not in COUNT_QUERIES:
        return None
    server = ProviderSettings(settings.analysis.metrics_server)
    provider = PrometheusProvider(server, sessions=sessions)
    return TimedObserver(PrometheusObserver(provider, mesh=mesh))


def _measurer(
    settings: ControllerSettings,
    templates: KubeTemplates,
    credentials: KubeCredentials,
    sessions: HttpSessions,
) -> MetricMeasurer:
    server = ProviderSettings(settings.analysis.metrics_server)
    return MetricMeasurer(
        MeasurerSettings(server, default_mesh=settings.analysis.mesh_provider),
        templates=templates,
        credentials=credentials,
        providers={**PROVIDERS, "prometheus": partial(PrometheusProvider, sessions=sessions)},
        limits=QueryLimits(settings.analysis.query_limits),
    )
