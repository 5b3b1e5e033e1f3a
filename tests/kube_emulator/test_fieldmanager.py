"""Server-side apply and managedFields over HTTP, as kubectl and Helm meet them."""

from __future__ import annotations

import json
from typing import Any

import aiohttp

from tests.kube_emulator.http import call
from tests.kube_emulator.samples import deployment

DEPLOYMENTS = "/apis/apps/v1/namespaces/default/deployments"
APPLY = {"Content-Type": "application/apply-patch+yaml"}
MERGE = {"Content-Type": "application/merge-patch+json"}


async def apply(
    http: aiohttp.ClientSession, body: dict[str, Any], manager: str, force: bool = False
) -> tuple[int, Any]:
    params = {"fieldManager": manager, **({"force": "true"} if force else {})}
    path = f"{DEPLOYMENTS}/{body['metadata']['name']}"
    async with http.patch(path, data=json.dumps(body), headers=APPLY, params=params) as response:
        return response.status, await response.json()


def managers(obj: dict[str, Any]) -> dict[str, tuple[str, dict[str, Any]]]:
    return {e["manager"]: (e["operation"], e["fieldsV1"]) for e in obj["metadata"]["managedFields"]}


async def test_apply_creates_and_records_what_the_manager_owns(
    kube_http: aiohttp.ClientSession,
) -> None:
    status, created = await apply(kube_http, deployment("web"), "coalmine")
    assert status == 201, created
    operation, fields = managers(created)["coalmine"]
    assert operation == "Apply"
    assert fields["f:spec"]["f:replicas"] == {}
    assert "f:revisionHistoryLimit" not in fields["f:spec"]  # defaulted, not applied
    status, again = await apply(kube_http, deployment("web"), "coalmine")
    assert status == 200
    assert again["metadata"]["resourceVersion"] == created["metadata"]["resourceVersion"]


async def test_a_field_another_manager_set_is_a_conflict_unless_forced(
    kube_http: aiohttp.ClientSession,
) -> None:
    await apply(kube_http, deployment("web", replicas=2), "coalmine")
    status, scaled = await call(
        kube_http,
        "PATCH",
        f"{DEPLOYMENTS}/web",
        {"spec": {"replicas": 5}},
        headers=MERGE,
        params={"fieldManager": "kubectl-scale"},
    )
    assert status == 200
    assert managers(scaled)["kubectl-scale"] == ("Update", {"f:spec": {"f:replicas": {}}})
    assert "f:replicas" not in managers(scaled)["coalmine"][1]["f:spec"]

    status, body = await apply(kube_http, deployment("web", replicas=2), "coalmine")
    assert (status, body["reason"]) == (409, "Conflict")
    assert body["message"] == (
        'Apply failed with 1 conflict: conflict with "kubectl-scale" using apps/v1: .spec.replicas'
    )
    assert body["details"]["causes"][0]["field"] == ".spec.replicas"

    status, same = await apply(kube_http, deployment("web", replicas=5), "coalmine")
    assert status == 200 and same["spec"]["replicas"] == 5  # the same value is shared

    status, forced = await apply(kube_http, deployment("web", replicas=3), "coalmine", force=True)
    assert status == 200 and forced["spec"]["replicas"] == 3
    assert "kubectl-scale" not in managers(forced)


async def test_a_field_no_longer_applied_goes_unless_another_manager_owns_it(
    kube_http: aiohttp.ClientSession,
) -> None:
    body = deployment("web", replicas=4)
    body["metadata"]["annotations"] = {"note": "x"}
    await apply(kube_http, body, "coalmine")
    await call(
        kube_http,
        "PATCH",
        f"{DEPLOYMENTS}/web",
        {"spec": {"replicas": 6}},
        headers=MERGE,
        params={"fieldManager": "hpa"},
    )
    del body["metadata"]["annotations"]
    del body["spec"]["replicas"]
    status, applied = await apply(kube_http, body, "coalmine")
    assert status == 200, applied
    assert "annotations" not in applied["metadata"]  # only coalmine had it: removed
    assert applied["spec"]["replicas"] == 6  # the autoscaler's: kept


async def test_writes_without_field_manager_are_named_by_user_agent(
    kube_http: aiohttp.ClientSession,
) -> None:
    async with kube_http.post(
        DEPLOYMENTS, json=deployment("web"), headers={"User-Agent": "kr8s/0.20.7"}
    ) as response:
        created = await response.json()
    assert list(managers(created)) == ["kr8s"]
    status, body = await call(kube_http, "PATCH", f"{DEPLOYMENTS}/web", "x: 1", headers=APPLY)
    assert (status, body["reason"]) == (400, "BadRequest")  # apply needs a fieldManager


async def merge_patch(
    http: aiohttp.ClientSession, path: str, body: dict[str, Any], manager: str
) -> tuple[int, Any]:
    return await call(http, "PATCH", path, body, headers=MERGE, params={"fieldManager": manager})


async def test_a_status_write_owns_status_fields_and_a_main_write_the_rest(
    kube_http: aiohttp.ClientSession,
) -> None:
    await call(kube_http, "POST", DEPLOYMENTS, deployment("web"), params={"fieldManager": "helm"})
    both = {"status": {"replicas": 2}, "spec": {"replicas": 9}}
    status, _ = await merge_patch(
        kube_http, f"{DEPLOYMENTS}/web/status", both, "deployment-controller"
    )
    assert status == 200
    both = {"spec": {"replicas": 3}, "status": {"replicas": 7}}
    _, scaled = await merge_patch(kube_http, f"{DEPLOYMENTS}/web", both, "kubectl")
    entries = {e["manager"]: e for e in scaled["metadata"]["managedFields"]}
    controller = entries["deployment-controller"]
    assert controller["subresource"] == "status"
    assert set(controller["fieldsV1"]) == {"f:status"}
    assert controller["fieldsV1"]["f:status"]["f:replicas"] == {}
    assert entries["kubectl"]["fieldsV1"] == {"f:spec": {"f:replicas": {}}}
    assert "f:replicas" not in entries["helm"]["fieldsV1"]["f:spec"]  # taken by kubectl
    assert "f:status" not in entries["helm"]["fieldsV1"]
