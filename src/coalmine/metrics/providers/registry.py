"""Provider type names (MetricTemplate `spec.provider.type`) and what implements them."""

from __future__ import annotations

from collections.abc import Mapping

from coalmine.errors import NotFound
from coalmine.metrics.providers.base import MetricProvider, ProviderFactory, ProviderSettings
from coalmine.metrics.providers.prometheus import PrometheusProvider

__all__ = ["PROVIDERS", "create_provider"]

PROVIDERS: Mapping[str, ProviderFactory] = {
    "prometheus": PrometheusProvider,
}
"""Every provider type coalmine can query, by the name a MetricTemplate uses."""


def create_provider(
    kind: str, settings: ProviderSettings, *, providers: Mapping[str, ProviderFactory] = PROVIDERS
) -> MetricProvider:
    """A provider of type `kind`; an unknown type is an error that lists the known ones."""
    factory = providers.get(kind)
    if factory is None:
        raise NotFound(
            f"metrics provider type {kind!r} is not supported; supported: {', '.join(providers)}"
        )
    return factory(settings)
