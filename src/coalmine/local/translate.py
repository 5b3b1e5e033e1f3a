"""From the objects users know (Service, Gateway, VirtualService, DestinationRule, and the
Gateway API's Gateway and HTTPRoute) to Envoy.

One gateway listener serves everything:
- every VirtualService bound to an existing Gateway answers for its hosts;
- every HTTPRoute attached to an existing Gateway API Gateway answers for its hostnames
  (see `local.http_routes`);
- a VirtualService bound to the mesh (no gateways, or `mesh`) answers for its hosts in
  their in-cluster forms (`svc`, `svc.ns`, `svc.ns.svc`, `svc.ns.svc.cluster.local`),
  which is how the mesh would route them;
- every Service not claimed by a VirtualService answers for its own in-cluster names,
  so that `Host: go-demo-7-canary` reaches the canary directly (load tests, blue/green).
A domain belongs to the first object that claims it (VirtualServices before HTTPRoutes
before Services, then by namespace and name); a later claim is dropped with a warning.
HTTPRoutes sharing a hostname are merged, as the Gateway API specifies.

Clusters: one per Service (`{namespace}_{service}`) and one per DestinationRule subset
(`{namespace}_{service}_{subset}`), with the ready replicas whose labels match.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import timedelta

from coalmine.api import gatewayapi
from coalmine.api.common import parse_duration
from coalmine.api.istio import Headers, HTTPMatchRequest, HTTPRetry
from coalmine.api.istio import StringMatch as IstioMatch
from coalmine.api.networking import (
    Destination as IstioDestination,
)
from coalmine.api.networking import (
    DestinationRule,
    Gateway,
    HTTPRoute,
    VirtualService,
)
from coalmine.api.workloads import Service
from coalmine.local.envoy import (
    GATEWAY,
    ISTIO_DEFAULT_RETRIES,
    Cluster,
    DataPlane,
    Destination,
    Endpoint,
    HeaderMatch,
    HeaderOps,
    Listener,
    Mirror,
    Retries,
    Route,
    RouteMatch,
    StringMatch,
    VirtualHost,
    cluster_name,
)
from coalmine.local.http_routes import backend_port_selections, http_route_hosts
from coalmine.local.objects import host_service_name

__all__ = [
    "Objects",
    "Selection",
    "Translation",
    "in_cluster_names",
    "retry_policy",
    "selections",
    "translate",
]

EndpointsOf = Callable[[str, dict[str, str], int | str], list[tuple[str, int]]]
"""(namespace, selector, target port) -> the (host, port) of every ready matching replica."""
Selection = tuple[str, dict[str, str], int | str]
"""The replicas behind one Envoy cluster: (namespace, selector, target port)."""


@dataclass(frozen=True)
class Objects:
    services: Sequence[Service] = ()
    gateways: Sequence[Gateway] = ()
    virtual_services: Sequence[VirtualService] = ()
    destination_rules: Sequence[DestinationRule] = ()
    gateway_api_gateways: Sequence[gatewayapi.Gateway] = ()
    http_routes: Sequence[gatewayapi.HTTPRoute] = ()
    reference_grants: Sequence[gatewayapi.ReferenceGrant] = ()


@dataclass
class Translation:
    plane: DataPlane
    warnings: list[str] = field(default_factory=list)


def in_cluster_names(name: str, namespace: str) -> tuple[str, ...]:
    return (
        name,
        f"{name}.{namespace}",
        f"{name}.{namespace}.svc",
        f"{name}.{namespace}.svc.cluster.local",
    )


def translate(objects: Objects, endpoints: EndpointsOf, host: str, port: int) -> Translation:
    """The data plane for these objects, with warnings for what could not be served."""
    warnings: list[str] = []
    clusters = _clusters(objects, endpoints)
    known = {c.name for c in clusters}
    claimed: set[str] = set()
    hosts: list[VirtualHost] = []
    for vs in sorted(objects.virtual_services, key=_key):
        domains = _domains(vs, objects.gateways, warnings)
        virtual_host = _virtual_host(vs, _claim(domains, claimed, vs, warnings), known, warnings)
        if virtual_host is not None:
            hosts.append(virtual_host)
    hosts += http_route_hosts(
        objects.http_routes,
        objects.gateway_api_gateways,
        claimed,
        known,
        warnings,
        grants=objects.reference_grants,
    )
    for service in sorted(objects.services, key=_key):
        ns, name = service.metadata.namespace, service.metadata.name
        domains = [d for d in in_cluster_names(name, ns) if d not in claimed]
        claimed.update(domains)
        if domains:
            destination = Destination(cluster_name(ns, name), 100)
            route = Route(f"svc_{ns}_{name}", (destination,), retries=ISTIO_DEFAULT_RETRIES)
            hosts.append(VirtualHost(f"svc_{ns}_{name}", tuple(domains), (route,)))
    listener = Listener(GATEWAY, tuple(hosts), host, port)
    return Translation(DataPlane((listener,), tuple(clusters)), warnings)


def _key(resource: Service | VirtualService) -> tuple[str, str]:
    return (resource.metadata.namespace, resource.metadata.name)


def _clusters(objects: Objects, endpoints: EndpointsOf) -> list[Cluster]:
    return [
        Cluster(name, tuple(Endpoint(h, p) for h, p in endpoints(ns, selector, target)))
        for name, (ns, selector, target) in _selections(objects)
    ]


def selections(objects: Objects) -> dict[str, Selection]:
    """Which replicas each Envoy cluster sends to, by cluster name."""
    return dict(_selections(objects))


def _selections(objects: Objects) -> list[tuple[str, Selection]]:
    """One cluster per Service, and one per subset of a DestinationRule on a Service (its
    selector with the subset's labels)."""
    found: list[tuple[str, Selection]] = []
    services = {(s.metadata.namespace, s.metadata.name): s for s in objects.services}
    for (ns, name), service in sorted(services.items()):
        target = service.spec.ports[0].target_port or service.spec.ports[0].port
        found.append((cluster_name(ns, name), (ns, dict(service.spec.selector), target)))
    for rule in objects.destination_rules:
        ns, name = host_service_name(rule.spec.host, rule.metadata.namespace)
        owner = services.get((ns, name))
        if owner is None:
            continue
        target = owner.spec.ports[0].target_port or owner.spec.ports[0].port
        for subset in rule.spec.subsets:
            selector = {**owner.spec.selector, **subset.labels}
            found.append((cluster_name(ns, name, subset.name), (ns, selector, target)))
    found += backend_port_selections(objects.http_routes, objects.services)
    return found


def _domains(vs: VirtualService, gateways: Sequence[Gateway], warnings: list[str]) -> list[str]:
    ns = vs.metadata.namespace
    bound = vs.spec.gateways or ["mesh"]
    existing = {(g.metadata.namespace, g.metadata.name) for g in gateways}
    domains: list[str] = []
    for gateway in bound:
        if gateway == "mesh":
            for host in vs.spec.hosts:
                name, _, rest = host.partition(".")
                domains += in_cluster_names(name, rest.split(".")[0] if rest else ns)
            continue
        gw_ns, _, gw_name = gateway.rpartition("/")
        if (gw_ns or ns, gw_name) not in existing:
            warnings.append(f"virtualservice {ns}/{vs.metadata.name}: gateway {gateway} not found")
            continue
        domains += vs.spec.hosts
    return list(dict.fromkeys(domains))


def _claim(
    domains: list[str], claimed: set[str], vs: VirtualService, warnings: list[str]
) -> list[str]:
    taken = [d for d in domains if d in claimed]
    if taken:
        warnings.append(
            f"virtualservice {vs.metadata.namespace}/{vs.metadata.name}: hosts {taken} are"
            " already served by another VirtualService"
        )
    free = [d for d in domains if d not in claimed]
    claimed.update(free)
    return free


def _virtual_host(
    vs: VirtualService, domains: list[str], known: set[str], warnings: list[str]
) -> VirtualHost | None:
    if not domains:
        return None
    ns, name = vs.metadata.namespace, vs.metadata.name
    routes = []
    for index, http in enumerate(vs.spec.http):
        route = _route(http, f"vs_{ns}_{name}_{index}", ns, known, warnings)
        if route is not None:
            routes.append(route)
    return VirtualHost(f"vs_{ns}_{name}", tuple(domains), tuple(routes))


def _route(
    http: HTTPRoute, name: str, ns: str, known: set[str], warnings: list[str]
) -> Route | None:
    destinations = []
    for target in http.route:
        cluster = _cluster_of(target.destination, ns)
        weight = target.weight if target.weight is not None else 100
        headers = _header_ops(target.headers)
        answers = _header_ops(target.headers, response=True)
        destinations.append(Destination(cluster, weight, headers, answers))
    missing = [d.cluster for d in destinations if d.cluster not in known]
    if missing:
        warnings.append(f"route {name}: no cluster for {missing}; route left out")
        return None
    mirror = None
    if http.mirror is not None:
        percent = http.mirror_percentage.value if http.mirror_percentage else 100.0
        mirror = Mirror(_cluster_of(http.mirror, ns), percent)
        if mirror.cluster not in known:
            warnings.append(f"route {name}: no cluster {mirror.cluster} to mirror to; not mirrored")
            mirror = None
    for unused in ("rewrite", "cors_policy"):
        if getattr(http, unused) is not None:
            warnings.append(f"route {name}: {unused} is not applied by the local runtime")
    return Route(
        name=name,
        destinations=tuple(destinations),
        matches=tuple(_match(m) for m in http.match or ()),
        headers=_header_ops(http.headers),
        response_headers=_header_ops(http.headers, response=True),
        mirror=mirror,
        timeout=parse_duration(http.timeout) if http.timeout else None,
        retries=retry_policy(http.retries),
    )


def _cluster_of(destination: IstioDestination, ns: str) -> str:
    service_ns, service = host_service_name(destination.host, ns)
    return cluster_name(service_ns, service, destination.subset)


def _match(match: HTTPMatchRequest) -> RouteMatch:
    headers = tuple(
        HeaderMatch(name, _string(value)) for name, value in sorted((match.headers or {}).items())
    )
    return RouteMatch(path=_string(match.uri) if match.uri else None, headers=headers)


def _string(match: IstioMatch) -> StringMatch:
    return StringMatch(match.kind, match.value)  # type: ignore[arg-type]


def _header_ops(headers: Headers | None, *, response: bool = False) -> HeaderOps:
    """The request (or, with `response`, the answer) header changes of a route."""
    ops = (headers.response if response else headers.request) if headers else None
    if ops is None:
        return HeaderOps()
    return HeaderOps(
        set=dict(ops.set or {}), add=dict(ops.add or {}), remove=tuple(ops.remove or ())
    )


def retry_policy(retries: HTTPRetry | None) -> Retries | None:
    """Istio's conversion (pilot's `retry.ConvertPolicy`): no `retries` is Istio's default
    policy, `attempts: 0` turns retries off, and numbers in `retryOn` are status codes to
    retry (adding `retriable-status-codes` when it is not named)."""
    if retries is None:
        return ISTIO_DEFAULT_RETRIES
    if retries.attempts == 0:
        return None
    per_try: timedelta | None = (
        parse_duration(retries.per_try_timeout) if retries.per_try_timeout else None
    )
    if not retries.retry_on:
        return replace(ISTIO_DEFAULT_RETRIES, attempts=retries.attempts, per_try_timeout=per_try)
    parts = [part.strip() for part in retries.retry_on.split(",") if part.strip()]
    codes = tuple(int(part) for part in parts if part.isdigit())
    conditions = [part for part in parts if not part.isdigit()]
    if codes and "retriable-status-codes" not in conditions:
        conditions.append("retriable-status-codes")
    return Retries(retries.attempts, per_try, ",".join(conditions), codes)
