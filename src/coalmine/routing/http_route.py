"""The HTTPRoute a Canary owns (Gateway API, `gateway.networking.k8s.io/v1`), as plain data:
built from weights, read back into weights.

Flagger's shape (pkg/router/gateway_api.go), for a Canary whose service is `podinfo`:

- `parentRefs`: `service.gatewayRefs`; `hostnames`: `service.hosts` (nothing added);
- one weighted rule: the service's matches (default: every path), the filters of
  `service.headers` (Request/ResponseHeaderModifier), `service.rewrite` (URLRewrite)
  and `service.mirror` (RequestMirror), `timeouts.request` from `service.timeout`
  (and, coalmine, `timeouts.backendRequest` from `service.backendTimeout`), and the
  backendRefs `podinfo-primary` and `podinfo-canary` (and `podinfo-baseline` with
  judge.baseline) weighted in percent;
- A/B testing: the weighted rule takes `analysis.match` (merged into the service's
  matches) and a second rule sends everyone else to the primary alone;
- mirroring: a RequestMirror filter to `podinfo-canary` on the weighted rule (with
  `percent` = mirrorWeight);
- session affinity (`routing.session_affinity`): during an analysis the canary's
  backendRef sets the canary cookie (a ResponseHeaderModifier filter of that backend)
  and a rule before the weighted one sends requests carrying it to the canary; with
  primaryCookieName the same for the primary; at weight 0 a rule expires the last
  analysis's cookie.

Sticky and A/B's everyone-else rules have one backendRef each; the weighted rule has
two or more, which is how `routes_of` tells them apart (Flagger's GetRoutes reads only
rules with two backendRefs).
"""

from __future__ import annotations

import copy
from typing import Any

from coalmine.api.canary import Canary
from coalmine.api.istio import Headers, HTTPMatchRequest, StringMatch
from coalmine.engine.observations import Routes
from coalmine.routing.session_affinity import (
    canary_cookie,
    cookie_match,
    cookie_to_expire,
    expired,
    primary_cookie,
    set_cookie,
)
from coalmine.routing.virtual_service import (
    baseline_host,
    canary_host,
    has_baseline,
    primary_host,
)

__all__ = [
    "COOKIE_HEADER",
    "http_route_spec",
    "routes_of",
    "to_route_matches",
    "unready_parents",
]

COOKIE_HEADER = "Cookie"
"""The request header session affinity's rules match (Flagger's `cookieHeader`)."""

_EVERY_PATH: dict[str, Any] = {"path": {"type": "PathPrefix", "value": "/"}}


def http_route_spec(canary: Canary, routes: Routes) -> dict[str, Any]:
    """The spec of the canary's HTTPRoute carrying `routes`."""
    service = canary.spec.service
    analysis = canary.spec.analysis
    spec: dict[str, Any] = {
        "parentRefs": [ref.to_manifest() for ref in service.gateway_refs or []],
    }
    if service.hosts:
        spec["hostnames"] = list(service.hosts)
    matches = to_route_matches(service.match) or [copy.deepcopy(_EVERY_PATH)]
    weighted = _rule(canary, matches, _backends(canary, routes))
    if routes.mirrored:
        mirror: dict[str, Any] = {"backendRef": _service_ref(canary, canary_host(canary))}
        if analysis.mirror_weight is not None:
            mirror["percent"] = analysis.mirror_weight
        weighted.setdefault("filters", []).append(
            {"type": "RequestMirror", "requestMirror": mirror}
        )
    if analysis.match:
        weighted["matches"] = _merge(to_route_matches(analysis.match), matches)
        everyone = _rule(canary, matches, [_backend(canary, primary_host(canary), 100)])
        spec["rules"] = [weighted, everyone]
    elif analysis.session_affinity is not None:
        spec["rules"] = [*_sticky_rules(canary, routes, weighted, matches), weighted]
    else:
        spec["rules"] = [weighted]
    return spec


def routes_of(canary: Canary, spec: dict[str, Any]) -> Routes:
    """The weights an HTTPRoute spec carries: those of the first rule with more than one
    backendRef that names the canary; all to the primary when there is none."""
    primary, canary_name = primary_host(canary), canary_host(canary)
    for rule in spec.get("rules") or []:
        refs = rule.get("backendRefs") or []
        weights = {ref.get("name"): int(ref.get("weight", 1)) for ref in refs}
        if len(refs) < 2 or canary_name not in weights:
            continue  # A/B's everyone-else rule and session affinity's sticky rules
        mirrored = any(
            f.get("type") == "RequestMirror"
            and ((f.get("requestMirror") or {}).get("backendRef") or {}).get("name") == canary_name
            for f in rule.get("filters") or []
        )
        baseline = weights.get(baseline_host(canary), 0)
        return Routes(weights.get(primary, 0), weights[canary_name], mirrored, baseline)
    return Routes.all_primary()


def unready_parents(route: dict[str, Any]) -> list[str]:
    """Why the parents have not taken the route as it is now (Flagger's GetRoutes, newer
    versions): for each of the spec's parentRefs whose status entry says Accepted is not
    True, or says it of an older generation. A parent with no status entry yet is not
    counted (as Flagger), so a route no controller has seen is ready."""
    metadata = route.get("metadata") or {}
    namespace, generation = metadata.get("namespace"), metadata.get("generation") or 0
    spec, status = route.get("spec") or {}, route.get("status") or {}
    problems = []
    for ref in spec.get("parentRefs") or []:
        wanted = _parent_key(ref, namespace)
        for parent in status.get("parents") or []:
            if _parent_key(parent.get("parentRef") or {}, namespace) != wanted:
                continue
            for condition in parent.get("conditions") or []:
                if condition.get("type") != "Accepted":
                    continue
                seen = condition.get("observedGeneration") or 0
                if condition.get("status") != "True" or seen < generation:
                    problems.append(
                        f"parent {wanted[2]}/{wanted[3]} has Accepted={condition.get('status')}"
                        f" for generation {seen} of {generation}"
                        + (f" ({condition['message']})" if condition.get("message") else "")
                    )
    return problems


def _parent_key(ref: dict[str, Any], namespace: str | None) -> tuple[Any, ...]:
    """A parentRef with the specification's defaults filled in, to compare spec and status."""
    return (
        ref.get("group") or "gateway.networking.k8s.io",
        ref.get("kind") or "Gateway",
        ref.get("namespace") or namespace,
        ref.get("name"),
        ref.get("sectionName"),
        ref.get("port"),
    )


def to_route_matches(matches: list[HTTPMatchRequest] | None) -> list[dict[str, Any]]:
    """Istio-style matches (Flagger's `match`) as HTTPRouteMatches (Flagger's
    mapRouteMatches): uri exact/prefix/regex as the path, method exact, headers and
    queryParams exact/regex. What the Gateway API cannot express is refused when the
    Canary is read (`api.canary.gateway_api_problems`); here it raises ValueError."""
    converted: list[dict[str, Any]] = []
    for match in matches or []:
        route_match: dict[str, Any] = {}
        if match.uri is not None:
            route_match["path"] = _path(match.uri)
        if match.method is not None:
            if match.method.exact is None:
                raise ValueError("a method match must be exact for the Gateway API")
            route_match["method"] = match.method.exact
        if match.headers:
            route_match["headers"] = [_named(n, m) for n, m in match.headers.items()]
        if match.query_params:
            route_match["queryParams"] = [_named(n, m) for n, m in match.query_params.items()]
        if route_match:
            converted.append(route_match)
    return converted


def _path(uri: StringMatch) -> dict[str, str]:
    for kind, path_type in (("regex", "RegularExpression"), ("exact", "Exact")):
        if getattr(uri, kind) is not None:
            return {"type": path_type, "value": getattr(uri, kind)}
    if uri.prefix is not None:
        return {"type": "PathPrefix", "value": uri.prefix}
    raise ValueError("a uri match must be exact, prefix or regex for the Gateway API")


def _named(name: str, match: StringMatch) -> dict[str, str]:
    if match.exact is not None:
        return {"name": name, "type": "Exact", "value": match.exact}
    if match.regex is not None:
        return {"name": name, "type": "RegularExpression", "value": match.regex}
    raise ValueError(f"match on {name!r} must be exact or regex for the Gateway API")


def _merge(analysis: list[dict[str, Any]], service: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Flagger's mergeMatchConditions: each analysis match applied to a copy of each of
    the service's, its headers and queryParams replacing theirs."""
    merged = []
    for a in analysis:
        for s in service:
            combined = copy.deepcopy(s)
            combined.update(
                {k: copy.deepcopy(a[k]) for k in ("headers", "queryParams") if a.get(k)}
            )
            merged.append(combined)
    return merged


def _rule(
    canary: Canary, matches: list[dict[str, Any]], backends: list[dict[str, Any]]
) -> dict[str, Any]:
    """A rule with the service's filters and timeouts."""
    service = canary.spec.service
    rule: dict[str, Any] = {"matches": copy.deepcopy(matches)}
    if filters := _filters(canary):
        rule["filters"] = filters
    rule["backendRefs"] = backends
    timeouts = {"request": service.timeout, "backendRequest": service.backend_timeout}
    if any(timeouts.values()):
        rule["timeouts"] = {key: value for key, value in timeouts.items() if value}
    return rule


def _filters(canary: Canary) -> list[dict[str, Any]]:
    """Flagger's makeFilters: headers, rewrite, then the service's own mirrors."""
    service = canary.spec.service
    filters: list[dict[str, Any]] = []
    if service.headers is not None:
        filters += _header_filters(service.headers)
    if service.rewrite is not None:
        rewrite: dict[str, Any] = {}
        if service.rewrite.authority:
            rewrite["hostname"] = service.rewrite.authority
        if service.rewrite.uri:
            if service.rewrite.type == "ReplaceFullPath":
                rewrite["path"] = {
                    "type": "ReplaceFullPath",
                    "replaceFullPath": service.rewrite.uri,
                }
            else:  # Flagger's GetType: ReplacePrefixMatch unless told otherwise
                path = {"type": "ReplacePrefixMatch", "replacePrefixMatch": service.rewrite.uri}
                rewrite["path"] = path
        filters.append({"type": "URLRewrite", "urlRewrite": rewrite})
    for mirror in service.mirror or []:
        filters.append({"type": "RequestMirror", "requestMirror": mirror.to_manifest()})
    return filters


def _header_filters(headers: Headers) -> list[dict[str, Any]]:
    filters = []
    for side, kind in ((headers.request, "Request"), (headers.response, "Response")):
        if side is None:
            continue
        modifier: dict[str, Any] = {}
        for op in ("set", "add"):
            values: dict[str, str] = getattr(side, op) or {}
            if values:
                modifier[op] = [{"name": n, "value": v} for n, v in sorted(values.items())]
        if side.remove:
            modifier["remove"] = list(side.remove)
        key = f"{kind.lower()}HeaderModifier"
        filters.append({"type": f"{kind}HeaderModifier", key: modifier})
    return filters


def _service_ref(canary: Canary, name: str) -> dict[str, Any]:
    return {"group": "", "kind": "Service", "name": name, "port": canary.spec.service.port}


def _backend(canary: Canary, name: str, weight: int) -> dict[str, Any]:
    return {**_service_ref(canary, name), "weight": weight}


def _backends(canary: Canary, routes: Routes) -> list[dict[str, Any]]:
    primary = routes.primary
    if not has_baseline(canary):  # judge.baseline turned off: its share back to the primary
        primary += routes.baseline
    backends = [
        _backend(canary, primary_host(canary), primary),
        _backend(canary, canary_host(canary), routes.canary),
    ]
    if has_baseline(canary):
        backends.append(_backend(canary, baseline_host(canary), routes.baseline))
    return backends


def _sticky_rules(
    canary: Canary, routes: Routes, weighted: dict[str, Any], matches: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Session affinity's rules, before `weighted`, whose backendRefs get their Set-Cookie
    filters here (Flagger's getSessionAffinityRouteRules)."""
    affinity = canary.spec.analysis.session_affinity
    assert affinity is not None
    if routes.canary == 0:  # no analysis under way: expire the last one's cookie, if any
        last = cookie_to_expire(canary)
        if last is None:
            return []
        rule = _cookie_rule(canary, last, primary_host(canary), matches)
        rule.setdefault("filters", []).append(_set_cookie_filter(expired(last)))
        return [rule]
    own = canary_cookie(canary, affinity)
    sides: list[tuple[str, str, int | None]] = [(canary_host(canary), own, None)]
    if (primary := primary_cookie(canary, affinity)) is not None:
        interval = max(1, int(canary.spec.analysis.interval_seconds))  # Flagger's Max-Age
        sides.append((primary_host(canary), primary, interval))
    for host, cookie, max_age in sides:
        for backend in weighted["backendRefs"]:
            if backend["name"] == host:
                header = set_cookie(cookie, affinity, max_age=max_age)
                backend["filters"] = [_set_cookie_filter(header)]
    return [_cookie_rule(canary, cookie, host, matches) for host, cookie, _ in sides]


def _cookie_rule(
    canary: Canary, cookie: str, host: str, matches: list[dict[str, Any]]
) -> dict[str, Any]:
    """A rule sending the requests that carry `cookie` to `host` alone."""
    regex = cookie_match(cookie)["cookie"]["regex"]
    header = {"name": COOKIE_HEADER, "type": "RegularExpression", "value": regex}
    return _rule(canary, _merge([{"headers": [header]}], matches), [_backend(canary, host, 100)])


def _set_cookie_filter(value: str) -> dict[str, Any]:
    add = [{"name": "Set-Cookie", "value": value}]
    return {"type": "ResponseHeaderModifier", "responseHeaderModifier": {"add": add}}
