"""The real operator with the istio router: the workshop's other strategies on the
VirtualService (A/B testing, blue/green mirroring, session affinity) and a rollback on
request duration, as tests/e2e/test_operator_gatewayapi.py runs them on an HTTPRoute.

Against the API emulator, and a real cluster with COALMINE_TEST_KUBECONFIG and Istio's
CRDs (tests/fixtures/world.py). Every wait is on observable state with a deadline. The
timeline (tests/fixtures/timeline.py) follows every `http` list the VirtualService had.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from coalmine.kube.adapters.client import Obj
from coalmine.kube.adapters.resources import CANARIES, DEPLOYMENTS, VIRTUAL_SERVICES
from tests.fixtures.operator import CHECKS, ITERATIONS, MetricsStandIn
from tests.fixtures.timeline import Timeline, following
from tests.fixtures.timeline import released as released_with
from tests.fixtures.world import NEW_IMAGE, OLD_IMAGE, Operator, World, eventually_async


def weight_in(route: Obj) -> int:
    """The canary's weight among a route's destinations."""
    hosts = {d["destination"]["host"]: d.get("weight", 0) for d in route["route"]}
    return int(hosts.get("podinfo-canary", 0))


async def http_routes(world: World) -> dict[str, Any]:
    """The reading of these tests: the VirtualService's whole `http` list."""
    vs = await world.get(VIRTUAL_SERVICES, "podinfo")
    return {} if vs is None else {"http": vs["spec"]["http"]}


def weights(timeline: Timeline, weighted: Callable[[list[Obj]], Obj]) -> list[int]:
    """The canary's weight in the route `weighted` picks, each time it changed."""
    seen: list[int] = []
    for routes in timeline["http"]:
        weight = weight_in(weighted(routes))
        if not seen or seen[-1] != weight:
            seen.append(weight)
    return seen


async def released(world: World, analysis: Obj) -> tuple[Timeline, Obj]:
    """A Canary with `analysis` initialized, a new image shipped and followed to Succeeded."""
    return await released_with(world, http_routes, analysis=analysis)


async def test_ab_testing_sends_the_matching_requests_to_the_canary_and_the_rest_to_the_primary(
    world: World, operator: Operator, metrics_stand_in: MetricsStandIn
) -> None:
    cookie = "^(.*?;)?(canary=always)(;.*)?$"
    match = [{"headers": {"x-canary": {"exact": "insider"}}},
             {"headers": {"cookie": {"regex": cookie}}}]  # fmt: skip
    timeline, _ = await released(world, {**ITERATIONS, "match": match})

    assert weights(timeline, lambda http: http[0]) == [0, 100, 0]
    during = next(http for http in timeline["http"] if weight_in(http[0]) == 100)
    ab, everyone = during
    assert ab["match"] == match
    assert "match" not in everyone and weight_in(everyone) == 0
    assert {d["destination"]["host"]: d["weight"] for d in everyone["route"]} == {
        "podinfo-primary": 100,
        "podinfo-canary": 0,
    }
    primary = await world.must_get(DEPLOYMENTS, "podinfo-primary")
    assert primary["spec"]["template"]["spec"]["containers"][0]["image"] == NEW_IMAGE


async def test_blue_green_mirroring_copies_the_requests_to_the_canary_during_the_analysis(
    world: World, operator: Operator, metrics_stand_in: MetricsStandIn
) -> None:
    timeline, _ = await released(world, {**ITERATIONS, "mirror": True, "mirrorWeight": 50})

    mirrored = [("mirror" in http[0]) for http in timeline["http"]]
    assert [m for n, m in enumerate(mirrored) if n == 0 or mirrored[n - 1] != m] == [
        False,
        True,
        False,
    ]
    assert weights(timeline, lambda http: http[0]) == [0, 100, 0]  # the switch at the end
    during = next(http[0] for http in timeline["http"] if "mirror" in http[0])
    assert during["mirror"] == {"host": "podinfo-canary"}
    assert during["mirrorPercentage"] == {"value": 50.0}
    assert weight_in(during) == 0  # mirrored only: every answer comes from the primary


async def test_session_affinity_pins_cookie_holders_to_the_canary_then_expires_the_cookie(
    world: World, operator: Operator, metrics_stand_in: MetricsStandIn
) -> None:
    analysis = {
        "interval": "1s",
        "threshold": 2,
        "stepWeight": 20,
        "maxWeight": 40,
        "metrics": CHECKS,
        "sessionAffinity": {"cookieName": "canary-cookie", "maxAge": 120},
    }
    timeline, succeeded = await released(world, analysis)

    assert weights(timeline, lambda http: http[-1]) == [0, 20, 40, 0]
    cookie = succeeded["status"]["previousSessionAffinityCookie"]
    name, _, _ = cookie.partition("=")
    assert name == "canary-cookie" and "sessionAffinityCookie" not in succeeded["status"]
    during = next(http for http in timeline["http"] if len(http) == 2 and weight_in(http[-1]))
    sticky, weighted = during
    [header_match] = [m["headers"] for m in sticky["match"]]
    regex = header_match["cookie"]["regex"]  # Istio matches header names in lower case
    assert re.fullmatch(regex, f"theme=dark; {cookie}")  # the holder of the cookie
    assert not re.fullmatch(regex, f"{name}=someone-else")
    assert weight_in(sticky) == 100
    [to_canary] = [d for d in weighted["route"] if d["destination"]["host"] == "podinfo-canary"]
    assert to_canary["headers"]["response"]["add"]["Set-Cookie"] == f"{cookie}; Max-Age=120"
    final = (await world.must_get(VIRTUAL_SERVICES, "podinfo"))["spec"]["http"]
    expire = final[0]
    assert expire["headers"]["response"]["add"]["Set-Cookie"] == f"{cookie}; Max-Age=-1"
    assert weight_in(final[-1]) == 0


async def test_a_slow_release_is_rolled_back_on_request_duration(
    world: World, operator: Operator, metrics_stand_in: MetricsStandIn
) -> None:
    await world.initialized()
    async with following(world, http_routes) as timeline:
        await world.ship("podinfo", NEW_IMAGE)

        async def at_20() -> bool:
            return bool(timeline["http"]) and weight_in(timeline["http"][-1][0]) == 20

        await eventually_async(at_20)
        metrics_stand_in.duration_ms = 900.0  # slow once the canary gets traffic
        failed = await world.wait_phase("Failed")

    assert weights(timeline, lambda http: http[0]) == [0, 20, 0]
    assert failed["status"]["failedChecks"] == 2
    primary = await world.must_get(DEPLOYMENTS, "podinfo-primary")
    assert primary["spec"]["template"]["spec"]["containers"][0]["image"] == OLD_IMAGE
    key = f"podinfo.{world.namespace}"
    await world.event_starting(f"Halt advancement {key} request-duration 900.00 > 500")
    found = await world.must_get(CANARIES, "podinfo")
    assert found["status"]["canaryWeight"] == 0
