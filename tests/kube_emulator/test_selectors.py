"""Label and field selectors: parsing, matching, and LIST filtering over HTTP."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest

from tests.kube_emulator.errors import ApiError
from tests.kube_emulator.http import call
from tests.kube_emulator.selectors import parse_label_selector

LABELS = {"app": "web", "tier": "front", "version": "3"}


@pytest.mark.parametrize(
    ("selector", "matches"),
    [
        ("", True),
        ("app=web", True),
        ("app==web", True),
        ("app!=web", False),
        ("app!=db", True),
        ("missing!=x", True),
        ("app in (web, db)", True),
        ("app notin (web,db)", False),
        ("missing notin (a)", True),
        ("tier", True),
        ("!tier", False),
        ("!missing", True),
        ("app=web,tier in (front),!missing", True),
        ("app=web,tier=back", False),
        ("version>2", True),
        ("version<3", False),
    ],
)
def test_label_selector_matching(selector: str, matches: bool) -> None:
    assert parse_label_selector(selector)(LABELS) is matches


@pytest.mark.parametrize("selector", ["app in web", "=web", "app=(x)", "version>x"])
def test_bad_label_selectors_are_400(selector: str) -> None:
    with pytest.raises(ApiError) as raised:
        parse_label_selector(selector)
    assert raised.value.code == 400


@pytest.fixture
async def three_pods(kube_http: aiohttp.ClientSession) -> None:
    for name, labels in (
        ("a", {"app": "web", "tier": "front"}),
        ("b", {"app": "web"}),
        ("c", {"app": "db"}),
    ):
        body = {
            "metadata": {"name": name, "labels": labels},
            "spec": {"containers": [{"name": "x", "image": "y"}]},
        }
        status, _ = await call(kube_http, "POST", "/api/v1/namespaces/default/pods", body)
        assert status == 201


async def _names(http: aiohttp.ClientSession, **params: str) -> list[str]:
    status, listed = await call(http, "GET", "/api/v1/namespaces/default/pods", params=params)
    assert status == 200, listed
    return [item["metadata"]["name"] for item in listed["items"]]


async def test_list_filters_by_labels_and_fields(
    kube_http: aiohttp.ClientSession, three_pods: None
) -> None:
    assert await _names(kube_http) == ["a", "b", "c"]
    assert await _names(kube_http, labelSelector="app=web") == ["a", "b"]
    assert await _names(kube_http, labelSelector="app=web,!tier") == ["b"]
    assert await _names(kube_http, labelSelector="app notin (web)") == ["c"]
    assert await _names(kube_http, fieldSelector="metadata.name=b") == ["b"]
    assert await _names(kube_http, fieldSelector="metadata.name!=b,") == ["a", "c"]
    assert await _names(
        kube_http, fieldSelector="metadata.namespace=default,status.phase=Pending"
    ) == ["a", "b", "c"]


async def test_unsupported_field_is_400(kube_http: aiohttp.ClientSession, three_pods: None) -> None:
    status, body = await call(
        kube_http,
        "GET",
        "/api/v1/namespaces/default/pods",
        params={"fieldSelector": "spec.bogus=1"},
    )
    assert (status, body["reason"], body["message"]) == (
        400,
        "BadRequest",
        "field label not supported: spec.bogus",
    )


async def test_list_across_namespaces(kube_http: aiohttp.ClientSession, three_pods: None) -> None:
    await call(kube_http, "POST", "/api/v1/namespaces", {"metadata": {"name": "other"}})
    body = {"metadata": {"name": "z"}, "spec": {"containers": [{"name": "x", "image": "y"}]}}
    await call(kube_http, "POST", "/api/v1/namespaces/other/pods", body)
    _, listed = await call(kube_http, "GET", "/api/v1/pods")
    assert [(i["metadata"]["namespace"], i["metadata"]["name"]) for i in listed["items"]] == [
        ("default", "a"),
        ("default", "b"),
        ("default", "c"),
        ("other", "z"),
    ]


async def test_limit_and_continue(kube_http: aiohttp.ClientSession, three_pods: None) -> None:
    _status, first = await call(
        kube_http, "GET", "/api/v1/namespaces/default/pods", params={"limit": "2"}
    )
    assert [i["metadata"]["name"] for i in first["items"]] == ["a", "b"]
    assert first["metadata"]["remainingItemCount"] == 1
    token = first["metadata"]["continue"]
    _, second = await call(
        kube_http,
        "GET",
        "/api/v1/namespaces/default/pods",
        params={"limit": "2", "continue": token},
    )
    assert [i["metadata"]["name"] for i in second["items"]] == ["c"]
    assert "continue" not in second["metadata"]
    assert second["metadata"]["resourceVersion"] == first["metadata"]["resourceVersion"]


async def test_kr8s_selectors(kr8s_api: Any, three_pods: None) -> None:
    names = [
        p.name
        async for p in kr8s_api.get("pods", namespace="default", label_selector={"app": "web"})
    ]
    assert names == ["a", "b"]
    by_field = [p.name async for p in kr8s_api.get("pods", "c", namespace="default")]
    assert by_field == ["c"]
