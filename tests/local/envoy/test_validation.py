"""The model's checks: every problem named by path, with the fix. Pure, no Envoy."""

from __future__ import annotations

from datetime import timedelta

import pytest

from coalmine.errors import InvalidDataPlane
from coalmine.local.envoy import (
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
)

CLUSTERS = (
    Cluster("shop_web-primary", (Endpoint("127.0.0.1", 9001),)),
    Cluster("shop_web-canary", (Endpoint("127.0.0.1", 9002),)),
)


def _plane(
    *routes: Route, clusters: tuple[Cluster, ...] = CLUSTERS, **listener: object
) -> DataPlane:
    host = VirtualHost("web", ("*",), routes)
    return DataPlane(listeners=(Listener(virtual_hosts=(host,), **listener),), clusters=clusters)  # type: ignore[arg-type]


def _split(primary: int, canary: int, **route: object) -> Route:
    destinations = (
        Destination("shop_web-primary", primary),
        Destination("shop_web-canary", canary),
    )
    return Route("canary", destinations, **route)  # type: ignore[arg-type]


def _problems(*routes: Route, **kwargs: object) -> list[str]:
    with pytest.raises(InvalidDataPlane) as error:
        _plane(*routes, **kwargs)  # type: ignore[arg-type]
    return [f"{p.path}: {p.message}" for p in error.value.problems]


def test_a_consistent_plane_builds() -> None:
    plane = _plane(_split(80, 20, mirror=Mirror("shop_web-canary", 10)))
    assert plane.listener("gateway").port == 8080


def test_weights_must_sum_to_100() -> None:
    assert _problems(_split(80, 30)) == [
        "listeners[gateway].virtual_hosts[web].routes[canary].destinations:"
        " weights must sum to 100, got 80 + 30 = 110; adjust them"
    ]


def test_weights_must_be_percentages() -> None:
    problems = _problems(_split(120, -20))
    assert any("destinations[0].weight: 120 is not a percentage (0-100)" in p for p in problems)
    assert any("destinations[1].weight: -20 is not a percentage (0-100)" in p for p in problems)


def test_destinations_and_mirror_must_name_known_clusters() -> None:
    route = Route("main", (Destination("shop_web", 100),), mirror=Mirror("shop_web-shadow", 50))
    assert _problems(route) == [
        "listeners[gateway].virtual_hosts[web].routes[main].destinations[0].cluster: unknown"
        " cluster 'shop_web'; add it to clusters (known: shop_web-canary, shop_web-primary)",
        "listeners[gateway].virtual_hosts[web].routes[main].mirror.cluster: unknown cluster"
        " 'shop_web-shadow'; add it to clusters (known: shop_web-canary, shop_web-primary)",
    ]


def test_a_cluster_twice_in_one_route_must_be_merged() -> None:
    twice = (Destination("shop_web-primary", 50), Destination("shop_web-primary", 50))
    assert _problems(Route("main", twice)) == [
        "listeners[gateway].virtual_hosts[web].routes[main].destinations:"
        " cluster 'shop_web-primary' appears 2 times; merge them into one destination"
    ]


def test_names_must_not_contain_dots_and_must_be_unique() -> None:
    clusters = (*CLUSTERS, Cluster("shop.web"), Cluster("shop_web-canary"))
    problems = _problems(_split(50, 50), clusters=clusters)
    assert any(
        p.startswith("clusters[shop.web].name: 'shop.web' is not a valid name") for p in problems
    )
    assert "clusters[shop_web-canary]: the name 'shop_web-canary' is used 2 times" in problems


def test_a_domain_may_select_only_one_virtual_host() -> None:
    hosts = (
        VirtualHost("a", ("*",), (_split(50, 50),)),
        VirtualHost("b", ("shop.example.com", "*"), (_split(50, 50),)),
    )
    with pytest.raises(InvalidDataPlane, match=r"domain '\*' is also in virtual host 'a'"):
        DataPlane(listeners=(Listener(virtual_hosts=hosts),), clusters=CLUSTERS)


def test_listeners_need_their_own_ports() -> None:
    host = VirtualHost("web", ("*",), (_split(50, 50),))
    listeners = (Listener("gateway", (host,), port=8080), Listener("admin", (host,), port=8080))
    with pytest.raises(InvalidDataPlane, match=r"127\.0\.0\.1:8080 is also listener 'gateway'"):
        DataPlane(listeners=listeners, clusters=CLUSTERS)


def test_matches_headers_timeouts_and_retries_are_checked() -> None:
    bad_header = HeaderMatch("bad header", StringMatch.exact("x"))
    route = _split(
        50,
        50,
        matches=(RouteMatch(path=StringMatch.prefix("demo"), headers=(bad_header,)),),
        headers=HeaderOps(set={"x-ok": "line\nbreak"}),
        timeout=timedelta(0),
        retries=Retries(attempts=-1, per_try_timeout=timedelta(0), retry_on=" "),
    )
    where = "listeners[gateway].virtual_hosts[web].routes[canary]"
    assert _problems(route) == [
        f"{where}.matches[0].path: 'demo' must start with '/'",
        f"{where}.matches[0].headers: 'bad header' is not a header name",
        f"{where}.headers: the value of 'x-ok' contains a line break",
        f"{where}.timeout: must be positive; leave it unset for no timeout",
        f"{where}.retries.attempts: must be 0 or more",
        f"{where}.retries.per_try_timeout: must be positive",
        f"{where}.retries.retry_on: name at least one condition, e.g. 5xx",
    ]


def test_a_cluster_without_endpoints_is_allowed() -> None:
    """A workload scaled to zero: Envoy answers 503 for it, which the metrics count."""
    clusters = (CLUSTERS[0], Cluster("shop_web-canary"))
    assert _plane(_split(100, 0), clusters=clusters).clusters[1].endpoints == ()


def test_every_problem_is_reported_at_once() -> None:
    problems = _problems(_split(10, 10), Route("canary", ()))
    assert len(problems) == 3


def test_a_segments_prefix_is_for_paths_without_a_trailing_slash() -> None:
    route = _split(
        50,
        50,
        matches=(
            RouteMatch(
                path=StringMatch.segments("/demo/"),
                headers=(HeaderMatch("x-a", StringMatch.segments("/a")),),
            ),
            RouteMatch(path=StringMatch.segments("/demo")),
        ),
    )
    where = "listeners[gateway].virtual_hosts[web].routes[canary]"
    assert _problems(route) == [
        f"{where}.matches[0].path: segments prefix '/demo/' must not end with '/' nor hold"
        " '?' or '#'",
        f"{where}.matches[0].headers: a segments match is for paths; use prefix",
    ]


def test_the_method_pseudo_header_may_be_matched_and_no_other() -> None:
    method = HeaderMatch(":method", StringMatch.exact("POST"))
    authority = HeaderMatch(":authority", StringMatch.exact("x"))
    route = _split(50, 50, matches=(RouteMatch(headers=(method, authority)),))
    where = "listeners[gateway].virtual_hosts[web].routes[canary]"
    assert _problems(route) == [f"{where}.matches[0].headers: ':authority' is not a header name"]


def test_a_query_parameter_match_needs_a_name_and_an_exact_or_regex_value() -> None:
    good = HeaderMatch("canary", StringMatch.exact("yes"))
    nameless = HeaderMatch("", StringMatch.regex(".*"))
    prefixed = HeaderMatch("v", StringMatch.prefix("2"))
    route = _split(50, 50, matches=(RouteMatch(query=(good, nameless, prefixed)),))
    where = "listeners[gateway].virtual_hosts[web].routes[canary]"
    assert _problems(route) == [
        f"{where}.matches[0].query: a query parameter needs a name",
        f"{where}.matches[0].query: 'v': match exactly or by regex",
    ]
