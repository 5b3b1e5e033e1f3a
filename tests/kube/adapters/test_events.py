"""Engine events as Kubernetes Events: Flagger's reason and types, aggregated like kubectl's."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

import pytest

from coalmine.engine.decision import Event, EventType
from coalmine.kube.adapters.client import KubeClient
from coalmine.kube.adapters.events import KubeEvents
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
