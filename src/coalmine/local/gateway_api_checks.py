"""What `coalmine apply` checks of the Gateway API's Gateway and HTTPRoute beyond their
models: what they point at exists, and they use nothing the local Envoy cannot honour.

Each problem names the field and the fix. The models (`api.gatewayapi`) check each object
on its own, as the Gateway API's CRD schema and CEL rules do; these checks need the
other objects (a parent Gateway, a backend Service) or are local mode's own limits.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence

from coalmine.api import gatewayapi
from coalmine.api.gatewayapi import GATEWAY_API_GROUP as GROUP
from coalmine.api.regex import re2_problem
from coalmine.api.workloads import Service
from coalmine.errors import Problem

__all__ = ["check_gateway", "check_http_route", "parent_problems"]

FILTERS_SERVED = ("RequestHeaderModifier", "ResponseHeaderModifier", "RequestMirror")
"""HTTPRoute filter types the local Envoy applies (the rest are refused by name)."""

Key = tuple[str, str]


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
) -> list[Problem]:
    """Parents that exist, backends that are Services of this namespace on a port they
    have, and only what the local Envoy serves."""
    name = f"httproute {route.metadata.name}"
    ns = route.metadata.namespace
    parents = parent_problems(route.spec.parent_refs or [], ns, gateways, "spec.parentRefs")
    problems = [Problem(name, path, why) for path, why in parents]
    for r, rule in enumerate(route.spec.rules or []):
        where = f"spec.rules[{r}]"
        problems += [Problem(name, p, why) for p, why in _rule(rule, where, ns, services)]
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


def _rule(
    rule: gatewayapi.HTTPRouteRule, where: str, ns: str, services: Mapping[Key, Service]
) -> Iterator[tuple[str, str]]:
    for m, match in enumerate(rule.matches or []):
        yield from _match(match, f"{where}.matches[{m}]")
    yield from _filters(rule.filters, f"{where}.filters", ns, services)
    for b, ref in enumerate(rule.backend_refs or []):
        path = f"{where}.backendRefs[{b}]"
        yield from _backend(ref, path, ns, services)
        yield from _filters(ref.filters, f"{path}.filters", ns, services)


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
    ns: str,
    services: Mapping[Key, Service],
) -> Iterator[tuple[str, str]]:
    mirrors = 0
    for f, item in enumerate(filters or []):
        path = f"{where}[{f}]"
        if item.type not in FILTERS_SERVED:
            served = ", ".join(FILTERS_SERVED)
            message = (
                f"{item.type} is not supported by the local runtime (coalmine up), which"
                f" applies {served}; remove it, or use Kubernetes"
            )
            yield f"{path}.type", message
        if item.request_mirror is not None:
            mirrors += 1
            if mirrors > 1:
                yield path, "the local runtime mirrors to one backend per rule; keep one"
            ref = item.request_mirror.backend_ref
            yield from _backend(ref, f"{path}.requestMirror.backendRef", ns, services)


def _backend(
    ref: gatewayapi.BackendObjectReference,
    where: str,
    ns: str,
    services: Mapping[Key, Service],
) -> Iterator[tuple[str, str]]:
    if (ref.group or "") != "" or (ref.kind or "Service") != "Service":
        yield f"{where}.kind", "only Service backends are served locally; use kind Service"
        return
    if ref.namespace is not None and ref.namespace != ns:
        yield (
            f"{where}.namespace",
            "a backend in another namespace needs a ReferenceGrant, which the local runtime"
            " does not have; use a Service of the route's namespace",
        )
        return
    service = services.get((ns, ref.name))
    if service is None:
        yield f"{where}.name", f"service {ref.name} not found in namespace {ns}; apply it first"
        return
    first = service.spec.ports[0].port
    if ref.port is None:
        yield f"{where}.port", f"required for a Service backend; service {ref.name} has {first}"
    elif ref.port != first:
        ports = [p.port for p in service.spec.ports]
        message = (
            f"{ref.port} is not the first port of service {ref.name} ({ports}); the local"
            f" runtime routes to a Service's first port: use {first}"
        )
        yield f"{where}.port", message


def _group(group: str | None) -> str:
    """A parentRef's group: unset is the Gateway API's, "" the core group (a Service)."""
    return GROUP if group is None else group
