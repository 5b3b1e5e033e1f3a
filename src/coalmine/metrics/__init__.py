"""Metrics: providers that answer PromQL, the built-in checks per mesh, query templates,
and the engine's Measurer that ties them together.

    MetricMeasurer(MeasurerSettings(ProviderSettings("http://prometheus:9090")),
                   templates=InMemoryTemplates([...]), credentials=FileCredentialSource(path))

Modules: base (ProviderSettings), registry (provider types), prometheus (the HTTP API
client), results (when an answer is one number), builtins (the queries per mesh),
templating (variables and escaping), templates (TemplateLookup), credentials
(CredentialSource), measurer (the Measurer), validation (checks for `coalmine validate`),
prometheus_server (a Prometheus process for tests and local mode).
"""

from coalmine.metrics.builtins import MESHES, REQUEST_RATE, Role, builtin_query
from coalmine.metrics.credentials import (
    Credentials,
    CredentialSource,
    EnvCredentialSource,
    FileCredentialSource,
    StaticCredentialSource,
)
from coalmine.metrics.measurer import MeasurerSettings, MetricMeasurer, QueryPlan
from coalmine.metrics.prometheus_server import PrometheusServer, ScrapeTarget
from coalmine.metrics.providers.base import ProviderFactory, ProviderSettings
from coalmine.metrics.providers.prometheus import PrometheusProvider
from coalmine.metrics.providers.registry import PROVIDERS, create_provider
from coalmine.metrics.results import Point, QueryResult, Series, to_measurement
from coalmine.metrics.templates import InMemoryTemplates, TemplateLookup
from coalmine.metrics.templating import TemplateContext, render

__all__ = [
    "MESHES",
    "PROVIDERS",
    "REQUEST_RATE",
    "CredentialSource",
    "Credentials",
    "EnvCredentialSource",
    "FileCredentialSource",
    "InMemoryTemplates",
    "MeasurerSettings",
    "MetricMeasurer",
    "Point",
    "PrometheusProvider",
    "PrometheusServer",
    "ProviderFactory",
    "ProviderSettings",
    "QueryPlan",
    "QueryResult",
    "Role",
    "ScrapeTarget",
    "Series",
    "StaticCredentialSource",
    "TemplateContext",
    "TemplateLookup",
    "builtin_query",
    "create_provider",
    "render",
    "to_measurement",
]
