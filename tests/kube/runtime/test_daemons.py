"""The per-Canary loop: when it ticks, when it waits, when it ends."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest

from coalmine.engine.ports import Ports
from coalmine.kube.adapters.client import KubeClient
from coalmine.kube.adapters.disown import Disowner
from coalmine.kube.adapters.events import KubeEvents
from coalmine.kube.adapters.resources import CANARIES, SERVICES
from coalmine.kube.adapters.revert import Reverter
from coalmine.kube.adapters.store import KubeCanaryStore
from coalmine.kube.runtime.daemons import AlwaysLeading, CanaryDaemons, CanaryRef
from coalmine.kube.runtime.settings import AnalysisSettings
from coalmine.testing import (
    FakeClock,
    FakeHooks,
    FakeMeasurer,
    FakeRouter,
    FakeWorkload,
    RecordingNotifier,
    RecordingRecorder,
)
from tests.fixtures.operator import NAMESPACE, canary, create
from tests.kube_emulator import KubeEmulator

SETTINGS = AnalysisSettings(min_interval=timedelta(seconds=1))


class NotLeading:
    """A leader whose renewal is late (a lapse): it acts on nothing, its loops go on."""

    leading = False

    def leads(self, uid: str) -> bool:
        return False

    def elsewhere(self, uid: str) -> bool:
        return False


class Holding:
    """Holds the shards of the Canaries in `uids` (a set the test changes)."""

    def __init__(self, *uids: str) -> None:
        self.uids = set(uids)

    @property
    def leading(self) -> bool:
        return bool(self.uids)

    def leads(self, uid: str) -> bool:
        return uid in self.uids

    def elsewhere(self, uid: str) -> bool:
        return uid not in self.uids


def daemons(client: KubeClient, leadership: Any = None) -> tuple[CanaryDaemons, list[Any]]:
    """Real status store and Events; the rest of the world in memory."""
    gone: list[Any] = []
    store = KubeCanaryStore(client)
    notifier = RecordingNotifier()
    workload, router = FakeWorkload(FakeClock()), FakeRouter()
    measurer, hooks, recorder = FakeMeasurer(), FakeHooks(), RecordingRecorder()
    ports = Ports(workload, router, measurer, hooks, notifier, recorder, store)
    return (
        CanaryDaemons(
            client,
            ports,
            events=KubeEvents(client, instance="test"),
            reverter=Reverter(workload, router, store, notifier),  # fakes: no revert here
            disowner=Disowner(client, workload, router, store, notifier),  # type: ignore[arg-type]
            settings=SETTINGS,
            leadership=leadership or AlwaysLeading(),
            forget=gone.append,
            stop_grace=1.0,
        ),
        gone,
    )


def body_of(emulator: KubeEmulator, name: str = "podinfo") -> dict[str, Any]:
    obj = emulator.get("coalmine.dev/v1beta1", "canaries", name, NAMESPACE)
    assert obj is not None
    return obj


def ref_of(emulator: KubeEmulator, name: str = "podinfo") -> CanaryRef:
    return CanaryRef.of(CANARIES, body_of(emulator, name))


async def test_a_tick_advances_and_sleeps_the_canarys_interval(
    kube_emulator: KubeEmulator, kube_client: KubeClient
) -> None:
    create(kube_emulator, canary())
    loops, _ = daemons(kube_client)

    seconds = await loops.tick(ref_of(kube_emulator))

    assert seconds == 1.0
    assert loops.ticks == 1
    notifier = loops.ports.notifier
    assert isinstance(notifier, RecordingNotifier)
    assert notifier.messages == ["deployment podinfo.test not found"]  # the fake has none


async def test_a_replica_that_does_not_lead_sleeps_to_the_next_slot(
    kube_emulator: KubeEmulator, kube_client: KubeClient
) -> None:
    """Not every `--min-interval`: a thousand Canaries of other replicas' shards asked
    every second made most of a replica's work."""
    analysis = {**canary()["spec"]["analysis"], "interval": "30s"}
    create(kube_emulator, canary(analysis=analysis))
    loops, _ = daemons(kube_client, NotLeading())

    assert await loops.tick(ref_of(kube_emulator)) == 30.0
    assert loops.ticks == 0
    assert kube_emulator.requests_to("PUT", "/status") == []


async def test_the_loop_ends_when_the_canary_is_gone_or_replaced(
    kube_emulator: KubeEmulator, kube_client: KubeClient
) -> None:
    create(kube_emulator, canary())
    loops, _ = daemons(kube_client)
    old = ref_of(kube_emulator)
    await kube_client.delete(CANARIES, "podinfo", NAMESPACE)
    create(kube_emulator, canary())  # same name, another object

    assert await loops.tick(old) is None
    assert await loops.tick(replace(old, name="nobody")) is None
    assert await loops.tick(ref_of(kube_emulator)) == 1.0


async def test_an_unreachable_api_is_waited_out(
    kube_emulator: KubeEmulator, kube_client: KubeClient, caplog: pytest.LogCaptureFixture
) -> None:
    create(kube_emulator, canary())
    ref = ref_of(kube_emulator)
    loops, _ = daemons(kube_client)
    await kube_emulator.stop()  # the API server goes away

    with caplog.at_level(logging.WARNING, logger="coalmine.kube.runtime.daemons"):
        assert await loops.tick(ref) == 1.0

    assert "cannot read canary podinfo.test: GET canary podinfo in test" in caplog.text
    assert loops.ticks == 0


async def test_a_tick_that_waited_for_a_deletion_does_nothing(
    kube_emulator: KubeEmulator, kube_client: KubeClient
) -> None:
    """The deletion handler holds the Canary's lock; a tick that read the Canary before the
    deletion and waited for the lock must not advance it afterwards."""
    create(kube_emulator, canary())
    loops, _ = daemons(kube_client)
    ref = ref_of(kube_emulator)
    loop = loops.watched(ref).loop
    await loop.lock.acquire()
    waiting = asyncio.ensure_future(loops.tick(ref))
    await asyncio.sleep(0.2)  # the tick has read the Canary and waits for the lock
    loop.begin_deletion()
    loop.lock.release()

    assert await asyncio.wait_for(waiting, 10) is None
    assert loops.ticks == 0


async def test_a_cancellation_that_lands_with_a_wake_up_ends_the_loop(
    kube_emulator: KubeEmulator, kube_client: KubeClient
) -> None:
    """In Python 3.11, `asyncio.wait_for` returns normally when what it waits for completes
    in the same loop iteration as a cancellation: the loop took its cancellation (the
    operator exiting) for its wake-up and ticked on (a Canary edited meanwhile ticked
    forever)."""
    create(kube_emulator, canary())
    loops, _ = daemons(kube_client)
    ref = ref_of(kube_emulator)
    running = asyncio.ensure_future(loops.run(ref))
    async with asyncio.timeout(10):
        while loops.ticks == 0:  # noqa: ASYNC110
            await asyncio.sleep(0.01)
    await asyncio.sleep(0.05)  # the loop is back waiting for its interval (1 s)
    body = kube_emulator.get("coalmine.dev/v1beta1", "canaries", "podinfo", NAMESPACE)
    assert body is not None

    loops.noticed(ref, "DELETED", body)  # the wake-up completes the wait in this iteration ...
    running.cancel()  # ... and the cancellation lands in it
    for _ in range(20):  # loop iterations, not time: a lost cancellation never ends it
        await asyncio.sleep(0)
    ended = running.cancelled()
    running.cancel()
    await asyncio.gather(running, return_exceptions=True)
    assert ended, "the loop took its cancellation for a wake-up and went on"


async def test_an_invalid_canary_deleted_still_keeps_what_it_owns(
    kube_emulator: KubeEmulator, kube_client: KubeClient
) -> None:
    invalid = canary()
    invalid["spec"]["analysis"]["interval"] = "500ms"  # below the controller's 1 s floor
    create(kube_emulator, invalid)
    loops, _ = daemons(kube_client)
    ref = ref_of(kube_emulator)
    owner = {"apiVersion": "coalmine.dev/v1beta1", "kind": "Canary", "name": "podinfo",
             "uid": ref.uid}  # fmt: skip
    create(
        kube_emulator,
        {"apiVersion": "v1", "kind": "Service",
         "metadata": {"name": "podinfo-primary", "namespace": NAMESPACE,
                      "ownerReferences": [owner]},
         "spec": {"ports": [{"port": 80}]}},
    )  # fmt: skip
    body = kube_emulator.get("coalmine.dev/v1beta1", "canaries", "podinfo", NAMESPACE)
    assert body is not None

    await loops.release(ref, body)

    kept = await kube_client.get(SERVICES, "podinfo-primary", NAMESPACE)
    assert kept is not None and "ownerReferences" not in kept["metadata"]


async def test_a_release_that_finished_is_not_done_again(
    kube_emulator: KubeEmulator, kube_client: KubeClient
) -> None:
    """kopf runs the deletion handler again with the body it read before the last run's
    status writes; the stored phase Terminated says the work is done."""
    create(kube_emulator, canary())
    loops, _ = daemons(kube_client)
    ref = ref_of(kube_emulator)
    stale = kube_emulator.get("coalmine.dev/v1beta1", "canaries", "podinfo", NAMESPACE)
    assert stale is not None
    await loops.release(ref, stale)
    done = kube_emulator.get("coalmine.dev/v1beta1", "canaries", "podinfo", NAMESPACE)
    assert done is not None and done["status"]["phase"] == "Terminated"
    notifier = loops.ports.notifier
    assert isinstance(notifier, RecordingNotifier)
    told = len(notifier.events)

    await loops.release(ref, stale)  # the same stale body again

    again = kube_emulator.get("coalmine.dev/v1beta1", "canaries", "podinfo", NAMESPACE)
    assert again is not None
    assert again["metadata"]["resourceVersion"] == done["metadata"]["resourceVersion"]
    assert len(notifier.events) == told


async def test_a_release_that_succeeded_is_not_done_again(
    kube_emulator: KubeEmulator, kube_client: KubeClient
) -> None:
    """kopf runs a deletion handler again when the Terminated status interrupts its wait for
    the daemon to exit; the second run must not redo (and misreport) what the first did."""
    create(kube_emulator, canary())
    loops, _ = daemons(kube_client)
    ref = ref_of(kube_emulator)
    body = kube_emulator.get("coalmine.dev/v1beta1", "canaries", "podinfo", NAMESPACE)
    assert body is not None
    await loops.release(ref, body)
    writes = len(kube_emulator.requests_to("PUT", "/status"))
    notifier = loops.ports.notifier
    assert isinstance(notifier, RecordingNotifier)
    said = list(notifier.messages)
    assert writes == 2 and len(said) == 1  # Terminating, Terminated; what was kept

    await loops.release(ref, body)

    assert len(kube_emulator.requests_to("PUT", "/status")) == writes
    assert notifier.messages == said


async def until(condition: Any, seconds: float = 10.0) -> None:
    async with asyncio.timeout(seconds):
        while not condition():  # noqa: ASYNC110
            await asyncio.sleep(0.01)


async def test_the_watch_starts_one_loop_per_canary_which_ticks_at_once(
    kube_emulator: KubeEmulator, kube_client: KubeClient
) -> None:
    create(kube_emulator, canary())
    loops, _ = daemons(kube_client)
    ref = ref_of(kube_emulator)

    loops.noticed(ref, None, body_of(kube_emulator))  # kopf's listing
    loops.noticed(ref, "MODIFIED", body_of(kube_emulator))

    assert loops.running() == {ref.uid}
    await until(lambda: loops.ticks >= 1)
    await loops.stop_all()
    assert loops.running() == set()


async def test_a_loop_ticks_only_once_the_read_cache_has_listed(
    kube_emulator: KubeEmulator, kube_client: KubeClient
) -> None:
    """Ticks before it would read every object from the API: at 5,000 canaries, 1,667
    loops' first ticks starved the very lists that would have answered them."""
    create(kube_emulator, canary())
    loops, _ = daemons(kube_client)
    listed = asyncio.Event()
    loops.reads_ready = listed.wait
    ref = ref_of(kube_emulator)

    loops.noticed(ref, None, body_of(kube_emulator))
    await asyncio.sleep(0.3)
    assert loops.running() == {ref.uid} and loops.ticks == 0, "it ticked before the list"
    listed.set()

    await until(lambda: loops.ticks >= 1)
    await loops.stop_all()


async def test_with_shards_only_the_held_canaries_loop_and_a_takeover_starts_the_others(
    kube_emulator: KubeEmulator, kube_client: KubeClient
) -> None:
    for name in ("a", "b", "c"):
        create(kube_emulator, canary(name))
    a, b, c = (ref_of(kube_emulator, name) for name in ("a", "b", "c"))
    holding = Holding(a.uid)
    loops, _ = daemons(kube_client, holding)

    for ref in (a, b, c):
        loops.noticed(ref, None, body_of(kube_emulator, ref.name))
    assert loops.running() == {a.uid}, "another replica's Canaries have no loop here"

    holding.uids = {a.uid, b.uid}  # b's shard taken over (its holder died)
    loops.leadership_gained()
    assert loops.running() == {a.uid, b.uid}
    await until(lambda: loops.ticks >= 2)

    holding.uids = {b.uid}  # a's shard lost (given to a replica that joined)
    loops.watched(a).loop.wake()  # (its next slot, without waiting for it)
    await until(lambda: loops.running() == {b.uid})
    await loops.stop_all()


async def test_a_canary_deleted_or_being_deleted_gets_no_loop_and_its_loop_ends(
    kube_emulator: KubeEmulator, kube_client: KubeClient
) -> None:
    create(kube_emulator, canary())
    loops, _ = daemons(kube_client)
    ref = ref_of(kube_emulator)
    body = body_of(kube_emulator)
    deleting = {
        **body,
        "metadata": {**body["metadata"], "deletionTimestamp": "2026-12-02T10:00:00Z"},
    }

    loops.noticed(ref, "MODIFIED", deleting)
    assert loops.running() == set()

    loops.noticed(ref, None, body)
    await until(lambda: loops.ticks >= 1)
    await kube_client.delete(CANARIES, "podinfo", NAMESPACE)  # no finalizer here: gone at once
    loops.noticed(ref, "DELETED", body)
    await until(lambda: loops.running() == set())
    loops.leadership_gained()
    assert loops.running() == set(), "a Canary gone is not started again by a takeover"


async def test_stopped_loops_start_again_only_when_the_operator_runs_again(
    kube_emulator: KubeEmulator, kube_client: KubeClient
) -> None:
    create(kube_emulator, canary())
    loops, _ = daemons(kube_client)
    ref = ref_of(kube_emulator)
    loops.noticed(ref, None, body_of(kube_emulator))

    await loops.stop_all()
    loops.noticed(ref, "MODIFIED", body_of(kube_emulator))  # kopf still stopping
    assert loops.running() == set()

    loops.accepting = True  # (the controller's next kopf run)
    loops.noticed(ref, None, body_of(kube_emulator))
    assert loops.running() == {ref.uid}
    await loops.stop_all()
