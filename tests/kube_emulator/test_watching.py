"""Watch streams: initial state, replay from a resourceVersion, 410 Gone, bookmarks, selectors."""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any

import aiohttp

from tests.kube_emulator import KubeEmulator
from tests.kube_emulator.http import MERGE, call, eventually, watch_events
from tests.kube_emulator.samples import deployment
from tests.kube_emulator.storage import Store

CONFIGMAPS = "/api/v1/namespaces/default/configmaps"


def _config(name: str, **labels: str) -> dict[str, Any]:
    return {"metadata": {"name": name, "labels": labels}, "data": {"k": name}}


def _summary(events: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(e["type"], e["object"]["metadata"].get("name", "")) for e in events]


async def test_watch_starts_with_the_current_state_then_follows(
    kube_http: aiohttp.ClientSession,
) -> None:
    await call(kube_http, "POST", CONFIGMAPS, _config("a"))

    async def change_later() -> None:
        await asyncio.sleep(0.05)
        await call(kube_http, "PATCH", f"{CONFIGMAPS}/a", {"data": {"k": "new"}}, headers=MERGE)
        await call(kube_http, "DELETE", f"{CONFIGMAPS}/a")

    changer = asyncio.create_task(change_later())
    events = await watch_events(kube_http, CONFIGMAPS, {"watch": "true"}, count=3)
    await changer
    assert _summary(events) == [("ADDED", "a"), ("MODIFIED", "a"), ("DELETED", "a")]
    versions = [int(e["object"]["metadata"]["resourceVersion"]) for e in events]
    assert versions == sorted(versions)
    assert len(set(versions)) == 3
    assert events[0]["object"]["kind"] == "ConfigMap"


async def test_watch_from_a_resource_version_replays_what_came_after(
    kube_http: aiohttp.ClientSession,
) -> None:
    _, first = await call(kube_http, "POST", CONFIGMAPS, _config("a"))
    await call(kube_http, "POST", CONFIGMAPS, _config("b"))
    await call(kube_http, "PATCH", f"{CONFIGMAPS}/a", {"data": {"k": "2"}}, headers=MERGE)
    since = first["metadata"]["resourceVersion"]
    events = await watch_events(
        kube_http, CONFIGMAPS, {"watch": "1", "resourceVersion": since}, count=2
    )
    assert _summary(events) == [("ADDED", "b"), ("MODIFIED", "a")]


async def test_a_compacted_resource_version_gets_410_gone(
    kube_http: aiohttp.ClientSession, kube_emulator: KubeEmulator
) -> None:
    _, first = await call(kube_http, "POST", CONFIGMAPS, _config("a"))
    await call(kube_http, "POST", CONFIGMAPS, _config("b"))
    kube_emulator.compact()
    params = {"watch": "true", "resourceVersion": first["metadata"]["resourceVersion"]}
    events = await watch_events(kube_http, CONFIGMAPS, params, count=5)
    assert len(events) == 1  # the stream ends after the error
    assert events[0]["type"] == "ERROR"
    status = events[0]["object"]
    assert (status["kind"], status["code"], status["reason"]) == ("Status", 410, "Expired")
    assert status["message"].startswith("too old resource version")
    current = str(kube_emulator.resource_version)
    assert (
        await watch_events(
            kube_http,
            CONFIGMAPS,
            {"watch": "true", "resourceVersion": current, "timeoutSeconds": "1"},
            count=1,
        )
        == []
    )


async def test_history_is_bounded() -> None:
    async with KubeEmulator(history_limit=3) as emulator:
        for n in range(5):
            emulator.create("v1", "configmaps", _config(f"c{n}"), namespace="default")
        assert emulator.store.compacted_rv == emulator.resource_version - 3


async def test_bookmarks_carry_the_current_resource_version(
    kube_http: aiohttp.ClientSession, kube_emulator: KubeEmulator
) -> None:
    kube_emulator.watch_options.bookmark_interval = 0.05
    await call(kube_http, "POST", CONFIGMAPS, _config("a"))
    rv = str(kube_emulator.resource_version)
    params = {"watch": "true", "resourceVersion": rv, "allowWatchBookmarks": "true"}
    [bookmark] = await watch_events(kube_http, CONFIGMAPS, params, count=1)
    assert bookmark["type"] == "BOOKMARK"
    assert bookmark["object"] == {
        "kind": "ConfigMap",
        "apiVersion": "v1",
        "metadata": {"resourceVersion": rv},
    }


async def test_a_bookmark_never_skips_changes_still_queued(
    kube_http: aiohttp.ClientSession, kube_emulator: KubeEmulator
) -> None:
    """A bookmark due while changes wait in the stream's queue comes after them: its
    resourceVersion says every change up to it was sent (lost ones left a cache stale)."""
    kube_emulator.watch_options.bookmark_interval = 0.0  # a bookmark due at every turn
    rv = str(kube_emulator.resource_version)
    params = {"watch": "true", "resourceVersion": rv, "allowWatchBookmarks": "true"}
    names = [f"burst-{n}" for n in range(20)]

    async def burst() -> None:
        await asyncio.sleep(0.2)  # the stream is open and idle, bookmarking
        for name in names:  # all queued at once, before the stream's task runs again
            kube_emulator.create("v1", "configmaps", _config(name), namespace="default")

    writer = asyncio.create_task(burst())
    added: list[str] = []
    with contextlib.suppress(TimeoutError):  # (all 20 come at once when none is lost)
        async with asyncio.timeout(3), kube_http.get(CONFIGMAPS, params=params) as response:
            async for line in response.content:
                event = json.loads(line)
                if event["type"] == "ADDED":
                    added.append(event["object"]["metadata"]["name"])
                if len(added) == len(names):
                    break
    await writer

    assert added == names


async def test_send_initial_events_ends_with_a_marked_bookmark(
    kube_http: aiohttp.ClientSession,
) -> None:
    await call(kube_http, "POST", CONFIGMAPS, _config("a"))
    params = {
        "watch": "true",
        "sendInitialEvents": "true",
        "allowWatchBookmarks": "true",
        "resourceVersionMatch": "NotOlderThan",
    }
    added, bookmark = await watch_events(kube_http, CONFIGMAPS, params, count=2)
    assert _summary([added]) == [("ADDED", "a")]
    assert bookmark["type"] == "BOOKMARK"
    assert bookmark["object"]["metadata"]["annotations"] == {"k8s.io/initial-events-end": "true"}


async def test_timeout_seconds_ends_the_stream(kube_http: aiohttp.ClientSession) -> None:
    events = await watch_events(
        kube_http, CONFIGMAPS, {"watch": "true", "timeoutSeconds": "1"}, count=10, deadline=5
    )
    assert events == []


async def test_selector_watch_sees_objects_enter_and_leave(
    kube_http: aiohttp.ClientSession, kube_emulator: KubeEmulator
) -> None:
    rv = str(kube_emulator.resource_version)
    await call(kube_http, "POST", CONFIGMAPS, _config("a"))
    await call(kube_http, "POST", CONFIGMAPS, _config("other", tier="db"))
    await call(
        kube_http,
        "PATCH",
        f"{CONFIGMAPS}/a",
        {"metadata": {"labels": {"tier": "web"}}},
        headers=MERGE,
    )
    await call(kube_http, "PATCH", f"{CONFIGMAPS}/a", {"data": {"k": "2"}}, headers=MERGE)
    await call(
        kube_http,
        "PATCH",
        f"{CONFIGMAPS}/a",
        {"metadata": {"labels": {"tier": None}}},
        headers=MERGE,
    )
    params = {"watch": "true", "resourceVersion": rv, "labelSelector": "tier=web"}
    events = await watch_events(kube_http, CONFIGMAPS, params, count=3)
    assert _summary(events) == [("ADDED", "a"), ("MODIFIED", "a"), ("DELETED", "a")]


async def test_legacy_watch_paths(kube_http: aiohttp.ClientSession) -> None:
    await call(kube_http, "POST", CONFIGMAPS, _config("a"))
    await call(kube_http, "POST", CONFIGMAPS, _config("b"))
    events = await watch_events(
        kube_http, "/api/v1/watch/namespaces/default/configmaps/b", {"timeoutSeconds": "1"}, count=5
    )
    assert _summary(events) == [("ADDED", "b")]


async def test_watch_of_another_namespace_sees_nothing(
    kube_http: aiohttp.ClientSession, kube_emulator: KubeEmulator
) -> None:
    kube_emulator.create("v1", "namespaces", {"metadata": {"name": "other"}})
    await call(kube_http, "POST", CONFIGMAPS, _config("a"))
    events = await watch_events(
        kube_http,
        "/api/v1/namespaces/other/configmaps",
        {"watch": "true", "timeoutSeconds": "1"},
        count=1,
    )
    assert events == []


async def test_kr8s_watch(kr8s_api: Any, kube_emulator: KubeEmulator) -> None:
    from kr8s.asyncio.objects import Deployment

    seen: list[tuple[str, str]] = []

    async def watch() -> None:
        async for event_type, obj in kr8s_api.async_watch("deployments", namespace="default"):
            seen.append((event_type, obj.name))
            if len(seen) == 2:
                return

    watcher = asyncio.create_task(watch())
    # Subscribed before the create: a watch that began after it would get one synthetic
    # ADDED of the scaled object, as from a real API server, and never a second event.
    await eventually(lambda: kube_emulator.store.watcher_count() >= 1, deadline=10)
    web = await Deployment(deployment("web"), api=kr8s_api)
    await web.create()
    await web.scale(3)
    await asyncio.wait_for(watcher, timeout=5)
    assert seen == [("ADDED", "web"), ("MODIFIED", "web")]


async def test_deleting_a_crd_ends_its_watches(kube_http: aiohttp.ClientSession) -> None:
    from tests.kube_emulator.http import CRDS
    from tests.kube_emulator.samples import GROUP, widget, widget_crd

    await call(kube_http, "POST", CRDS, widget_crd())
    widgets = f"/apis/{GROUP}/v1/namespaces/default/widgets"
    await call(kube_http, "POST", widgets, widget("w"))

    async def delete_later() -> None:
        await asyncio.sleep(0.05)
        await call(kube_http, "DELETE", f"{CRDS}/widgets.{GROUP}")

    deleter = asyncio.create_task(delete_later())
    events = await watch_events(kube_http, widgets, {"watch": "true"}, count=10)
    await deleter
    assert _summary(events) == [("ADDED", "w"), ("DELETED", "w")]


async def test_a_continue_token_outlives_the_watch_history_but_not_etcds_compaction() -> None:
    """On a real server the next page is read from etcd, compacted every five minutes; the
    watch cache's window can turn over in seconds. A token expiring with it made a paged
    list of 5,000 Deployments fail over and over on a busy emulator."""
    async with KubeEmulator(history_limit=3) as emulator:
        for n in range(4):
            emulator.create("v1", "configmaps", _config(f"c{n}"), namespace="default")
        headers = {"Authorization": f"Bearer {emulator.token}"}
        async with aiohttp.ClientSession(emulator.url, headers=headers) as http:
            path = "/api/v1/namespaces/default/configmaps"
            _, first = await call(http, "GET", path, params={"limit": "2"})
            for n in range(4, 10):  # the watch history turns over
                emulator.create("v1", "configmaps", _config(f"c{n}"), namespace="default")
            assert emulator.store.compacted_rv > int(first["metadata"]["resourceVersion"])
            token = first["metadata"]["continue"]

            status, second = await call(http, "GET", path, params={"limit": "2", "continue": token})
            assert status == 200 and [i["metadata"]["name"] for i in second["items"]] == [
                "c2", "c3"
            ]  # fmt: skip

            emulator.compact()  # etcd compacted past the token's revision
            status, gone = await call(http, "GET", path, params={"limit": "2", "continue": token})
            assert status == 410 and "continue parameter is too old" in gone["message"]


async def test_the_history_keeps_75_seconds_of_events_as_the_apiservers_watch_cache() -> None:
    """At least 75 s of events, however many (up to the upper bound); older ones go, down to
    the floor. A fixed count made a watch expire at once on a busy emulator."""
    now = [0.0]
    store = Store(history_limit=1000, history_fresh=75.0, history_floor=2, clock=lambda: now[0])
    for n, at in enumerate((0.0, 10.0, 20.0, 80.0, 94.0), start=1):
        now[0] = at
        config = {"metadata": {"name": f"c{n}", "namespace": "default"}, "data": {}}
        store.put(("", "configmaps"), config, "ADDED")

    kept = [e.obj["metadata"]["name"] for e in store.events_after(("", "configmaps"), 0)]
    assert kept == ["c3", "c4", "c5"], "c1 and c2 are over 75 s older than the last"
    assert store.compacted_rv == 2
