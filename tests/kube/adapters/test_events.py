"""Engine events as Kubernetes Events: Flagger's reason and types, aggregated like kubectl's."""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Awaitable
from datetime import UTC, datetime
from typing import Any

import pytest

from coalmine.engine.decision import Event, EventType
from coalmine.kube.adapters.client import KubeClient, Obj
from coalmine.kube.adapters.events import BackgroundKubeEvents, KubeEvents
from coalmine.kube.adapters.resources import Kind
from tests.fixtures.operator import NAMESPACE, canary, create, stored_canary
from tests.kube_emulator import KubeEmulator

WHEN = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
LATER = datetime(2026, 1, 1, 12, 5, tzinfo=UTC)
NAMESPACES = Kind("v1", "namespaces", "Namespace")


def events(emulator: KubeEmulator, namespace: str = NAMESPACE) -> list[dict[str, Any]]:
    return emulator.objects("v1", "events", namespace)


async def test_an_event_names_the_canary_as_flagger_does(
    kube_emulator: KubeEmulator, kube_client: KubeClient
) -> None:
    create(kube_emulator, canary())
    podinfo = stored_canary(kube_emulator)

    await KubeEvents(kube_client, instance="replica-a", clock=lambda: WHEN).event(
        podinfo, Event("Advance podinfo.test canary weight 20")
    )

    [event] = events(kube_emulator)
    assert event["involvedObject"] == {
        "apiVersion": "coalmine.dev/v1beta1",
        "kind": "Canary",
        "name": "podinfo",
        "namespace": NAMESPACE,
        "uid": podinfo.metadata.uid,
    }
    assert (event["type"], event["reason"], event["count"]) == ("Normal", "Synced", 1)
    assert event["message"] == "Advance podinfo.test canary weight 20"
    assert event["source"] == {"component": "coalmine"}
    assert (event["reportingComponent"], event["reportingInstance"]) == ("coalmine", "replica-a")
    assert event["firstTimestamp"] == event["lastTimestamp"] == "2026-01-01T12:00:00Z"


async def test_repeats_are_counted_even_across_restarts(
    kube_emulator: KubeEmulator, kube_client: KubeClient
) -> None:
    create(kube_emulator, canary())
    podinfo = stored_canary(kube_emulator)
    halt = Event("Halt advancement podinfo-primary.test waiting for rollout", EventType.WARNING)
    first = KubeEvents(kube_client, instance="replica-a", clock=lambda: WHEN)

    await first.event(podinfo, halt)
    await first.event(podinfo, halt)
    # restarted under another pod name (a Deployment's pods are renamed on restart)
    restarted = KubeEvents(kube_client, instance="replica-a-7c9f", clock=lambda: LATER)
    await restarted.event(podinfo, halt)
    await first.event(podinfo, Event("Advance podinfo.test canary weight 20"))

    by_message = {e["message"]: e for e in events(kube_emulator)}
    assert len(by_message) == 2
    repeated = by_message[halt.message]
    assert (repeated["count"], repeated["type"]) == (3, "Warning")
    assert repeated["firstTimestamp"] == "2026-01-01T12:00:00Z"
    assert repeated["lastTimestamp"] == "2026-01-01T12:05:00Z"


async def test_a_new_leader_counts_up_the_event_of_the_last(
    kube_emulator: KubeEmulator, kube_client: KubeClient
) -> None:
    """client-go's aggregation key has no replica in it: the same event is one Event, which
    keeps the replica that wrote it first as its reportingInstance."""
    create(kube_emulator, canary())
    podinfo = stored_canary(kube_emulator)
    event = Event("Initialization done! podinfo.test")

    await KubeEvents(kube_client, instance="replica-a").event(podinfo, event)
    await KubeEvents(kube_client, instance="replica-b").event(podinfo, event)

    [written] = events(kube_emulator)
    assert (written["reportingInstance"], written["count"]) == ("replica-a", 2)


async def test_a_long_message_is_cut_to_the_api_limit(
    kube_emulator: KubeEmulator, kube_client: KubeClient
) -> None:
    create(kube_emulator, canary())
    await KubeEvents(kube_client, instance="a").event(
        stored_canary(kube_emulator), Event("x" * 5000)
    )

    assert len(events(kube_emulator)[0]["message"]) == 1024


async def test_an_event_that_cannot_be_written_is_logged_not_raised(
    kube_emulator: KubeEmulator, kube_client: KubeClient, caplog: pytest.LogCaptureFixture
) -> None:
    create(kube_emulator, canary())
    podinfo = stored_canary(kube_emulator)
    await kube_client.delete(NAMESPACES, NAMESPACE, None)  # events have nowhere to go
    kube_emulator.collect_garbage()

    with caplog.at_level(logging.WARNING, logger="coalmine.kube.adapters.events"):
        await KubeEvents(kube_client, instance="a").event(podinfo, Event("Initialization done!"))

    assert "cannot record the event" in caplog.text


async def test_the_operator_queues_its_events_and_writes_them_in_turn_without_waiting(
    kube_emulator: KubeEmulator, kube_client: KubeClient
) -> None:
    """While the API answers nothing, `about` returns all the same; then the repeats of
    one Event, written in turn, count up to the number of times it happened."""
    create(kube_emulator, canary())
    podinfo = stored_canary(kube_emulator)
    writer = BackgroundKubeEvents(kube_client, instance="a", clock=lambda: WHEN)
    answering = asyncio.Event()

    async def stalled(request: Awaitable[Obj]) -> Obj:
        await answering.wait()
        return await request

    kube_client.timing = stalled
    for _ in range(5):
        await writer.event(podinfo, Event("Halt advancement: waiting for rollout"))
    await writer.event(podinfo, Event("Advance podinfo.test canary weight 20"))
    assert events(kube_emulator) == [], "queued: nothing was sent yet"

    answering.set()
    await writer.close()  # writes what is queued
    kube_client.timing = None

    counts = {event["message"]: event["count"] for event in events(kube_emulator)}
    assert counts == {
        "Halt advancement: waiting for rollout": 5,
        "Advance podinfo.test canary weight 20": 1,
    }


async def test_events_queued_at_close_are_written_within_its_timeout_or_reported(
    kube_emulator: KubeEmulator, kube_client: KubeClient, caplog: pytest.LogCaptureFixture
) -> None:
    create(kube_emulator, canary())
    podinfo = stored_canary(kube_emulator)
    writer = BackgroundKubeEvents(kube_client, instance="a", close_timeout=0.2)

    async def never(request: Awaitable[Obj]) -> Obj:
        try:
            await asyncio.Event().wait()  # the API never answers
        finally:
            if inspect.iscoroutine(request):
                request.close()  # (never sent)
        return await request

    kube_client.timing = never
    with caplog.at_level(logging.WARNING, logger="coalmine.kube.adapters.events"):
        await writer.event(podinfo, Event("Initialization done!"))
        await writer.close()
    kube_client.timing = None

    assert "Events not written" in caplog.text


async def test_a_full_queue_drops_events_with_one_warning_and_logs_each(
    kube_emulator: KubeEmulator, kube_client: KubeClient, caplog: pytest.LogCaptureFixture
) -> None:
    create(kube_emulator, canary())
    podinfo = stored_canary(kube_emulator)
    writer = BackgroundKubeEvents(kube_client, instance="a", writers=1, capacity=2)
    stalled = asyncio.Event()

    async def stall(request: Awaitable[Obj]) -> Obj:
        await stalled.wait()  # the API does not answer until the test says so
        return await request

    kube_client.timing = stall
    with caplog.at_level(logging.INFO, logger="coalmine.kube.adapters.events"):
        for n in range(6):  # one taken by the writer, two queued, three dropped
            await writer.event(podinfo, Event(f"Advance podinfo.test canary weight {n}"))
            await asyncio.sleep(0)  # (the writer takes the first)
        stalled.set()
        await writer.close()
    kube_client.timing = None

    assert writer.dropped == 3
    assert caplog.text.count("dropping Events") == 1
    assert all(f"canary weight {n}" in caplog.text for n in range(6)), "all in the log"
    assert len(events(kube_emulator)) == 3
