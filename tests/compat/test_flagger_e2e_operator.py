"""Flagger's own Istio Canaries (test/istio/test-canary.sh, test-session-affinity.sh) run
by the real operator.

The operator (kopf, kr8s) reconciles the manifest of `flagger/istio/canary-progressive.yaml`
and its `latency` MetricTemplate against the Kubernetes API emulator, in Flagger
compatibility mode (group flagger.app). Only what ties the manifest to Flagger's test
cluster is changed for this world: the namespaces, the addresses of Prometheus and of the
load tester, and the 15 s interval (1 s here). Every field under test (apex metadata,
request headers, portDiscovery, templateRef with templateVariables, thresholds) is as
Flagger's script has it, and Flagger's own checks are asserted: the apex Service carries
the custom metadata and selects the primary, the canary is promoted, or rolled back when
the template's latency is over its maximum.
"""

from __future__ import annotations

import copy
import socket

from coalmine.engine.tick import ALL_PROVIDERS_AVAILABLE
from coalmine.kube.adapters.client import Obj
from coalmine.kube.adapters.resources import FLAGGER_CANARIES, SERVICES, VIRTUAL_SERVICES
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
from tests.fixtures.world import NEW_IMAGE, StartOperator, World, eventually_async


def manifest(name: str) -> Obj:
    return flagger_manifest("istio", name)


def in_this_world(world: World, metrics: MetricsStandIn, receiver: Receiver) -> tuple[Obj, Obj]:
    """Flagger's template and Canary, tied to this world instead of Flagger's test cluster."""
    template = manifest("metrictemplate-latency.yaml")
    template["spec"]["provider"]["address"] = metrics.url
    canary = copy.deepcopy(manifest("canary-progressive.yaml"))
    analysis = canary["spec"]["analysis"]
    analysis["interval"] = "1s"
    analysis["metrics"][1]["templateRef"]["namespace"] = world.namespace
    analysis["webhooks"][0]["url"] = receiver.url("/load-test")
    return template, canary


async def initialized(
    world: World,
    start_operator: StartOperator,
    metrics: MetricsStandIn,
    receiver: Receiver,
) -> None:
    await compat_operator(world, start_operator)
    template, canary = in_this_world(world, metrics, receiver)
    await flagger_initialized(world, canary, (template,))


async def test_flaggers_istio_canary_is_initialized_and_promoted(
    world: World, start_operator: StartOperator, metrics_stand_in: MetricsStandIn,
    receiver: Receiver,
) -> None:  # fmt: skip
    await initialized(world, start_operator, metrics_stand_in, receiver)
    said = await messages_once(world, ALL_PROVIDERS_AVAILABLE)  # Prometheus and the template's
    assert not any(m.startswith("Error checking metric providers") for m in said), said

    apex = await world.must_get(SERVICES, "podinfo")
    assert apex["metadata"]["labels"]["test"] == "labels-test"
    assert apex["metadata"]["annotations"]["test"] == "annotations-test"
    assert apex["spec"]["selector"] == {"app": "podinfo-primary"}
    vs = await world.must_get(VIRTUAL_SERVICES, "podinfo")
    assert vs["spec"]["http"][0]["headers"]["request"]["add"]["x-envoy-max-retries"] == "10"
    assert vs["metadata"]["labels"]["test"] == "labels-test"

    await world.ship("podinfo", NEW_IMAGE)
    await flagger_phase(world, "Succeeded")

    assert await world.image_of("podinfo-primary") == NEW_IMAGE
    key = f"podinfo.{world.namespace}"
    said = await messages_once(world, f"Promotion completed! Scaling down {key}")
    assert advanced_weights(said, key) == [10, 20, 30]
    latency = [q for q in metrics_stand_in.queries if "istio_request_duration" in q]
    assert latency and all('reporter="destination"' in q for q in latency)
    assert receiver.bodies("/load-test")  # the rollout webhook was called


async def test_a_latency_over_the_templates_maximum_rolls_back(
    world: World, start_operator: StartOperator, metrics_stand_in: MetricsStandIn,
    receiver: Receiver,
) -> None:  # fmt: skip
    await initialized(world, start_operator, metrics_stand_in, receiver)
    metrics_stand_in.duration_ms = 501.0  # the template's histogram_quantile

    await world.ship("podinfo", NEW_IMAGE)
    failed = await flagger_phase(world, "Failed")

    assert failed["status"]["failedChecks"] == 15  # the manifest's threshold
    assert await world.image_of("podinfo-primary") != NEW_IMAGE
    key = f"podinfo.{world.namespace}"
    said = await messages_once(world, f"Rolling back {key} failed checks threshold reached 15")
    assert any("latency 501.00 > 500" in m for m in said), said


async def test_an_offline_template_server_is_a_warning_at_initialization(
    world: World, start_operator: StartOperator, metrics_stand_in: MetricsStandIn,
    receiver: Receiver,
) -> None:  # fmt: skip
    """Flagger's checkMetricProviderAvailability: the template's Prometheus does not
    answer, so initialization says so in a Warning event, and goes on."""
    await compat_operator(world, start_operator)
    template, canary = in_this_world(world, metrics_stand_in, receiver)
    with socket.socket() as probe:  # an address nothing listens on
        probe.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{probe.getsockname()[1]}"
    template["spec"]["provider"]["address"] = dead
    await flagger_initialized(world, canary, (template,))

    warned = f"Error checking metric providers: prometheus at {dead} (template latency"
    said = await messages_once(world, warned)
    assert ALL_PROVIDERS_AVAILABLE not in said
    [event] = [e for e in await world.events() if e["message"].startswith(warned)]
    assert event["type"] == "Warning"


async def test_flaggers_session_affinity_canary_writes_sticky_routes(
    world: World, start_operator: StartOperator, metrics_stand_in: MetricsStandIn,
    receiver: Receiver,
) -> None:  # fmt: skip
    """test/istio/test-session-affinity.sh's Canary: during the analysis the canary's
    answers set its cookie and its holders are routed to it, and the status names the
    cookie; afterwards it is `previousSessionAffinityCookie` and expired (the routing
    itself is checked through a real Envoy in tests/local/envoy/test_session_affinity.py)."""
    await compat_operator(world, start_operator)
    canary = manifest("canary-session-affinity.yaml")
    canary["spec"]["analysis"]["interval"] = "1s"
    canary["spec"]["analysis"]["webhooks"][0]["url"] = receiver.url("/load-test")
    await flagger_initialized(world, canary)

    await world.ship("podinfo", NEW_IMAGE)

    async def sticky_while_progressing() -> Obj | None:
        vs = await world.must_get(VIRTUAL_SERVICES, "podinfo")
        names = [route.get("name") for route in vs["spec"]["http"]]
        return vs if names == ["sticky-route", "sticky-route-primary", None] else None

    vs = await eventually_async(sticky_while_progressing, deadline=60)
    assert vs["spec"]["hosts"] == ["*"] and vs["spec"]["gateways"] == [
        "istio-system/istio-ingressgateway"
    ]
    weighted = vs["spec"]["http"][2]["route"]
    cookie = weighted[1]["headers"]["response"]["add"]["Set-Cookie"]
    assert cookie.startswith("canary-flagger-cookie=") and cookie.endswith("; Max-Age=86400")
    primary_cookie = weighted[0]["headers"]["response"]["add"]["Set-Cookie"]
    assert primary_cookie.startswith("primary-flagger-cookie=")
    value = cookie.split(";")[0]

    async def cookies_in_the_status() -> Obj | None:  # written after the routes
        status = (await world.must_get(FLAGGER_CANARIES, "podinfo")).get("status") or {}
        return status if status.get("sessionAffinityCookie") else None

    status = await eventually_async(cookies_in_the_status, deadline=20)
    assert status["sessionAffinityCookie"] == value
    assert status["primarySessionAffinityCookie"] == primary_cookie.split(";")[0]

    status = (await flagger_phase(world, "Succeeded"))["status"]
    # test-session-affinity.sh's check: the previous cookie is in the status, and a
    # request carrying it gets it back expired
    assert status["previousSessionAffinityCookie"] == value
    assert "sessionAffinityCookie" not in status
    assert "primarySessionAffinityCookie" not in status
    vs = await world.must_get(VIRTUAL_SERVICES, "podinfo")
    sticky = vs["spec"]["http"][0]
    assert sticky["headers"]["response"]["add"]["Set-Cookie"] == f"{value}; Max-Age=-1"
