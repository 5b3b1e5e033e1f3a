"""Gateway API HTTPRoutes, bound to Gateways by their parentRefs, as Envoy virtual hosts.

The rules follow the Gateway API specification (gateway.networking.k8s.io/v1):
- a route answers for the intersection of its `hostnames` with the hostnames of the
  listeners it attaches to (by `parentRefs`, narrowed by `sectionName` and `port`);
  no hostname on either side means any, and `*.example.com` matches any subdomain,
  as Envoy's suffix wildcard does;
- a listener takes routes from its own namespace unless `allowedRoutes.namespaces.from`
  is `All`;
- every match of every rule is one Envoy route, ordered by the specification's
  precedence (exact path, then the longest prefix, then a method, then the most header,
  then query parameter matches; `method` is matched as Envoy's `:method` pseudo-header),
  ties
  broken by the route's namespace/name (the specification's oldest-first is not kept:
  the store has no creation time) and the rule's and match's order; HTTPRoutes sharing
  a hostname are merged that way, as the specification asks;
- `PathPrefix` matches whole path segments (`/demo` matches `/demo` and `/demo/x`, not
  `/demos`): Envoy's path_separated_prefix;
- backend weights are relative (default 1) and become percentages summing to 100;
- `timeouts.request` is the route's timeout (`0s`: none) and `timeouts.backendRequest`
  bounds it too, since a route without a retry policy tries each backend once.
- a backendRef to another namespace is served when a ReferenceGrant there allows it
  (`gateway_api_checks.granted`), else its rule is left out, as for a missing Service;
- a backendRef to a Service port other than its first is an Envoy cluster of its own,
  `{namespace}_{service}__{port}` (`port_cluster_name`; the `{namespace}_{service}`
  cluster, which the canary's metrics read, is the first port's);
- the `URLRewrite` filter of a rule rewrites the Host header (`hostname`) and the path:
  `ReplaceFullPath` replaces the whole path, `ReplacePrefixMatch` the part the rule's
  PathPrefix matched, by whole segments with a trailing `/` ignored, as the
  specification's table says (`/foo/bar` under `/foo` with `/xyz` or `/xyz/` is
  `/xyz/bar`, with an empty replacement `/bar`; `/foo` with `/` is `/`), through Envoy's
  regex_rewrite (the query is kept).
What the local data plane cannot do is refused by `local.objects` when applied; objects
stored before are served without it, with a warning.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import timedelta

from coalmine.api.common import parse_duration
from coalmine.api.gatewayapi import (
    GATEWAY_API_GROUP,
    BackendObjectReference,
    Gateway,
    HTTPHeaderFilter,
    HTTPRoute,
    HTTPRouteFilter,
    HTTPRouteMatch,
    HTTPRouteRule,
    Listener,
    ParentReference,
    ReferenceGrant,
)
from coalmine.api.workloads import Service
from coalmine.local.envoy import (
    Destination,
    HeaderMatch,
    HeaderOps,
    Mirror,
    Rewrite,
    Route,
    RouteMatch,
    StringMatch,
    VirtualHost,
    cluster_name,
)
from coalmine.local.gateway_api_checks import granted

__all__ = [
    "backend_port_selections",
    "http_route_hosts",
    "port_cluster_name",
    "prefix_rewrite",
    "route_domains",
    "weights_in_percent",
]


_GATEWAY = (GATEWAY_API_GROUP, "Gateway")


@dataclass(frozen=True)
class _Entry:
    """One match of one rule: an Envoy route, and where it sorts among the others."""

    order: tuple[object, ...]
    route: Route


def http_route_hosts(
    routes: Sequence[HTTPRoute],
    gateways: Sequence[Gateway],
    claimed: set[str],
    known: set[str],
    warnings: list[str],
    *,
    grants: Sequence[ReferenceGrant] = (),
) -> list[VirtualHost]:
    """The virtual hosts of every HTTPRoute attached to an existing Gateway. A hostname
    already in `claimed` (a VirtualService's) is left to its owner, with a warning.
    `grants`: the ReferenceGrants, for backends in other namespaces."""
    by_domain: dict[str, list[_Entry]] = {}
    owners: dict[str, str] = {}
    for rank, route in enumerate(sorted(routes, key=_key)):
        ns, name = route.metadata.namespace, route.metadata.name
        domains = route_domains(route, gateways, warnings)
        taken = [d for d in domains if d in claimed]
        if taken:
            warnings.append(
                f"httproute {ns}/{name}: hostnames {taken} are already served by a VirtualService"
            )
        entries = _entries(route, rank, _Clusters(known, grants), warnings)
        if not entries:  # every rule left out, with its warning: nothing to serve
            continue
        for domain in domains:
            if domain not in claimed:
                by_domain.setdefault(domain, []).extend(entries)
                owners.setdefault(domain, f"hr_{ns}_{name}")
    claimed.update(by_domain)
    return _group(by_domain, owners)


def _group(by_domain: dict[str, list[_Entry]], owners: dict[str, str]) -> list[VirtualHost]:
    """One virtual host per set of routes: domains served by the same rules share one."""
    groups: dict[tuple[str, ...], tuple[tuple[Route, ...], list[str]]] = {}
    for domain, entries in by_domain.items():
        ordered = tuple(e.route for e in sorted(entries, key=lambda e: e.order))
        key = tuple(route.name for route in ordered)  # unique per match of a rule
        groups.setdefault(key, (ordered, []))[1].append(domain)
    hosts: list[VirtualHost] = []
    names: set[str] = set()
    for routes, domains in groups.values():
        name = owners[domains[0]]
        suffix = 1
        while name in names:
            suffix += 1
            name = f"{owners[domains[0]]}_{suffix}"
        names.add(name)
        hosts.append(VirtualHost(name, tuple(domains), routes))
    return hosts


def _key(route: HTTPRoute) -> tuple[str, str]:
    return (route.metadata.namespace, route.metadata.name)


# Hostnames ---------------------------------------------------------------------------


def route_domains(route: HTTPRoute, gateways: Sequence[Gateway], warnings: list[str]) -> list[str]:
    """The hostnames `route` answers for through the listeners its parentRefs attach it to."""
    ns, name = route.metadata.namespace, route.metadata.name
    found = {(g.metadata.namespace, g.metadata.name): g for g in gateways}
    domains: list[str] = []
    for index, parent in enumerate(route.spec.parent_refs or []):
        where = f"httproute {ns}/{name}: parentRefs[{index}]"
        group = GATEWAY_API_GROUP if parent.group is None else parent.group
        if (group, parent.kind or "Gateway") != _GATEWAY:
            warnings.append(f"{where}: only Gateway parents are served locally; left out")
            continue
        gateway = found.get((parent.namespace or ns, parent.name))
        if gateway is None:
            warnings.append(f"{where}: gateway {parent.namespace or ns}/{parent.name} not found")
            continue
        listeners = _listeners(gateway, parent, ns)
        if not listeners:
            warnings.append(f"{where}: no listener of gateway {parent.name} accepts this route")
        for listener in listeners:
            domains += _intersect(listener.hostname, route.spec.hostnames or [])
    return list(dict.fromkeys(domains))


def _listeners(gateway: Gateway, parent: ParentReference, route_namespace: str) -> list[Listener]:
    chosen = []
    for listener in gateway.spec.listeners:
        if parent.section_name is not None and listener.name != parent.section_name:
            continue
        if parent.port is not None and listener.port != parent.port:
            continue
        if listener.protocol != "HTTP":
            continue
        if not _allows(listener, gateway.metadata.namespace, route_namespace):
            continue
        chosen.append(listener)
    return chosen


def _allows(listener: Listener, gateway_namespace: str, route_namespace: str) -> bool:
    allowed = listener.allowed_routes
    namespaces = allowed.namespaces if allowed is not None else None
    source = (namespaces.from_ if namespaces is not None else None) or "Same"
    return source == "All" or (source == "Same" and route_namespace == gateway_namespace)


def _intersect(listener: str | None, hostnames: Iterable[str]) -> list[str]:
    """The specification's hostname intersection of one listener with a route."""
    names = list(hostnames)
    if listener is None:
        return names or ["*"]
    if not names:
        return [listener]
    found = []
    for name in names:
        if name == listener or _covers(listener, name):
            found.append(name)
        elif _covers(name, listener):
            found.append(listener)
    return found


def _covers(pattern: str, name: str) -> bool:
    """Whether the wildcard `pattern` (`*.example.com`) matches `name` (which may itself
    be a narrower wildcard)."""
    return pattern.startswith("*.") and name.endswith(pattern[1:]) and name != pattern[2:]


# Rules -------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Clusters:
    """What a route's backends can be sent to: the clusters that exist, and the grants
    that let a route reach a Service of another namespace."""

    known: set[str]
    grants: Sequence[ReferenceGrant]

    def of(self, ref: BackendObjectReference, ns: str) -> str | None:
        """The cluster for `ref` from a route of `ns`; None when the route may not use it."""
        if not granted(ns, ref, self.grants):
            return None
        service_ns = ref.namespace or ns
        if ref.port is not None and port_cluster_name(service_ns, ref.name, ref.port) in self.known:
            return port_cluster_name(service_ns, ref.name, ref.port)
        return cluster_name(service_ns, ref.name)


def _entries(route: HTTPRoute, rank: int, clusters: _Clusters, warnings: list[str]) -> list[_Entry]:
    ns, name = route.metadata.namespace, route.metadata.name
    entries = []
    for r, rule in enumerate(route.spec.rules or []):
        base = _rule_route(rule, f"hr_{ns}_{name}_{r}", ns, clusters, warnings)
        if base is None:
            continue
        for m, match in enumerate(rule.matches or [None]):
            envoy_match = _match(match)
            entry = replace(
                base,
                name=f"{base.name}_{m}",
                matches=(envoy_match,),
                retries=None,
                rewrite=_rewrite(rule.filters, match),
            )
            entries.append(_Entry((*_precedence(envoy_match, match), rank, r, m), entry))
    return entries


def _precedence(envoy: RouteMatch, match: HTTPRouteMatch | None) -> tuple[object, ...]:
    """Exact paths first, then regexes, then prefixes, longer before shorter; then a
    method match before none; then more header matches before fewer, then more query
    parameter matches (the specification's order, with Envoy Gateway's place for regexes,
    which it leaves open)."""
    kind = _PATH_RANK[_path_type(match)]
    value = match.path.value if match is not None and match.path is not None else "/"
    method = 0 if match is not None and match.method is not None else 1
    headers = [h for h in envoy.headers if h.name != ":method"]
    return (kind, -len(value), method, -len(headers), -len(envoy.query))


_PATH_RANK = {"Exact": 0, "RegularExpression": 1, "PathPrefix": 2}


def _path_type(match: HTTPRouteMatch | None) -> str:
    if match is None or match.path is None:
        return "PathPrefix"
    return match.path.type


def _rule_route(
    rule: HTTPRouteRule, name: str, ns: str, known: _Clusters, warnings: list[str]
) -> Route | None:
    refs = list(rule.backend_refs or [])
    found = [known.of(ref, ns) for ref in refs]
    refused = [f"{r.namespace}/{r.name}" for r, c in zip(refs, found, strict=True) if c is None]
    if refused:
        warnings.append(
            f"route {name}: no ReferenceGrant lets it use services {refused}; route left out"
        )
        return None
    clusters = [c for c in found if c is not None]
    missing = [c for c in clusters if c not in known.known]
    if not refs or missing:
        why = f"no cluster for {missing}" if missing else "no backendRefs"
        warnings.append(f"route {name}: {why}; route left out")
        return None
    weights = weights_in_percent([ref.weight for ref in refs])
    if weights is None:
        warnings.append(f"route {name}: every backendRef has weight 0; route left out")
        return None
    destinations = tuple(
        Destination(cluster, weight, _headers(ref.filters, "request"), _headers(ref.filters))
        for cluster, weight, ref in zip(clusters, weights, refs, strict=True)
    )
    return Route(
        name=name,
        destinations=destinations,
        headers=_headers(rule.filters, "request"),
        response_headers=_headers(rule.filters),
        mirror=_mirror(rule.filters, name, ns, known, warnings),
        rewrite=None,  # per match (the prefix it replaces): see _entries
        timeout=_timeout(rule),
    )


def port_cluster_name(namespace: str, service: str, port: int) -> str:
    """The cluster of a Service port other than its first: `{namespace}_{service}__{port}`
    (never a subset's name, whose parts are DNS labels, never empty)."""
    return f"{cluster_name(namespace, service)}__{port}"


def backend_port_selections(
    routes: Sequence[HTTPRoute], services: Sequence[Service]
) -> list[tuple[str, tuple[str, dict[str, str], int | str]]]:
    """The clusters for the Service ports other than the first that backendRefs (and
    mirrors) name: (cluster, (namespace, selector, target port)), each once."""
    by_key = {(s.metadata.namespace, s.metadata.name): s for s in services}
    found: dict[str, tuple[str, dict[str, str], int | str]] = {}
    for route in routes:
        ns = route.metadata.namespace
        for ref in _backend_refs(route):
            if (ref.group or "") != "" or (ref.kind or "Service") != "Service":
                continue
            service_ns = ref.namespace or ns
            service = by_key.get((service_ns, ref.name))
            if service is None or ref.port is None:
                continue
            ports = service.spec.ports
            for port in ports[1:]:
                if port.port == ref.port and port.port != ports[0].port:
                    target = port.target_port or port.port
                    selection = (service_ns, dict(service.spec.selector), target)
                    found[port_cluster_name(service_ns, ref.name, port.port)] = selection
    return sorted(found.items())


def _backend_refs(route: HTTPRoute) -> Iterable[BackendObjectReference]:
    for rule in route.spec.rules or []:
        yield from rule.backend_refs or []
        for item in rule.filters or []:
            if item.request_mirror is not None:
                yield item.request_mirror.backend_ref


def weights_in_percent(weights: Sequence[int]) -> list[int] | None:
    """Relative weights as whole percentages summing to 100 (largest remainders get the
    rounding); None when they are all 0."""
    total = sum(weights)
    if total <= 0:
        return None
    exact = [100 * w / total for w in weights]
    shares = [int(x) for x in exact]
    by_remainder = sorted(range(len(weights)), key=lambda i: exact[i] - shares[i], reverse=True)
    for i in by_remainder[: 100 - sum(shares)]:
        shares[i] += 1
    return shares


def _mirror(
    filters: Sequence[HTTPRouteFilter] | None,
    name: str,
    ns: str,
    known: _Clusters,
    warnings: list[str],
) -> Mirror | None:
    for item in filters or []:
        if item.type != "RequestMirror" or item.request_mirror is None:
            continue
        mirror = item.request_mirror
        cluster = known.of(mirror.backend_ref, ns)
        if cluster is None:
            warnings.append(f"route {name}: no ReferenceGrant lets it mirror; not mirrored")
            return None
        if cluster not in known.known:
            warnings.append(f"route {name}: no cluster {cluster} to mirror to; not mirrored")
            return None
        percent = 100.0
        if mirror.percent is not None:
            percent = float(mirror.percent)
        elif mirror.fraction is not None:
            percent = 100.0 * mirror.fraction.numerator / (mirror.fraction.denominator or 100)
        return Mirror(cluster, percent)
    return None


def _headers(filters: Sequence[HTTPRouteFilter] | None, which: str = "response") -> HeaderOps:
    """The RequestHeaderModifier (or ResponseHeaderModifier) of a rule or backend."""
    for item in filters or []:
        modifier: HTTPHeaderFilter | None = (
            item.request_header_modifier if which == "request" else item.response_header_modifier
        )
        if modifier is not None:
            return HeaderOps(
                set={h.name: h.value for h in modifier.set or []},
                add={h.name: h.value for h in modifier.add or []},
                remove=tuple(modifier.remove or ()),
            )
    return HeaderOps()


def _rewrite(
    filters: Sequence[HTTPRouteFilter] | None, match: HTTPRouteMatch | None
) -> Rewrite | None:
    """The rule's URLRewrite for the requests of one of its matches."""
    for item in filters or []:
        rewrite = item.url_rewrite
        if item.type != "URLRewrite" or rewrite is None:
            continue
        path = rewrite.path
        if path is None:
            return Rewrite(host=rewrite.hostname)
        if path.type == "ReplaceFullPath":
            full = _substitution(path.replace_full_path or "/")
            return Rewrite(host=rewrite.hostname, path_pattern="^/.*$", path_substitution=full)
        prefix = match.path.value if match is not None and match.path is not None else "/"
        pattern, substitution = prefix_rewrite(prefix, path.replace_prefix_match or "")
        return Rewrite(rewrite.hostname, pattern, substitution)
    return None


def prefix_rewrite(prefix: str, replacement: str) -> tuple[str, str]:
    """Envoy's regex_rewrite (RE2 pattern, substitution) for ReplacePrefixMatch: the path
    is the matched prefix (trailing `/` ignored) then the rest, empty or from a `/`."""
    matched = _re2_literal(prefix.rstrip("/"))
    kept = replacement.rstrip("/")
    if kept:
        return f"^{matched}(/.*)?$", _substitution(kept) + "\\1"
    return f"^{matched}/?(.*)$", "/\\1"  # an empty result is the root


def _re2_literal(text: str) -> str:
    return "".join(f"\\{char}" if char in _RE2_SPECIAL else char for char in text)


_RE2_SPECIAL = frozenset("\\.+*?()|[]{}^$")


def _substitution(text: str) -> str:
    """A literal for Envoy's substitution, where `\\N` names a group."""
    return text.replace("\\", "\\\\")


def _timeout(rule: HTTPRouteRule) -> timedelta | None:
    if rule.timeouts is None:
        return None
    found = [
        parse_duration(text)
        for text in (rule.timeouts.request, rule.timeouts.backend_request)
        if text is not None and parse_duration(text) > timedelta(0)
    ]
    return min(found) if found else None


# Matches -----------------------------------------------------------------------------


def _match(match: HTTPRouteMatch | None) -> RouteMatch:
    path = _path(match)
    if match is None:
        return RouteMatch(path=path)
    headers: dict[str, HeaderMatch] = {}
    for header in match.headers or []:
        key = header.name.lower()  # the first match of a name wins, as specified
        if key not in headers:
            headers[key] = HeaderMatch(header.name, _value(header.type, header.value))
    if match.method is not None:
        headers.setdefault(":method", HeaderMatch(":method", StringMatch.exact(match.method)))
    query: dict[str, HeaderMatch] = {}
    for param in match.query_params or []:  # names are exact here, the first one wins too
        query.setdefault(param.name, HeaderMatch(param.name, _value(param.type, param.value)))
    return RouteMatch(path=path, headers=tuple(headers.values()), query=tuple(query.values()))


def _value(kind: str, value: str) -> StringMatch:
    return StringMatch.regex(value) if kind == "RegularExpression" else StringMatch.exact(value)


def _path(match: HTTPRouteMatch | None) -> StringMatch:
    kind = _path_type(match)
    value = match.path.value if match is not None and match.path is not None else None
    value = value or "/"
    if kind == "Exact":
        return StringMatch.exact(value)
    if kind == "RegularExpression":
        return StringMatch.regex(value)
    trimmed = value.rstrip("/")
    return StringMatch.segments(trimmed) if trimmed else StringMatch.prefix("/")
