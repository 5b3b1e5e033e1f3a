"""The data-plane model: what the local Envoy should route, as plain frozen dataclasses.

It is independent of the API models. The integrator translates Gateway, VirtualService,
DestinationRule, Service and Deployment objects into it; this package turns it into
Envoy configuration. Building a `DataPlane` checks it as a whole (see `validation`), so
an inconsistent one never exists.

Cluster names follow `cluster_name()`: `{namespace}_{service}` or
`{namespace}_{service}_{subset}`. The metrics read per cluster, and the Prometheus
built-in queries, depend on that convention.
"""

from __future__ import annotations

from dataclasses import dataclass

from coalmine.local.envoy.parts import (
    GATEWAY,
    ISTIO_DEFAULT_RETRIES,
    ISTIO_RETRY_ON,
    Cluster,
    Destination,
    Endpoint,
    HeaderMatch,
    HeaderOps,
    Listener,
    Mirror,
    Retries,
    Rewrite,
    Route,
    RouteMatch,
    StringMatch,
    VirtualHost,
    cluster_name,
)
from coalmine.local.envoy.validation import check

__all__ = [
    "GATEWAY",
    "ISTIO_DEFAULT_RETRIES",
    "ISTIO_RETRY_ON",
    "Cluster",
    "DataPlane",
    "Destination",
    "Endpoint",
    "HeaderMatch",
    "HeaderOps",
    "Listener",
    "Mirror",
    "Retries",
    "Rewrite",
    "Route",
    "RouteMatch",
    "StringMatch",
    "VirtualHost",
    "cluster_name",
]


@dataclass(frozen=True)
class DataPlane:
    """Everything Envoy routes. Construction validates it and raises InvalidDataPlane."""

    listeners: tuple[Listener, ...] = ()
    clusters: tuple[Cluster, ...] = ()

    def __post_init__(self) -> None:
        check(self.listeners, self.clusters)

    def listener(self, name: str) -> Listener:
        for listener in self.listeners:
            if listener.name == name:
                return listener
        raise KeyError(f"no listener named {name!r}")
