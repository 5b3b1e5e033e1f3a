"""The engine's `Measurer`: from one Canary metric to one Measurement.

For each metric it picks the query (built-in for the canary's mesh, the MetricTemplate
its templateRef names, or its inline `query`), renders it with the canary's variables,
runs it on the right server, and returns the Measurement with `query` set to the
rendered PromQL, so that the check's event and status show exactly what was asked.

Which server:
- a MetricTemplate with `spec.provider.address`: that server, with the credentials of
  its `secretRef` (looked up through the CredentialSource), its headers and TLS switch;
- otherwise the Canary's `spec.metricsServer` if set, else the default server.
The default server's credentials and headers go only to the default server's address:
a template or canary that names another address never receives them.

Which mesh's built-ins: `MeasurerSettings.mesh` when set (the local runtime sets
"envoy": its data plane is Envoy whatever spec.provider says), else the Canary's
`spec.provider`, else `MeasurerSettings.default_mesh` ("istio"). A mesh without
built-ins is a failed check whose reason lists the meshes that have them.

`measure` never raises: a missing template, an unset variable, all become "no data"
with the reason; a server that is down is an outage of the source (see
`metrics.prometheus`), and a server younger than the metric's window (it started, or
restarted with no data kept, less than `interval` ago: `started_at`) answers "waiting for
data since" its start. Both hold the analysis instead of failing a check.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Protocol, runtime_checkable

from coalmine.api.canary import Canary, CanaryMetric
from coalmine.api.common import parse_duration
from coalmine.api.metric_template import MetricTemplate
from coalmine.engine.observations import Measurement, MeasurementKind
from coalmine.engine.windows import waiting_reason
from coalmine.errors import CoalmineError, NotFound, Unavailable
from coalmine.metrics.availability import unavailable_provider
from coalmine.metrics.builtins import Role, builtin_query
from coalmine.metrics.credentials import Credentials, CredentialSource
from coalmine.metrics.limits import QueryLimits
from coalmine.metrics.providers.base import ProviderFactory, ProviderSettings
from coalmine.metrics.providers.registry import PROVIDERS, create_provider
from coalmine.metrics.templates import TemplateLookup
from coalmine.metrics.templating import TemplateContext, render

__all__ = ["MeasurerSettings", "MetricMeasurer", "QueryPlan"]


STARTUP_GRACE = timedelta(seconds=10)


@dataclass(frozen=True)
class MeasurerSettings:
    server: ProviderSettings
    """The default metrics server: the operator's Prometheus, or the local one."""
    provider_type: str = "prometheus"
    """Type of the default server (a key of metrics.registry.PROVIDERS)."""
    default_mesh: str = "istio"
    """Built-in checks of this mesh for a Canary without spec.provider."""
    mesh: str | None = None
    """When set, the built-in checks of every canary use this mesh, whatever spec.provider
    says. The local runtime sets "envoy"."""
    startup_grace: timedelta = STARTUP_GRACE
    """After a Prometheus starts, checks wait for their window plus this long: it hands
    targets to its scrapers and scrapes them first about 6 s after starting (measured)."""


@dataclass(frozen=True)
class QueryPlan:
    """What to run for one metric, and where."""

    template: str
    """The query before rendering."""
    source: str
    """How messages name it: "built-in request-duration (istio)", "template error-rate"."""
    provider_type: str
    server: ProviderSettings


@runtime_checkable
class Aged(Protocol):
    """A provider that can say when it started keeping data (Prometheus)."""

    source: str

    async def started_at(self) -> datetime | None: ...


class MetricMeasurer:
    """Measures canary metrics through metrics providers (Prometheus)."""

    def __init__(
        self,
        settings: MeasurerSettings,
        *,
        templates: TemplateLookup | None = None,
        credentials: CredentialSource | None = None,
        providers: Mapping[str, ProviderFactory] = PROVIDERS,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        limits: QueryLimits | None = None,
    ) -> None:
        self.settings = settings
        self.limits = limits
        """Bounds on queries in flight and their rate per provider (the operator's);
        None: unbounded (the local runtime, one Prometheus, a few canaries)."""
        self.templates = templates
        self.credentials = credentials
        self.providers = providers
        self.clock = clock
        """Wall time: a Prometheus's start is compared with the window in real time."""

    async def measure(self, canary: Canary, metric: CanaryMetric) -> Measurement:
        """The metric's value for the canary workload; never raises."""
        try:
            plan = await self.plan(canary, metric)
        except CoalmineError as error:
            return Measurement.no_data(str(error), metric.query or "")
        return await self.run(plan, TemplateContext.for_canary(canary, metric))

    async def unavailable(self, canary: Canary) -> str | None:
        """None when the server of every metric answers; else which does not (Flagger's
        check at initialization, see metrics.availability)."""
        return await unavailable_provider(self, canary)

    async def measure_builtin(
        self, canary: Canary, name: str, *, role: Role = Role.CANARY, interval: str = "1m"
    ) -> Measurement:
        """A built-in query for the canary or the primary (for `coalmine metrics`)."""
        try:
            template = builtin_query(self.mesh_of(canary), name, role)
        except CoalmineError as error:
            return Measurement.no_data(str(error))
        plan = QueryPlan(
            template,
            f"built-in {name} ({self.mesh_of(canary)})",
            self.settings.provider_type,
            self.server_of(canary),
        )
        return await self.run(plan, TemplateContext.for_interval(canary, interval))

    async def plan(self, canary: Canary, metric: CanaryMetric) -> QueryPlan:
        """Pick query and server; raises CoalmineError (NotFound, ...) when it cannot."""
        if metric.query:
            return QueryPlan(
                metric.query, "query", self.settings.provider_type, self.server_of(canary)
            )
        if metric.template_ref is not None:
            namespace = metric.template_ref.namespace or canary.namespace
            template = await self._template(metric.template_ref.name, namespace)
            return QueryPlan(
                template.spec.query,
                f"template {template.metadata.name}",
                template.spec.provider.type,
                await self._template_server(template, canary),
            )
        mesh = self.mesh_of(canary)
        return QueryPlan(
            builtin_query(mesh, metric.name),
            f"built-in {metric.name} ({mesh})",
            self.settings.provider_type,
            self.server_of(canary),
        )

    async def run(self, plan: QueryPlan, context: TemplateContext) -> Measurement:
        """Render and run a plan; the Measurement's query is the rendered PromQL."""
        try:
            query = render(plan.template, context, source=plan.source)
            provider = create_provider(plan.provider_type, plan.server, providers=self.providers)
        except CoalmineError as error:
            return Measurement.no_data(str(error), plan.template)
        if self.limits is None:
            measurement = await provider.query(query)
        else:
            async with self.limits.query(plan.server.address):
                measurement = await provider.query(query)
        if measurement.judged and isinstance(provider, Aged):
            measurement = await self._unless_young(provider, context.interval, measurement)
        return replace(measurement, query=query)

    async def _unless_young(
        self, provider: Aged, interval: str, measurement: Measurement
    ) -> Measurement:
        """ "Waiting" when the window reaches back before the server started."""
        try:
            started = await provider.started_at()
        except Unavailable as error:
            return Measurement.outage(provider.source, str(error))
        window = parse_duration(interval) + self.settings.startup_grace
        if started is None or started <= self.clock() - window:
            return measurement
        why = f"{provider.source} started then; the window reaches back before it"
        reason = waiting_reason(window.total_seconds(), started, why)
        return Measurement(
            None, reason, kind=MeasurementKind.WAITING, source=provider.source, since=started
        )

    def mesh_of(self, canary: Canary) -> str:
        return self.settings.mesh or canary.spec.provider or self.settings.default_mesh

    def server_of(self, canary: Canary) -> ProviderSettings:
        """spec.metricsServer when it names another server, else the default server."""
        default = self.settings.server
        address = canary.spec.metrics_server
        if not address or address.rstrip("/") == default.address.rstrip("/"):
            return default
        return ProviderSettings(address, timeout=default.timeout, verify_tls=default.verify_tls)

    async def _template(self, name: str, namespace: str) -> MetricTemplate:
        if self.templates is None:
            raise NotFound(
                f"metric template {name} in namespace {namespace}: no template lookup configured"
            )
        return await self.templates.get(name, namespace)

    async def _template_server(self, template: MetricTemplate, canary: Canary) -> ProviderSettings:
        provider = template.spec.provider
        server = self.server_of(canary)
        if provider.address and provider.address.rstrip("/") != server.address.rstrip("/"):
            server = ProviderSettings(provider.address, timeout=server.timeout)
        if provider.secret_ref is not None:
            server = replace(server, credentials=await self._secret(template))
        if provider.headers:
            server = replace(server, headers={**server.headers, **provider.header_values})
        if provider.insecure_skip_verify:
            server = replace(server, verify_tls=False)
        return server

    async def _secret(self, template: MetricTemplate) -> Credentials:
        ref = template.spec.provider.secret_ref
        assert ref is not None
        namespace = template.metadata.namespace
        if self.credentials is None:
            raise NotFound(
                f"template {template.metadata.name} needs secret {ref.name}: "
                "no credential source configured"
            )
        return await self.credentials.get(ref.name, namespace)
