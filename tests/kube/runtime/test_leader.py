"""Leader election with a Lease: one holder, takeover after expiry, release, loss."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from coalmine.errors import CoalmineError
from coalmine.kube.adapters.client import KubeClient
from coalmine.kube.adapters.resources import LEASES
from coalmine.kube.runtime.leader import LeaseElector
from coalmine.kube.runtime.settings import LeaderSettings
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


class SlowAnswers(KubeClient):
    """A client whose Lease writes are answered `delay` seconds of `clock` after they were
    sent (and applied): a loaded API server, or a slow network on the way back."""

    def __init__(self, client: KubeClient, clock: Clock, delay: float) -> None:
        super().__init__(client.api, client.settings)
        self.transport = client.transport  # its connections, closed with it
        self.clock, self.delay = clock, delay

    async def replace(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        written = await super().replace(*args, **kwargs)
        self.clock.now += self.delay
        return written


async def test_a_renewal_answered_late_leads_no_longer_than_from_when_it_was_sent(
    kube_emulator: KubeEmulator, kube_client: KubeClient
) -> None:
    """The renew deadline runs from when the renewal was sent: otherwise a renewal whose
    answer took 9 s would keep the leader acting 9 s past the moment another replica,
    which saw the new record at once, may take the Lease over."""
    clock, other_clock = Clock(), Clock()
    leader = elector(SlowAnswers(kube_client, clock, delay=9.0), "a", clock)
    other = elector(kube_client, "b", other_clock)

    assert await leader._try()  # the Lease created at 1000
    clock.now = other_clock.now = 1001
    assert await leader._try()  # renewed: written at 1001, answered at 1010
    assert not await other._try()  # b sees the new record at once, at its own 1001
    kube_emulator.faults.configure(rate=1.0, kinds=("error",), seed=1)  # renewals fail now
    clock.now = other_clock.now = 1001 + SETTINGS.lease_duration + 0.5
    assert not await leader._try()
    kube_emulator.faults.configure(rate=0.0, seed=1)

    assert await other._try()  # the Lease expired for b: it takes over
    assert not leader.leading  # and a stopped acting before that
