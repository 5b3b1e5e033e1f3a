"""What `coalmine apply` checks of the Gateway API's Gateway and HTTPRoute beyond their
models: what they point at exists (a backend in another namespace only with a
ReferenceGrant there, on a port its Service has), and they use nothing the local Envoy
cannot honour.

Each problem names the field and the fix. The models (`api.gatewayapi`) check each object
on its own, as the Gateway API's CRD schema and CEL rules do; these checks need the
other objects (a parent Gateway, a backend Service) or are local mode's own limits.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

from coalmine.api import gatewayapi
from coalmine.api.gatewayapi import GATEWAY_API_GROUP as GROUP
from coalmine.api.regex import re2_problem
from coalmine.api.workloads import Service
from coalmine.errors import Problem

__all__ = ["check_gateway", "check_http_route", "granted", "parent_problems"]

FILTERS_SERVED = ("RequestHeaderModifier", "ResponseHeaderModifier", "RequestMirror", "URLRewrite")
"""HTTPRoute filter types the local Envoy applies on a rule (the rest are refused by name)."""
BACKEND_FILTERS_SERVED = ("RequestHeaderModifier", "ResponseHeaderModifier")
"""... and on one backendRef (Envoy rewrites and mirrors per route, not per cluster)."""

Key = tuple[str, str]


def granted(
    route_namespace: str,
    ref: gatewayapi.BackendObjectReference,
    grants: Sequence[gatewayapi.ReferenceGrant],
) -> bool:
    """Whether an HTTPRoute of `route_namespace` may send to the Service `ref` names: in
    its own namespace always, in another one when a ReferenceGrant there allows it."""
    target_namespace = ref.namespace or route_namespace
    if target_namespace == route_namespace:
        return True
    return any(
        grant.metadata.namespace == target_namespace
        and grant.grants(GROUP, "HTTPRoute", route_namespace, ("", "Service", ref.name))
        for grant in grants
    )


def check_gateway(gateway: gatewayapi.Gateway) -> list[Problem]:
    """Only plain HTTP listeners: the local gateway is one HTTP listener on one port."""
    name = f"gateway {gateway.metadata.name}"
    problems = []
    for index, listener in enumerate(gateway.spec.listeners):
        path = f"spec.listeners[{index}]"
        if listener.protocol != "HTTP":
            message = (
                f"protocol {listener.protocol!r} is not supported by the local runtime"
                " (coalmine up), whose gateway serves HTTP only: use protocol HTTP, or"
                " Kubernetes"
            )
            problems.append(Problem(name, f"{path}.protocol", message))
        allowed = listener.allowed_routes
        namespaces = allowed.namespaces if allowed is not None else None
        if namespaces is not None and namespaces.from_ == "Selector":
            message = (
                "Selector is not supported by the local runtime (namespaces have no labels"
                " there); use Same or All"
            )
            problems.append(Problem(name, f"{path}.allowedRoutes.namespaces.from", message))
    return problems


def check_http_route(
    route: gatewayapi.HTTPRoute,
    services: Mapping[Key, Service],
    gateways: Mapping[Key, gatewayapi.Gateway],
    grants: Sequence[gatewayapi.ReferenceGrant] = (),
) -> list[Problem]:
    """Parents that exist, backends that are Services (of this namespace, or of one whose
    ReferenceGrant allows it) on a port they have, and only what the local Envoy serves."""
    name = f"httproute {route.metadata.name}"
    ns = route.metadata.namespace
    parents = parent_problems(route.spec.parent_refs or [], ns, gateways, "spec.parentRefs")
    problems = [Problem(name, path, why) for path, why in parents]
    backends = _Backends(ns, services, grants)
    for r, rule in enumerate(route.spec.rules or []):
        where = f"spec.rules[{r}]"
        problems += [Problem(name, p, why) for p, why in _rule(rule, where, backends)]
    return problems


def parent_problems(
    parents: Sequence[gatewayapi.ParentReference],
    namespace: str,
    gateways: Mapping[Key, gatewayapi.Gateway],
    field: str,
) -> Iterator[tuple[str, str]]:
    """(path, why) for each parent reference (an HTTPRoute's `spec.parentRefs`, a Canary's
    `spec.service.gatewayRefs`) the local runtime cannot attach to."""
    for index, parent in enumerate(parents):
        path = f"{field}[{index}]"
        if _group(parent.group) != GROUP or (parent.kind or "Gateway") != "Gateway":
            yield (
                f"{path}.kind",
                "only Gateway parents are served by the local runtime (no mesh attachment"
                " to a Service); point it at a Gateway",
            )
            continue
        gateway = gateways.get((parent.namespace or namespace, parent.name))
        if gateway is None:
            yield (
                f"{path}.name",
                f"gateway {parent.name} not found in namespace {parent.namespace or namespace};"
                " apply the Gateway (gateway.networking.k8s.io/v1) first",
            )
            continue
        names = [listener.name for listener in gateway.spec.listeners]
        if parent.section_name is not None and parent.section_name not in names:
            yield (
                f"{path}.sectionName",
                f"gateway {parent.name} has no listener {parent.section_name!r};"
                f" its listeners: {', '.join(names)}",
            )


@dataclass(frozen=True)
class _Backends:
    """What a route's backends may be: Services of its namespace, or granted ones."""

    namespace: str
    services: Mapping[Key, Service]
    grants: Sequence[gatewayapi.ReferenceGrant]


def _rule(
    rule: gatewayapi.HTTPRouteRule, where: str, backends: _Backends
) -> Iterator[tuple[str, str]]:
    for m, match in enumerate(rule.matches or []):
        yield from _match(match, f"{where}.matches[{m}]")
    yield from _filters(rule.filters, f"{where}.filters", backends, FILTERS_SERVED)
    yield from _prefix_rewrite(rule, where)
    for b, ref in enumerate(rule.backend_refs or []):
        path = f"{where}.backendRefs[{b}]"
        yield from _backend(ref, path, backends)
        yield from _filters(ref.filters, f"{path}.filters", backends, BACKEND_FILTERS_SERVED)


def _prefix_rewrite(rule: gatewayapi.HTTPRouteRule, where: str) -> Iterator[tuple[str, str]]:
    """The Gateway API CRD's rule: a URLRewrite of ReplacePrefixMatch needs exactly one
    match, a PathPrefix one (the prefix it replaces)."""
    for f, item in enumerate(rule.filters or []):
        path = item.url_rewrite.path if item.url_rewrite is not None else None
        if path is None or path.type != "ReplacePrefixMatch":
            continue
        matches = rule.matches or []
        prefixes = [m for m in matches if m.path is None or m.path.type == "PathPrefix"]
        if len(matches) != 1 or len(prefixes) != 1:
            yield (
                f"{where}.filters[{f}].urlRewrite.path.type",
                "ReplacePrefixMatch replaces the prefix of the rule's one PathPrefix match;"
                f" the rule has {len(matches)} matches, {len(prefixes)} of them PathPrefix:"
                " keep exactly one PathPrefix match, or use ReplaceFullPath",
            )


def _match(match: gatewayapi.HTTPRouteMatch, where: str) -> Iterator[tuple[str, str]]:
    """Regexes Envoy's RE2 takes, and paths without a query (that is `queryParams`)."""
    path = match.path
    if path is not None and path.type == "RegularExpression":
        yield from _regex(path.value, f"{where}.path.value")
    elif path is not None and ("?" in path.value or "#" in path.value):
        yield f"{where}.path.value", "a path holds no '?' or '#'; match the path alone"
    for h, header in enumerate(match.headers or []):
        if header.type == "RegularExpression":
            yield from _regex(header.value, f"{where}.headers[{h}].value")
    for q, param in enumerate(match.query_params or []):
        if param.type == "RegularExpression":
            yield from _regex(param.value, f"{where}.queryParams[{q}].value")


def _regex(pattern: str, where: str) -> Iterator[tuple[str, str]]:
    problem = re2_problem(pattern)
    if problem is not None:
        yield where, problem


def _filters(
    filters: list[gatewayapi.HTTPRouteFilter] | None,
    where: str,
    backends: _Backends,
    served: tuple[str, ...],
) -> Iterator[tuple[str, str]]:
    mirrors = 0
    for f, item in enumerate(filters or []):
        path = f"{where}[{f}]"
        if item.type not in served:
            message = (
                f"{item.type} is not supported here by the local runtime (coalmine up), which"
                f" applies {', '.join(served)} here; remove it, or use Kubernetes"
            )
            if item.type in FILTERS_SERVED:
                message += f" (a {item.type} filter of the rule is served)"
            yield f"{path}.type", message
        if item.request_mirror is not None:
            mirrors += 1
            if mirrors > 1:
                yield path, "the local runtime mirrors to one backend per rule; keep one"
            ref = item.request_mirror.backend_ref
            yield from _backend(ref, f"{path}.requestMirror.backendRef", backends)


def _backend(
    ref: gatewayapi.BackendObjectReference, where: str, backends: _Backends
) -> Iterator[tuple[str, str]]:
    if (ref.group or "") != "" or (ref.kind or "Service") != "Service":
        yield f"{where}.kind", "only Service backends are served locally; use kind Service"
        return
    ns = ref.namespace or backends.namespace
    if not granted(backends.namespace, ref, backends.grants):
        yield (
            f"{where}.namespace",
            f"service {ref.name} is in namespace {ns}, and no ReferenceGrant there lets"
            f" HTTPRoutes of namespace {backends.namespace} refer to it: apply one in {ns}"
            f" (from: group {GROUP}, kind HTTPRoute, namespace {backends.namespace}; to:"
            f" group '', kind Service), or use a Service of namespace {backends.namespace}",
        )
        return
    service = backends.services.get((ns, ref.name))
    if service is None:
        yield f"{where}.name", f"service {ref.name} not found in namespace {ns}; apply it first"
        return
    ports = [p.port for p in service.spec.ports]
    if ref.port is None:
        yield f"{where}.port", f"required for a Service backend; service {ref.name} has {ports}"
    elif ref.port not in ports:
        yield f"{where}.port", f"service {ref.name} has no port {ref.port}; its ports: {ports}"


def _group(group: str | None) -> str:
    """A parentRef's group: unset is the Gateway API's, "" the core group (a Service)."""
    return GROUP if group is None else group
