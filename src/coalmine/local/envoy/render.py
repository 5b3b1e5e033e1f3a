"""Turn a `DataPlane` into Envoy's xDS resources and bootstraps: pure functions, no I/O.

Layout: clusters go to CDS, listeners to LDS, and each listener's routes to its own RDS
resource named after the listener (so a weight change touches only RDS, which Envoy
applies without draining connections). Resources are JSON-ready dicts in Envoy's v3 API.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from coalmine.local.envoy.model import (
    Cluster,
    DataPlane,
    Destination,
    HeaderOps,
    Listener,
    Mirror,
    Retries,
    Rewrite,
    Route,
    RouteMatch,
    StringMatch,
    VirtualHost,
)

__all__ = [
    "DURATION_BUCKETS_MS",
    "Rendered",
    "XdsPaths",
    "bootstrap",
    "render",
    "validation_bootstrap",
    "xds_file",
]

JSON = dict[str, Any]

DURATION_BUCKETS_MS = (
    0.5, 1, 2, 5, 10, 25, 50, 75, 100, 150, 200, 250, 300, 400, 500, 750,
    1000, 1500, 2000, 2500, 3000, 4000, 5000, 7500, 10000, 30000,
)  # fmt: skip
"""Bucket bounds of `cluster.<name>.upstream_rq_time`: fine enough for p99 and max checks."""

_TYPE = "type.googleapis.com/envoy."
CLUSTER_TYPE = _TYPE + "config.cluster.v3.Cluster"
LISTENER_TYPE = _TYPE + "config.listener.v3.Listener"
ROUTES_TYPE = _TYPE + "config.route.v3.RouteConfiguration"
_HCM_TYPE = _TYPE + "extensions.filters.network.http_connection_manager.v3.HttpConnectionManager"
_ROUTER_TYPE = _TYPE + "extensions.filters.http.router.v3.Router"
_CIRCUIT_BREAKERS = ("max_connections", "max_pending_requests", "max_requests", "max_retries")
_PREVIOUS_HOSTS = {
    "name": "envoy.retry_host_predicates.previous_hosts",
    "typed_config": {
        "@type": _TYPE + "extensions.retry.host.previous_hosts.v3.PreviousHostsPredicate"
    },
}
_UNLIMITED = 4294967295
"""Istio's circuit-breaker limits: Envoy's defaults (1024 requests, 3 retries) would turn
load into 503 overflows that no VirtualService asked for."""


@dataclass(frozen=True)
class XdsPaths:
    """Where the xDS files live. One directory per resource type: Envoy re-reads every
    file of a watched directory on any rename into it, so a route change then leaves
    the clusters and listeners alone."""

    root: Path

    @property
    def clusters_dir(self) -> Path:
        return self.root / "clusters"

    @property
    def listeners_dir(self) -> Path:
        return self.root / "listeners"

    @property
    def routes_dir(self) -> Path:
        return self.root / "routes"

    @property
    def clusters(self) -> Path:
        return self.clusters_dir / "cds.json"

    @property
    def listeners(self) -> Path:
        return self.listeners_dir / "lds.json"

    def routes(self, listener: str) -> Path:
        return self.routes_dir / f"{listener}.json"


@dataclass(frozen=True)
class Rendered:
    """A DataPlane as Envoy resources, keyed by name."""

    clusters: Mapping[str, JSON]
    listeners: Mapping[str, JSON]
    routes: Mapping[str, JSON]
    """Route configuration per listener name."""


def render(plane: DataPlane, ports: Mapping[str, int], paths: XdsPaths) -> Rendered:
    """The Envoy resources for `plane`; `ports` gives the bound port of every listener."""
    return Rendered(
        clusters={c.name: _cluster(c) for c in plane.clusters},
        listeners={x.name: _listener(x, ports[x.name], paths) for x in plane.listeners},
        routes={x.name: _route_configuration(x) for x in plane.listeners},
    )


def xds_file(resources: Sequence[JSON]) -> JSON:
    """A DiscoveryResponse for a file; its version is a hash of the content, so that
    Envoy's `version_text` stat tells which content it has applied."""
    body = json.dumps(resources, sort_keys=True, separators=(",", ":"))
    version = hashlib.sha256(body.encode()).hexdigest()[:16]
    return {"version_info": version, "resources": list(resources)}


def bootstrap(paths: XdsPaths, stats_flush_interval: timedelta) -> JSON:
    """Envoy's start-up configuration: admin on a free loopback port, everything else
    read from the xDS files (clusters before listeners, as Envoy initialises them)."""
    return {
        **_common_bootstrap(stats_flush_interval),
        "dynamic_resources": {
            "cds_config": _file_source(paths.clusters),
            "lds_config": _file_source(paths.listeners),
        },
    }


def validation_bootstrap(rendered: Rendered, stats_flush_interval: timedelta) -> JSON:
    """The same resources as static configuration, for `envoy --mode validate`, which
    does not read dynamic resources. Routes are inlined into their listeners."""
    listeners = []
    for name, listener in rendered.listeners.items():
        inline = _strip_type(json.loads(json.dumps(listener)))
        hcm = inline["filter_chains"][0]["filters"][0]["typed_config"]
        del hcm["rds"]
        hcm["route_config"] = _strip_type(dict(rendered.routes[name]))
        listeners.append(inline)
    clusters = [_strip_type(dict(cluster)) for cluster in rendered.clusters.values()]
    return {
        **_common_bootstrap(stats_flush_interval),
        "static_resources": {"listeners": listeners, "clusters": clusters},
    }


def _common_bootstrap(stats_flush_interval: timedelta) -> JSON:
    return {
        "node": {"id": "coalmine-local", "cluster": "coalmine-local"},
        "admin": {"address": _address("127.0.0.1", 0)},
        "stats_flush_interval": _duration(stats_flush_interval),
        "stats_config": {
            "histogram_bucket_settings": [
                {
                    "match": {"safe_regex": {"regex": r"^cluster\..*\.upstream_rq_time$"}},
                    "buckets": list(DURATION_BUCKETS_MS),
                }
            ]
        },
    }


def _strip_type(resource: JSON) -> JSON:
    resource.pop("@type", None)
    return resource


def _file_source(path: Path) -> JSON:
    return {
        "resource_api_version": "V3",
        "path_config_source": {"path": str(path), "watched_directory": {"path": str(path.parent)}},
    }


def _address(host: str, port: int) -> JSON:
    return {"socket_address": {"address": host, "port_value": port}}


def _duration(value: timedelta) -> str:
    return f"{value.total_seconds():.3f}s"


def _cluster(cluster: Cluster) -> JSON:
    endpoints = [{"endpoint": {"address": _address(e.host, e.port)}} for e in cluster.endpoints]
    limits = dict.fromkeys(_CIRCUIT_BREAKERS, _UNLIMITED)
    return {
        "@type": CLUSTER_TYPE,
        "name": cluster.name,
        "type": "STATIC",
        "connect_timeout": _duration(cluster.connect_timeout),
        "circuit_breakers": {"thresholds": [limits]},
        "load_assignment": {
            "cluster_name": cluster.name,
            "endpoints": [{"lb_endpoints": endpoints}],
        },
    }


def _listener(listener: Listener, port: int, paths: XdsPaths) -> JSON:
    manager = {
        "@type": _HCM_TYPE,
        "stat_prefix": listener.name,
        "strip_any_host_port": True,
        "rds": {
            "route_config_name": listener.name,
            "config_source": _file_source(paths.routes(listener.name)),
        },
        "http_filters": [
            {"name": "envoy.filters.http.router", "typed_config": {"@type": _ROUTER_TYPE}}
        ],
    }
    chain = {"name": "envoy.filters.network.http_connection_manager", "typed_config": manager}
    return {
        "@type": LISTENER_TYPE,
        "name": listener.name,
        "address": _address(listener.host, port),
        "filter_chains": [{"filters": [chain]}],
    }


def _route_configuration(listener: Listener) -> JSON:
    return {
        "@type": ROUTES_TYPE,
        "name": listener.name,
        "validate_clusters": True,
        "virtual_hosts": [_virtual_host(host) for host in listener.virtual_hosts],
    }


def _virtual_host(host: VirtualHost) -> JSON:
    return {
        "name": host.name,
        "domains": list(host.domains),
        "routes": [entry for route in host.routes for entry in _routes(route)],
    }


def _routes(route: Route) -> list[JSON]:
    """One Envoy route per match (Envoy ANDs within a match; a Route ORs its matches)."""
    action = _route_action(route)
    extra = {**_header_ops(route.headers), **_header_ops(route.response_headers, "response")}
    matches = route.matches or (RouteMatch(),)
    return [
        {"name": route.name, "match": _match(match), "route": action, **extra} for match in matches
    ]


def _route_action(route: Route) -> JSON:
    action: JSON = {
        "weighted_clusters": {"clusters": [_destination(d) for d in route.destinations]},
        "timeout": _duration(route.timeout) if route.timeout is not None else "0s",
    }
    if route.mirror is not None:
        action["request_mirror_policies"] = [_mirror(route.mirror)]
    if route.retries is not None:
        action["retry_policy"] = _retry_policy(route.retries)
    if route.rewrite is not None:
        action.update(_rewrite(route.rewrite))
    return action


def _rewrite(rewrite: Rewrite) -> JSON:
    """Envoy's RouteAction rewrites: host_rewrite_literal, and regex_rewrite (applied to
    the path without its query string)."""
    fields: JSON = {}
    if rewrite.host is not None:
        fields["host_rewrite_literal"] = rewrite.host
    if rewrite.path_pattern is not None:
        pattern = {"regex": rewrite.path_pattern}
        fields["regex_rewrite"] = {"pattern": pattern, "substitution": rewrite.path_substitution}
    return fields


def _destination(destination: Destination) -> JSON:
    return {
        "name": destination.cluster,
        "weight": destination.weight,
        **_header_ops(destination.headers),
        **_header_ops(destination.response_headers, "response"),
    }


def _mirror(mirror: Mirror) -> JSON:
    fraction = {"numerator": round(mirror.percent * 10_000), "denominator": "MILLION"}
    return {"cluster": mirror.cluster, "runtime_fraction": {"default_value": fraction}}


def _retry_policy(retries: Retries) -> JSON:
    """As Istio renders it: a retry goes to another host when there is one."""
    policy: JSON = {
        "retry_on": retries.retry_on,
        "num_retries": retries.attempts,
        "retry_host_predicate": [_PREVIOUS_HOSTS],
        "host_selection_retry_max_attempts": 5,
    }
    if retries.retriable_status_codes:
        policy["retriable_status_codes"] = list(retries.retriable_status_codes)
    if retries.per_try_timeout is not None:
        policy["per_try_timeout"] = _duration(retries.per_try_timeout)
    return policy


def _match(match: RouteMatch) -> JSON:
    rendered = _path_match(match.path)
    if match.headers:
        rendered["headers"] = [
            {"name": h.name.lower(), "string_match": _string_match(h.match)} for h in match.headers
        ]
    if match.query:
        rendered["query_parameters"] = [
            {"name": q.name, "string_match": _string_match(q.match)} for q in match.query
        ]
    return rendered


def _path_match(path: StringMatch | None) -> JSON:
    if path is None:
        return {"prefix": "/"}
    if path.kind == "regex":
        return {"safe_regex": {"regex": path.value}}
    if path.kind == "segments":
        return {"path_separated_prefix": path.value}
    return {"path" if path.kind == "exact" else "prefix": path.value}


def _string_match(match: StringMatch) -> JSON:
    if match.kind == "regex":
        return {"safe_regex": {"regex": match.value}}
    return {match.kind: match.value}


def _header_ops(ops: HeaderOps, side: str = "request") -> JSON:
    """Envoy's request (or response) header fields; `set` overwrites, `add` appends."""
    if ops.is_empty():
        return {}
    adds = [
        _header_value(name, value, "OVERWRITE_IF_EXISTS_OR_ADD") for name, value in ops.set.items()
    ]
    adds += [
        _header_value(name, value, "APPEND_IF_EXISTS_OR_ADD") for name, value in ops.add.items()
    ]
    rendered: JSON = {}
    if adds:
        rendered[f"{side}_headers_to_add"] = adds
    if ops.remove:
        rendered[f"{side}_headers_to_remove"] = [name.lower() for name in ops.remove]
    return rendered


def _header_value(name: str, value: str, action: str) -> JSON:
    return {"header": {"key": name.lower(), "value": value}, "append_action": action}
