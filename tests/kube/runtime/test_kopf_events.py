"""kopf gets every Canary event but the ordinary changes of another replica's Canaries
(`kube.runtime.kopf_events`): two real kopf operators against the emulator, one filtered."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import aiohttp

from coalmine.kube.adapters.client import KubeClient, Obj
from coalmine.kube.adapters.resources import CANARIES
from coalmine.kube.runtime.connection import kopf_credentials
from coalmine.kube.runtime.daemons import CanaryRef
from coalmine.kube.runtime.handlers import FINALIZER, build_registry, kopf_settings
from coalmine.kube.runtime.kopf_events import filtering, ordinary_changes_elsewhere
from tests.fixtures.operator import NAMESPACE, canary, create
from tests.kube_emulator import KubeEmulator
from tests.kube_emulator.http import eventually

CANARIES_PATH = f"/apis/coalmine.dev/v1beta1/namespaces/{NAMESPACE}/canaries"


def modified(
    uid: str, *, finalizers: tuple[str, ...] = (FINALIZER,), deleting: bool = False
) -> Obj:
    meta: Obj = {"uid": uid, "finalizers": list(finalizers)}
    if deleting:
        meta["deletionTimestamp"] = "2026-12-03T00:00:00Z"
    return {"type": "MODIFIED", "object": {"metadata": meta}}


def test_only_a_known_canary_of_another_replica_that_merely_changed_is_left_out() -> None:
    passes = ordinary_changes_elsewhere(
        known=lambda uid: uid != "new", elsewhere=lambda uid: uid != "mine", finalizer=FINALIZER
    )

    assert not passes(modified("theirs"))
    assert passes(modified("mine")), "this replica's own Canary"
    assert passes(modified("new")), "not seen yet: its first event makes it known"
    assert passes(modified("theirs", finalizers=())), "kopf adds the finalizer"
    assert passes(modified("theirs", deleting=True)), "every replica runs the deletion handler"
    for kind in (None, "ADDED", "DELETED"):  # None: kopf's listing
        assert passes({**modified("theirs"), "type": kind})
    assert passes(object()), "kopf's own bookmarks"
    for odd in ("text", None, {"metadata": "text"}):  # kopf's to refuse, not the filter's
        assert passes({"type": "MODIFIED", "object": odd})


class Recorder:
    """The daemons' side of kopf's handlers: what each operator's kopf handed over."""

    def __init__(self) -> None:
        self.events: list[tuple[str, str | None, bool]] = []
        self.seen: set[str] = set()

    def noticed(self, ref: CanaryRef, event_type: str | None, body: Obj) -> None:
        deleting = bool((body.get("metadata") or {}).get("deletionTimestamp"))
        self.events.append((ref.name, event_type, deleting))
        if event_type != "DELETED":
            self.seen.add(ref.uid)

    async def release(self, ref: CanaryRef, body: Obj) -> None:
        pass  # the Canary may go: kopf removes the finalizer

    def of(self, name: str) -> list[tuple[str | None, bool]]:
        return [(kind, deleting) for who, kind, deleting in self.events if who == name]


@contextlib.asynccontextmanager
async def kopf_running(
    recorder: Recorder, settings: Any, client: KubeClient
) -> AsyncIterator[None]:
    import kopf

    async def login() -> Any:
        return await kopf_credentials(client)

    stop, ready = asyncio.Event(), asyncio.Event()
    operator = asyncio.create_task(
        kopf.operator(
            registry=build_registry(recorder, (CANARIES,), login),  # type: ignore[arg-type]
            settings=settings,
            standalone=True,
            namespaces=[NAMESPACE],
            stop_flag=stop,
            ready_flag=ready,
        )
    )
    try:
        await asyncio.wait_for(ready.wait(), timeout=10)
        yield
    finally:
        stop.set()
        await asyncio.wait_for(operator, timeout=10)


async def write_status(http: aiohttp.ClientSession, name: str, weight: int) -> None:
    body = {"status": {"phase": "Progressing", "canaryWeight": weight}}
    headers = {"Content-Type": "application/merge-patch+json"}
    async with http.patch(f"{CANARIES_PATH}/{name}/status", json=body, headers=headers) as answer:
        assert answer.status == 200, await answer.text()


async def test_another_replicas_status_writes_never_reach_kopf_its_deletion_does(
    kube_emulator: KubeEmulator, kube_client: KubeClient, kube_http: aiohttp.ClientSession
) -> None:
    mine = create(kube_emulator, canary("mine"))
    theirs = create(kube_emulator, canary("theirs"))
    filtered, unfiltered = Recorder(), Recorder()
    elsewhere = theirs["metadata"]["uid"]
    settings = kopf_settings()
    passes = ordinary_changes_elsewhere(
        filtered.seen.__contains__, lambda uid: uid == elsewhere, FINALIZER
    )

    with filtering(settings, passes):
        async with (
            kopf_running(filtered, settings, kube_client),
            kopf_running(unfiltered, kopf_settings(), kube_client),
        ):

            def finalized(name: str) -> bool:
                stored = kube_emulator.get("coalmine.dev/v1beta1", "canaries", name, NAMESPACE)
                return FINALIZER in ((stored or {}).get("metadata") or {}).get("finalizers", [])

            await eventually(lambda: finalized("mine") and finalized("theirs"))
            await eventually(lambda: len(filtered.seen) == len(unfiltered.seen) == 2)
            await asyncio.sleep(0.5)  # the finalizers' own events handled (or dropped)
            filtered.events.clear()
            unfiltered.events.clear()

            await write_status(kube_http, "theirs", 20)
            await write_status(kube_http, "mine", 20)
            await eventually(lambda: ("MODIFIED", False) in unfiltered.of("theirs"))
            await eventually(lambda: ("MODIFIED", False) in filtered.of("mine"))
            await asyncio.sleep(0.5)  # (past kopf's batching window of 0.1 s)
            assert filtered.of("theirs") == [], "another replica's status write"

            async with kube_http.delete(f"{CANARIES_PATH}/theirs") as answer:
                assert answer.status == 200
            await eventually(lambda: ("DELETED", True) in filtered.of("theirs"))
            assert ("MODIFIED", True) in filtered.of("theirs"), "its deletion, for the handler"
    assert mine["metadata"]["uid"] in filtered.seen
