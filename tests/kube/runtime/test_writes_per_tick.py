"""The API writes of each kind of tick, as the emulator counts them (issue 16: at most three).

A real operator's adapters (KubeWorkload, IstioRouter, the status store, KubeEvents) on a
client that reads from the watch cache, one tick at a time through the daemons, a Canary
taken from a new revision to Succeeded. Every request the emulator records in a tick is
listed as (method, resource, name), names of Events left out (they are hashes). What a
tick writes is what its decision changed: the one object it acts on, the status, and one
Event per engine event. The analysis start tells "Starting canary analysis" and its
first step in one Event (Flagger writes two there: its scheduler records "Starting
canary analysis" and the first "Advance" in the same run), so that every tick of an
analysis through 20/40/60 % writes three objects: 21 writes in 7 ticks.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

from coalmine.api.canary import Phase
from coalmine.kube.adapters.client import KubeClient
from coalmine.testing import FakeMeasurer
from tests.fixtures.daemons import HandTicked, SteppingClock, initialized, ship
from tests.fixtures.operator import NAMESPACE, RolloutController
from tests.kube_emulator import KubeEmulator

STATUS = ("PUT", "canaries/status", "podinfo")
EVENT = ("POST", "events", "")
BUMP = ("PATCH", "events", "")
"""A repeated Event: its count bumped (one write, not a new object)."""

Write = tuple[str, str, str]


@dataclass
class Operator:
    """The initialized podinfo Canary's loop, each tick told as the writes it sent."""

    ticked: HandTicked

    async def tick(self) -> list[Write]:
        """One tick, the rollouts finished before it; the writes it sent."""
        return [_write(r.method, r.path) for r in await self.ticked.tick()]

    def phase(self) -> str:
        return self.ticked.phase()

    def said(self) -> list[str]:
        """The messages of the Events about the Canary, oldest first."""
        events = self.emulator.peek("v1", "events", NAMESPACE)
        ordered = sorted(events, key=lambda e: int(e["metadata"]["resourceVersion"]))
        return [e["message"] for e in ordered if e["involvedObject"]["kind"] == "Canary"]

    def weight(self) -> int:
        return self.ticked.weight()

    @property
    def emulator(self) -> KubeEmulator:
        return self.ticked.emulator

    @property
    def rollouts(self) -> RolloutController:
        return self.ticked.rollouts


def _write(method: str, path: str) -> Write:
    """("PATCH", "deployments", "podinfo") from a request; reads are kept as ("GET", ...)."""
    parts = path.strip("/").split("/")
    namespaced = parts[parts.index("namespaces") + 2 :] if "namespaces" in parts else parts[-1:]
    resource = namespaced[0]
    name = namespaced[1] if len(namespaced) > 1 and resource != "events" else ""
    if len(namespaced) > 2:
        resource = f"{resource}/{namespaced[2]}"
    return (method, resource, name)


@pytest.fixture
async def operator(kube_client: KubeClient, kube_emulator: KubeEmulator) -> AsyncIterator[Operator]:
    passing = FakeMeasurer({"request-success-rate": 100.0, "request-duration": 50.0})
    async with initialized(
        kube_client, kube_emulator, measurer=passing, clock=SteppingClock()
    ) as ticked:
        yield Operator(ticked)


async def test_each_kind_of_tick_writes_its_object_the_status_and_its_events(
    operator: Operator,
) -> None:
    assert await operator.tick() == [], "steady: no read, no write"

    ship(operator.emulator)
    new_revision = await operator.tick()
    assert operator.phase() == Phase.PROGRESSING.value
    assert new_revision == [("PATCH", "deployments", "podinfo"), STATUS, EVENT], "scaled up"

    start = await operator.tick()
    assert operator.weight() == 20
    assert start == [("PATCH", "virtualservices", "podinfo"), STATUS, EVENT]
    assert (
        operator.said()[-1] == f"Starting canary analysis for podinfo.{NAMESPACE}, canary weight 20"
    )

    advances = []
    for weight in (40, 60):
        advances.append(await operator.tick())
        assert operator.weight() == weight
        assert advances[-1] == [("PATCH", "virtualservices", "podinfo"), STATUS, EVENT]

    promote = await operator.tick()
    assert operator.phase() == Phase.PROMOTING.value
    assert promote == [("PATCH", "deployments", "podinfo-primary"), STATUS, EVENT]

    route_to_primary = await operator.tick()
    assert operator.phase() == Phase.FINALISING.value
    assert route_to_primary == [("PATCH", "virtualservices", "podinfo"), STATUS, EVENT]

    succeeded = await operator.tick()
    assert operator.phase() == Phase.SUCCEEDED.value
    assert succeeded == [("PATCH", "deployments", "podinfo"), STATUS, EVENT], "scaled to zero"

    assert await operator.tick() == [], "steady again"
    analysis = [new_revision, start, *advances, promote, route_to_primary, succeeded]
    assert sum(map(len, analysis)) / len(analysis) <= 3, "issue 16: at most 3 writes a tick"


async def test_a_tick_that_waits_bumps_its_event_and_writes_nothing_else(
    operator: Operator,
) -> None:
    """The new revision's rollout stalls: every tick repeats "waiting for the rollout"."""
    operator.rollouts.stall("podinfo")
    ship(operator.emulator)
    assert await operator.tick() == [("PATCH", "deployments", "podinfo"), STATUS, EVENT]
    first = await operator.tick()
    assert first == [EVENT], "the waiting message, recorded once"
    for _ in range(2):
        assert await operator.tick() == [BUMP], "the same Event counted up, nothing else"
    assert operator.phase() == Phase.PROGRESSING.value and operator.weight() == 0
