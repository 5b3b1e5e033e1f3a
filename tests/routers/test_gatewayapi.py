"""The Gateway API router against the API emulator (with the Gateway API CRDs and their
schemas): the objects it writes, weights, drift, the refusals, take-over and revert."""

from __future__ import annotations

from typing import Any

import pytest

from coalmine.engine import Routes
from coalmine.errors import AdapterError
from coalmine.kube.adapters.client import KubeClient
from coalmine.kube.adapters.ownership import ORIGINAL_SPEC
from coalmine.kube.adapters.resources import HTTP_ROUTES
from coalmine.routers.gatewayapi import GatewayAPIRouter
from tests.fixtures.operator import NAMESPACE, canary, create, deployment, shape, stored_canary
from tests.kube_emulator import KubeEmulator

GATEWAY_API = "gateway.networking.k8s.io/v1"
GATEWAY = {"name": "public", "namespace": "gateways", "sectionName": "http"}
SERVICE = {
    "port": 9898,
    "targetPort": 9898,
    "hosts": ["podinfo.example.com"],
    "gatewayRefs": [GATEWAY],
    "timeout": "5s",
    "apex": {"labels": {"team": "web"}},
}


@pytest.fixture
def podinfo(kube_emulator: KubeEmulator, kube_client: KubeClient) -> Any:
    create(kube_emulator, deployment())
    create(kube_emulator, canary(provider="gatewayapi", service=SERVICE))
    return stored_canary(kube_emulator)


def route_of(emulator: KubeEmulator) -> dict[str, Any]:
    obj = emulator.get(GATEWAY_API, "httproutes", "podinfo", NAMESPACE)
    assert obj is not None, "httproute podinfo missing"
    return obj


def backend(name: str, weight: int) -> dict[str, Any]:
    return {"group": "", "kind": "Service", "name": name, "port": 9898, "weight": weight}


async def test_reconcile_writes_the_services_and_flaggers_http_route(
    kube_emulator: KubeEmulator, kube_client: KubeClient, podinfo: Any
) -> None:
    await GatewayAPIRouter(kube_client).reconcile(podinfo)

    for name, selector in (
        ("podinfo", "podinfo-primary"),
        ("podinfo-primary", "podinfo-primary"),
        ("podinfo-canary", "podinfo"),
    ):
        service = kube_emulator.get("v1", "services", name, NAMESPACE)
        assert service is not None and service["spec"]["selector"] == {"app": selector}
    stored = shape(route_of(kube_emulator))
    uid = podinfo.metadata.uid
    assert stored == {
        "apiVersion": GATEWAY_API,
        "kind": "HTTPRoute",
        "metadata": {
            "name": "podinfo",
            "namespace": NAMESPACE,
            "labels": {"app.kubernetes.io/managed-by": "coalmine", "team": "web"},
            "ownerReferences": [
                {
                    "apiVersion": "coalmine.dev/v1beta1",
                    "kind": "Canary",
                    "name": "podinfo",
                    "uid": uid,
                    "controller": True,
                    "blockOwnerDeletion": True,
                }
            ],
        },
        "spec": {
            "parentRefs": [GATEWAY],
            "hostnames": ["podinfo.example.com"],
            "rules": [
                {
                    "matches": [{"path": {"type": "PathPrefix", "value": "/"}}],
                    "backendRefs": [backend("podinfo-primary", 100), backend("podinfo-canary", 0)],
                    "timeouts": {"request": "5s"},
                }
            ],
        },
    }


async def test_weights_are_written_and_read_back(
    kube_emulator: KubeEmulator, kube_client: KubeClient, podinfo: Any
) -> None:
    router = GatewayAPIRouter(kube_client)
    await router.reconcile(podinfo)
    await router.set_routes(podinfo, Routes(60, 40))

    assert await router.get_routes(podinfo) == Routes(60, 40)
    refs = route_of(kube_emulator)["spec"]["rules"][0]["backendRefs"]
    assert [(ref["name"], ref["weight"]) for ref in refs] == [
        ("podinfo-primary", 60),
        ("podinfo-canary", 40),
    ]
    await router.reconcile(podinfo)  # a reconcile keeps the weights
    assert await router.get_routes(podinfo) == Routes(60, 40)


async def test_drift_is_repaired_without_resetting_the_weights(
    kube_emulator: KubeEmulator, kube_client: KubeClient, podinfo: Any
) -> None:
    router = GatewayAPIRouter(kube_client)
    await router.reconcile(podinfo)
    await router.set_routes(podinfo, Routes(80, 20))
    route = route_of(kube_emulator)
    route["spec"]["hostnames"] = ["other.example.com"]
    route["spec"]["rules"][0]["timeouts"] = {"request": "60s"}
    await kube_client.replace(HTTP_ROUTES, "podinfo", NAMESPACE, route)

    await router.reconcile(podinfo)

    repaired = route_of(kube_emulator)["spec"]
    assert repaired["hostnames"] == ["podinfo.example.com"]
    assert repaired["rules"][0]["timeouts"] == {"request": "5s"}
    assert await router.get_routes(podinfo) == Routes(80, 20)


async def test_the_emulator_refuses_what_the_gateway_api_schema_refuses(
    kube_emulator: KubeEmulator, kube_client: KubeClient, podinfo: Any
) -> None:
    """The CRD's schema is real: a weight above the specification's limit is refused."""
    from coalmine.errors import CoalmineError

    router = GatewayAPIRouter(kube_client)
    await router.reconcile(podinfo)
    route = route_of(kube_emulator)
    route["spec"]["rules"][0]["backendRefs"][0]["weight"] = 2_000_000
    with pytest.raises(CoalmineError, match="weight"):
        await kube_client.replace(HTTP_ROUTES, "podinfo", NAMESPACE, route)


async def test_a_canary_from_the_mesh_provider_without_gateway_refs_is_refused_by_field(
    kube_emulator: KubeEmulator, kube_client: KubeClient
) -> None:
    create(kube_emulator, deployment())
    create(kube_emulator, canary(service={"port": 9898, "hosts": ["*"]}))
    plain = stored_canary(kube_emulator)
    with pytest.raises(AdapterError) as refused:
        await GatewayAPIRouter(kube_client).reconcile(plain)
    assert "service.gatewayRefs is required with provider gatewayapi" in str(refused.value)
    assert "service.hosts '*' is not a Gateway API hostname" in str(refused.value)
    assert kube_emulator.get(GATEWAY_API, "httproutes", "podinfo", NAMESPACE) is None


async def test_a_route_that_existed_before_is_taken_over_and_restored_exactly(
    kube_emulator: KubeEmulator, kube_client: KubeClient, podinfo: Any
) -> None:
    users = {
        "apiVersion": GATEWAY_API,
        "kind": "HTTPRoute",
        "metadata": {"name": "podinfo", "namespace": NAMESPACE},
        "spec": {
            "parentRefs": [{"name": "public", "namespace": "gateways"}],
            "rules": [
                {"backendRefs": [{"name": "podinfo", "port": 9898}]},
                {  # a standard filter coalmine does not model: kept, as a real server keeps it
                    "matches": [{"path": {"type": "PathPrefix", "value": "/old"}}],
                    "filters": [
                        {
                            "type": "RequestRedirect",
                            "requestRedirect": {"scheme": "https", "statusCode": 301},
                        }
                    ],
                },
            ],
        },
    }
    original = create(kube_emulator, users)
    assert original["spec"]["rules"][1]["filters"][0]["requestRedirect"]["statusCode"] == 301
    router = GatewayAPIRouter(kube_client)

    await router.reconcile(podinfo)
    await router.set_routes(podinfo, Routes(80, 20))
    taken = route_of(kube_emulator)
    assert ORIGINAL_SPEC in taken["metadata"]["annotations"]
    assert await router.get_routes(podinfo) == Routes(80, 20)

    done = await router.revert(podinfo, {"app": "podinfo"})

    assert done["httproute podinfo"] == "restored"
    assert route_of(kube_emulator)["spec"] == original["spec"]


async def test_revert_deletes_the_route_coalmine_created(
    kube_emulator: KubeEmulator, kube_client: KubeClient, podinfo: Any
) -> None:
    router = GatewayAPIRouter(kube_client)
    await router.reconcile(podinfo)
    done = await router.revert(podinfo, {"app": "podinfo"})
    assert done["httproute podinfo"] == "deleted"
    assert kube_emulator.get(GATEWAY_API, "httproutes", "podinfo", NAMESPACE) is None


async def test_a_missing_route_is_an_adapter_error(kube_client: KubeClient, podinfo: Any) -> None:
    with pytest.raises(AdapterError, match="httproute podinfo not found in test"):
        await GatewayAPIRouter(kube_client).get_routes(podinfo)


def accepted(route: dict[str, Any], status: str, *, behind: int = 0) -> dict[str, Any]:
    """The status a Gateway controller writes for the route's one parent."""
    generation = route["metadata"]["generation"] - behind
    parent_ref = {"group": "gateway.networking.k8s.io", "kind": "Gateway", **GATEWAY}
    condition = {"type": "Accepted", "status": status, "observedGeneration": generation,
                 "reason": "Accepted" if status == "True" else "NotAllowedByListeners",
                 "message": "" if status == "True" else "no listener admits this namespace",
                 "lastTransitionTime": "2026-01-01T00:00:00Z"}  # fmt: skip
    controller = "example.com/gateway"
    return {"parents": [{"parentRef": parent_ref, "controllerName": controller,
                         "conditions": [condition]}]}  # fmt: skip


async def test_the_weights_are_not_read_while_a_gateway_has_not_accepted_the_route(
    kube_emulator: KubeEmulator, kube_client: KubeClient, podinfo: Any
) -> None:
    """Flagger's GetRoutes: a parent whose Accepted condition is not True, or is of an
    older generation, fails the read; a route no controller has seen yet is read."""
    router = GatewayAPIRouter(kube_client)
    await router.reconcile(podinfo)
    assert await router.get_routes(podinfo) == Routes.all_primary()  # no status yet
    route = route_of(kube_emulator)

    kube_emulator.set_status(
        GATEWAY_API, "httproutes", "podinfo", accepted(route, "False"), NAMESPACE
    )
    with pytest.raises(AdapterError) as refused:
        await router.get_routes(podinfo)
    assert str(refused.value) == (
        "httproute podinfo in test is not ready: parent gateways/public has Accepted=False for "
        f"generation {route['metadata']['generation']} of {route['metadata']['generation']} "
        "(no listener admits this namespace); the weights are not read until its Gateways "
        "accept it"
    )

    kube_emulator.set_status(
        GATEWAY_API, "httproutes", "podinfo", accepted(route, "True"), NAMESPACE
    )
    assert await router.get_routes(podinfo) == Routes.all_primary()
    await router.set_routes(podinfo, Routes(80, 20))  # a new generation, not yet seen
    with pytest.raises(AdapterError, match="Accepted=True for generation 1 of 2"):
        await router.get_routes(podinfo)
