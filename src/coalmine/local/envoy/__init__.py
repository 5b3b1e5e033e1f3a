"""The local data plane: a real Envoy, configured and supervised from Python.

    DataPlane (model)  --apply-->  EnvoyDataPlane  --xDS files-->  envoy (supervised)
                                        |                              |
                                   StatsCollector  <--/stats/prometheus-+

Build a `DataPlane` (listeners, virtual hosts, routes, clusters); `EnvoyDataPlane.apply`
validates it (the model, then Envoy itself) and swaps it in without dropping requests.
`EnvoyDataPlane.metrics.window(cluster)` gives a cluster's request count, rate, 5xx,
success rate and durations over a window, from Envoy's own counters.
"""

from coalmine.local.envoy.collector import StatsCollector
from coalmine.local.envoy.dataplane import EnvoyDataPlane
from coalmine.local.envoy.model import (
    GATEWAY,
    ISTIO_DEFAULT_RETRIES,
    ISTIO_RETRY_ON,
    Cluster,
    DataPlane,
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
from coalmine.local.envoy.render import DURATION_BUCKETS_MS
from coalmine.local.envoy.settings import EnvoySettings
from coalmine.local.envoy.supervisor import EnvoySupervisor
from coalmine.metrics.providers.envoy.stats import ClusterWindow, Histogram

__all__ = [
    "DURATION_BUCKETS_MS",
    "GATEWAY",
    "ISTIO_DEFAULT_RETRIES",
    "ISTIO_RETRY_ON",
    "Cluster",
    "ClusterWindow",
    "DataPlane",
    "Destination",
    "Endpoint",
    "EnvoyDataPlane",
    "EnvoySettings",
    "EnvoySupervisor",
    "HeaderMatch",
    "HeaderOps",
    "Histogram",
    "Listener",
    "Mirror",
    "Retries",
    "Rewrite",
    "Route",
    "RouteMatch",
    "StatsCollector",
    "StringMatch",
    "VirtualHost",
    "cluster_name",
]
