"""Merge patch, JSON patch and strategic merge patch: the functions, then over HTTP."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest

from tests.kube_emulator.errors import ApiError
from tests.kube_emulator.http import CRDS, call
from tests.kube_emulator.patching import json_patch, merge_patch, strategic_merge_patch
from tests.kube_emulator.samples import GROUP, deployment, widget, widget_crd

DEPLOYMENTS = "/apis/apps/v1/namespaces/default/deployments"
WIDGETS = f"/apis/{GROUP}/v1/namespaces/default/widgets"


def test_merge_patch_follows_rfc_7386() -> None:
    target = {"a": "b", "c": {"d": "e", "f": "g"}, "list": [1, 2]}
    patch = {"a": "z", "c": {"f": None}, "list": [3], "new": {"x": 1}}
    assert merge_patch(target, patch) == {"a": "z", "c": {"d": "e"}, "list": [3], "new": {"x": 1}}
    assert target["c"] == {"d": "e", "f": "g"}  # the input is not changed


def test_json_patch_operations() -> None:
    doc = {"spec": {"list": ["a", "c"], "old": 1, "keep": {"x": 1}}}
    ops = [
        {"op": "test", "path": "/spec/old", "value": 1},
        {"op": "add", "path": "/spec/list/1", "value": "b"},
        {"op": "add", "path": "/spec/list/-", "value": "d"},
        {"op": "remove", "path": "/spec/old"},
        {"op": "replace", "path": "/spec/keep/x", "value": 2},
        {"op": "copy", "from": "/spec/keep", "path": "/spec/copied"},
        {"op": "move", "from": "/spec/copied", "path": "/spec/a~1b"},
    ]
    assert json_patch(doc, ops) == {
        "spec": {"list": ["a", "b", "c", "d"], "keep": {"x": 2}, "a/b": {"x": 2}}
    }


@pytest.mark.parametrize(
    "op",
    [
        {"op": "test", "path": "/a", "value": 2},
        {"op": "replace", "path": "/missing", "value": 1},
        {"op": "remove", "path": "/missing"},
        {"op": "add", "path": "/a/b/c", "value": 1},
        {"op": "explode", "path": "/a"},
    ],
)
def test_json_patch_failures_are_422_and_change_nothing(op: dict[str, Any]) -> None:
    doc = {"a": 1}
    with pytest.raises(ApiError) as raised:
        json_patch(doc, [{"op": "add", "path": "/b", "value": 1}, op])
    assert raised.value.code == 422
    assert doc == {"a": 1}


def test_strategic_merge_merges_containers_by_name() -> None:
    pod_spec = {
        "containers": [
            {"name": "app", "image": "v1", "env": [{"name": "A", "value": "1"}]},
            {"name": "side", "image": "s"},
        ]
    }
    patch = {
        "containers": [
            {"name": "app", "image": "v2", "env": [{"name": "B", "value": "2"}]},
            {"name": "side", "$patch": "delete"},
        ]
    }
    merged = strategic_merge_patch(pod_spec, patch)
    assert merged == {
        "containers": [
            {
                "name": "app",
                "image": "v2",
                "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
            }
        ]
    }
    assert strategic_merge_patch({"finalizers": ["a"]}, {"finalizers": ["b", "a"]}) == {
        "finalizers": ["a", "b"]
    }
    assert strategic_merge_patch({"args": ["x"]}, {"args": ["y"]}) == {
        "args": ["y"]
    }  # no merge key: replaced


async def _patch(
    http: aiohttp.ClientSession, path: str, content_type: str, body: Any
) -> tuple[int, Any]:
    async with http.patch(path, json=body, headers={"Content-Type": content_type}) as response:
        return response.status, await response.json()


async def test_patch_types_over_http(kube_http: aiohttp.ClientSession) -> None:
    await call(kube_http, "POST", DEPLOYMENTS, deployment("web"))
    status, merged = await _patch(
        kube_http, f"{DEPLOYMENTS}/web", "application/merge-patch+json", {"spec": {"replicas": 5}}
    )
    assert (status, merged["spec"]["replicas"]) == (200, 5)
    rv = merged["metadata"]["resourceVersion"]
    ops = [
        {"op": "test", "path": "/metadata/resourceVersion", "value": rv},
        {"op": "replace", "path": "/spec/replicas", "value": 6},
    ]
    status, patched = await _patch(
        kube_http, f"{DEPLOYMENTS}/web", "application/json-patch+json", ops
    )
    assert (status, patched["spec"]["replicas"]) == (200, 6)
    status, body = await _patch(
        kube_http, f"{DEPLOYMENTS}/web", "application/json-patch+json", ops
    )  # rv is stale now
    assert (status, body["kind"], body["reason"]) == (422, "Status", "Invalid")
    sidecar = {
        "spec": {"template": {"spec": {"containers": [{"name": "proxy", "image": "envoy"}]}}}
    }
    status, strategic = await _patch(
        kube_http, f"{DEPLOYMENTS}/web", "application/strategic-merge-patch+json", sidecar
    )
    assert status == 200
    assert [c["name"] for c in strategic["spec"]["template"]["spec"]["containers"]] == [
        "app",
        "proxy",
    ]


async def test_custom_resources_refuse_strategic_merge(
    kube_http: aiohttp.ClientSession,
) -> None:
    await call(kube_http, "POST", CRDS, widget_crd())
    await call(kube_http, "POST", WIDGETS, widget("w"))
    status, body = await _patch(
        kube_http, f"{WIDGETS}/w", "application/strategic-merge-patch+json", {"spec": {}}
    )
    assert (status, body["reason"]) == (415, "UnsupportedMediaType")
    assert "application/merge-patch+json" in body["message"]
