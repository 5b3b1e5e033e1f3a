"""The Istio router against the API emulator: the objects it writes, drift, take-over, revert."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from coalmine.engine import Routes
from coalmine.errors import AdapterError
from coalmine.kube.adapters.client import KubeClient
from coalmine.kube.adapters.ownership import ORIGINAL_SPEC
from coalmine.kube.adapters.resources import SERVICES, VIRTUAL_SERVICES
from coalmine.routers.istio import IstioRouter
from tests.fixtures.operator import NAMESPACE, canary, create, deployment, shape, stored_canary
from tests.kube_emulator import KubeEmulator

ISTIO = "networking.istio.io/v1beta1"


def expected(text: str, uid: str) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(text.replace("UID", uid))
    return loaded


def service_yaml(name: str, selector: str) -> str:
    return f"""
apiVersion: v1
kind: Service
metadata:
  name: {name}
  namespace: test
  labels: {{app.kubernetes.io/managed-by: coalmine}}
  ownerReferences:
  - {{apiVersion: coalmine.dev/v1beta1, kind: Canary, name: podinfo, uid: UID,
     controller: true, blockOwnerDeletion: true}}
spec:
  type: ClusterIP
  selector: {{app: {selector}}}
  ports:
  - {{name: http, port: 9898, targetPort: 9898, protocol: TCP}}
"""


def destination_rule_yaml(host: str) -> str:
    return f"""
apiVersion: {ISTIO}
kind: DestinationRule
metadata:
  name: {host}
  namespace: test
  labels: {{app.kubernetes.io/managed-by: coalmine}}
  ownerReferences:
  - {{apiVersion: coalmine.dev/v1beta1, kind: Canary, name: podinfo, uid: UID,
     controller: true, blockOwnerDeletion: true}}
spec:
  host: {host}
  trafficPolicy: {{tls: {{mode: ISTIO_MUTUAL}}}}
"""


VIRTUAL_SERVICE = f"""
apiVersion: {ISTIO}
kind: VirtualService
metadata:
  name: podinfo
  namespace: test
  labels: {{app.kubernetes.io/managed-by: coalmine}}
  ownerReferences:
  - {{apiVersion: coalmine.dev/v1beta1, kind: Canary, name: podinfo, uid: UID,
     controller: true, blockOwnerDeletion: true}}
spec:
  hosts: [podinfo.example.com, podinfo]
  gateways: [public-gateway]
  http:
  - route:
    - destination: {{host: podinfo-primary, port: {{number: 9898}}}}
      weight: 100
    - destination: {{host: podinfo-canary, port: {{number: 9898}}}}
      weight: 0
    retries: {{attempts: 3, perTryTimeout: 1s}}
    timeout: 5s
"""


@pytest.fixture
def podinfo(kube_emulator: KubeEmulator, kube_client: KubeClient) -> Any:
    create(kube_emulator, deployment())
    service = {
        "port": 9898,
        "targetPort": 9898,
        "hosts": ["podinfo.example.com"],
        "gateways": ["public-gateway"],
        "timeout": "5s",
        "retries": {"attempts": 3, "perTryTimeout": "1s"},
        "trafficPolicy": {"tls": {"mode": "ISTIO_MUTUAL"}},
    }
    create(kube_emulator, canary(service=service))
    return stored_canary(kube_emulator)


def get(emulator: KubeEmulator, api_version: str, plural: str, name: str) -> dict[str, Any]:
    obj = emulator.get(api_version, plural, name, NAMESPACE)
    assert obj is not None, f"{plural}/{name} missing"
    return obj


async def test_reconcile_creates_exactly_the_objects_flagger_would(
    kube_emulator: KubeEmulator, kube_client: KubeClient, podinfo: Any
) -> None:
    await IstioRouter(kube_client).reconcile(podinfo)

    uid = podinfo.metadata.uid
    for name, selector in (
        ("podinfo", "podinfo-primary"),
        ("podinfo-primary", "podinfo-primary"),
        ("podinfo-canary", "podinfo"),
    ):
        stored = shape(get(kube_emulator, "v1", "services", name))
        assert stored == expected(service_yaml(name, selector), uid), name
    for host in ("podinfo-primary", "podinfo-canary"):
        stored = shape(get(kube_emulator, ISTIO, "destinationrules", host))
        assert stored == expected(destination_rule_yaml(host), uid), host
    assert shape(get(kube_emulator, ISTIO, "virtualservices", "podinfo")) == expected(
        VIRTUAL_SERVICE, uid
    )


async def test_weights_are_written_and_read_back(
    kube_emulator: KubeEmulator, kube_client: KubeClient, podinfo: Any
) -> None:
    router = IstioRouter(kube_client)
    await router.reconcile(podinfo)
    await router.set_routes(podinfo, Routes(60, 40))

    assert await router.get_routes(podinfo) == Routes(60, 40)
    route = get(kube_emulator, ISTIO, "virtualservices", "podinfo")["spec"]["http"][0]["route"]
    assert [(d["destination"]["host"], d["weight"]) for d in route] == [
        ("podinfo-primary", 60),
        ("podinfo-canary", 40),
    ]


async def test_drift_is_repaired_without_resetting_the_weights_or_touching_other_fields(
    kube_emulator: KubeEmulator, kube_client: KubeClient, podinfo: Any
) -> None:
    router = IstioRouter(kube_client)
    await router.reconcile(podinfo)
    await router.set_routes(podinfo, Routes(80, 20))
    vs = get(kube_emulator, ISTIO, "virtualservices", "podinfo")
    vs["spec"]["gateways"] = ["mesh"]  # someone edits a field coalmine owns...
    vs["spec"]["http"][0]["timeout"] = "60s"
    vs["spec"]["exportTo"] = ["."]  # ...and adds one it does not
    await kube_client.replace(VIRTUAL_SERVICES, "podinfo", NAMESPACE, vs)
    selector_drift = {"spec": {"selector": {"app": "podinfo", "extra": "x"}}}
    await kube_client.merge_patch(SERVICES, "podinfo", NAMESPACE, selector_drift)

    await router.reconcile(podinfo)

    repaired = get(kube_emulator, ISTIO, "virtualservices", "podinfo")["spec"]
    assert repaired["gateways"] == ["public-gateway"]
    assert repaired["http"][0]["timeout"] == "5s"
    assert repaired["exportTo"] == ["."]
    assert await router.get_routes(podinfo) == Routes(80, 20)
    assert get(kube_emulator, "v1", "services", "podinfo")["spec"]["selector"] == {
        "app": "podinfo-primary"
    }


async def test_an_unchanged_world_costs_no_writes(
    kube_emulator: KubeEmulator, kube_client: KubeClient, podinfo: Any
) -> None:
    router = IstioRouter(kube_client)
    await router.reconcile(podinfo)
    writes_before = _writes(kube_emulator)

    await router.reconcile(podinfo)
    await router.set_routes(podinfo, Routes.all_primary())

    assert _writes(kube_emulator) == writes_before


async def test_objects_that_existed_before_are_taken_over_and_restored_exactly(
    kube_emulator: KubeEmulator, kube_client: KubeClient, podinfo: Any
) -> None:
    users_service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "podinfo", "namespace": NAMESPACE, "labels": {"team": "web"}},
        "spec": {
            "selector": {"app": "podinfo"},
            "ports": [{"name": "web", "port": 80, "targetPort": "http"}],
            "sessionAffinity": "None",
        },
    }
    users_vs = {
        "apiVersion": ISTIO,
        "kind": "VirtualService",
        "metadata": {"name": "podinfo", "namespace": NAMESPACE},
        "spec": {
            "hosts": ["podinfo"],
            "exportTo": ["*"],
            "http": [{"route": [{"destination": {"host": "podinfo"}}], "timeout": "3s"}],
        },
    }
    original_service = create(kube_emulator, users_service)
    original_vs = create(kube_emulator, users_vs)
    router = IstioRouter(kube_client)

    await router.reconcile(podinfo)
    await router.set_routes(podinfo, Routes(80, 20))

    taken = get(kube_emulator, "v1", "services", "podinfo")
    assert "ownerReferences" not in taken["metadata"]  # deleting the Canary must not delete it
    assert taken["spec"]["selector"] == {"app": "podinfo-primary"}
    assert ORIGINAL_SPEC in taken["metadata"]["annotations"]
    vs = get(kube_emulator, ISTIO, "virtualservices", "podinfo")
    assert vs["spec"]["exportTo"] == ["*"]
    assert await router.get_routes(podinfo) == Routes(80, 20)

    done = await router.revert(podinfo, {"app": "podinfo"})

    assert done["service podinfo"] == "restored"
    assert done["virtualservice podinfo"] == "restored"
    for api_version, plural, original in (
        ("v1", "services", original_service),
        (ISTIO, "virtualservices", original_vs),
    ):
        restored = get(kube_emulator, api_version, plural, "podinfo")
        assert restored["spec"] == original["spec"]
        assert restored["metadata"].get("labels") == original["metadata"].get("labels")
        assert ORIGINAL_SPEC not in (restored["metadata"].get("annotations") or {})
    for plural, name in (
        ("services", "podinfo-primary"),
        ("services", "podinfo-canary"),
    ):
        assert kube_emulator.get("v1", plural, name, NAMESPACE) is None
    assert kube_emulator.get(ISTIO, "destinationrules", "podinfo-canary", NAMESPACE) is None


async def test_revert_keeps_a_service_coalmine_created_and_points_it_at_the_target(
    kube_emulator: KubeEmulator, kube_client: KubeClient, podinfo: Any
) -> None:
    router = IstioRouter(kube_client)
    await router.reconcile(podinfo)

    done = await router.revert(podinfo, {"app": "podinfo"})

    service = get(kube_emulator, "v1", "services", "podinfo")
    assert done["service podinfo"] == "kept, selecting the target's pods"
    assert service["spec"]["selector"] == {"app": "podinfo"}
    assert "ownerReferences" not in service["metadata"]
    assert kube_emulator.get(ISTIO, "virtualservices", "podinfo", NAMESPACE) is None


async def test_a_missing_virtual_service_is_an_adapter_error(
    kube_client: KubeClient, podinfo: Any
) -> None:
    with pytest.raises(AdapterError, match="virtualservice podinfo not found in test"):
        await IstioRouter(kube_client).get_routes(podinfo)


async def test_routing_needs_the_target(
    kube_client: KubeClient, kube_emulator: KubeEmulator
) -> None:
    create(kube_emulator, canary(name="ghost"))
    with pytest.raises(AdapterError, match=r"deployment ghost\.test not found"):
        await IstioRouter(kube_client).reconcile(stored_canary(kube_emulator, "ghost"))


def _writes(emulator: KubeEmulator) -> int:
    return sum(1 for r in emulator.requests if r.method in ("POST", "PUT", "PATCH", "DELETE"))


@pytest.fixture
def decorated(kube_emulator: KubeEmulator, kube_client: KubeClient) -> Any:
    """A Canary using Flagger's service metadata, trafficDistribution and headless."""
    create(kube_emulator, deployment())
    service = {
        "port": 9898,
        "trafficDistribution": "PreferClose",
        "headless": True,
        "apex": {"labels": {"test": "labels-test"}, "annotations": {"test": "annotations-test"}},
        "primary": {"labels": {"role": "primary"}},
        "canary": {"annotations": {"role": "canary"}},
        "unmanagedMetadata": {"labels": ["owner"]},
    }
    create(kube_emulator, canary(service=service))
    return stored_canary(kube_emulator)


async def test_generated_services_carry_flaggers_metadata_and_settings(
    kube_emulator: KubeEmulator, kube_client: KubeClient, decorated: Any
) -> None:
    await IstioRouter(kube_client).reconcile(decorated)

    apex = get(kube_emulator, "v1", "services", "podinfo")
    assert apex["metadata"]["labels"]["test"] == "labels-test"
    assert apex["metadata"]["annotations"] == {"test": "annotations-test"}
    assert apex["spec"]["trafficDistribution"] == "PreferClose"
    assert apex["spec"].get("clusterIP") != "None"  # the apex keeps its address
    primary = get(kube_emulator, "v1", "services", "podinfo-primary")
    assert primary["metadata"]["labels"]["role"] == "primary"
    assert primary["spec"]["clusterIP"] == "None"
    backend = get(kube_emulator, "v1", "services", "podinfo-canary")
    assert backend["metadata"]["annotations"] == {"role": "canary"}
    assert backend["spec"]["clusterIP"] == "None"


async def test_metadata_drift_is_repaired_and_others_keys_stay(
    kube_emulator: KubeEmulator, kube_client: KubeClient, decorated: Any
) -> None:
    router = IstioRouter(kube_client)
    await router.reconcile(decorated)
    patch = {"metadata": {"labels": {"test": "changed", "owner": "team-a"}}}
    await kube_client.merge_patch(SERVICES, "podinfo", NAMESPACE, patch)

    await router.reconcile(decorated)

    labels = get(kube_emulator, "v1", "services", "podinfo")["metadata"]["labels"]
    assert labels["test"] == "labels-test"
    assert labels["owner"] == "team-a"


def test_port_discovery_finds_the_targets_other_ports_as_flagger_does() -> None:
    from coalmine.routers.services import discovered_ports
    from tests.engine.builders import canary as build

    target = {
        "spec": {
            "template": {
                "spec": {
                    "containers": [
                        {
                            "name": "podinfod",
                            "ports": [
                                {"name": "http", "containerPort": 9898},
                                {"name": "grpc", "containerPort": 9999},
                                {"containerPort": 8080},
                            ],
                        },
                        {"name": "istio-proxy", "ports": [{"containerPort": 15090}]},
                    ]
                }
            }
        }
    }
    found = discovered_ports(
        build(service={"port": 80, "targetPort": "http", "portDiscovery": True}), target
    )
    assert found == [
        {"name": "grpc", "port": 9999, "targetPort": 9999, "protocol": "TCP"},
        {"name": "tcp-podinfod-2", "port": 8080, "targetPort": 8080, "protocol": "TCP"},
    ]
    by_port = build(service={"port": 9898, "portDiscovery": True})
    assert [p["name"] for p in discovered_ports(by_port, target)] == ["grpc", "tcp-podinfod-2"]
    assert discovered_ports(build(service={"port": 9898}), target) == []


async def test_port_discovery_adds_the_ports_to_the_three_services(
    kube_emulator: KubeEmulator, kube_client: KubeClient
) -> None:
    target = deployment()
    container = target["spec"]["template"]["spec"]["containers"][0]
    container["ports"] = [*container["ports"], {"name": "grpc", "containerPort": 9999}]
    create(kube_emulator, target)
    create(kube_emulator, canary(service={"port": 9898, "portDiscovery": True}))

    await IstioRouter(kube_client).reconcile(stored_canary(kube_emulator))

    for name in ("podinfo", "podinfo-primary", "podinfo-canary"):
        ports = get(kube_emulator, "v1", "services", name)["spec"]["ports"]
        assert [(p["name"], p["port"]) for p in ports] == [("http", 9898), ("grpc", 9999)]


async def test_with_a_baseline_its_service_rule_and_weight_are_written_and_read_back(
    kube_emulator: KubeEmulator, kube_client: KubeClient
) -> None:
    create(kube_emulator, deployment())
    body = canary(service={"port": 9898, "targetPort": 9898})
    body["spec"]["analysis"]["judge"] = {"errors": {"maxIncrease": 0.5}, "baseline": True}
    create(kube_emulator, body)
    podinfo = stored_canary(kube_emulator)
    router = IstioRouter(kube_client)
    await router.reconcile(podinfo)
    await router.set_routes(podinfo, Routes(60, 20, baseline=20))

    assert await router.get_routes(podinfo) == Routes(60, 20, baseline=20)
    route = get(kube_emulator, ISTIO, "virtualservices", "podinfo")["spec"]["http"][0]["route"]
    assert [(d["destination"]["host"], d["weight"]) for d in route] == [
        ("podinfo-primary", 60),
        ("podinfo-canary", 20),
        ("podinfo-baseline", 20),
    ]
    service = get(kube_emulator, "v1", "services", "podinfo-baseline")
    assert service["spec"]["selector"] == {"app": "podinfo-baseline"}
    assert get(kube_emulator, ISTIO, "destinationrules", "podinfo-baseline")["spec"] == {
        "host": "podinfo-baseline"
    }
    await router.reconcile(podinfo)  # drift repair keeps the three weights
    assert await router.get_routes(podinfo) == Routes(60, 20, baseline=20)

    done = await router.revert(podinfo, {"app": "podinfo"})
    assert done["service podinfo-baseline"] == "deleted"
    assert kube_emulator.get("v1", "services", "podinfo-baseline", NAMESPACE) is None
