"""Discovery and auth, checked with raw HTTP and with kr8s' own discovery."""

from __future__ import annotations

from typing import Any

import aiohttp

from tests.kube_emulator import KubeEmulator
from tests.kube_emulator.samples import GROUP, kopf_peering_documents, widget_crd

CRDS_PATH = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"


async def _get(http: aiohttp.ClientSession, path: str) -> tuple[int, Any]:
    async with http.get(path) as response:
        return response.status, await response.json()


def _entry(resource_list: dict[str, Any], name: str) -> dict[str, Any]:
    return next(r for r in resource_list["resources"] if r["name"] == name)


async def test_version_and_health_answer_without_a_token(kube_emulator: KubeEmulator) -> None:
    async with aiohttp.ClientSession(kube_emulator.url) as anonymous:
        async with anonymous.get("/version") as response:
            assert response.status == 200
            assert (await response.json())["gitVersion"].startswith("v1.")
        for path in ("/healthz", "/readyz", "/livez"):
            async with anonymous.get(path) as response:
                assert (response.status, await response.text()) == (200, "ok")


async def test_requests_without_the_token_get_401_status(kube_emulator: KubeEmulator) -> None:
    for headers in ({}, {"Authorization": "Bearer wrong"}):
        async with (
            aiohttp.ClientSession(kube_emulator.url, headers=headers) as session,
            session.get("/api/v1/namespaces") as response,
        ):
            body = await response.json()
        assert response.status == 401
        assert body["kind"] == "Status"
        assert (body["reason"], body["code"]) == ("Unauthorized", 401)


async def test_core_and_group_discovery(kube_http: aiohttp.ClientSession) -> None:
    assert (await _get(kube_http, "/api"))[1]["versions"] == ["v1"]
    _, core = await _get(kube_http, "/api/v1")
    pods = _entry(core, "pods")
    assert (pods["kind"], pods["namespaced"], pods["shortNames"]) == ("Pod", True, ["po"])
    assert _entry(core, "namespaces")["namespaced"] is False
    _, groups = await _get(kube_http, "/apis")
    names = {g["name"] for g in groups["groups"]}
    expected = {"apps", "autoscaling", "coordination.k8s.io", "apiextensions.k8s.io"}
    assert expected | {"rbac.authorization.k8s.io", "networking.k8s.io", "events.k8s.io"} <= names
    _, apps = await _get(kube_http, "/apis/apps/v1")
    assert "watch" in _entry(apps, "deployments")["verbs"]
    assert _entry(apps, "deployments/status")["verbs"] == ["get", "patch", "update"]
    assert _entry(apps, "deployments/scale")["kind"] == "Scale"
    status, group = await _get(kube_http, "/apis/apps")
    assert (status, group["preferredVersion"]["groupVersion"]) == (200, "apps/v1")


async def test_unknown_paths_are_404_status(kube_http: aiohttp.ClientSession) -> None:
    for path in ("/apis/nope.dev/v1", "/apis/apps/v1/namespaces/default/gadgets", "/api/v1/pods/x"):
        status, body = await _get(kube_http, path)
        assert (status, body["reason"]) == (404, "NotFound"), path


async def test_a_created_crd_is_discovered_with_its_versions(
    kube_http: aiohttp.ClientSession,
) -> None:
    crd = widget_crd(versions=("v1beta1", "v1"))
    async with kube_http.post(CRDS_PATH, json=crd) as response:
        assert response.status == 201
        created = await response.json()
    established = {c["type"]: c["status"] for c in created["status"]["conditions"]}
    assert established == {"NamesAccepted": "True", "Established": "True"}
    status, group = await _get(kube_http, f"/apis/{GROUP}")
    assert status == 200
    assert [v["version"] for v in group["versions"]] == ["v1", "v1beta1"]  # kube version order
    assert group["preferredVersion"]["version"] == "v1"
    _, resources = await _get(kube_http, f"/apis/{GROUP}/v1beta1")
    assert _entry(resources, "widgets")["shortNames"] == ["wd"]
    assert _entry(resources, "widgets/status")["verbs"] == ["get", "patch", "update"]
    async with kube_http.get(f"/apis/{GROUP}/v1/namespaces/default/widgets") as response:
        assert (response.status, (await response.json())["kind"]) == (200, "WidgetList")


async def test_deleting_a_crd_removes_it_from_discovery(kube_http: aiohttp.ClientSession) -> None:
    async with kube_http.post(CRDS_PATH, json=widget_crd()) as response:
        assert response.status == 201
    async with kube_http.delete(f"{CRDS_PATH}/widgets.{GROUP}") as response:
        assert response.status == 200
    assert (await _get(kube_http, f"/apis/{GROUP}/v1"))[0] == 404
    _, groups = await _get(kube_http, "/apis")
    assert GROUP not in {g["name"] for g in groups["groups"]}


async def test_kopf_peering_crds_work_from_their_yaml(kube_http: aiohttp.ClientSession) -> None:
    for document in kopf_peering_documents():
        group_version, plural = document["apiVersion"], document["kind"].lower() + "s"
        if document["kind"] == "CustomResourceDefinition":
            path = CRDS_PATH
        elif document["kind"] == "KopfPeering":
            path = f"/apis/{group_version}/namespaces/default/{plural}"
        else:
            path = f"/apis/{group_version}/{plural}"
        async with kube_http.post(path, json=document) as response:
            assert response.status == 201, await response.text()
    _, resources = await _get(kube_http, "/apis/kopf.dev/v1")
    assert _entry(resources, "clusterkopfpeerings")["namespaced"] is False
    assert _entry(resources, "kopfpeerings")["namespaced"] is True
    patch = {"status": {"some-operator": {"priority": 0, "lifetime": 60}}}
    headers = {"Content-Type": "application/merge-patch+json"}
    path = "/apis/kopf.dev/v1/clusterkopfpeerings/default"
    async with kube_http.patch(path, json=patch, headers=headers) as response:
        assert response.status == 200
        assert (await response.json())["status"]["some-operator"]["lifetime"] == 60


async def test_kr8s_finds_a_new_crd_kind(kube_http: aiohttp.ClientSession, kr8s_api: Any) -> None:
    assert (await kr8s_api.lookup_kind("deploy")) == ("deployment.apps/v1", "deployments", True)
    async with kube_http.post(CRDS_PATH, json=widget_crd(scope="Cluster")) as response:
        assert response.status == 201
    assert (await kr8s_api.lookup_kind("wd")) == (f"widget.{GROUP}/v1", "widgets", False)
