"""The VirtualService a Canary owns, as plain data: built from weights, read back into weights.

Both routers use it: the Istio router writes it to Kubernetes, the local router to the
local store (and from there to Envoy). Field names are Istio's (networking/v1beta1).
The shape follows Flagger's Istio router: one weighted route primary/canary (and
`<svc>-baseline` with judge.baseline); for A/B
testing a first route for the matching requests and a second one, all to the primary;
a TCP route for `appProtocol: tcp`; with session affinity, sticky routes before the
weighted one (see routing.session_affinity). The hosts are service.hosts plus the apex Service's
name unless already there or `*`; a delegate (`delegation`) has neither hosts nor gateways.
"""

from __future__ import annotations

import copy
from typing import Any

from coalmine.api.canary import Canary
from coalmine.api.istio import HTTPMatchRequest, StringMatch
from coalmine.engine.observations import Routes
from coalmine.routing.session_affinity import (
    STICKY_ROUTE,
    canary_cookie,
    cookie_match,
    expired,
    primary_cookie,
    set_cookie,
)

__all__ = [
    "apex_name",
    "baseline_host",
    "canary_host",
    "has_baseline",
    "is_tcp",
    "primary_host",
    "routes_of",
    "virtual_service_spec",
]


def apex_name(canary: Canary) -> str:
    """The Service (and VirtualService) name: service.name, else the target's name."""
    return canary.spec.service.name or canary.spec.target_ref.name


def primary_host(canary: Canary) -> str:
    return f"{apex_name(canary)}-primary"


def canary_host(canary: Canary) -> str:
    return f"{apex_name(canary)}-canary"


def baseline_host(canary: Canary) -> str:
    return f"{apex_name(canary)}-baseline"


def has_baseline(canary: Canary) -> bool:
    """judge.baseline: a third destination, `<svc>-baseline`, weighted as the canary."""
    judge = canary.spec.analysis.judge
    return judge is not None and judge.baseline


def virtual_service_spec(canary: Canary, routes: Routes) -> dict[str, Any]:
    """The spec of the canary's VirtualService carrying `routes`."""
    service = canary.spec.service
    analysis = canary.spec.analysis
    hosts = list(service.hosts or [])
    if apex_name(canary) not in hosts and "*" not in hosts:  # as Flagger adds it
        hosts.append(apex_name(canary))
    spec: dict[str, Any] = {"hosts": hosts, "gateways": list(service.gateways or ["mesh"])}
    if service.delegation:
        # Flagger's delegate VirtualService: no hosts, no gateways; a root
        # VirtualService elsewhere names it in `delegate`.
        spec = {"hosts": [], "gateways": []}
    if is_tcp(canary):
        # Flagger's TCP route: the weighted destinations, matched on the service's ports.
        tcp: dict[str, Any] = {"route": _destinations(canary, routes)}
        if ports := [{"port": m.port} for m in service.match or [] if m.port is not None]:
            tcp["match"] = ports
        spec["tcp"] = [tcp]
        return spec
    weighted = _route(canary, _destinations(canary, routes), service.match)
    if routes.mirrored:
        weighted["mirror"] = {"host": canary_host(canary)}
        if analysis.mirror_weight is not None:
            weighted["mirrorPercentage"] = {"value": float(analysis.mirror_weight)}
    if analysis.match:
        matches = [_match(m) for m in analysis.match]
        ab_route = _route(canary, _destinations(canary, routes), None)
        ab_route["match"] = _merge_matches(matches, [_match(m) for m in service.match or []])
        everyone = _route(canary, _destinations(canary, Routes.all_primary()), service.match)
        spec["http"] = [ab_route, everyone]
    elif analysis.session_affinity is not None:
        spec["http"] = [*_sticky_routes(canary, routes, weighted), weighted]
    else:
        spec["http"] = [weighted]
    return spec


def _sticky_routes(
    canary: Canary, routes: Routes, weighted: dict[str, Any]
) -> list[dict[str, Any]]:
    """Flagger's session affinity (see routing.session_affinity): the routes that go
    before `weighted`, whose destinations get their Set-Cookie headers here."""
    affinity = canary.spec.analysis.session_affinity
    assert affinity is not None
    own = canary_cookie(canary, affinity)
    if routes.canary == 0:  # the analysis is over: expire its cookie
        sticky = _sticky(canary, STICKY_ROUTE, own, routes)
        sticky["headers"] = _with_response_cookie(sticky.get("headers"), expired(own))
        return [sticky]
    sides = [(canary_host(canary), own, STICKY_ROUTE, Routes(0, 100))]
    if (primary := primary_cookie(canary, affinity)) is not None:
        sides.append((primary_host(canary), primary, f"{STICKY_ROUTE}-primary", Routes(100, 0)))
    for host, cookie, _, _ in sides:
        for destination in weighted["route"]:
            if destination["destination"]["host"] == host:
                header = {"Set-Cookie": set_cookie(cookie, affinity)}
                destination["headers"] = {"response": {"add": header}}
    return [_sticky(canary, name, cookie, to) for _, cookie, name, to in sides]


def _sticky(canary: Canary, name: str, cookie: str, routes: Routes) -> dict[str, Any]:
    """A route named `name` sending the holders of `cookie` by `routes`."""
    service_matches = [_match(m) for m in canary.spec.service.match or []]
    sticky = _route(canary, _destinations(canary, routes), None)
    sticky["name"] = name
    sticky["match"] = _merge_matches([{"headers": cookie_match(cookie)}], service_matches)
    return sticky


def _with_response_cookie(headers: dict[str, Any] | None, value: str) -> dict[str, Any]:
    """Route headers with a Set-Cookie added to the response ones."""
    result = copy.deepcopy(headers or {})
    response = result.setdefault("response", {})
    response.setdefault("add", {})["Set-Cookie"] = value
    return result


def is_tcp(canary: Canary) -> bool:
    """appProtocol tcp: Flagger routes the service with a TCP route instead of HTTP."""
    return (canary.spec.service.app_protocol or "").lower() == "tcp"


def routes_of(canary: Canary, spec: dict[str, Any]) -> Routes:
    """The weights a VirtualService spec carries (the first route that names the canary)."""
    primary, canary_name = primary_host(canary), canary_host(canary)
    for route in spec.get("tcp" if is_tcp(canary) else "http", []):
        if str(route.get("name", "")).startswith(STICKY_ROUTE):
            continue  # session affinity's routes carry no weights of their own
        weights = {d["destination"]["host"]: d.get("weight", 0) for d in route.get("route", [])}
        if canary_name in weights:
            mirrored = (route.get("mirror") or {}).get("host") == canary_name
            baseline = weights.get(baseline_host(canary), 0)
            return Routes(weights.get(primary, 0), weights[canary_name], mirrored, baseline)
    return Routes.all_primary()


def _destinations(canary: Canary, routes: Routes) -> list[dict[str, Any]]:
    port = {"number": canary.spec.service.port}
    primary = routes.primary
    if not has_baseline(canary):  # judge.baseline turned off: its share back to the primary
        primary += routes.baseline
    destinations = [
        {"destination": {"host": primary_host(canary), "port": port}, "weight": primary},
        {"destination": {"host": canary_host(canary), "port": port}, "weight": routes.canary},
    ]
    if has_baseline(canary):
        baseline = {"host": baseline_host(canary), "port": port}
        destinations.append({"destination": baseline, "weight": routes.baseline})
    return destinations


def _route(
    canary: Canary, destinations: list[dict[str, Any]], match: list[Any] | None
) -> dict[str, Any]:
    service = canary.spec.service
    route: dict[str, Any] = {"route": destinations}
    if match:
        route["match"] = [_match(m) for m in match]
    optional = {
        "retries": service.retries,
        "headers": service.headers,
        "corsPolicy": service.cors_policy,
    }
    route.update({key: _dump(value) for key, value in optional.items() if value is not None})
    if service.rewrite is not None:
        # `type` is Gateway API's; an Istio HTTPRewrite has only uri and authority.
        rewrite = {k: v for k, v in _dump(service.rewrite).items() if k != "type"}
        if rewrite:
            route["rewrite"] = rewrite
    if service.timeout:
        route["timeout"] = service.timeout
    return route


def _merge_matches(ab: list[dict[str, Any]], service: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each A/B condition combined with each of the service's own (Flagger's merge)."""
    if not service:
        return ab
    return [{**s, **a} for a in ab for s in service]


def _dump(model: Any) -> Any:
    return model.to_manifest()


def _match(match: HTTPMatchRequest) -> dict[str, Any]:
    """A match as Istio writes it: Flagger's `suffix` string matches become RE2 regexes."""
    dumped: dict[str, Any] = _dump(match)
    for key, value in dumped.items():
        original = getattr(match, _FIELDS_BY_ALIAS[key], None)
        if isinstance(original, StringMatch):
            dumped[key] = original.as_istio()
        elif isinstance(original, dict):
            dumped[key] = {
                name: m.as_istio() if isinstance(m, StringMatch) else value[name]
                for name, m in original.items()
            }
    return dumped


_FIELDS_BY_ALIAS = {
    (info.alias or name): name for name, info in HTTPMatchRequest.model_fields.items()
}
