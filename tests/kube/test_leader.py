"""Leader election with a Lease: one holder, takeover after expiry, release, loss."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from coalmine.errors import CoalmineError
from coalmine.kube.client import KubeClient
from coalmine.kube.leader import LeaseElector
from coalmine.kube.resources import LEASES
from coalmine.kube.settings import LeaderSettings
from tests.kube_emulator import KubeEmulator
from tests.kube_emulator.http import eventually

SETTINGS = LeaderSettings(enabled=True, lease_duration=15.0, renew_deadline=10.0, retry_period=0.01)


class Clock:
    """This replica's monotonic clock, moved by the test."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def elector(client: KubeClient, identity: str, clock: Clock) -> LeaseElector:
    return LeaseElector(client, SETTINGS, identity=identity, namespace="default", monotonic=clock)


def lease(emulator: KubeEmulator) -> dict[str, Any]:
    found = emulator.get("coordination.k8s.io/v1", "leases", "coalmine-controller", "default")
    assert found is not None
    return found


async def test_one_replica_holds_the_lease_and_the_other_waits(
    kube_emulator: KubeEmulator, kube_client: KubeClient
) -> None:
    clock = Clock()
    a, b = elector(kube_client, "a", clock), elector(kube_client, "b", clock)

    await asyncio.wait_for(a.acquire(), 5)
    renewing = asyncio.create_task(a.keep())
    waiting = asyncio.create_task(b.acquire())
    for _ in range(5):  # much longer than the lease, but "a" keeps renewing it
        clock.now += 14
        await eventually(lambda: a.leading, deadline=5)  # it renewed on the new time

    assert a.leading and not b.leading and not waiting.done()
    spec = lease(kube_emulator)["spec"]
    assert (spec["holderIdentity"], spec["leaseDurationSeconds"], spec["leaseTransitions"]) == (
        "a",
        15,
        0,
    )
    waiting.cancel()
    renewing.cancel()


async def test_a_lease_nobody_renews_is_taken_over_once_it_expires(
    kube_emulator: KubeEmulator, kube_client: KubeClient
) -> None:
    clock = Clock()
    a, b = elector(kube_client, "a", clock), elector(kube_client, "b", clock)
    await asyncio.wait_for(a.acquire(), 5)  # then "a" crashes: it never renews
    waiting = asyncio.create_task(b.acquire())
    await asyncio.sleep(0.1)

    clock.now += 16
    await asyncio.wait_for(waiting, 5)

    assert b.leading and not a.leading  # "a" stopped acting after its renew deadline
    spec = lease(kube_emulator)["spec"]
    assert (spec["holderIdentity"], spec["leaseTransitions"]) == ("b", 1)


async def test_a_released_lease_is_taken_at_once(
    kube_emulator: KubeEmulator, kube_client: KubeClient
) -> None:
    clock = Clock()
    a, b = elector(kube_client, "a", clock), elector(kube_client, "b", clock)
    await asyncio.wait_for(a.acquire(), 5)

    await a.release()
    await asyncio.wait_for(b.acquire(), 5)

    assert not a.leading and b.leading
    assert lease(kube_emulator)["spec"]["holderIdentity"] == "b"


async def test_a_leader_that_cannot_renew_gives_up_after_the_renew_deadline(
    kube_emulator: KubeEmulator, kube_client: KubeClient
) -> None:
    clock = Clock()
    a = elector(kube_client, "a", clock)
    await asyncio.wait_for(a.acquire(), 5)
    keeping = asyncio.create_task(a.keep())
    stolen = lease(kube_emulator)  # another replica believes it holds it (a partition healed)
    stolen["spec"]["holderIdentity"] = "b"
    await kube_client.replace(LEASES, "coalmine-controller", "default", stolen)
    await asyncio.sleep(0.1)
    assert a.leading and not keeping.done()  # still within its renew deadline

    clock.now += 11
    await asyncio.wait_for(keeping, 5)

    assert not a.leading


def test_the_timings_must_nest() -> None:
    with pytest.raises(CoalmineError, match="retry_period < renew_deadline < lease_duration"):
        LeaderSettings(enabled=True, lease_duration=10, renew_deadline=10)
