"""Local mode end to end with provider `gatewayapi`: the Canary's router writes a Gateway API
HTTPRoute into the local store, on a Gateway API Gateway, and the real Envoy serves it.

The scaffolding (traffic through the gateway, steady load, the demo's releases) is
tests/e2e/test_local_mode.py's; only the routing objects differ.
"""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest

from coalmine.api.canary import Phase
from coalmine.demo.scenario import workload_manifests
from coalmine.load import LoadGenerator, LoadPlan
from coalmine.local.runtime import LocalRuntime
from tests.e2e.test_delete_and_reapply import traffic
from tests.e2e.test_local_mode import HOST, steady_load, versions
from tests.fixtures.local import DEFAULT_ANALYSIS, NAMESPACE, wait_for_phase, wait_until

pytestmark = pytest.mark.slow

GATEWAY = f"""
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {{name: public, namespace: {NAMESPACE}}}
spec:
  gatewayClassName: coalmine
  listeners: [{{name: http, port: 80, protocol: HTTP}}]
"""

CANARY = f"""
apiVersion: coalmine.dev/v1beta1
kind: Canary
metadata: {{name: go-demo-7, namespace: {NAMESPACE}}}
spec:
  provider: gatewayapi
  targetRef: {{apiVersion: apps/v1, kind: Deployment, name: go-demo-7}}
  service:
    port: 80
    targetPort: 8080
    hosts: [{HOST["Host"]}]
    gatewayRefs: [{{name: public, sectionName: http}}]
  progressDeadlineSeconds: 60
  analysis:
{DEFAULT_ANALYSIS}
"""


def manifests(version: str, env: dict[str, str] | None = None, *, revert: bool = False) -> str:
    """go-demo-7 at `version`: its Deployment and Service, a Gateway API Gateway and the
    Canary (the demo's Istio Gateway is left out: nothing here uses it)."""
    workload = workload_manifests({"VERSION": version, **(env or {})})
    documents = [d for d in workload.split("---") if "networking.istio.io" not in d]
    return "---".join([*documents, GATEWAY, canary_text(revert)])


def canary_text(revert: bool) -> str:
    setting = f"  revertOnDeletion: {'true' if revert else 'false'}\n"
    return CANARY.replace("  progressDeadlineSeconds:", setting + "  progressDeadlineSeconds:")


async def ship(runtime: LocalRuntime, version: str, env: dict[str, str] | None = None) -> None:
    await runtime.apply(manifests(version, env), "test")
    await wait_for_phase(runtime, Phase.PROGRESSING)


def http_route_weights(runtime: LocalRuntime) -> dict[str, int]:
    stored = runtime.store.get("HTTPRoute", NAMESPACE, "go-demo-7")
    assert stored is not None and stored.owner == "Canary/go-demo-7"
    [rule] = stored.manifest["spec"]["rules"]
    return {ref["name"]: ref["weight"] for ref in rule["backendRefs"]}


def canary_weight(runtime: LocalRuntime) -> int:
    stored = runtime.store.get("Canary", NAMESPACE, "go-demo-7")
    return int(((stored.status if stored else None) or {}).get("canaryWeight", 0))


async def test_a_good_release_is_promoted_through_an_http_route_without_failing_a_request(
    local_runtime: LocalRuntime,
) -> None:
    await local_runtime.apply(manifests("0.0.1"), "test")
    await wait_for_phase(local_runtime, Phase.INITIALIZED)
    assert http_route_weights(local_runtime) == {"go-demo-7-primary": 100, "go-demo-7-canary": 0}
    assert await versions(local_runtime, 20) == Counter({"0.0.1": 20})
    plan = LoadPlan(
        urls=(local_runtime.gateway_url + "/demo/hello",),
        rate=100,
        duration=600,
        headers=HOST,
        timeout=5,
    )
    load = LoadGenerator(plan)
    running = asyncio.create_task(load.run())
    await ship(local_runtime, "0.0.2")
    await wait_until(lambda: canary_weight(local_runtime) >= 40, "weight 40", within=60)
    assert http_route_weights(local_runtime)["go-demo-7-canary"] >= 40
    assert (await versions(local_runtime, 200))["0.0.2"] > 0  # the canary serves its share
    await wait_for_phase(local_runtime, Phase.SUCCEEDED, within=90)
    load.stop()
    result = await running

    assert result.sent > 500
    assert result.errors == {}
    assert dict(result.statuses) == {200: result.answered}
    assert await versions(local_runtime, 50) == Counter({"0.0.2": 50})
    assert http_route_weights(local_runtime) == {"go-demo-7-primary": 100, "go-demo-7-canary": 0}
    messages = [e.message for e in local_runtime.store.events(NAMESPACE, "go-demo-7")]
    assert "Advance go-demo-7.go-demo-7 canary weight 60" in messages
    assert local_runtime.store.get("VirtualService", NAMESPACE, "go-demo-7") is None


async def test_a_release_answering_500_is_rolled_back_and_the_http_route_sends_it_nothing(
    local_runtime: LocalRuntime,
) -> None:
    await local_runtime.apply(manifests("0.0.1"), "test")
    await wait_for_phase(local_runtime, Phase.INITIALIZED)
    await ship(local_runtime, "0.0.3", {"DEMO_ERROR_RATE": "1.0"})
    async with steady_load(local_runtime, "/demo/random-error", rate=50):
        await wait_for_phase(local_runtime, Phase.FAILED, within=60)

    assert http_route_weights(local_runtime) == {"go-demo-7-primary": 100, "go-demo-7-canary": 0}
    assert await versions(local_runtime, 200) == Counter({"0.0.1": 200})
    assert local_runtime.processes.status(NAMESPACE, "go-demo-7").replicas == 0
    messages = [e.message for e in local_runtime.store.events(NAMESPACE, "go-demo-7")]
    assert "Rolling back go-demo-7.go-demo-7 failed checks threshold reached 2" in messages


async def test_deleting_a_canary_mid_analysis_hands_back_an_http_route_to_the_target(
    local_runtime: LocalRuntime,
) -> None:
    await local_runtime.apply(manifests("0.0.1", revert=True), "test")
    await wait_for_phase(local_runtime, Phase.INITIALIZED)
    async with traffic(local_runtime) as seen:
        await local_runtime.apply(manifests("0.0.2", revert=True), "test")
        await wait_until(lambda: canary_weight(local_runtime) >= 20, "weight 20", within=60)
        await local_runtime.delete(canary_text(revert=True), "canary.yaml")
        await asyncio.sleep(2)

    assert seen.failures() == {}
    store = local_runtime.store
    assert [o.key for o in store.objects() if o.owner] == []
    assert store.get("Deployment", NAMESPACE, "go-demo-7-primary") is None
    route = store.get("HTTPRoute", NAMESPACE, "go-demo-7")
    assert route is not None  # kept as the user's, so the host stays served
    backends = [
        ref["name"] for rule in route.manifest["spec"]["rules"] for ref in rule["backendRefs"]
    ]
    assert backends == ["go-demo-7"]
    assert await versions(local_runtime, 50) == Counter({"0.0.2": 50})
