"""Local mode end to end with provider `gatewayapi`: the Canary's router writes a Gateway API
HTTPRoute into the local store, on a Gateway API Gateway, and the real Envoy serves it.

The scaffolding (traffic through the gateway, steady load, the demo's releases) is
tests/fixtures/local.py's, as tests/e2e/test_local_mode.py's; only the routing objects differ.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import aiohttp
import pytest

from coalmine.api.canary import Phase
from coalmine.demo.scenario import workload_manifests
from coalmine.local.runtime import LocalRuntime
from tests.e2e.test_delete_and_reapply import traffic
from tests.e2e.test_local_configs import CONFIG, config_map, primary_copy
from tests.fixtures.local import (
    DEFAULT_ANALYSIS,
    HOST,
    NAMESPACE,
    steady_load,
    until_served_by,
    versions,
    wait_for_phase,
    wait_until,
    weight,
)

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
ANALYSIS
"""


def manifests(
    version: str,
    env: dict[str, str] | None = None,
    *,
    revert: bool = False,
    analysis: str = DEFAULT_ANALYSIS,
) -> str:
    """go-demo-7 at `version`: its Deployment and Service, a Gateway API Gateway and the
    Canary (the demo's Istio Gateway is left out: nothing here uses it)."""
    workload = workload_manifests({"VERSION": version, **(env or {})})
    documents = [d for d in workload.split("---") if "networking.istio.io" not in d]
    return "---".join([*documents, GATEWAY, canary_text(revert, analysis)])


def canary_text(revert: bool, analysis: str = DEFAULT_ANALYSIS) -> str:
    setting = f"  revertOnDeletion: {'true' if revert else 'false'}\n"
    text = CANARY.replace("ANALYSIS", analysis)
    return text.replace("  progressDeadlineSeconds:", setting + "  progressDeadlineSeconds:")


async def initialized(runtime: LocalRuntime, analysis: str = DEFAULT_ANALYSIS) -> None:
    await runtime.apply(manifests("0.0.1", analysis=analysis), "test")
    await wait_for_phase(runtime, Phase.INITIALIZED)


async def ship(
    runtime: LocalRuntime,
    version: str,
    env: dict[str, str] | None = None,
    analysis: str = DEFAULT_ANALYSIS,
) -> None:
    await runtime.apply(manifests(version, env, analysis=analysis), "test")
    await wait_for_phase(runtime, Phase.PROGRESSING)


def http_route_rules(runtime: LocalRuntime) -> list[dict[str, Any]]:
    stored = runtime.store.get("HTTPRoute", NAMESPACE, "go-demo-7")
    assert stored is not None and stored.owner == "Canary/go-demo-7"
    rules: list[dict[str, Any]] = stored.manifest["spec"]["rules"]
    return rules


def http_route_weights(runtime: LocalRuntime) -> dict[str, int]:
    [rule] = http_route_rules(runtime)
    return {ref["name"]: ref["weight"] for ref in rule["backendRefs"]}


async def test_a_good_release_is_promoted_through_an_http_route_without_failing_a_request(
    local_runtime: LocalRuntime,
) -> None:
    await local_runtime.apply(manifests("0.0.1"), "test")
    await wait_for_phase(local_runtime, Phase.INITIALIZED)
    assert http_route_weights(local_runtime) == {"go-demo-7-primary": 100, "go-demo-7-canary": 0}
    assert await versions(local_runtime, 20) == Counter({"0.0.1": 20})
    async with steady_load(local_runtime, rate=100, request_timeout=5) as load:
        await ship(local_runtime, "0.0.2")
        await wait_until(lambda: weight(local_runtime) >= 40, "weight 40", within=60)
        assert http_route_weights(local_runtime)["go-demo-7-canary"] >= 40
        assert (await versions(local_runtime, 200))["0.0.2"] > 0  # the canary serves its share
        await wait_for_phase(local_runtime, Phase.SUCCEEDED, within=90)
    result = load.snapshot()

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
        await wait_until(lambda: weight(local_runtime) >= 20, "weight 20", within=60)
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


def events(runtime: LocalRuntime) -> list[str]:
    return [e.message for e in runtime.store.events(NAMESPACE, "go-demo-7")]


async def release_of(runtime: LocalRuntime, headers: dict[str, str]) -> tuple[str, str]:
    """(the release that answered, the Set-Cookie it sent) for one request."""
    timeout = aiohttp.ClientTimeout(total=5)
    async with (
        aiohttp.ClientSession(timeout=timeout) as http,
        http.get(runtime.gateway_url + "/version", headers=headers) as answer,
    ):
        text = await answer.text()
        assert answer.status == 200, text
        return text.split(";")[0].removeprefix("Version: "), answer.headers.get("Set-Cookie", "")


CHECKS = """    metrics:
      - {name: request-success-rate, interval: 4s, thresholdRange: {min: 99}}"""

AB = f"""    interval: 2s
    threshold: 2
    iterations: 5
    match:
      - headers: {{x-canary: {{exact: insider}}}}
{CHECKS}"""

INSIDER = {**HOST, "x-canary": "insider"}


async def until_insiders_reach(version: str, runtime: LocalRuntime, within: float = 30) -> None:
    """The A/B rule is served from the analysis's first step, a tick after Progressing."""
    deadline = asyncio.get_running_loop().time() + within
    while (await release_of(runtime, INSIDER))[0] != version:
        assert asyncio.get_running_loop().time() < deadline, f"insiders never reached {version}"
        await asyncio.sleep(0.1)


async def test_ab_testing_sends_the_matching_requests_and_only_them_to_the_canary(
    local_runtime: LocalRuntime,
) -> None:
    await initialized(local_runtime, AB)
    async with steady_load(
        local_runtime, headers=INSIDER
    ):  # the canary's checks measure its requests
        await ship(local_runtime, "0.0.2", analysis=AB)
        await until_insiders_reach("0.0.2", local_runtime)
        insiders = Counter([(await release_of(local_runtime, INSIDER))[0] for _ in range(20)])
        others = await versions(local_runtime, 100)
        assert (insiders, others) == (Counter({"0.0.2": 20}), Counter({"0.0.1": 100}))
        await wait_for_phase(local_runtime, Phase.SUCCEEDED, within=90)

    assert await versions(local_runtime, 50) == Counter({"0.0.2": 50})
    said = events(local_runtime)
    assert "Starting canary analysis for go-demo-7.go-demo-7, canary iteration 1/5" in said
    assert "Advance go-demo-7.go-demo-7 canary iteration 2/5" in said


MIRRORING = f"""    interval: 2s
    threshold: 2
    iterations: 3
    mirror: true
{CHECKS}"""


async def test_blue_green_mirroring_copies_the_requests_and_answers_only_from_the_primary(
    local_runtime: LocalRuntime,
) -> None:
    await initialized(local_runtime, MIRRORING)
    async with steady_load(local_runtime):  # the mirrored copies are the canary's requests
        await ship(local_runtime, "0.0.2", analysis=MIRRORING)
        await wait_until(
            lambda: any(
                f["type"] == "RequestMirror"
                for rule in http_route_rules(local_runtime)
                for f in rule.get("filters") or []
            ),
            "the RequestMirror filter",
        )
        assert await versions(local_runtime, 100) == Counter({"0.0.1": 100})
        await wait_for_phase(local_runtime, Phase.SUCCEEDED, within=90)

    checks = local_runtime.store.checks(NAMESPACE, "go-demo-7")
    assert checks and all(c.passed for c in checks)  # measured on the copies the canary got
    assert await versions(local_runtime, 50) == Counter({"0.0.2": 50})


AFFINITY = """    interval: 2s
    threshold: 2
    stepWeight: 20
    maxWeight: 60
    sessionAffinity: {cookieName: canary-cookie, maxAge: 60}
    metrics:
      - {name: request-success-rate, interval: 4s, thresholdRange: {min: 99}}"""


async def test_session_affinity_keeps_a_user_who_reached_the_canary_on_it(
    local_runtime: LocalRuntime,
) -> None:
    await initialized(local_runtime, AFFINITY)
    async with steady_load(local_runtime):
        await ship(local_runtime, "0.0.2", analysis=AFFINITY)
        await wait_until(lambda: weight(local_runtime) >= 20, "weight 20", within=60)
        cookie = ""
        for _ in range(200):  # a new user reaches the canary with the weight's chance
            release, set_cookie = await release_of(local_runtime, HOST)
            if release == "0.0.2":
                cookie = set_cookie.split(";")[0]
                break
        assert cookie.startswith("canary-cookie="), cookie
        holder = {**HOST, "Cookie": f"theme=dark; {cookie}"}
        seen = Counter([(await release_of(local_runtime, holder))[0] for _ in range(30)])
        assert seen == Counter({"0.0.2": 30})
        await wait_for_phase(local_runtime, Phase.SUCCEEDED, within=90)


async def test_a_slow_release_is_rolled_back_on_request_duration(
    local_runtime: LocalRuntime,
) -> None:
    await initialized(local_runtime)
    async with steady_load(local_runtime):
        await ship(local_runtime, "0.0.4", {"DEMO_DELAY_MS": "1500"})
        await wait_for_phase(local_runtime, Phase.FAILED, within=60)

    slow = [
        c
        for c in local_runtime.store.checks(NAMESPACE, "go-demo-7")
        if c.metric == "request-duration" and not c.passed
    ]
    assert slow and slow[-1].value is not None and slow[-1].value > 1000
    assert http_route_weights(local_runtime) == {"go-demo-7-primary": 100, "go-demo-7-canary": 0}


async def test_a_config_map_change_alone_is_analysed_on_the_http_route_and_promoted(
    local_runtime: LocalRuntime,
) -> None:
    from_config = manifests("unused").replace(
        "env:\n            - {name: VERSION, value: 'unused'}",
        f"envFrom: [{{configMapRef: {{name: {CONFIG}}}}}]",
    )
    assert "envFrom" in from_config
    await local_runtime.apply(config_map("0.0.1", "0") + "---" + from_config, "test")
    await wait_for_phase(local_runtime, Phase.INITIALIZED)
    await until_served_by(local_runtime, "0.0.1")
    async with steady_load(local_runtime):
        await local_runtime.apply(config_map("0.0.2", "0"), "test")
        await wait_for_phase(local_runtime, Phase.PROGRESSING)
        await wait_until(lambda: weight(local_runtime) >= 20, "weight 20", within=60)
        assert http_route_weights(local_runtime)["go-demo-7-canary"] >= 20
        assert primary_copy(local_runtime)["VERSION"] == "0.0.1"  # not before promotion
        await wait_for_phase(local_runtime, Phase.SUCCEEDED, within=120)

    assert primary_copy(local_runtime)["VERSION"] == "0.0.2"
    await until_served_by(local_runtime, "0.0.2")
