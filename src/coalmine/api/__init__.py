"""The resource models: Canary, MetricTemplate, AlertProvider, and how YAML becomes them."""

from coalmine.api.alert_provider import AlertProvider, AlertProviderSpec
from coalmine.api.canary import (
    BUILTIN_METRICS,
    AlertSeverity,
    Canary,
    CanaryAlert,
    CanaryAnalysis,
    CanaryCondition,
    CanaryMetric,
    CanaryService,
    CanarySpec,
    CanaryStatus,
    CanaryWebhook,
    HookType,
    Phase,
    ThresholdRange,
)
from coalmine.api.common import Model, ObjectMeta, parse_duration
from coalmine.api.loading import (
    CUSTOM_RESOURCES,
    Kind,
    LoadedFile,
    load_file,
    load_text,
    parse_resource,
)
from coalmine.api.metric_template import MetricTemplate, MetricTemplateSpec

__all__ = [
    "BUILTIN_METRICS",
    "CUSTOM_RESOURCES",
    "AlertProvider",
    "AlertProviderSpec",
    "AlertSeverity",
    "Canary",
    "CanaryAlert",
    "CanaryAnalysis",
    "CanaryCondition",
    "CanaryMetric",
    "CanaryService",
    "CanarySpec",
    "CanaryStatus",
    "CanaryWebhook",
    "HookType",
    "Kind",
    "LoadedFile",
    "MetricTemplate",
    "MetricTemplateSpec",
    "Model",
    "ObjectMeta",
    "Phase",
    "ThresholdRange",
    "load_file",
    "load_text",
    "parse_duration",
    "parse_resource",
]
