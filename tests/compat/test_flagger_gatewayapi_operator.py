"""Flagger's own Gateway API Canary (test/gatewayapi/test-canary.sh) run by the real operator.

As Flagger's script runs it: no `spec.provider`, the controller's mesh provider
`gatewayapi:v1` (Flagger's `-mesh-provider=gatewayapi:v1`), its `error-rate` and `latency`
MetricTemplates (Envoy's series). Only what ties the manifests to Flagger's test cluster
is changed for this world: the namespaces, the addresses of Prometheus and of the load
tester, and the 15 s interval (1 s here). The Prometheus stand-in answers the templates'
queries with the values the test sets.
"""

from __future__ import annotations

import copy

from coalmine.kube.adapters.client import Obj
from coalmine.kube.adapters.resources import HTTP_ROUTES
from tests.fixtures.flagger import (
    advanced_weights,
    compat_operator,
    flagger_initialized,
    flagger_phase,
    messages_once,
)
from tests.fixtures.flagger import manifest as flagger_manifest
from tests.fixtures.notify import Receiver
from tests.fixtures.operator import MetricsStandIn
from tests.fixtures.world import NEW_IMAGE, StartOperator, World, mesh

ERROR_RATE = 'envoy_response_code!~"5.*"'
"""A part only the error-rate template's query has."""
LATENCY = "envoy_cluster_upstream_rq_time_bucket"


def manifest(name: str) -> Obj:
    return flagger_manifest("gatewayapi", name)


async def initialized(
    world: World, start_operator: StartOperator, metrics: MetricsStandIn, receiver: Receiver
) -> None:
    await compat_operator(world, start_operator, mesh(metrics, "gatewayapi:v1"))
    templates = tuple(
        manifest(name) for name in ("metrictemplate-error-rate.yaml", "metrictemplate-latency.yaml")
    )
    for template in templates:
        template["metadata"]["namespace"] = ""
        template["spec"]["provider"]["address"] = metrics.url
    canary = copy.deepcopy(manifest("canary-progressive.yaml"))
    canary["metadata"]["namespace"] = ""
    spec = canary["spec"]
    spec["analysis"]["interval"] = "1s"
    for metric in spec["analysis"]["metrics"]:
        metric["templateRef"]["namespace"] = world.namespace
    spec["analysis"]["webhooks"][0]["url"] = receiver.url("/load-test")
    metrics.answers = {ERROR_RATE: 0.0, LATENCY: 0.05}  # 0 % errors, 50 ms
    await flagger_initialized(world, canary, templates)


async def test_flaggers_gateway_api_canary_is_promoted_on_its_http_route(
    world: World, start_operator: StartOperator, metrics_stand_in: MetricsStandIn,
    receiver: Receiver,
) -> None:  # fmt: skip
    await initialized(world, start_operator, metrics_stand_in, receiver)
    route = await world.must_get(HTTP_ROUTES, "podinfo")
    assert route["spec"]["parentRefs"] == [{"name": "gateway", "namespace": "istio-ingress"}]
    assert route["spec"]["hostnames"] == ["www.example.com"]

    await world.ship("podinfo", NEW_IMAGE)
    await flagger_phase(world, "Succeeded")

    assert await world.image_of("podinfo-primary") == NEW_IMAGE
    key = f"podinfo.{world.namespace}"
    said = await messages_once(world, f"Promotion completed! Scaling down {key}")
    assert advanced_weights(said, key) == [10, 20, 30, 40, 50]
    asked = [q for q in metrics_stand_in.queries if ERROR_RATE in q]
    assert asked and all(f'"{world.namespace}_podinfo-canary_' in q for q in asked)
    assert receiver.bodies("/load-test")  # the rollout webhook was called


async def test_an_error_rate_over_the_templates_maximum_rolls_back(
    world: World, start_operator: StartOperator, metrics_stand_in: MetricsStandIn,
    receiver: Receiver,
) -> None:  # fmt: skip
    await initialized(world, start_operator, metrics_stand_in, receiver)
    metrics_stand_in.answers[ERROR_RATE] = 5.0  # the template's maximum is 1

    await world.ship("podinfo", NEW_IMAGE)
    failed = await flagger_phase(world, "Failed")

    assert failed["status"]["failedChecks"] == 15  # the manifest's threshold
    route = await world.must_get(HTTP_ROUTES, "podinfo")
    weights = {ref["name"]: ref["weight"] for ref in route["spec"]["rules"][0]["backendRefs"]}
    assert weights == {"podinfo-primary": 100, "podinfo-canary": 0}
