"""The real operator with the gatewayapi router: the workshop scenario on an HTTPRoute,
against the API emulator with the Gateway API CRDs and their schemas (and a real cluster
with COALMINE_TEST_KUBECONFIG and the Gateway API CRDs installed, see
tests/fixtures/world.py).

Promotion, rollback on failing checks (the router chosen by --mesh-provider), A/B
testing, blue/green mirroring and session affinity. Every wait is on observable state
with a deadline. The timeline samples the HTTPRoute: the canary's weight in the
weighted rule (the first with two backendRefs), whether it mirrors, and the phase.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from typing import Any

from coalmine.kube.adapters.client import Obj
from coalmine.kube.adapters.ownership import KEPT_FROM, ORIGINAL_SPEC
from coalmine.kube.adapters.resources import CANARIES, HTTP_ROUTES, SECRETS, VIRTUAL_SERVICES
from tests.fixtures.operator import CHECKS, ITERATIONS, MetricsStandIn, canary, deployment
from tests.fixtures.timeline import following, released
from tests.fixtures.world import (
    NEW_IMAGE,
    OLD_IMAGE,
    Operator,
    StartOperator,
    World,
    eventually_async,
    mesh,
)

GATEWAY = {"name": "public", "namespace": "gateways"}
SERVICE = {"port": 9898, "targetPort": 9898, "gatewayRefs": [GATEWAY], "hosts": ["app.test"]}
ON_THE_GATEWAY: dict[str, Any] = {"provider": "gatewayapi", "service": SERVICE}
"""The Canary's fields for the gatewayapi router."""


def weighted_rule(route: Obj) -> Obj:
    """The rule with the weights: the first with two backendRefs (as routes_of reads it)."""
    return next(r for r in route["spec"]["rules"] if len(r.get("backendRefs") or []) >= 2)


def canary_weight(route: Obj) -> int:
    refs = {ref["name"]: ref["weight"] for ref in weighted_rule(route)["backendRefs"]}
    return int(refs["podinfo-canary"])


def mirrors(route: Obj) -> bool:
    return any(f["type"] == "RequestMirror" for f in weighted_rule(route).get("filters") or [])


async def route_of(world: World) -> dict[str, Any]:
    """The timeline's readings of the HTTPRoute: the canary's weight, whether it
    mirrors, and every rule set it had."""
    route = await world.get(HTTP_ROUTES, "podinfo")
    if route is None:
        return {}
    return {"weights": canary_weight(route), "mirrored": mirrors(route),
            "rule_sets": route["spec"]["rules"]}  # fmt: skip


async def test_a_new_image_is_shifted_20_40_60_on_the_http_route_and_promoted(
    world: World, operator: Operator, metrics_stand_in: MetricsStandIn
) -> None:
    timeline, succeeded = await released(world, route_of, **ON_THE_GATEWAY)

    assert timeline["weights"] == [0, 20, 40, 60, 0]
    assert timeline["mirrored"] == [False]
    assert timeline["phases"] == ["Initialized", "Progressing", "Promoting", "Finalising",
                               "Succeeded"]  # fmt: skip
    route = await world.must_get(HTTP_ROUTES, "podinfo")
    assert route["spec"]["parentRefs"] == [GATEWAY]
    assert route["spec"]["hostnames"] == ["app.test"]
    assert await world.get(VIRTUAL_SERVICES, "podinfo") is None  # no Istio object
    assert await world.image_of("podinfo-primary") == NEW_IMAGE
    assert succeeded["status"]["canaryWeight"] == 0
    asked = [q for q in metrics_stand_in.queries if "istio_request" in q]
    assert asked, "the built-in checks are Istio's, as Flagger's observer factory gives"
    said = [e["message"] for e in await world.events()]
    key = f"podinfo.{world.namespace}"
    steps = [f"Starting canary analysis for {key}, canary weight 20"]
    steps += [f"Advance {key} canary weight {w}" for w in (40, 60)]
    assert [said.count(step) for step in steps] == [1, 1, 1]


async def test_failing_checks_roll_back_on_the_mesh_providers_gateway_api_router(
    world: World, start_operator: StartOperator, metrics_stand_in: MetricsStandIn
) -> None:
    """spec.provider unset: --mesh-provider gatewayapi:v1 (Flagger's flag value) picks the
    router and the built-in checks."""
    await start_operator(analysis=mesh(metrics_stand_in, "gatewayapi:v1"))
    await world.initialized(service=SERVICE)

    async with following(world, route_of) as timeline:
        await world.ship("podinfo", NEW_IMAGE)
        await eventually_async(lambda: _weight_is(world, 20))
        metrics_stand_in.success_rate = 80.0
        failed = await world.wait_phase("Failed")

    assert timeline["weights"] == [0, 20, 0]
    assert failed["status"]["failedChecks"] == 2
    assert await world.image_of("podinfo-primary") == OLD_IMAGE
    # the Event follows the status: the Failed phase may be read before it is written
    await world.event_starting(f"Rolling back podinfo.{world.namespace} failed checks threshold")


async def _weight_is(world: World, weight: int) -> bool:
    route = await world.get(HTTP_ROUTES, "podinfo")
    return route is not None and canary_weight(route) == weight


async def test_ab_testing_sends_the_matching_requests_to_the_canary_and_the_rest_to_the_primary(
    world: World, operator: Operator, metrics_stand_in: MetricsStandIn
) -> None:
    cookie = "^(.*?;)?(canary=always)(;.*)?$"
    match = [{"headers": {"x-canary": {"exact": "insider"}}},
             {"headers": {"cookie": {"regex": cookie}}}]  # fmt: skip
    timeline, _ = await released(
        world, route_of, **ON_THE_GATEWAY, analysis={**ITERATIONS, "match": match}
    )

    assert timeline["weights"] == [0, 100, 0]
    during = next(
        rules for rules in timeline["rule_sets"] if canary_weight({"spec": {"rules": rules}})
    )
    ab, everyone = during
    every_path = {"type": "PathPrefix", "value": "/"}
    insider = {"name": "x-canary", "type": "Exact", "value": "insider"}
    assert ab["matches"] == [
        {"path": every_path, "headers": [insider]},
        {"path": every_path, "headers": [{"name": "cookie", "type": "RegularExpression",
                                          "value": cookie}]},
    ]  # fmt: skip
    assert [ref["name"] for ref in everyone["backendRefs"]] == ["podinfo-primary"]
    assert "headers" not in everyone["matches"][0]


async def test_blue_green_mirroring_copies_the_requests_to_the_canary_during_the_analysis(
    world: World, operator: Operator, metrics_stand_in: MetricsStandIn
) -> None:
    analysis = {**ITERATIONS, "mirror": True, "mirrorWeight": 50}
    timeline, _ = await released(world, route_of, **ON_THE_GATEWAY, analysis=analysis)

    assert timeline["mirrored"] == [False, True, False]
    assert timeline["weights"] == [0, 100, 0]  # the switch once the iterations are done
    mirrored = next(rules for rules in timeline["rule_sets"] if mirrors({"spec": {"rules": rules}}))
    [mirror] = [f for f in mirrored[0]["filters"] if f["type"] == "RequestMirror"]
    assert mirror["requestMirror"] == {
        "backendRef": {"group": "", "kind": "Service", "name": "podinfo-canary", "port": 9898},
        "percent": 50,
    }


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
    timeline, succeeded = await released(world, route_of, **ON_THE_GATEWAY, analysis=analysis)

    assert timeline["weights"] == [0, 20, 40, 0]
    cookie = succeeded["status"]["previousSessionAffinityCookie"]
    name, _, value = cookie.partition("=")
    assert name == "canary-cookie" and "sessionAffinityCookie" not in succeeded["status"]
    during = next(rules for rules in timeline["rule_sets"] if len(rules) == 2 and
                  canary_weight({"spec": {"rules": rules}}))  # fmt: skip
    sticky, weighted = during
    assert sticky["matches"][0]["headers"][0]["name"] == "Cookie"
    assert value in sticky["matches"][0]["headers"][0]["value"]
    assert [ref["name"] for ref in sticky["backendRefs"]] == ["podinfo-canary"]
    set_cookie = weighted["backendRefs"][1]["filters"][0]["responseHeaderModifier"]["add"][0]
    assert set_cookie == {"name": "Set-Cookie", "value": f"{cookie}; Max-Age=120"}
    final = (await world.must_get(HTTP_ROUTES, "podinfo"))["spec"]["rules"]
    expire, _ = final
    expiring = expire["filters"][-1]["responseHeaderModifier"]["add"][0]
    assert expiring == {"name": "Set-Cookie", "value": f"{cookie}; Max-Age=-1"}
    assert [ref["name"] for ref in expire["backendRefs"]] == ["podinfo-primary"]


async def test_deleting_mid_analysis_without_revert_keeps_the_http_route_on_the_primary(
    world: World, operator: Operator, metrics_stand_in: MetricsStandIn
) -> None:
    """The HTTPRoute outlives the Canary, all its traffic on the primary: without
    `kube.adapters.disown` the garbage collector would delete it and the Gateway would route the
    app's hostnames nowhere."""
    podinfo = await world.initialized(**ON_THE_GATEWAY)
    await world.owned_secret(podinfo)
    await world.ship("podinfo", NEW_IMAGE)
    await eventually_async(lambda: _weight_is(world, 20))

    await world.delete(CANARIES, "podinfo")
    await world.wait_gone(CANARIES, "podinfo")
    await world.wait_gone(SECRETS, "collected")  # the collector ran

    route = await world.must_get(HTTP_ROUTES, "podinfo")
    assert canary_weight(route) == 0
    assert "ownerReferences" not in route["metadata"]
    assert route["metadata"]["annotations"][KEPT_FROM] == "podinfo"
    said = [e["message"] for e in await world.events()]
    assert any("httproute podinfo" in m and "kept as the user's" in m for m in said), said


async def test_revert_on_deletion_gives_the_users_http_route_back(
    world: World, operator: Operator, metrics_stand_in: MetricsStandIn
) -> None:
    users = await world.create(
        {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
         "metadata": {"name": "podinfo", "namespace": ""},
         "spec": {"parentRefs": [GATEWAY],
                  "rules": [{"backendRefs": [{"name": "podinfo", "port": 9898}]}]}}
    )  # fmt: skip
    await world.initialized(**ON_THE_GATEWAY, revertOnDeletion=True)
    taken = await world.must_get(HTTP_ROUTES, "podinfo")
    assert ORIGINAL_SPEC in taken["metadata"]["annotations"]
    assert canary_weight(taken) == 0

    await world.delete(CANARIES, "podinfo")
    await world.wait_gone(CANARIES, "podinfo")

    restored = await world.must_get(HTTP_ROUTES, "podinfo")
    assert restored["spec"] == users["spec"]
    assert "ownerReferences" not in restored["metadata"]


async def test_a_re_applied_http_route_is_repaired_on_the_watch_event_not_the_next_tick(
    world: World, operator: Operator, metrics_stand_in: MetricsStandIn
) -> None:
    """`kubectl apply` of the user's HTTPRoute sends its traffic to the target's Service
    (scaled to zero): the operator repairs it when the change arrives, a minute before
    the next tick."""
    users = {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
             "metadata": {"name": "podinfo", "namespace": ""},
             "spec": {"parentRefs": [GATEWAY],
                      "rules": [{"backendRefs": [{"name": "podinfo", "port": 9898}]}]}}  # fmt: skip
    await world.create(users)
    await world.initialized(**ON_THE_GATEWAY)
    analysis = canary()["spec"]["analysis"]
    analysis["interval"] = "60s"
    await world.patch(CANARIES, "podinfo", {"spec": {"analysis": analysis}})
    await asyncio.sleep(3)  # the tick at the old 1 s interval reads the new one, then sleeps

    await world.patch(HTTP_ROUTES, "podinfo", {"spec": users["spec"]})

    async def repaired() -> bool:
        route = await world.must_get(HTTP_ROUTES, "podinfo")
        return len(route["spec"]["rules"][0]["backendRefs"]) == 2

    await eventually_async(repaired, deadline=15)
    route = await world.must_get(HTTP_ROUTES, "podinfo")
    assert canary_weight(route) == 0
    assert route["spec"]["parentRefs"] == [GATEWAY]


async def test_a_canary_without_gateway_refs_on_the_gateway_api_default_is_told_why(
    world: World, start_operator: StartOperator, metrics_stand_in: MetricsStandIn
) -> None:
    await start_operator(analysis=mesh(metrics_stand_in, "gatewayapi"))
    await world.create(deployment())
    await world.create(canary())  # the podinfo Canary, written for Istio: no gatewayRefs

    event = await world.event_containing("service.gatewayRefs is required with provider gatewayapi")
    assert event["type"] == "Warning"
    assert "name the Gateway(s) the HTTPRoute attaches to" in event["message"]
    assert await world.phase() in (None, "Initializing")
    assert await world.get(HTTP_ROUTES, "podinfo") is None


@dataclass
class GatewayControllerStandIn:
    """A Gateway controller's part: it writes the route's parent status for each new
    generation, Accepted or not as the test says."""

    world: World
    accepts: bool = False

    async def run(self) -> None:
        while True:
            route = await self.world.get(HTTP_ROUTES, "podinfo")
            if route is not None:
                await self._write(route)
            await asyncio.sleep(0.05)

    async def _write(self, route: Obj) -> None:
        generation = route["metadata"]["generation"]
        status = "True" if self.accepts else "False"
        [parent] = ((route.get("status") or {}).get("parents")) or [{}]
        [condition] = parent.get("conditions") or [{}]
        if (condition.get("observedGeneration"), condition.get("status")) == (generation, status):
            return
        condition = {"type": "Accepted", "status": status, "observedGeneration": generation,
                     "reason": "Accepted" if self.accepts else "NotAllowedByListeners",
                     "message": "" if self.accepts else "no listener admits this namespace",
                     "lastTransitionTime": "2026-01-01T00:00:00Z"}  # fmt: skip
        parent_ref = {"group": "gateway.networking.k8s.io", "kind": "Gateway", **GATEWAY}
        body = {"parents": [{"parentRef": parent_ref, "controllerName": "example.com/gw",
                             "conditions": [condition]}]}  # fmt: skip
        with contextlib.suppress(Exception):  # a newer generation meanwhile: the next loop
            await self.world.client.merge_patch(
                HTTP_ROUTES, "podinfo", self.world.namespace, {"status": body},
                subresource="status",
            )  # fmt: skip


async def test_the_canary_waits_while_its_gateway_has_not_accepted_the_route(
    world: World, operator: Operator, metrics_stand_in: MetricsStandIn
) -> None:
    """Flagger's GetRoutes: no step is taken on a route its Gateway does not serve."""
    gateway = GatewayControllerStandIn(world, accepts=True)
    task = asyncio.create_task(gateway.run())
    try:
        await world.initialized(**ON_THE_GATEWAY)
        gateway.accepts = False  # e.g. a listener stops admitting the namespace

        async with following(world, route_of) as timeline:
            await world.ship("podinfo", NEW_IMAGE)

            refused = "is not ready: parent gateways/public has Accepted=False"
            event = await world.event_containing(refused)
            assert event["type"] == "Warning"
            assert timeline["weights"] == [0]  # nothing shifted while the Gateway refuses it
            gateway.accepts = True
            await world.wait_phase("Succeeded")
        assert timeline["weights"] == [0, 20, 40, 60, 0]
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
