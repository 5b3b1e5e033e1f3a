"""The Deployment workload against the API emulator: primary, scaling, promotion, autoscaler."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from coalmine.errors import AdapterError
from coalmine.kube.adapters.client import KubeClient
from coalmine.kube.adapters.deployments import SCALED_DOWN_FROM
from coalmine.kube.adapters.resources import DEPLOYMENTS
from coalmine.kube.adapters.revision import pod_template_revision
from coalmine.kube.adapters.workload import KubeWorkload
from tests.fixtures.operator import (
    NAMESPACE,
    PRIMARY_YAML,
    canary,
    create,
    deployment,
    shape,
    stored_canary,
)
from tests.kube_emulator import KubeEmulator

HPA = {
    "apiVersion": "autoscaling/v2",
    "kind": "HorizontalPodAutoscaler",
    "metadata": {"name": "podinfo", "namespace": NAMESPACE},
    "spec": {
        "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "podinfo"},
        "minReplicas": 3,
        "maxReplicas": 6,
        "metrics": [
            {
                "type": "Resource",
                "resource": {
                    "name": "cpu",
                    "target": {"type": "Utilization", "averageUtilization": 80},
                },
            }
        ],
    },
}


@pytest.fixture
def podinfo(kube_emulator: KubeEmulator, kube_client: KubeClient) -> Any:
    create(kube_emulator, deployment())
    create(kube_emulator, canary())
    return stored_canary(kube_emulator)


def stored(emulator: KubeEmulator, name: str) -> dict[str, Any]:
    obj = emulator.get("apps/v1", "deployments", name, NAMESPACE)
    assert obj is not None, name
    return obj


async def test_the_primary_is_the_target_with_primary_labels_and_an_owner(
    kube_emulator: KubeEmulator, kube_client: KubeClient, podinfo: Any
) -> None:
    workload = KubeWorkload(kube_client)
    await workload.create_primary(podinfo)
    await workload.create_primary(podinfo)  # a repeat changes nothing

    primary = stored(kube_emulator, "podinfo-primary")
    assert shape(primary) == yaml.safe_load(
        PRIMARY_YAML.replace("NS", NAMESPACE).replace("UID", podinfo.metadata.uid)
    )
    assert primary["metadata"]["generation"] == 1


async def test_state_follows_the_deployment_status(
    kube_emulator: KubeEmulator, kube_client: KubeClient, podinfo: Any
) -> None:
    workload = KubeWorkload(kube_client)
    assert await workload.observe_primary(podinfo) is None
    await workload.create_primary(podinfo)

    pending = await workload.observe_primary(podinfo)
    kube_emulator.complete_rollout(NAMESPACE, "podinfo-primary")
    ready = await workload.observe_primary(podinfo)

    assert pending is not None and not pending.settled
    assert ready is not None and ready.settled and (ready.updated, ready.available) == (2, 2)


async def test_scaling_down_remembers_the_replicas_and_scaling_up_restores_them(
    kube_emulator: KubeEmulator, kube_client: KubeClient, podinfo: Any
) -> None:
    workload = KubeWorkload(kube_client)
    await workload.scale_canary(podinfo, up=False)
    down = stored(kube_emulator, "podinfo")
    await workload.scale_canary(podinfo, up=False)  # again: the memory is not overwritten by 0

    await workload.scale_canary(podinfo, up=True)

    assert down["spec"]["replicas"] == 0
    assert stored(kube_emulator, "podinfo")["metadata"]["annotations"][SCALED_DOWN_FROM] == "2"
    assert stored(kube_emulator, "podinfo")["spec"]["replicas"] == 2


async def test_scaling_up_keeps_replicas_a_user_applied(
    kube_emulator: KubeEmulator, kube_client: KubeClient, podinfo: Any
) -> None:
    workload = KubeWorkload(kube_client)
    await workload.scale_canary(podinfo, up=False)
    await kube_client.merge_patch(DEPLOYMENTS, "podinfo", NAMESPACE, {"spec": {"replicas": 5}})

    await workload.scale_canary(podinfo, up=True)

    assert stored(kube_emulator, "podinfo")["spec"]["replicas"] == 5


async def test_promotion_copies_template_strategy_and_min_ready_seconds_only(
    kube_emulator: KubeEmulator, kube_client: KubeClient, podinfo: Any
) -> None:
    workload = KubeWorkload(kube_client)
    await workload.create_primary(podinfo)
    await kube_client.merge_patch(
        DEPLOYMENTS, "podinfo-primary", NAMESPACE, {"spec": {"replicas": 4}}
    )  # as an autoscaler would
    new_template = {
        "spec": {
            "minReadySeconds": 10,
            "strategy": {"type": "Recreate", "rollingUpdate": None},
            "template": {
                "spec": {"containers": [{"name": "podinfod", "image": "podinfo:6.0.1"}]},
                "metadata": {"annotations": None},
            },
        }
    }
    target = await kube_client.merge_patch(DEPLOYMENTS, "podinfo", NAMESPACE, new_template)
    revision = pod_template_revision(target["spec"]["template"])

    await workload.promote(podinfo, revision)

    primary = stored(kube_emulator, "podinfo-primary")["spec"]
    assert primary["template"]["spec"]["containers"][0]["image"] == "podinfo:6.0.1"
    assert primary["template"]["metadata"] == {"labels": {"app": "podinfo-primary"}}
    assert (primary["minReadySeconds"], primary["strategy"]) == (10, {"type": "Recreate"})
    assert primary["replicas"] == 4
    assert primary["selector"] == {"matchLabels": {"app": "podinfo-primary"}}


async def test_promotion_refuses_a_target_that_moved_on(
    kube_emulator: KubeEmulator, kube_client: KubeClient, podinfo: Any
) -> None:
    workload = KubeWorkload(kube_client)
    await workload.create_primary(podinfo)
    analysed = pod_template_revision(stored(kube_emulator, "podinfo")["spec"]["template"])
    moved = {"spec": {"template": {"metadata": {"labels": {"app": "podinfo", "v": "3"}}}}}
    await kube_client.merge_patch(DEPLOYMENTS, "podinfo", NAMESPACE, moved)

    with pytest.raises(AdapterError, match="moved from the analysed revision"):
        await workload.promote(podinfo, analysed)

    assert stored(kube_emulator, "podinfo-primary")["metadata"]["generation"] == 1


async def test_the_autoscaler_gets_a_primary_copy(
    kube_emulator: KubeEmulator, kube_client: KubeClient
) -> None:
    create(kube_emulator, deployment())
    create(kube_emulator, HPA)
    create(kube_emulator, canary(autoscalerRef={"apiVersion": "autoscaling/v2",
                                                "kind": "HorizontalPodAutoscaler",
                                                "name": "podinfo"}))  # fmt: skip
    podinfo = stored_canary(kube_emulator)
    workload = KubeWorkload(kube_client)

    await workload.create_primary(podinfo)
    await workload.scale_canary(podinfo, up=False)
    annotations = {"metadata": {"annotations": {SCALED_DOWN_FROM: None}}}
    await kube_client.merge_patch(DEPLOYMENTS, "podinfo", NAMESPACE, annotations)
    await workload.scale_canary(podinfo, up=True)

    copy = kube_emulator.get(
        "autoscaling/v2", "horizontalpodautoscalers", "podinfo-primary", NAMESPACE
    )
    assert copy is not None
    assert copy["spec"]["scaleTargetRef"]["name"] == "podinfo-primary"
    assert (copy["spec"]["minReplicas"], copy["spec"]["maxReplicas"]) == (3, 6)
    assert copy["spec"]["metrics"] == HPA["spec"]["metrics"]
    assert copy["metadata"]["ownerReferences"][0]["uid"] == podinfo.metadata.uid
    assert stored(kube_emulator, "podinfo")["spec"]["replicas"] == 3  # the HPA's minimum


async def test_a_missing_autoscaler_is_named(
    kube_emulator: KubeEmulator, kube_client: KubeClient
) -> None:
    create(kube_emulator, deployment())
    create(kube_emulator, canary(autoscalerRef={"name": "gone"}))
    with pytest.raises(AdapterError, match="autoscalerRef names horizontalpodautoscaler gone"):
        await KubeWorkload(kube_client).create_primary(stored_canary(kube_emulator))


async def test_a_selector_with_expressions_is_refused(
    kube_emulator: KubeEmulator, kube_client: KubeClient
) -> None:
    target = deployment()
    target["spec"]["selector"]["matchExpressions"] = [
        {"key": "tier", "operator": "In", "values": ["web"]}
    ]
    target["spec"]["template"]["metadata"]["labels"]["tier"] = "web"
    create(kube_emulator, target)
    create(kube_emulator, canary())
    with pytest.raises(AdapterError, match="matchLabels only"):
        await KubeWorkload(kube_client).create_primary(stored_canary(kube_emulator))


async def test_primary_scaler_replicas_bound_the_primarys_copy(
    kube_emulator: KubeEmulator, kube_client: KubeClient
) -> None:
    create(kube_emulator, deployment())
    create(kube_emulator, HPA)
    ref = {"name": "podinfo", "primaryScalerReplicas": {"minReplicas": 4, "maxReplicas": 9}}
    create(kube_emulator, canary(autoscalerRef=ref))
    podinfo = stored_canary(kube_emulator)

    await KubeWorkload(kube_client).create_primary(podinfo)

    copy = kube_emulator.get(
        "autoscaling/v2", "horizontalpodautoscalers", "podinfo-primary", NAMESPACE
    )
    assert copy is not None
    assert (copy["spec"]["minReplicas"], copy["spec"]["maxReplicas"]) == (4, 9)
    assert copy["spec"]["metrics"] == HPA["spec"]["metrics"]
    original = kube_emulator.get("autoscaling/v2", "horizontalpodautoscalers", "podinfo", NAMESPACE)
    assert original is not None
    assert (original["spec"]["minReplicas"], original["spec"]["maxReplicas"]) == (3, 6)


JUDGE_WITH_BASELINE = {"errors": {"maxIncrease": 0.5}, "baseline": True}


async def test_the_baseline_runs_the_primarys_template_with_the_canarys_replicas(
    kube_emulator: KubeEmulator, kube_client: KubeClient
) -> None:
    create(kube_emulator, deployment())
    body = canary()
    body["spec"]["analysis"]["judge"] = JUDGE_WITH_BASELINE
    create(kube_emulator, body)
    podinfo = stored_canary(kube_emulator)
    workload = KubeWorkload(kube_client)
    await workload.create_primary(podinfo)
    new_release = {
        "spec": {
            "replicas": 3,
            "template": {"spec": {"containers": [{"name": "podinfod", "image": "podinfo:6.0.1"}]}},
        }
    }
    await kube_client.merge_patch(DEPLOYMENTS, "podinfo", NAMESPACE, new_release)
    assert await workload.observe_baseline(podinfo) is None

    await workload.scale_baseline(podinfo, up=True)
    await workload.scale_baseline(podinfo, up=True)  # a repeat changes nothing

    baseline = stored(kube_emulator, "podinfo-baseline")
    primary = stored(kube_emulator, "podinfo-primary")
    assert baseline["metadata"]["generation"] == 1
    assert baseline["spec"]["replicas"] == 3  # as the canary runs
    assert baseline["spec"]["selector"] == {"matchLabels": {"app": "podinfo-baseline"}}
    assert baseline["spec"]["template"]["metadata"]["labels"] == {"app": "podinfo-baseline"}
    assert (
        baseline["spec"]["template"]["spec"] == primary["spec"]["template"]["spec"]
    )  # the revision in production, not the canary's 6.0.1
    assert baseline["metadata"]["ownerReferences"][0]["uid"] == podinfo.metadata.uid
    state = await workload.observe_baseline(podinfo)
    assert state is not None and state.replicas == 3

    await workload.scale_baseline(podinfo, up=False)
    await workload.scale_baseline(podinfo, up=False)  # already gone: fine
    assert kube_emulator.get("apps/v1", "deployments", "podinfo-baseline", NAMESPACE) is None
