"""Every core object the operator writes passes Kubernetes' own schema.

The operator runs through initialization and a whole release (hand-ticked, on the API
emulator) with each router that writes core objects, and the config tracking and the
primary's autoscaler on; then every object of the core kinds in the namespace (Services,
Deployments, the HPA, the ConfigMap and Secret copies, Events) is checked against the
OpenAPI schema of Kubernetes 1.28 that `kubernetes-validate` (PyPI) ships, in its strict
form: an unknown field (a typo in what coalmine writes) fails as a wrong type does. The
status is left out: coalmine never writes a core object's status.
The HTTPRoutes are checked against the Gateway API's own validators
(tests/routing/test_http_route_upstream.py); Istio publishes no schema package.
"""

from __future__ import annotations

from typing import Any

import kubernetes_validate
import pytest

from coalmine.api.canary import Phase
from coalmine.kube.adapters.client import KubeClient, Obj
from coalmine.testing import FakeMeasurer
from tests.fixtures.daemons import SteppingClock, initialized, ship
from tests.fixtures.operator import NAMESPACE, deployment
from tests.kube_emulator import KubeEmulator

KUBERNETES = "1.28"
"""The version coalmine was run against (docs/kubernetes.md)."""

CORE_KINDS = [
    ("v1", "services"),
    ("apps/v1", "deployments"),
    ("autoscaling/v2", "horizontalpodautoscalers"),
    ("v1", "configmaps"),
    ("v1", "secrets"),
    ("v1", "events"),
]


def tracked_deployment() -> Obj:
    """podinfo reading a ConfigMap (envFrom) and a Secret (a volume): both tracked."""
    body = deployment()
    pod = body["spec"]["template"]["spec"]
    pod["containers"][0]["envFrom"] = [{"configMapRef": {"name": "podinfo-env"}}]
    pod["containers"][0]["volumeMounts"] = [{"name": "token", "mountPath": "/etc/token"}]
    pod["volumes"] = [{"name": "token", "secret": {"secretName": "podinfo-token"}}]
    return body


def meta(name: str) -> Obj:
    return {"name": name, "namespace": NAMESPACE}


OBJECTS = [
    tracked_deployment(),
    {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta("podinfo-env"),
     "data": {"LEVEL": "info"}},
    {"apiVersion": "v1", "kind": "Secret", "metadata": meta("podinfo-token"), "type": "Opaque",
     "data": {"token": "czNjcjN0"}},
    {"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "metadata": meta("podinfo"),
     "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "podinfo"},
              "minReplicas": 2, "maxReplicas": 4,
              "metrics": [{"type": "Resource", "resource": {
                  "name": "cpu", "target": {"type": "Utilization", "averageUtilization": 80}}}]}},
]  # fmt: skip

AUTOSCALER = {"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "name": "podinfo"}
CHECKS = [{"name": "request-success-rate", "interval": "1m", "thresholdRange": {"min": 99}}]
ROUTERS: dict[str, dict[str, Any]] = {
    "istio": {
        "service": {"port": 9898, "targetPort": 9898, "portDiscovery": True},
        "autoscalerRef": AUTOSCALER,
    },
    "kubernetes": {
        "provider": "kubernetes",
        "service": {"port": 9898, "targetPort": 9898, "portDiscovery": True},
        "autoscalerRef": AUTOSCALER,
        "analysis": {"interval": "1s", "threshold": 2, "iterations": 2, "metrics": CHECKS},
    },
}


@pytest.mark.parametrize("router", list(ROUTERS))
async def test_every_core_object_the_operator_writes_passes_kubernetes_own_schema(
    kube_client: KubeClient, kube_emulator: KubeEmulator, router: str
) -> None:
    spec = ROUTERS[router]
    passing = FakeMeasurer({"request-success-rate": 100.0, "request-duration": 50.0})
    ticked = initialized(
        kube_client, kube_emulator, measurer=passing, clock=SteppingClock(), objects=OBJECTS, **spec
    )
    async with ticked as operator:
        ship(kube_emulator)
        await operator.until(lambda: operator.phase() == Phase.SUCCEEDED.value, ticks=15)

    written = {
        (obj["kind"], obj["metadata"]["name"]): obj
        for api_version, plural in CORE_KINDS
        for obj in kube_emulator.peek(api_version, plural, NAMESPACE)
    }
    for name in ("podinfo-primary", "podinfo-canary", "podinfo"):
        assert ("Service", name) in written
    for kind, name in [
        ("Deployment", "podinfo-primary"),
        ("HorizontalPodAutoscaler", "podinfo-primary"),
        ("ConfigMap", "podinfo-env-primary"),
        ("Secret", "podinfo-token-primary"),
    ]:
        assert (kind, name) in written, f"the operator wrote no {kind} {name}"
    assert any(kind == "Event" for kind, _ in written)
    refused = {}
    for (kind, name), obj in written.items():
        # What coalmine writes: the status of a core object is the server's and its
        # controllers' (here the emulator's stand-ins, docs/kube-emulator.md).
        written_by_coalmine = {key: value for key, value in obj.items() if key != "status"}
        try:
            kubernetes_validate.validate(written_by_coalmine, KUBERNETES, strict=True)
        except kubernetes_validate.ValidationError as error:
            refused[f"{kind}/{name}"] = f"{error.message} at {list(error.path)}"
    assert refused == {}


def test_the_schema_check_refuses_what_a_server_refuses() -> None:
    """The check can fail: a Service port given as text and an unknown field are refused."""
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": meta("podinfo"),
        "spec": {"ports": [{"port": "9898"}], "selector": {"app": "podinfo"}},
    }
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(service, KUBERNETES, strict=True)
    service["spec"] = {"ports": [{"port": 9898}], "selectr": {"app": "podinfo"}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(service, KUBERNETES, strict=True)
