"""CRUD rules of the generic registry, through raw HTTP and through kr8s."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest

from tests.kube_emulator import KubeEmulator
from tests.kube_emulator.http import call
from tests.kube_emulator.samples import GROUP, deployment, widget, widget_crd

DEPLOYMENTS = "/apis/apps/v1/namespaces/default/deployments"
WIDGETS = f"/apis/{GROUP}/v1/namespaces/default/widgets"
CRDS = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
MERGE = {"Content-Type": "application/merge-patch+json"}


@pytest.fixture
async def widgets(kube_http: aiohttp.ClientSession) -> None:
    status, body = await call(kube_http, "POST", CRDS, widget_crd())
    assert status == 201, body


async def test_create_sets_server_owned_metadata(kube_http: aiohttp.ClientSession) -> None:
    sent = deployment("web")
    sent["metadata"]["uid"] = "client-made-up"
    status, created = await call(kube_http, "POST", DEPLOYMENTS, sent)
    assert status == 201
    meta = created["metadata"]
    assert meta["uid"] != "client-made-up"
    assert len(meta["uid"]) == 36
    assert meta["creationTimestamp"].endswith("Z")
    assert (meta["namespace"], meta["generation"]) == ("default", 1)
    assert (created["apiVersion"], created["kind"]) == ("apps/v1", "Deployment")
    assert created["spec"]["strategy"]["type"] == "RollingUpdate"  # server defaults
    status, fetched = await call(kube_http, "GET", f"{DEPLOYMENTS}/web")
    assert (status, fetched) == (200, created)


async def test_resource_version_is_one_increasing_counter_across_types(
    kube_http: aiohttp.ClientSession,
) -> None:
    _, first = await call(kube_http, "POST", DEPLOYMENTS, deployment("a"))
    _, config = await call(
        kube_http,
        "POST",
        "/api/v1/namespaces/default/configmaps",
        {"metadata": {"name": "c"}, "data": {"k": "v"}},
    )
    _, second = await call(kube_http, "POST", DEPLOYMENTS, deployment("b"))
    versions = [int(o["metadata"]["resourceVersion"]) for o in (first, config, second)]
    assert versions == sorted(versions)
    assert len(set(versions)) == 3
    assert all(isinstance(o["metadata"]["resourceVersion"], str) for o in (first, config, second))
    _, listed = await call(kube_http, "GET", DEPLOYMENTS)
    assert listed["metadata"]["resourceVersion"] == str(versions[-1])


async def test_generate_name_makes_a_unique_name(kube_http: aiohttp.ClientSession) -> None:
    body = {"metadata": {"generateName": "run-"}, "data": {}}
    names = set()
    for _ in range(3):
        status, created = await call(
            kube_http, "POST", "/api/v1/namespaces/default/configmaps", body
        )
        assert status == 201
        names.add(created["metadata"]["name"])
    assert len(names) == 3
    assert all(n.startswith("run-") and len(n) == 9 for n in names)


async def test_create_existing_is_409_already_exists(kube_http: aiohttp.ClientSession) -> None:
    await call(kube_http, "POST", DEPLOYMENTS, deployment("web"))
    status, body = await call(kube_http, "POST", DEPLOYMENTS, deployment("web"))
    assert (status, body["kind"], body["reason"], body["code"]) == (
        409,
        "Status",
        "AlreadyExists",
        409,
    )
    assert body["message"] == 'deployments.apps "web" already exists'
    assert body["details"] == {"name": "web", "group": "apps", "kind": "deployments"}


async def test_missing_object_is_404_not_found(kube_http: aiohttp.ClientSession) -> None:
    for method in ("GET", "DELETE", "PUT", "PATCH"):
        headers = MERGE if method == "PATCH" else None
        status, body = await call(
            kube_http,
            method,
            f"{DEPLOYMENTS}/ghost",
            {"metadata": {"name": "ghost"}},
            headers=headers,
        )
        assert (status, body["reason"], body["message"]) == (
            404,
            "NotFound",
            'deployments.apps "ghost" not found',
        ), method


async def test_namespace_must_exist(kube_http: aiohttp.ClientSession) -> None:
    status, body = await call(
        kube_http, "POST", "/apis/apps/v1/namespaces/nowhere/deployments", deployment("web")
    )
    assert (status, body["message"]) == (404, 'namespaces "nowhere" not found')


async def test_stale_resource_version_is_409_conflict(kube_http: aiohttp.ClientSession) -> None:
    _, created = await call(kube_http, "POST", DEPLOYMENTS, deployment("web"))
    fresh = {**created, "spec": {**created["spec"], "replicas": 3}}
    status, updated = await call(kube_http, "PUT", f"{DEPLOYMENTS}/web", fresh)
    assert status == 200
    assert updated["spec"]["replicas"] == 3
    stale = {**created, "spec": {**created["spec"], "replicas": 5}}  # still the old resourceVersion
    status, body = await call(kube_http, "PUT", f"{DEPLOYMENTS}/web", stale)
    assert (status, body["reason"]) == (409, "Conflict")
    assert body["message"].startswith(
        'Operation cannot be fulfilled on deployments.apps "web": the object has been modified'
    )
    patch = {
        "metadata": {"resourceVersion": created["metadata"]["resourceVersion"]},
        "spec": {"replicas": 7},
    }
    status, body = await call(kube_http, "PATCH", f"{DEPLOYMENTS}/web", patch, headers=MERGE)
    assert (status, body["reason"]) == (409, "Conflict")


async def test_custom_resources_need_a_resource_version_on_put(
    kube_http: aiohttp.ClientSession, widgets: None
) -> None:
    await call(kube_http, "POST", WIDGETS, widget("w"))
    status, body = await call(kube_http, "PUT", f"{WIDGETS}/w", widget("w", 20))
    assert (status, body["reason"]) == (422, "Invalid")
    assert body["details"]["causes"][0]["field"] == "metadata.resourceVersion"


async def test_invalid_name_is_422_with_causes(kube_http: aiohttp.ClientSession) -> None:
    status, body = await call(kube_http, "POST", DEPLOYMENTS, deployment("Not_Valid"))
    assert (status, body["reason"], body["code"]) == (422, "Invalid", 422)
    assert body["message"].startswith(
        'Deployment.apps "Not_Valid" is invalid: '
        'metadata.name: Invalid value: "Not_Valid": a lowercase RFC 1123 subdomain'
    )
    [cause] = body["details"]["causes"]
    assert (cause["reason"], cause["field"]) == ("FieldValueInvalid", "metadata.name")


async def test_deployment_selector_must_match_its_template(
    kube_http: aiohttp.ClientSession,
) -> None:
    broken = deployment("web")
    broken["spec"]["template"]["metadata"]["labels"] = {"app": "other"}
    status, body = await call(kube_http, "POST", DEPLOYMENTS, broken)
    assert status == 422
    assert body["details"]["causes"][0]["field"] == "spec.template.metadata.labels"


async def test_generation_counts_spec_changes_only(
    kube_http: aiohttp.ClientSession, widgets: None
) -> None:
    _, created = await call(kube_http, "POST", WIDGETS, widget("w"))
    assert created["metadata"]["generation"] == 1
    _, labelled = await call(
        kube_http, "PATCH", f"{WIDGETS}/w", {"metadata": {"labels": {"x": "y"}}}, headers=MERGE
    )
    assert labelled["metadata"]["generation"] == 1
    _, changed = await call(
        kube_http, "PATCH", f"{WIDGETS}/w", {"spec": {"mode": "canary"}}, headers=MERGE
    )
    assert changed["metadata"]["generation"] == 2
    _, status_set = await call(
        kube_http, "PATCH", f"{WIDGETS}/w/status", {"status": {"phase": "Ready"}}, headers=MERGE
    )
    assert status_set["metadata"]["generation"] == 2


async def test_a_write_that_changes_nothing_keeps_the_resource_version(
    kube_http: aiohttp.ClientSession, widgets: None
) -> None:
    _, created = await call(kube_http, "POST", WIDGETS, widget("w"))
    _, same = await call(
        kube_http,
        "PATCH",
        f"{WIDGETS}/w",
        {"spec": {"analysis": {"stepWeight": 10}}},
        headers=MERGE,
    )
    assert same["metadata"]["resourceVersion"] == created["metadata"]["resourceVersion"]


async def test_several_versions_share_one_storage(kube_http: aiohttp.ClientSession) -> None:
    await call(kube_http, "POST", CRDS, widget_crd(versions=("v1", "v1beta1")))
    await call(kube_http, "POST", WIDGETS, widget("w"))
    status, other = await call(
        kube_http, "GET", f"/apis/{GROUP}/v1beta1/namespaces/default/widgets/w"
    )
    assert (status, other["apiVersion"]) == (200, f"{GROUP}/v1beta1")


async def test_cluster_scoped_custom_resources(kube_http: aiohttp.ClientSession) -> None:
    await call(kube_http, "POST", CRDS, widget_crd(scope="Cluster"))
    status, created = await call(kube_http, "POST", f"/apis/{GROUP}/v1/widgets", widget("global"))
    assert status == 201
    assert "namespace" not in created["metadata"]
    status, _ = await call(kube_http, "GET", f"/apis/{GROUP}/v1/namespaces/default/widgets/global")
    assert status == 404


async def test_kr8s_create_get_patch_delete(kr8s_api: Any, kube_emulator: KubeEmulator) -> None:
    from kr8s.asyncio.objects import ConfigMap, Deployment

    created = await Deployment(deployment("web"), api=kr8s_api)
    await created.create()
    assert created.metadata.generation == 1
    fetched = await Deployment.get("web", namespace="default", api=kr8s_api)
    assert fetched.metadata.uid == created.metadata.uid
    await fetched.patch({"spec": {"replicas": 4}})
    assert fetched.raw["spec"]["replicas"] == 4
    assert fetched.metadata.generation == 2
    await fetched.label(tier="web")
    stored = kube_emulator.get("apps/v1", "deployments", "web", "default")
    assert stored is not None
    assert stored["metadata"]["labels"]["tier"] == "web"
    config = await ConfigMap({"metadata": {"name": "cfg"}, "data": {"a": "1"}}, api=kr8s_api)
    await config.create()
    names = [d.name async for d in kr8s_api.get("deployments", namespace="default")]
    assert names == ["web"]
    await fetched.delete()
    assert not await fetched.exists()


async def test_a_new_autoscaler_has_the_zero_status_a_real_server_writes(
    kube_http: aiohttp.ClientSession,
) -> None:
    hpa = {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "web"},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
            "minReplicas": 1,
            "maxReplicas": 3,
        },
        "status": {"desiredReplicas": 7},  # a create never sets status
    }
    status, created = await call(
        kube_http, "POST", "/apis/autoscaling/v2/namespaces/default/horizontalpodautoscalers", hpa
    )
    assert status == 201, created
    assert created["status"] == {"currentMetrics": None, "desiredReplicas": 0}
