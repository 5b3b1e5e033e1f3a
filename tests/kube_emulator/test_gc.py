"""Deletion: finalizers, ownerReference garbage collection and namespace cleanup."""

from __future__ import annotations

from typing import Any

import aiohttp

from tests.kube_emulator import KubeEmulator
from tests.kube_emulator.http import MERGE, call, eventually, watch_events

CONFIGMAPS = "/api/v1/namespaces/default/configmaps"


async def _eventually_gone(emulator: KubeEmulator, name: str, namespace: str = "default") -> None:
    await eventually(lambda: emulator.get("v1", "configmaps", name, namespace) is None)


def _owned(name: str, *owners: dict[str, Any]) -> dict[str, Any]:
    refs = [
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "name": o["metadata"]["name"],
            "uid": o["metadata"]["uid"],
        }
        for o in owners
    ]
    return {"metadata": {"name": name, "ownerReferences": refs}}


async def test_finalizers_hold_a_deleted_object_until_removed(
    kube_http: aiohttp.ClientSession, kube_emulator: KubeEmulator
) -> None:
    _, created = await call(
        kube_http, "POST", CONFIGMAPS, {"metadata": {"name": "held", "finalizers": ["test/hold"]}}
    )
    status, deleting = await call(kube_http, "DELETE", f"{CONFIGMAPS}/held")
    assert status == 200
    assert deleting["metadata"]["deletionTimestamp"]
    assert deleting["metadata"]["deletionGracePeriodSeconds"] == 0
    status, still = await call(kube_http, "GET", f"{CONFIGMAPS}/held")
    assert (status, still["metadata"]["finalizers"]) == (200, ["test/hold"])
    status, body = await call(
        kube_http,
        "PATCH",
        f"{CONFIGMAPS}/held",
        {"metadata": {"finalizers": ["test/hold", "new"]}},
        headers=MERGE,
    )
    assert (status, body["details"]["causes"][0]["field"]) == (422, "metadata.finalizers")
    rv = deleting["metadata"]["resourceVersion"]
    status, last = await call(
        kube_http, "PATCH", f"{CONFIGMAPS}/held", {"metadata": {"finalizers": None}}, headers=MERGE
    )
    assert status == 200
    assert (await call(kube_http, "GET", f"{CONFIGMAPS}/held"))[0] == 404
    events = await watch_events(
        kube_http, CONFIGMAPS, {"watch": "true", "resourceVersion": rv}, count=1
    )
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in events] == [("DELETED", "held")]
    assert created["metadata"]["uid"] == last["metadata"]["uid"]


async def test_deletion_bumps_generation_of_objects_that_have_one(
    kube_http: aiohttp.ClientSession,
) -> None:
    path = "/apis/apps/v1/namespaces/default/deployments"
    labels = {"app": "x"}
    body = {
        "metadata": {"name": "x", "finalizers": ["test/hold"]},
        "spec": {"selector": {"matchLabels": labels}, "template": {"metadata": {"labels": labels}}},
    }
    await call(kube_http, "POST", path, body)
    _, deleting = await call(kube_http, "DELETE", f"{path}/x")
    assert deleting["metadata"]["generation"] == 2


async def test_immediate_delete_answers_a_success_status(kube_http: aiohttp.ClientSession) -> None:
    await call(kube_http, "POST", CONFIGMAPS, {"metadata": {"name": "gone"}})
    status, body = await call(kube_http, "DELETE", f"{CONFIGMAPS}/gone")
    assert (status, body["kind"], body["status"], body["details"]["name"]) == (
        200,
        "Status",
        "Success",
        "gone",
    )


async def test_preconditions_guard_a_delete(kube_http: aiohttp.ClientSession) -> None:
    await call(kube_http, "POST", CONFIGMAPS, {"metadata": {"name": "x"}})
    status, body = await call(
        kube_http, "DELETE", f"{CONFIGMAPS}/x", {"preconditions": {"resourceVersion": "1"}}
    )
    assert (status, body["reason"]) == (409, "Conflict")


async def test_background_deletion_collects_dependents(
    kube_http: aiohttp.ClientSession, kube_emulator: KubeEmulator
) -> None:
    _, owner = await call(kube_http, "POST", CONFIGMAPS, {"metadata": {"name": "owner"}})
    _, other = await call(kube_http, "POST", CONFIGMAPS, {"metadata": {"name": "other-owner"}})
    await call(kube_http, "POST", CONFIGMAPS, _owned("child", owner))
    await call(
        kube_http,
        "POST",
        CONFIGMAPS,
        _owned("grandchild", (await call(kube_http, "GET", f"{CONFIGMAPS}/child"))[1]),
    )
    await call(kube_http, "POST", CONFIGMAPS, _owned("shared", owner, other))
    await call(kube_http, "DELETE", f"{CONFIGMAPS}/owner")
    await _eventually_gone(kube_emulator, "grandchild")
    assert kube_emulator.get("v1", "configmaps", "child", "default") is None
    shared = kube_emulator.get("v1", "configmaps", "shared", "default")
    assert shared is not None
    assert [r["name"] for r in shared["metadata"]["ownerReferences"]] == ["other-owner"]


async def test_foreground_deletion_waits_for_dependents(
    kube_http: aiohttp.ClientSession, kube_emulator: KubeEmulator
) -> None:
    _, owner = await call(kube_http, "POST", CONFIGMAPS, {"metadata": {"name": "owner"}})
    child = _owned("child", owner)
    child["metadata"]["finalizers"] = ["test/hold"]
    await call(kube_http, "POST", CONFIGMAPS, child)
    _, deleting = await call(
        kube_http, "DELETE", f"{CONFIGMAPS}/owner", {"propagationPolicy": "Foreground"}
    )
    assert "foregroundDeletion" in deleting["metadata"]["finalizers"]
    kube_emulator.collect_garbage()
    assert kube_emulator.get("v1", "configmaps", "owner", "default") is not None  # child is held
    await call(
        kube_http, "PATCH", f"{CONFIGMAPS}/child", {"metadata": {"finalizers": None}}, headers=MERGE
    )
    await _eventually_gone(kube_emulator, "owner")


async def test_orphan_deletion_keeps_dependents(
    kube_http: aiohttp.ClientSession, kube_emulator: KubeEmulator
) -> None:
    _, owner = await call(kube_http, "POST", CONFIGMAPS, {"metadata": {"name": "owner"}})
    await call(kube_http, "POST", CONFIGMAPS, _owned("child", owner))
    await call(kube_http, "DELETE", f"{CONFIGMAPS}/owner", params={"propagationPolicy": "Orphan"})
    await _eventually_gone(kube_emulator, "owner")
    child = kube_emulator.get("v1", "configmaps", "child", "default")
    assert child is not None
    assert "ownerReferences" not in child["metadata"]


async def test_deleting_a_namespace_deletes_its_objects(
    kube_http: aiohttp.ClientSession, kube_emulator: KubeEmulator
) -> None:
    await call(kube_http, "POST", "/api/v1/namespaces", {"metadata": {"name": "team"}})
    await call(
        kube_http, "POST", "/api/v1/namespaces/team/configmaps", {"metadata": {"name": "cfg"}}
    )
    status, deleting = await call(kube_http, "DELETE", "/api/v1/namespaces/team")
    assert (status, deleting["metadata"]["name"]) == (200, "team")
    await eventually(lambda: kube_emulator.get("v1", "namespaces", "team") is None)
    assert kube_emulator.objects("v1", "configmaps", "team") == []


async def test_a_terminating_namespace_refuses_new_objects(
    kube_http: aiohttp.ClientSession, kube_emulator: KubeEmulator
) -> None:
    await call(kube_http, "POST", "/api/v1/namespaces", {"metadata": {"name": "team"}})
    held = {"metadata": {"name": "held", "finalizers": ["test/hold"]}}
    await call(kube_http, "POST", "/api/v1/namespaces/team/configmaps", held)
    await call(kube_http, "DELETE", "/api/v1/namespaces/team")
    kube_emulator.collect_garbage()
    namespace = kube_emulator.get("v1", "namespaces", "team")
    assert namespace is not None
    assert namespace["status"]["phase"] == "Terminating"
    status, body = await call(
        kube_http, "POST", "/api/v1/namespaces/team/configmaps", {"metadata": {"name": "new"}}
    )
    assert (status, body["reason"]) == (403, "Forbidden")
    assert "because it is being terminated" in body["message"]
