"""What the rendered routes do in a real Envoy: matches, hosts, headers, timeouts, retries,
mirroring."""

from __future__ import annotations

import socket
from datetime import timedelta

import aiohttp
import pytest

from coalmine.local.envoy import (
    ISTIO_DEFAULT_RETRIES,
    Cluster,
    DataPlane,
    Destination,
    Endpoint,
    EnvoyDataPlane,
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
from tests.local.envoy.backends import Backend
from tests.local.envoy.conftest import MakeBackend, cluster_of, gateway_url
from tests.local.envoy.traffic import eventually, get

pytestmark = pytest.mark.slow


def _to(backend: Backend, name: str, *matches: RouteMatch, **options: object) -> Route:
    return Route(name, (Destination(f"test_{backend.name}", 100),), matches=matches, **options)  # type: ignore[arg-type]


def _header(name: str, match: StringMatch) -> RouteMatch:
    return RouteMatch(headers=(HeaderMatch(name, match),))


def _plane(*hosts: VirtualHost, backends: tuple[Backend, ...]) -> DataPlane:
    return DataPlane(
        listeners=(Listener(port=0, virtual_hosts=hosts),),
        clusters=tuple(cluster_of(backend) for backend in backends),
    )


async def _who(http: aiohttp.ClientSession, url: str, **headers: str) -> str:
    answer = await get(http, url, headers)
    return answer.backend if answer.status == 200 else str(answer.status)


async def test_path_and_header_matches_pick_the_first_matching_route(
    dataplane: EnvoyDataPlane, make_backend: MakeBackend, http: aiohttp.ClientSession
) -> None:
    names = ["exact", "prefix", "regex", "hexact", "hprefix", "hregex", "fallback"]
    by_name = {name: await make_backend(name) for name in names}
    b = by_name
    routes = (
        _to(b["exact"], "exact", RouteMatch(path=StringMatch.exact("/version"))),
        _to(b["prefix"], "prefix", RouteMatch(path=StringMatch.prefix("/demo"))),
        _to(b["regex"], "regex", RouteMatch(path=StringMatch.regex(r"/items/[0-9]+"))),
        _to(b["hexact"], "hexact", _header("user", StringMatch.exact("tester"))),
        _to(b["hprefix"], "hprefix", _header("x-build", StringMatch.prefix("ci-"))),
        _to(b["hregex"], "hregex", _header("cookie", StringMatch.regex(".*canary=yes.*"))),
        _to(b["fallback"], "fallback"),
    )
    await dataplane.apply(_plane(VirtualHost("any", ("*",), routes), backends=tuple(b.values())))
    url = gateway_url(dataplane)

    assert await _who(http, url + "version") == "exact"
    assert await _who(http, url + "version/2") == "fallback"
    assert await _who(http, url + "demo/hello", user="tester") == "prefix"  # first match wins
    assert await _who(http, url + "items/42") == "regex"
    assert await _who(http, url + "items/x") == "fallback"
    assert await _who(http, url, user="tester") == "hexact"
    assert await _who(http, url, user="testers") == "fallback"
    assert await _who(http, url, **{"x-build": "ci-123"}) == "hprefix"
    assert await _who(http, url, cookie="a=1; canary=yes; b=2") == "hregex"
    assert await _who(http, url, cookie="canary=no") == "fallback"


async def test_a_route_with_several_matches_takes_any_of_them(
    dataplane: EnvoyDataPlane, make_backend: MakeBackend, http: aiohttp.ClientSession
) -> None:
    chosen, rest = await make_backend("chosen"), await make_backend("rest")
    either = _to(
        chosen,
        "either",
        RouteMatch(path=StringMatch.prefix("/a")),
        RouteMatch(headers=(HeaderMatch("x-pick", StringMatch.exact("me")),)),
    )
    hosts = VirtualHost("any", ("*",), (either, _to(rest, "rest")))
    await dataplane.apply(_plane(hosts, backends=(chosen, rest)))
    url = gateway_url(dataplane)

    assert await _who(http, url + "a/1") == "chosen"
    assert await _who(http, url + "b", **{"x-pick": "me"}) == "chosen"
    assert await _who(http, url + "b") == "rest"


async def test_host_header_selects_the_virtual_host(
    dataplane: EnvoyDataPlane, make_backend: MakeBackend, http: aiohttp.ClientSession
) -> None:
    shop, wild = await make_backend("shop"), await make_backend("wild")
    hosts = (
        VirtualHost("shop", ("shop.example.com",), (_to(shop, "all"),)),
        VirtualHost("wild", ("*.example.org",), (_to(wild, "all"),)),
    )
    await dataplane.apply(_plane(*hosts, backends=(shop, wild)))
    url = gateway_url(dataplane)

    assert await _who(http, url, Host="shop.example.com") == "shop"
    assert await _who(http, url, Host="shop.example.com:8080") == "shop"  # port ignored
    assert await _who(http, url, Host="api.example.org") == "wild"
    assert await _who(http, url, Host="elsewhere.test") == "404"


async def test_header_set_add_remove_reach_the_backend(
    dataplane: EnvoyDataPlane, make_backend: MakeBackend, http: aiohttp.ClientSession
) -> None:
    backend = await make_backend("backend")
    ops = HeaderOps(set={"x-release": "canary"}, add={"x-tag": "added"}, remove=("x-secret",))
    destination = Destination("test_backend", 100, HeaderOps(set={"x-dest": "primary"}))
    route = Route("all", (destination,), headers=ops)
    await dataplane.apply(_plane(VirtualHost("any", ("*",), (route,)), backends=(backend,)))

    sent = {"x-release": "client", "x-tag": "client", "x-secret": "s3cret"}
    assert (await get(http, gateway_url(dataplane), sent)).status == 200

    seen = backend.last_headers()
    assert seen["x-release"] == ["canary"]
    assert sorted(",".join(seen["x-tag"]).split(",")) == ["added", "client"]
    assert "x-secret" not in seen
    assert seen["x-dest"] == ["primary"]


async def test_route_timeout_answers_504(
    dataplane: EnvoyDataPlane, make_backend: MakeBackend, http: aiohttp.ClientSession
) -> None:
    slow = await make_backend("slow")
    route = _to(slow, "all", timeout=timedelta(milliseconds=200))
    await dataplane.apply(_plane(VirtualHost("any", ("*",), (route,)), backends=(slow,)))

    answer = await get(http, gateway_url(dataplane, "/?delay=2000"))

    assert answer.status == 504
    assert (await get(http, gateway_url(dataplane, "/?delay=10"))).status == 200


async def test_retries_retry_and_no_retries_do_not(
    dataplane: EnvoyDataPlane, make_backend: MakeBackend, http: aiohttp.ClientSession
) -> None:
    flaky = await make_backend("flaky")
    retried = _to(
        flaky,
        "retried",
        RouteMatch(headers=(HeaderMatch("x-retry", StringMatch.exact("yes")),)),
        retries=Retries(attempts=2, retry_on="5xx"),
    )
    plain = _to(flaky, "plain")
    await dataplane.apply(_plane(VirtualHost("any", ("*",), (retried, plain)), backends=(flaky,)))
    url = gateway_url(dataplane, "/fail-first-attempt")

    with_retries = [await get(http, url, {"x-retry": "yes"}) for _ in range(5)]
    without = [await get(http, url) for _ in range(5)]

    assert [a.status for a in with_retries] == [200] * 5
    assert [a.status for a in without] == [503] * 5
    assert sorted(flaky.attempts.values()) == [1] * 5 + [2] * 5


async def test_istios_default_retries_retry_a_503_and_a_refused_connection(
    dataplane: EnvoyDataPlane, make_backend: MakeBackend, http: aiohttp.ClientSession
) -> None:
    """What a route gets when its VirtualService sets no `retries` (as in Istio): a
    connection refused (a replica that just stopped) is retried on another host and a 503
    answer is retried; `attempts: 0` (no policy) passes the failure to the client."""
    live = await make_backend("live")
    with socket.socket() as probe:  # a port nobody listens on: a replica that is gone
        probe.bind(("127.0.0.1", 0))
        dead_port = probe.getsockname()[1]
    pool = Cluster(
        "test_pool", (Endpoint("127.0.0.1", dead_port), Endpoint("127.0.0.1", live.port))
    )

    def route(name: str, cluster: str, header: str, **options: object) -> Route:
        match = RouteMatch(headers=(HeaderMatch("x-route", StringMatch.exact(header)),))
        return Route(name, (Destination(cluster, 100),), matches=(match,), **options)  # type: ignore[arg-type]

    routes = (
        route("pool", "test_pool", "pool", retries=ISTIO_DEFAULT_RETRIES),
        route("live", "test_live", "live", retries=ISTIO_DEFAULT_RETRIES),
        route("off", "test_pool", "off"),
    )
    await dataplane.apply(
        DataPlane(
            listeners=(Listener(port=0, virtual_hosts=(VirtualHost("any", ("*",), routes),)),),
            clusters=(pool, cluster_of(live)),
        )
    )
    root, flaky = gateway_url(dataplane, "/"), gateway_url(dataplane, "/fail-first-attempt")

    refused_then_retried = [await get(http, root, {"x-route": "pool"}) for _ in range(10)]
    answered_503_then_retried = [await get(http, flaky, {"x-route": "live"}) for _ in range(5)]
    not_retried = [await get(http, root, {"x-route": "off"}) for _ in range(10)]

    assert [a.status for a in refused_then_retried] == [200] * 10
    assert [a.status for a in answered_503_then_retried] == [200] * 5
    assert sorted(live.attempts.values()) == [2] * 5  # the 503, then the retry
    assert 503 in [a.status for a in not_retried]  # the dead host, with nothing to retry


async def test_mirror_copies_requests_and_drops_the_answers(
    dataplane: EnvoyDataPlane, make_backend: MakeBackend, http: aiohttp.ClientSession
) -> None:
    primary, shadow = await make_backend("primary"), await make_backend("shadow")
    route = Route(
        "all", (Destination("test_primary", 100),), mirror=Mirror("test_shadow", percent=100)
    )
    await dataplane.apply(_plane(VirtualHost("any", ("*",), (route,)), backends=(primary, shadow)))

    answers = [await get(http, gateway_url(dataplane)) for _ in range(20)]

    assert {a.backend for a in answers} == {"primary"}
    await eventually(lambda: shadow.hits >= 20, f"the mirror got {shadow.hits} of 20 copies")
    assert shadow.hits == 20
    assert shadow.last_headers()["host"][0].endswith("-shadow")  # Envoy marks the copies
