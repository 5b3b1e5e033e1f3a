"""The checks a `DataPlane` must pass before Envoy sees it.

Each problem names where it is (listener, virtual host, route, field) and what to do.
Envoy's own validation runs later, on the rendered configuration (see `envoy_check`);
these checks catch what Envoy would accept but route badly, and say it in our terms.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence

from coalmine.errors import InvalidDataPlane, Problem
from coalmine.local.envoy.parts import (
    Cluster,
    HeaderOps,
    Listener,
    Route,
    RouteMatch,
    VirtualHost,
)

__all__ = ["check"]

DOCUMENT = "envoy data plane"
_NAME = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_]*[A-Za-z0-9])?$")
_HEADER_NAME = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")
MATCHABLE_PSEUDO_HEADERS = frozenset({":method"})
"""HTTP/2 pseudo-headers a route may match on (Envoy matches them as headers)."""
_NAME_RULE = "use letters, digits, '-' and '_' (no dots: Envoy's stats split names at dots)"


def check(listeners: Sequence[Listener], clusters: Sequence[Cluster]) -> None:
    """Raise InvalidDataPlane listing every problem of a data plane made of `listeners` and
    `clusters`, or return when there is none."""
    problems = list(_problems(listeners, clusters))
    if problems:
        raise InvalidDataPlane(problems)


def _problem(path: str, message: str) -> Problem:
    return Problem(DOCUMENT, path, message)


def _problems(listeners: Sequence[Listener], clusters: Sequence[Cluster]) -> Iterator[Problem]:
    yield from _unique_names("clusters", (c.name for c in clusters))
    yield from _unique_names("listeners", (x.name for x in listeners))
    for cluster in clusters:
        yield from _cluster_problems(cluster)
    yield from _address_clashes(listeners)
    known = {cluster.name for cluster in clusters}
    for listener in listeners:
        yield from _listener_problems(listener, known)


def _unique_names(path: str, names: Iterable[str]) -> Iterator[Problem]:
    counts = Counter(names)
    for name, count in counts.items():
        if not _NAME.match(name):
            yield _problem(f"{path}[{name}].name", f"{name!r} is not a valid name: {_NAME_RULE}")
        if count > 1:
            yield _problem(f"{path}[{name}]", f"the name {name!r} is used {count} times")


def _cluster_problems(cluster: Cluster) -> Iterator[Problem]:
    where = f"clusters[{cluster.name}]"
    for index, endpoint in enumerate(cluster.endpoints):
        if not endpoint.host:
            yield _problem(f"{where}.endpoints[{index}].host", "must not be empty")
        if not 1 <= endpoint.port <= 65535:
            yield _problem(
                f"{where}.endpoints[{index}].port", f"{endpoint.port} is not a port (1-65535)"
            )
    if cluster.connect_timeout.total_seconds() <= 0:
        yield _problem(f"{where}.connect_timeout", "must be positive")


def _address_clashes(listeners: Iterable[Listener]) -> Iterator[Problem]:
    seen: dict[tuple[str, int], str] = {}
    for listener in listeners:
        where = f"listeners[{listener.name}]"
        if not 0 <= listener.port <= 65535:
            yield _problem(f"{where}.port", f"{listener.port} is not a port (0-65535)")
        address = (listener.host, listener.port)
        if listener.port and address in seen:
            yield _problem(
                f"{where}.port",
                f"{listener.host}:{listener.port} is also listener {seen[address]!r}'s address;"
                " give each listener its own port",
            )
        seen.setdefault(address, listener.name)


def _listener_problems(listener: Listener, known: set[str]) -> Iterator[Problem]:
    where = f"listeners[{listener.name}]"
    yield from _unique_names(f"{where}.virtual_hosts", (v.name for v in listener.virtual_hosts))
    owners: dict[str, str] = {}
    for host in listener.virtual_hosts:
        host_path = f"{where}.virtual_hosts[{host.name}]"
        for domain in host.domains:
            if domain in owners:
                yield _problem(
                    f"{host_path}.domains",
                    f"domain {domain!r} is also in virtual host {owners[domain]!r};"
                    " a Host header must select one virtual host",
                )
            owners.setdefault(domain, host.name)
        yield from _virtual_host_problems(host, host_path, known)


def _virtual_host_problems(host: VirtualHost, where: str, known: set[str]) -> Iterator[Problem]:
    if not host.domains:
        yield _problem(f"{where}.domains", "list at least one domain (or '*' for any Host)")
    for domain in host.domains:
        if not domain or any(ch.isspace() for ch in domain):
            yield _problem(f"{where}.domains", f"{domain!r} is not a host name or pattern")
    if not host.routes:
        yield _problem(f"{where}.routes", "list at least one route")
    counts = Counter(route.name for route in host.routes)
    for name, count in counts.items():
        if not name:
            yield _problem(f"{where}.routes", "every route needs a name (used in errors)")
        elif count > 1:
            yield _problem(f"{where}.routes[{name}]", f"the name {name!r} is used {count} times")
    for route in host.routes:
        yield from _route_problems(route, f"{where}.routes[{route.name}]", known)


def _route_problems(route: Route, where: str, known: set[str]) -> Iterator[Problem]:
    yield from _destination_problems(route, where, known)
    for index, match in enumerate(route.matches):
        yield from _match_problems(match, f"{where}.matches[{index}]")
    yield from _header_ops_problems(route.headers, f"{where}.headers")
    if route.mirror is not None:
        if route.mirror.cluster not in known:
            yield _unknown_cluster(f"{where}.mirror.cluster", route.mirror.cluster, known)
        if not 0 < route.mirror.percent <= 100:
            yield _problem(f"{where}.mirror.percent", "must be more than 0 and at most 100")
    if route.timeout is not None and route.timeout.total_seconds() <= 0:
        yield _problem(f"{where}.timeout", "must be positive; leave it unset for no timeout")
    if route.retries is not None:
        retries = route.retries
        if retries.attempts < 0:
            yield _problem(f"{where}.retries.attempts", "must be 0 or more")
        if retries.per_try_timeout is not None and retries.per_try_timeout.total_seconds() <= 0:
            yield _problem(f"{where}.retries.per_try_timeout", "must be positive")
        if not retries.retry_on.strip():
            yield _problem(f"{where}.retries.retry_on", "name at least one condition, e.g. 5xx")
        for code in retries.retriable_status_codes:
            if not 100 <= code <= 599:
                yield _problem(
                    f"{where}.retries.retriable_status_codes",
                    f"{code} is not an HTTP status; use one from 100 to 599, e.g. 503",
                )


def _destination_problems(route: Route, where: str, known: set[str]) -> Iterator[Problem]:
    if not route.destinations:
        yield _problem(f"{where}.destinations", "list at least one destination")
        return
    for index, destination in enumerate(route.destinations):
        path = f"{where}.destinations[{index}]"
        if destination.cluster not in known:
            yield _unknown_cluster(f"{path}.cluster", destination.cluster, known)
        if not 0 <= destination.weight <= 100:
            yield _problem(f"{path}.weight", f"{destination.weight} is not a percentage (0-100)")
        yield from _header_ops_problems(destination.headers, f"{path}.headers")
    weights = [destination.weight for destination in route.destinations]
    if sum(weights) != 100:
        shown = " + ".join(str(weight) for weight in weights)
        yield _problem(
            f"{where}.destinations",
            f"weights must sum to 100, got {shown} = {sum(weights)}; adjust them",
        )
    clusters = Counter(destination.cluster for destination in route.destinations)
    for name, count in clusters.items():
        if count > 1:
            yield _problem(
                f"{where}.destinations",
                f"cluster {name!r} appears {count} times; merge them into one destination",
            )


def _unknown_cluster(path: str, name: str, known: set[str]) -> Problem:
    listed = ", ".join(sorted(known)) or "none"
    return _problem(path, f"unknown cluster {name!r}; add it to clusters (known: {listed})")


def _match_problems(match: RouteMatch, where: str) -> Iterator[Problem]:
    if match.path is not None and not match.path.value:
        yield _problem(f"{where}.path", "must not be empty (use prefix '/' to match all paths)")
    if match.path is not None and match.path.kind != "regex" and match.path.value[:1] != "/":
        yield _problem(f"{where}.path", f"{match.path.value!r} must start with '/'")
    if match.path is not None and match.path.kind == "segments":
        value = match.path.value
        if value.endswith("/") or "?" in value or "#" in value:
            yield _problem(
                f"{where}.path",
                f"segments prefix {value!r} must not end with '/' nor hold '?' or '#'",
            )
    for header in match.headers:
        if not _HEADER_NAME.match(header.name) and header.name not in MATCHABLE_PSEUDO_HEADERS:
            yield _problem(f"{where}.headers", f"{header.name!r} is not a header name")
        if header.match.kind == "segments":
            yield _problem(f"{where}.headers", "a segments match is for paths; use prefix")
    for param in match.query:
        if not param.name:
            yield _problem(f"{where}.query", "a query parameter needs a name")
        if param.match.kind not in ("exact", "regex"):
            yield _problem(f"{where}.query", f"{param.name!r}: match exactly or by regex")


def _header_ops_problems(ops: HeaderOps, where: str) -> Iterator[Problem]:
    for name in [*ops.set, *ops.add, *ops.remove]:
        if not _HEADER_NAME.match(name):
            yield _problem(where, f"{name!r} is not a header name")
    for name, value in [*ops.set.items(), *ops.add.items()]:
        if "\r" in value or "\n" in value:
            yield _problem(where, f"the value of {name!r} contains a line break")
