"""The kubernetes router against the API emulator: the Services it writes, the apex's two
sides, what it refuses, drift, revert."""

from __future__ import annotations

from typing import Any

import pytest

from coalmine.api.canary import Canary
from coalmine.engine import Routes
from coalmine.errors import AdapterError
from coalmine.kube.adapters.client import KubeClient
from coalmine.kube.adapters.resources import SERVICES
from coalmine.routers.kubernetes import KubernetesRouter, routes_of_selector
from tests.fixtures.operator import NAMESPACE, canary, create, deployment, shape, stored_canary
from tests.kube_emulator import KubeEmulator

BLUE_GREEN = {
    "interval": "1s",
    "threshold": 2,
    "iterations": 3,
    "metrics": [{"name": "errors", "query": "sum(up)", "thresholdRange": {"max": 1}}],
}


@pytest.fixture
def podinfo(kube_emulator: KubeEmulator, kube_client: KubeClient) -> Canary:
    create(kube_emulator, deployment())
    create(kube_emulator, canary(provider="kubernetes", analysis=BLUE_GREEN))
    return stored_canary(kube_emulator)


def selector(emulator: KubeEmulator, name: str) -> dict[str, str]:
    service = emulator.get("v1", "services", name, NAMESPACE)
    assert service is not None, name
    found: dict[str, str] = service["spec"]["selector"]
    return found


async def test_reconcile_writes_the_three_services_with_the_apex_on_the_primary(
    kube_emulator: KubeEmulator, kube_client: KubeClient, podinfo: Canary
) -> None:
    router = KubernetesRouter(kube_client)
    await router.reconcile(podinfo)

    assert await router.get_routes(podinfo) == Routes.all_primary()
    for name, app in (
        ("podinfo", "podinfo-primary"),
        ("podinfo-primary", "podinfo-primary"),
        ("podinfo-canary", "podinfo"),
    ):
        service = kube_emulator.get("v1", "services", name, NAMESPACE)
        assert service is not None
        spec = shape(service)["spec"]
        assert spec["selector"] == {"app": app}, name
        assert spec["ports"] == [{"name": "http", "port": 9898, "targetPort": 9898,
                                  "protocol": "TCP"}]  # fmt: skip
    assert kube_emulator.objects("networking.istio.io/v1beta1", "virtualservices", NAMESPACE) == []


async def test_the_apex_switches_to_the_canary_pods_and_back(
    kube_emulator: KubeEmulator, kube_client: KubeClient, podinfo: Canary
) -> None:
    router = KubernetesRouter(kube_client)
    await router.reconcile(podinfo)

    await router.set_routes(podinfo, Routes(0, 100))
    assert selector(kube_emulator, "podinfo") == {"app": "podinfo"}
    assert await router.get_routes(podinfo) == Routes(0, 100)
    await router.reconcile(podinfo)  # keeps the side the apex selects
    assert selector(kube_emulator, "podinfo") == {"app": "podinfo"}
    assert await router.get_routes(podinfo) == Routes(0, 100)

    await router.set_routes(podinfo, Routes.all_primary())
    assert selector(kube_emulator, "podinfo") == {"app": "podinfo-primary"}
    assert await router.get_routes(podinfo) == Routes.all_primary()


@pytest.mark.parametrize("routes", [Routes(80, 20), Routes(100, 0, mirrored=True)])
async def test_a_split_it_cannot_make_is_refused_and_nothing_moves(
    kube_emulator: KubeEmulator, kube_client: KubeClient, podinfo: Canary, routes: Routes
) -> None:
    router = KubernetesRouter(kube_client)
    await router.reconcile(podinfo)

    with pytest.raises(AdapterError, match=r"analysis\.iterations"):
        await router.set_routes(podinfo, routes)
    assert selector(kube_emulator, "podinfo") == {"app": "podinfo-primary"}


async def test_a_weighted_canary_given_this_router_by_default_is_refused_naming_the_field(
    kube_emulator: KubeEmulator, kube_client: KubeClient
) -> None:
    """spec.provider unset: the controller's --mesh-provider kubernetes chose the router."""
    create(kube_emulator, deployment())
    create(kube_emulator, canary())  # stepWeight 20, maxWeight 60
    weighted = stored_canary(kube_emulator)

    with pytest.raises(AdapterError) as raised:
        await KubernetesRouter(kube_client).reconcile(weighted)

    message = str(raised.value)
    assert "analysis.stepWeight splits traffic by weight" in message
    assert "analysis.maxWeight" in message
    assert "use analysis.iterations (blue/green)" in message
    assert kube_emulator.get("v1", "services", "podinfo", NAMESPACE) is None


async def test_drift_in_the_apex_is_repaired_to_the_side_it_was_on(
    kube_emulator: KubeEmulator, kube_client: KubeClient, podinfo: Canary
) -> None:
    router = KubernetesRouter(kube_client)
    await router.reconcile(podinfo)
    drift = {"spec": {"ports": [{"name": "http", "port": 80, "targetPort": 9898}]}}
    await kube_client.merge_patch(SERVICES, "podinfo", NAMESPACE, drift)
    await kube_client.merge_patch(
        SERVICES, "podinfo-canary", NAMESPACE, {"spec": {"selector": {"app": "other"}}}
    )

    await router.reconcile(podinfo)

    apex = kube_emulator.get("v1", "services", "podinfo", NAMESPACE)
    assert apex is not None and apex["spec"]["ports"][0]["port"] == 9898
    assert selector(kube_emulator, "podinfo") == {"app": "podinfo-primary"}
    assert selector(kube_emulator, "podinfo-canary") == {"app": "podinfo"}


async def test_revert_hands_the_apex_to_the_target_and_deletes_the_others(
    kube_emulator: KubeEmulator, kube_client: KubeClient, podinfo: Canary
) -> None:
    router = KubernetesRouter(kube_client)
    await router.reconcile(podinfo)

    done = await router.revert(podinfo, {"app": "podinfo"})

    assert done["service podinfo"] == "kept, selecting the target's pods"
    apex: Any = kube_emulator.get("v1", "services", "podinfo", NAMESPACE)
    assert apex["spec"]["selector"] == {"app": "podinfo"}
    assert not apex["metadata"].get("ownerReferences")
    for name in ("podinfo-primary", "podinfo-canary"):
        assert kube_emulator.get("v1", "services", name, NAMESPACE) is None, name


def test_only_the_targets_own_labels_select_the_canary() -> None:
    target = {"app": "podinfo"}
    assert routes_of_selector({"app": "podinfo"}, target) == Routes(0, 100)
    assert routes_of_selector({"app": "podinfo-primary"}, target) == Routes.all_primary()
    assert routes_of_selector({"app": "podinfo", "x": "y"}, target) == Routes.all_primary()
