"""The watch cache: reads from memory, kept current by list+watch, through cut watches and 410s."""

from __future__ import annotations

import asyncio
import json
import tracemalloc
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import aiohttp
import pytest

from coalmine.kube.adapters.cache import WatchCache
from coalmine.kube.adapters.client import KubeClient, Obj
from coalmine.kube.adapters.resources import CANARIES, DEPLOYMENTS, SERVICES, Kind
from tests.fixtures.daemons import FAST, hand_ticked, initialized
from tests.fixtures.operator import NAMESPACE
from tests.kube_emulator import KubeEmulator
from tests.kube_emulator.http import MERGE, call, eventually

WEB = f"/api/v1/namespaces/{NAMESPACE}/services/web"


def service(name: str, app: str = "x") -> dict[str, object]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": NAMESPACE},
        "spec": {"selector": {"app": app}, "ports": [{"port": 80}]},
    }


@pytest.fixture
async def cache(kube_client: KubeClient) -> AsyncIterator[WatchCache]:
    found = WatchCache(kube_client, [SERVICES, DEPLOYMENTS], [NAMESPACE], FAST)
    found.start()
    assert await found.synced(10), "the cache never listed"
    kube_client.reads = found
    yield found
    kube_client.reads = None
    await found.stop()


def selector(client: KubeClient, name: str) -> object:
    assert client.reads is not None
    held = client.reads.lookup(SERVICES, name, NAMESPACE)
    return held["spec"]["selector"] if held else held


def labels(client: KubeClient, name: str) -> object:
    assert client.reads is not None
    held = client.reads.lookup(SERVICES, name, NAMESPACE)
    return held["metadata"].get("labels") if held else held


async def test_reads_come_from_memory_and_writes_are_seen_at_once(
    cache: WatchCache, kube_client: KubeClient, kube_emulator: KubeEmulator
) -> None:
    reads = kube_client.api_reads
    await kube_client.create(SERVICES, NAMESPACE, service("web"))
    patch = {"spec": {"selector": {"app": "y"}}}
    await kube_client.merge_patch(SERVICES, "web", NAMESPACE, patch)
    found = await kube_client.get(SERVICES, "web", NAMESPACE)  # before the watch events

    assert found is not None and found["spec"]["selector"] == {"app": "y"}
    assert await kube_client.get(SERVICES, "nobody", NAMESPACE) is None
    found["spec"]["selector"]["app"] = "mutated by a caller"
    assert selector(kube_client, "web") == {"app": "y"}, "a read is a copy"
    await kube_client.delete(SERVICES, "web", NAMESPACE)
    assert await kube_client.get(SERVICES, "web", NAMESPACE) is None
    assert kube_client.api_reads == reads, "no GET reached the API"
    assert kube_emulator.requests_to("GET", "/services/") == []


async def test_copies_leave_the_managed_fields_out(
    cache: WatchCache,
    kube_client: KubeClient,
    kube_emulator: KubeEmulator,
    kube_http: aiohttp.ClientSession,
) -> None:
    """They are a third of a Deployment's text, and nothing the controller reads."""
    written = await kube_client.create(SERVICES, NAMESPACE, service("web"))
    stored = kube_emulator.get("v1", "services", "web", NAMESPACE)

    assert stored is not None and stored["metadata"]["managedFields"], "the server keeps them"
    assert written["metadata"]["managedFields"], "the answer its caller got is left whole"
    held = cache.lookup(SERVICES, "web", NAMESPACE)
    assert held is not None and "managedFields" not in held["metadata"]
    assert held["metadata"]["resourceVersion"] == written["metadata"]["resourceVersion"]

    await call(kube_http, "POST", f"/api/v1/namespaces/{NAMESPACE}/services", service("api"))
    await eventually(lambda: selector(kube_client, "api") == {"app": "x"}, deadline=5)
    held = cache.lookup(SERVICES, "api", NAMESPACE)
    assert held is not None and "managedFields" not in held["metadata"], "nor from the watch"


def test_an_object_held_takes_about_its_text_in_memory(cache: WatchCache) -> None:
    """At 5,000 canaries a replica holds tens of thousands of objects: each must cost
    its text, not the larger buffer the encoder wrote it in (orjson's is about three
    times the text)."""
    objects = []
    for n in range(200):
        obj: Obj = service(f"web-{n}")
        obj["metadata"]["resourceVersion"] = str(10_000 + n)
        obj["metadata"]["annotations"] = {"note": "x" * 2_000}
        objects.append(obj)
    text = sum(len(json.dumps(obj, separators=(",", ":"))) for obj in objects)

    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for obj in objects:
            cache.observe(SERVICES, obj)
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()

    assert cache.lookup(SERVICES, "web-199", NAMESPACE) == objects[-1]
    assert held < 1.3 * text, f"{held} bytes held for {text} bytes of text"


async def test_a_change_behind_the_controllers_back_is_seen_by_its_watch_event(
    cache: WatchCache, kube_client: KubeClient, kube_http: aiohttp.ClientSession
) -> None:
    """Another client (kubectl) creates, changes and deletes; no read reaches the API."""
    reads = kube_client.api_reads
    await call(kube_http, "POST", f"/api/v1/namespaces/{NAMESPACE}/services", service("web"))
    await eventually(lambda: selector(kube_client, "web") == {"app": "x"}, deadline=5)
    patch = {"spec": {"selector": {"app": "reset-by-kubectl"}}}
    await call(kube_http, "PATCH", WEB, patch, headers=MERGE)
    await eventually(lambda: selector(kube_client, "web") == {"app": "reset-by-kubectl"}, 5)
    await call(kube_http, "DELETE", WEB)
    await eventually(lambda: selector(kube_client, "web") is None, deadline=5)

    assert kube_client.api_reads == reads

    assert cache.lists[SERVICES] == 1 and cache.watches[SERVICES] == 1, "one watch did it all"


async def test_a_list_is_read_page_by_page_and_the_watch_follows_its_first_page(
    kube_client: KubeClient, kube_emulator: KubeEmulator, kube_http: aiohttp.ClientSession
) -> None:
    """Pages keep the answer decoded at once small (5,000 Deployments are megabytes)."""
    for n in range(5):
        kube_emulator.create("v1", "services", service(f"web-{n}"), namespace=NAMESPACE)
    found = WatchCache(kube_client, [SERVICES], [NAMESPACE], replace(FAST, page=2))
    found.start()
    try:
        assert await found.synced(10)
        kube_client.reads = found

        lists = [r for r in kube_emulator.requests_to("GET", "/services") if "watch" not in r.query]
        assert [r.query.get("limit") for r in lists] == ["2", "2", "2"]
        assert [bool(r.query.get("continue")) for r in lists] == [False, True, True]
        assert found.count(SERVICES) == 5 and found.lists[SERVICES] == 1
        await call(kube_http, "POST", f"/api/v1/namespaces/{NAMESPACE}/services", service("api"))
        await eventually(lambda: selector(kube_client, "api") == {"app": "x"}, deadline=5)
        assert selector(kube_client, "web-0") == {"app": "x"}, "the watch kept the listed ones"
    finally:
        kube_client.reads = None
        await found.stop()


async def test_a_list_whose_continue_token_expired_lists_whole(
    kube_client: KubeClient, kube_emulator: KubeEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A busy server compacts its history between two pages (410 on the next): client-go's
    pager lists whole then; failing and starting over paged would meet the same fate."""
    for n in range(5):
        kube_emulator.create("v1", "services", service(f"web-{n}"), namespace=NAMESPACE)
    collection, pages = kube_client.collection, []

    async def compacting(*args: Any, **kwargs: Any) -> Obj:
        answer = await collection(*args, **kwargs)
        pages.append(answer)
        if len(pages) == 1:  # between the first page and the second
            kube_emulator.create("v1", "services", service("late"), NAMESPACE)
            kube_emulator.compact()  # (the history up to now: the token's version is gone)
        return answer

    monkeypatch.setattr(kube_client, "collection", compacting)
    found = WatchCache(kube_client, [SERVICES], [NAMESPACE], replace(FAST, page=2))
    found.start()
    try:
        assert await found.synced(10)

        lists = [r for r in kube_emulator.requests_to("GET", "/services") if "watch" not in r.query]
        assert [(r.query.get("limit"), bool(r.query.get("continue"))) for r in lists] == [
            ("2", False), ("2", True), (None, False)
        ]  # fmt: skip
        assert found.lists[SERVICES] == 1, "one list: no failure, no retry"
        assert found.count(SERVICES) == 6, "the five, and the one created between pages"
        assert found.lookup(SERVICES, "late", NAMESPACE) is not None
    finally:
        await found.stop()


async def test_a_list_again_keeps_what_coalmine_wrote_while_it_listed(
    kube_client: KubeClient, kube_emulator: KubeEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A list replaces the copy; a write answered while it listed, newer than the list,
    stays (its watch event comes later): a tick must not read back what it just wrote
    undone, as a primary missing or not ready."""
    for n in range(5):
        kube_emulator.create("v1", "services", service(f"web-{n}"), namespace=NAMESPACE)
    found = WatchCache(kube_client, [SERVICES], [NAMESPACE], replace(FAST, page=2))
    found.start()
    collection, pages = kube_client.collection, []

    async def writing(*args: Any, **kwargs: Any) -> Obj:
        answer = await collection(*args, **kwargs)
        pages.append(answer)
        if len(pages) == 1:  # the first page of the list again is in: write to web-0, in it
            await kube_client.merge_patch(
                SERVICES, "web-0", NAMESPACE, {"spec": {"selector": {"app": "new"}}}
            )
            await kube_client.create(SERVICES, NAMESPACE, service("web-5", app="new"))
        return answer

    try:
        assert await found.synced(10)
        kube_client.reads = found
        monkeypatch.setattr(kube_client, "collection", writing)
        monkeypatch.setattr(found, "_apply", lambda kind, held, event: None)  # no watch events

        found.relist()
        assert await found.relisted(10)

        assert selector(kube_client, "web-0") == {"app": "new"}, "the write undone"
        assert selector(kube_client, "web-5") == {"app": "new"}, "the object created, gone"
        assert selector(kube_client, "web-1") == {"app": "x"}
    finally:
        kube_client.reads = None
        await found.stop()


async def test_the_watch_goes_on_while_a_list_again_is_read(
    kube_client: KubeClient,
    kube_emulator: KubeEmulator,
    kube_http: aiohttp.ClientSession,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A list of 5,000 objects takes seconds on a busy server; a copy left unwatched that
    long was read stale by every tick (a primary "not ready" minutes after it was). The
    copy follows the watch while the list is read, and the list does not bring back what
    the watch saw deleted meanwhile."""
    for n in range(4):
        kube_emulator.create("v1", "services", service(f"web-{n}"), namespace=NAMESPACE)
    found = WatchCache(kube_client, [SERVICES], [NAMESPACE], replace(FAST, page=2))
    found.start()
    collection, pages, release = kube_client.collection, [], asyncio.Event()

    async def slow(*args: Any, **kwargs: Any) -> Obj:
        if pages:  # the second page waits
            await release.wait()
        pages.append(await collection(*args, **kwargs))
        return pages[-1]

    try:
        assert await found.synced(10)
        kube_client.reads = found
        monkeypatch.setattr(kube_client, "collection", slow)
        found.relist()
        await eventually(lambda: len(pages) == 1, deadline=5)  # web-0 and web-1 read
        path = f"/api/v1/namespaces/{NAMESPACE}/services"
        patch = {"spec": {"selector": {"app": "new"}}}
        await call(kube_http, "PATCH", f"{path}/web-3", patch, headers=MERGE)
        await call(kube_http, "DELETE", f"{path}/web-0")
        await eventually(lambda: selector(kube_client, "web-3") == {"app": "new"}, deadline=5)
        await eventually(lambda: selector(kube_client, "web-0") is None, deadline=5)
        assert not await found.relisted(0.1), "still listing"

        release.set()
        assert await found.relisted(10)

        assert selector(kube_client, "web-0") is None, "the list brought a deleted one back"
        assert selector(kube_client, "web-3") == {"app": "new"}
        assert selector(kube_client, "web-1") == {"app": "x"}
        await call(kube_http, "PATCH", f"{path}/web-1", patch, headers=MERGE)
        await eventually(lambda: selector(kube_client, "web-1") == {"app": "new"}, deadline=5)
    finally:
        kube_client.reads = None
        await found.stop()


async def test_a_watch_that_expires_during_a_list_again_still_drops_what_it_deleted(
    kube_client: KubeClient,
    kube_emulator: KubeEmulator,
    kube_http: aiohttp.ClientSession,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The watch beside a slow relist expires (410) and lists on its own; a deletion it
    sees afterwards must still keep the relist's older list from bringing the object back."""
    for n in range(4):
        kube_emulator.create("v1", "services", service(f"web-{n}"), namespace=NAMESPACE)
    found = WatchCache(kube_client, [SERVICES], [NAMESPACE], replace(FAST, page=2))
    found.start()
    collection, relist_pages, release = kube_client.collection, [], asyncio.Event()

    async def slow_relist(*args: Any, **kwargs: Any) -> Obj:
        task = asyncio.current_task()
        if task is not None and task.get_name().startswith("watch cache relist"):
            if relist_pages:
                await release.wait()
            relist_pages.append(None)
        return await collection(*args, **kwargs)

    try:
        assert await found.synced(10)
        kube_client.reads = found
        monkeypatch.setattr(kube_client, "collection", slow_relist)
        found.relist()
        await eventually(lambda: len(relist_pages) == 1, deadline=5)  # web-0, web-1 read
        kube_emulator.compact()
        found._copies[(SERVICES, NAMESPACE)].version = "1"  # as if its watch fell behind
        kube_emulator.store.close_watches()  # it resumes from there, meets 410, lists alone
        await eventually(lambda: found.lists[SERVICES] == 3, deadline=5)
        await eventually(lambda: found.watches[SERVICES] >= 3, deadline=5)
        await call(kube_http, "DELETE", f"/api/v1/namespaces/{NAMESPACE}/services/web-0")
        await eventually(lambda: selector(kube_client, "web-0") is None, deadline=5)

        release.set()
        assert await found.relisted(10)

        assert selector(kube_client, "web-0") is None, "the relist's list brought it back"
        assert selector(kube_client, "web-1") == {"app": "x"}
    finally:
        kube_client.reads = None
        await found.stop()


def owned(name: str, canary_uid: str) -> dict[str, object]:
    reference = {"apiVersion": "coalmine.dev/v1beta1", "kind": "Canary", "name": "c",
                 "uid": canary_uid, "controller": True}  # fmt: skip
    body = service(name)
    body["metadata"] = {"name": name, "namespace": NAMESPACE, "ownerReferences": [reference]}
    return body


async def test_with_shards_only_this_replicas_canaries_objects_are_held(
    kube_client: KubeClient, kube_http: aiohttp.ClientSession
) -> None:
    """Another replica's are read from the API (never, by a loop here): the copy holds
    neither them nor their changes."""
    found = WatchCache(kube_client, [SERVICES], [NAMESPACE], FAST)
    found.keeps = lambda uid: uid == "ours"
    found.start()
    try:
        assert await found.synced(10)
        kube_client.reads = found
        for body in (owned("mine", "ours"), owned("theirs", "other"), service("nobodys")):
            await call(kube_http, "POST", f"/api/v1/namespaces/{NAMESPACE}/services", body)
        await eventually(lambda: found.count(SERVICES) == 2, deadline=5)
        reads = kube_client.api_reads

        assert selector(kube_client, "mine") == selector(kube_client, "nobodys") == {"app": "x"}
        assert kube_client.api_reads == reads, "held"
        theirs = await kube_client.get(SERVICES, "theirs", NAMESPACE)
        assert theirs is not None and kube_client.api_reads == reads + 1, "asked the API"
        assert found.count(SERVICES) == 2, "and still not held"
    finally:
        kube_client.reads = None
        await found.stop()


async def test_a_cut_watch_resumes_and_misses_nothing(
    cache: WatchCache, kube_client: KubeClient, kube_emulator: KubeEmulator
) -> None:
    kube_emulator.faults.configure(rate=1.0, kinds=("drop-watch",), seed=1)
    kube_emulator.faults.drop_after_s = 0.1  # every watch from now on is cut after 0.1 s
    kube_emulator.store.close_watches()  # the one open ends: its successor will be cut
    for n in range(5):
        kube_emulator.create("v1", "services", service(f"web-{n}"), namespace=NAMESPACE)
        await eventually(lambda n=n: cache.watches[SERVICES] >= 2 + n, deadline=5)  # cut again

    await eventually(lambda: cache.count(SERVICES) == 5, deadline=5)
    assert cache.lists[SERVICES] == 1, "resumed from its resourceVersion, not listed again"
    assert kube_emulator.faults.injected["drop-watch"] >= 5


async def test_a_watch_line_that_is_not_an_event_is_logged_and_the_watch_resumed(
    cache: WatchCache,
    kube_client: KubeClient,
    kube_emulator: KubeEmulator,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A proxy's page answered 200 to a watch: a warning, then the watch resumes from
    where it was; the cache is not left stale behind a reflector that died."""
    kube_emulator.faults.configure(rate=1.0, kinds=("garbled",), seed=1)
    kube_emulator.store.close_watches()  # the open ones end: their successors get the page
    await eventually(lambda: kube_emulator.faults.injected["garbled"] >= 2, deadline=5)
    kube_emulator.faults.configure(rate=0.0, seed=1)
    kube_emulator.create("v1", "services", service("after"), namespace=NAMESPACE)

    await eventually(lambda: selector(kube_client, "after") == {"app": "x"}, deadline=5)
    assert cache.lists[SERVICES] == 1, "resumed from its resourceVersion, not listed again"
    warned = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert any("watch of services: a line that is not a watch event ('<html>" in m for m in warned)


async def test_a_watch_whose_version_expired_lists_again(
    cache: WatchCache, kube_client: KubeClient, kube_emulator: KubeEmulator
) -> None:
    kube_emulator.create("v1", "services", service("old"), namespace=NAMESPACE)
    await eventually(lambda: cache.count(SERVICES) == 1, deadline=5)
    kube_emulator.faults.configure(rate=1.0, kinds=("error",), seed=1)  # watches refused
    kube_emulator.store.close_watches()  # ... and the open ones end
    await eventually(lambda: kube_emulator.faults.injected["error"] >= 2, deadline=5)
    rt = kube_emulator._type("v1", "services")
    kube_emulator.registry.delete(rt, NAMESPACE, "old", {})
    kube_emulator.create("v1", "services", service("new"), namespace=NAMESPACE)
    kube_emulator.compact()  # the history the watch would resume from is gone: 410
    kube_emulator.faults.configure(rate=0.0, seed=1)

    await eventually(lambda: cache.lists[SERVICES] == 2, deadline=5)
    await eventually(lambda: selector(kube_client, "new") == {"app": "x"}, deadline=5)
    assert selector(kube_client, "old") is None, "the new list replaced the whole copy"


async def test_a_kind_the_cluster_does_not_serve_is_read_from_the_api(
    kube_client: KubeClient, kube_emulator: KubeEmulator
) -> None:
    routes = Kind("example.com/v1", "widgets", "Widget")  # no such CRD
    found = WatchCache(kube_client, [SERVICES, routes], [NAMESPACE], FAST)
    found.start()
    try:
        assert await found.synced(10), "synced: every kind served is listed"
        kube_client.reads = found
        reads = kube_client.api_reads
        assert await kube_client.get(SERVICES, "web", NAMESPACE) is None
        assert await kube_client.get(routes, "web", NAMESPACE) is None  # a 404
        assert kube_client.api_reads == reads + 1
    finally:
        kube_client.reads = None
        await found.stop()


async def test_a_steady_tick_reads_nothing_from_the_api(
    kube_client: KubeClient, kube_emulator: KubeEmulator
) -> None:
    async with initialized(kube_client, kube_emulator) as operator:
        version = kube_emulator.resource_version
        found = operator.cache
        await eventually(lambda: found.lookup(CANARIES, "podinfo", NAMESPACE) is not None, 5)
        reads = kube_client.api_reads

        sent = await operator.tick()

        assert kube_client.api_reads == reads
        assert [r for r in sent if r.method == "GET" and r.query.get("watch") != "true"] == []
        assert kube_emulator.resource_version == version, "a steady tick writes nothing"


async def test_a_repair_does_not_wait_for_the_caches_own_watch(
    kube_client: KubeClient,
    kube_emulator: KubeEmulator,
    kube_http: aiohttp.ClientSession,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """kopf's watch and the cache's are two streams: the event that calls for a repair may
    arrive before the cache's copy changed. The repair acts on the event's object, not on
    the older copy (where it would find nothing to repair for a whole interval)."""
    async with initialized(kube_client, kube_emulator) as operator:
        monkeypatch.setattr(
            operator.cache, "_apply", lambda kind, held, event: None
        )  # its watch lags
        apex = f"/api/v1/namespaces/{NAMESPACE}/services/podinfo"
        patch = {"spec": {"selector": {"app": "podinfo"}}}  # `kubectl apply` of the user's
        status, reset = await call(kube_http, "PATCH", apex, patch, headers=MERGE)
        assert status == 200, reset
        assert selector(kube_client, "podinfo") == {"app": "podinfo-primary"}  # the old copy

        await operator.loops.routing_changed(NAMESPACE, "podinfo", SERVICES, reset)

        repaired = kube_emulator.get("v1", "services", "podinfo", NAMESPACE)
        assert repaired is not None and repaired["spec"]["selector"] == {"app": "podinfo-primary"}


async def test_a_canary_the_cache_does_not_hold_yet_is_not_taken_for_gone(
    kube_client: KubeClient, kube_emulator: KubeEmulator
) -> None:
    """kopf's watch and the cache's are two streams: a Canary just created can start its
    daemon before the cache's watch brings it. Its first read asks the API, so the loop
    goes on instead of ending for good (which left a new Canary never analysed)."""
    async with hand_ticked(kube_client, kube_emulator) as ticked:
        ticked.cache.forget(CANARIES, "podinfo", NAMESPACE)  # the cache's watch behind kopf's
        assert await ticked.loops.tick(ticked.ref) is not None, "taken for gone"
        assert ticked.phase() != "None", "the Canary was not advanced"
        assert await kube_client.delete(CANARIES, "podinfo", NAMESPACE)
        await eventually(lambda: ticked.cache.lookup(CANARIES, "podinfo", NAMESPACE) is None)
        assert await ticked.loops.tick(ticked.ref) is None, "a Canary gone is gone"


async def test_the_event_of_coalmines_own_write_is_not_told_as_a_change(
    cache: WatchCache, kube_client: KubeClient, kube_http: aiohttp.ClientSession
) -> None:
    """The repairs hear of what changed behind the controller's back, not of the echo of
    the write coalmine just made (its answer is in the copy already)."""
    told: list[object] = []
    cache.on_modified = lambda kind, obj: told.append(obj["spec"]["selector"]["app"])
    await kube_client.create(SERVICES, NAMESPACE, service("web"))
    await kube_client.merge_patch(SERVICES, "web", NAMESPACE, {"spec": {"selector": {"app": "y"}}})
    patch = {"spec": {"selector": {"app": "reset-by-kubectl"}}}
    await call(kube_http, "PATCH", WEB, patch, headers=MERGE)
    await eventually(lambda: told != [], deadline=5)
    await kube_client.merge_patch(SERVICES, "web", NAMESPACE, {"spec": {"selector": {"app": "z"}}})
    await call(kube_http, "PATCH", WEB, {"metadata": {"labels": {"by": "kubectl"}}}, headers=MERGE)
    await eventually(lambda: labels(kube_client, "web") == {"by": "kubectl"}, deadline=5)

    assert told == ["reset-by-kubectl", "z"], "kubectl's two changes, not coalmine's writes"
    assert selector(kube_client, "web") == {"app": "z"}
