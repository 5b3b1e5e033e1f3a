"""kopf gets every Canary event but the ordinary changes it has nothing to do for: of
another replica's Canaries, and of this one's whose loop runs (`kube.runtime.kopf_events`):
two real kopf operators against the emulator, one filtered."""

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
from coalmine.kube.runtime.kopf_events import filtering, ordinary_changes
from tests.fixtures.operator import NAMESPACE, canary, create
from tests.kube_emulator import KubeEmulator
from tests.kube_emulator.http import eventually

CANARIES_PATH = f"/apis/coalmine.dev/v1beta1/namespaces/{NAMESPACE}/canaries"


def modified(
    uid: str,
    *,
    finalizers: tuple[str, ...] = (FINALIZER,),
    deleting: bool = False,
    generation: int = 1,
) -> Obj:
    meta: Obj = {"uid": uid, "finalizers": list(finalizers), "generation": generation}
    if deleting:
        meta["deletionTimestamp"] = "2026-12-03T00:00:00Z"
    return {"type": "MODIFIED", "object": {"metadata": meta}}


def test_only_a_known_canary_that_merely_changed_and_needs_nothing_here_is_left_out() -> None:
    passes = ordinary_changes(
        known=lambda uid: uid != "new",
        elsewhere=lambda uid: uid == "theirs",
        settled=lambda uid, generation: uid == "running" and generation <= 3,
        finalizer=FINALIZER,
    )

    assert not passes(modified("theirs")), "another replica's"
    assert not passes(modified("running", generation=3)), "its loop runs here"
    assert passes(modified("running", generation=4)), "an edit its loop waits for"
    assert passes(modified("idle")), "this replica's, without a loop: it starts one"
    assert passes(modified("new")), "not seen yet: its first event makes it known"
    assert passes(modified("theirs", finalizers=())), "kopf adds the finalizer"
    assert passes(modified("running", finalizers=())), "kopf adds the finalizer"
    assert passes(modified("theirs", deleting=True)), "every replica runs the deletion handler"
    assert passes(modified("running", deleting=True)), "the deletion handler"
    for kind in (None, "ADDED", "DELETED"):  # None: kopf's listing
        assert passes({**modified("theirs"), "type": kind})
        assert passes({**modified("running"), "type": kind})
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


async def patch(http: aiohttp.ClientSession, path: str, body: Obj) -> None:
    headers = {"Content-Type": "application/merge-patch+json"}
    async with http.patch(path, json=body, headers=headers) as answer:
        assert answer.status == 200, await answer.text()


async def write_status(http: aiohttp.ClientSession, name: str, weight: int) -> None:
    body = {"status": {"phase": "Progressing", "canaryWeight": weight}}
    await patch(http, f"{CANARIES_PATH}/{name}/status", body)


async def test_status_writes_reach_kopf_only_where_they_ask_something_deletions_always(
    kube_emulator: KubeEmulator, kube_client: KubeClient, kube_http: aiohttp.ClientSession
) -> None:
    """ "theirs" is another replica's, "running" has its loop here (settled at generation
    1), "idle" is this replica's without a loop."""
    uids = {
        name: create(kube_emulator, canary(name))["metadata"]["uid"]
        for name in ("theirs", "running", "idle")
    }
    filtered, unfiltered = Recorder(), Recorder()
    settings = kopf_settings()
    passes = ordinary_changes(
        known=filtered.seen.__contains__,
        elsewhere=lambda uid: uid == uids["theirs"],
        settled=lambda uid, generation: uid == uids["running"] and generation <= 1,
        finalizer=FINALIZER,
    )

    with filtering(settings, passes):
        async with (
            kopf_running(filtered, settings, kube_client),
            kopf_running(unfiltered, kopf_settings(), kube_client),
        ):

            def finalized(name: str) -> bool:
                stored = kube_emulator.get("coalmine.dev/v1beta1", "canaries", name, NAMESPACE)
                return FINALIZER in ((stored or {}).get("metadata") or {}).get("finalizers", [])

            await eventually(lambda: all(finalized(name) for name in uids))
            await eventually(lambda: len(filtered.seen) == len(unfiltered.seen) == 3)
            await asyncio.sleep(0.5)  # the finalizers' own events handled (or dropped)
            filtered.events.clear()
            unfiltered.events.clear()

            for name in uids:
                await write_status(kube_http, name, 20)
            await eventually(lambda: ("MODIFIED", False) in unfiltered.of("theirs"))
            await eventually(lambda: ("MODIFIED", False) in unfiltered.of("running"))
            await eventually(lambda: ("MODIFIED", False) in filtered.of("idle"))
            await asyncio.sleep(0.5)  # (past kopf's batching window of 0.1 s)
            assert filtered.of("theirs") == [], "another replica's status write"
            assert filtered.of("running") == [], "a status write of a Canary ticked here"

            edit = {"spec": {"analysis": {"threshold": 7}}}  # generation 2: past settled
            await patch(kube_http, f"{CANARIES_PATH}/running", edit)
            await eventually(lambda: ("MODIFIED", False) in filtered.of("running"))

            async with kube_http.delete(f"{CANARIES_PATH}/theirs") as answer:
                assert answer.status == 200
            await eventually(lambda: ("DELETED", True) in filtered.of("theirs"))
            assert ("MODIFIED", True) in filtered.of("theirs"), "its deletion, for the handler"
