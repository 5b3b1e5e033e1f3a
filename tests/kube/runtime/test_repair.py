"""Repairs on the read cache's watch: which changes ask for one, in which order, and what a
failed one leaves. (The repair itself, end to end: tests/e2e/test_operator.py and
test_operator_gatewayapi.py, `test_a_re_applied_..._is_repaired_on_the_watch_event_...`.)"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import aiohttp
import pytest

from coalmine.errors import Unavailable
from coalmine.kube.adapters.cache import WatchCache
from coalmine.kube.adapters.client import KubeClient, Obj
from coalmine.kube.adapters.ownership import ORIGINAL_SPEC
from coalmine.kube.adapters.resources import DEPLOYMENTS, SERVICES, VIRTUAL_SERVICES, Kind
from coalmine.kube.runtime.repair import RoutingRepairs
from tests.fixtures.daemons import FAST
from tests.fixtures.operator import NAMESPACE
from tests.kube_emulator import KubeEmulator
from tests.kube_emulator.http import MERGE, call, eventually

Asked = tuple[str, str, str, Obj]


def routing(name: str, *, taken_over: bool = True, app: str = "x") -> Obj:
    annotations = {ORIGINAL_SPEC: '{"selector": {"app": "x"}}'} if taken_over else {}
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": NAMESPACE, "annotations": annotations},
        "spec": {"selector": {"app": app}, "ports": [{"port": 80}]},
    }


class Recording:
    """A stand-in for `CanaryDaemons.routing_changed` that records what it was asked."""

    def __init__(self) -> None:
        self.asked: list[Asked] = []
        self.hold = asyncio.Event()
        self.hold.set()
        self.failing = 0

    async def __call__(self, namespace: str, name: str, kind: Kind, body: Obj) -> None:
        self.asked.append((namespace, name, kind.plural, body))
        await self.hold.wait()
        if self.failing:
            self.failing -= 1
            raise Unavailable("the API is down")


async def settled(repairs: RoutingRepairs) -> None:
    await eventually(lambda: repairs.pending() == 0, deadline=5)


async def test_only_a_taken_over_service_virtual_service_or_http_route_is_repaired() -> None:
    recording = Recording()
    repairs = RoutingRepairs(recording)

    repairs.modified(SERVICES, routing("web", taken_over=False))  # coalmine's own, or nobody's
    repairs.modified(DEPLOYMENTS, {**routing("web"), "kind": "Deployment"})  # not routing
    repairs.modified(VIRTUAL_SERVICES, routing("web"))
    repairs.modified(SERVICES, routing("web"))
    await settled(repairs)

    assert sorted((a[1], a[2]) for a in recording.asked) == [
        ("web", "services"),
        ("web", "virtualservices"),
    ]


async def test_changes_of_one_object_are_repaired_one_after_another_in_their_order() -> None:
    recording = Recording()
    recording.hold.clear()  # the first repair is slow
    repairs = RoutingRepairs(recording)

    for app in ("first", "second", "third"):
        repairs.modified(SERVICES, routing("web", app=app))
    repairs.modified(SERVICES, routing("api"))  # another object does not wait for web's
    await eventually(lambda: len(recording.asked) == 2, deadline=5)
    assert [a[1] for a in recording.asked] == ["web", "api"]
    recording.hold.set()
    await settled(repairs)

    apps = [a[3]["spec"]["selector"]["app"] for a in recording.asked if a[1] == "web"]
    assert apps == ["first", "second", "third"]


async def test_a_failed_repair_is_logged_and_the_next_change_is_repaired(
    caplog: pytest.LogCaptureFixture,
) -> None:
    recording = Recording()
    recording.failing = 1
    repairs = RoutingRepairs(recording)

    with caplog.at_level(logging.WARNING, logger="coalmine.kube.runtime.repair"):
        repairs.modified(SERVICES, routing("web", app="first"))
        repairs.modified(SERVICES, routing("web", app="second"))
        await settled(repairs)

    assert [a[3]["spec"]["selector"]["app"] for a in recording.asked] == ["first", "second"]
    assert [r.getMessage() for r in caplog.records] == [
        f"cannot repair services web.{NAMESPACE}: the API is down"
    ]


async def test_stop_cancels_the_repairs_in_progress() -> None:
    recording = Recording()
    recording.hold.clear()
    repairs = RoutingRepairs(recording)
    repairs.modified(SERVICES, routing("web", app="first"))
    repairs.modified(SERVICES, routing("web", app="second"))
    await eventually(lambda: len(recording.asked) == 1, deadline=5)

    await repairs.stop()

    assert repairs.pending() == 0
    assert len(recording.asked) == 1, "the waiting repair never ran"


async def test_the_cache_tells_of_changes_from_its_watch_not_of_creations_or_deletions(
    kube_client: KubeClient, kube_emulator: KubeEmulator, kube_http: aiohttp.ClientSession
) -> None:
    """`kubectl apply` of the user's Service reaches the repairs through the cache's watch,
    once the cache holds it (the repair reads the copy)."""
    told: list[tuple[str, Any]] = []
    cache = WatchCache(kube_client, [SERVICES], [NAMESPACE], FAST)

    def modified(kind: Kind, obj: Obj) -> None:
        held = cache.lookup(kind, obj["metadata"]["name"], NAMESPACE)
        assert held is not None and held["spec"] == obj["spec"], "the copy holds it first"
        told.append((kind.plural, obj["spec"]["selector"]["app"]))

    cache.on_modified = modified
    cache.start()
    try:
        assert await cache.synced(10)
        path = f"/api/v1/namespaces/{NAMESPACE}/services"
        await call(kube_http, "POST", path, routing("web"))
        patch = {"spec": {"selector": {"app": "y"}}}
        await call(kube_http, "PATCH", f"{path}/web", patch, headers=MERGE)
        await kube_client.merge_patch(
            SERVICES, "web", NAMESPACE, {"spec": {"selector": {"app": "z"}}}
        )
        await call(kube_http, "DELETE", f"{path}/web")
        await eventually(lambda: cache.lookup(SERVICES, "web", NAMESPACE) is None, deadline=5)
    finally:
        await cache.stop()

    assert told == [("services", "y"), ("services", "z")]
